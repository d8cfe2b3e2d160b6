"""Death (prune) rules: which kept entries a mask update removes.

A rule is `death(weights, masks, rate, *, state, cfg) -> masks`: `weights` and `masks` map parameter
names to tensors (masks are bool, True = kept); it returns new masks that keep a subset of the old
ones. `state` is a dict the engine keeps across updates and checkpoints (plain numbers and tensors
only); `state["threshold"]` is the magnitude threshold tau that the `threshold` rule steers,
`global_magnitude` sets and the `nonzeros` redistribution reads (the released code's
`Masking.threshold`). Per-tensor rules remove `hyperprune.sparse.counts.removal_count(rate, kept)`
entries of each tensor; the engine regrows as many as were removed in total, whatever the rule did.
A rule registered with `shares_regrowth=True` plans no per-tensor count, so its regrowth is always
shared out by the redistribution scores (`none` scoring every tensor alike).
"""
