"""Death (prune) rules: which kept entries a mask update removes.

A rule is `death(weights, masks, rate, *, state, cfg) -> masks`: `weights` and `masks` map parameter
names to tensors (masks are bool, True = kept); it returns new masks that keep a subset of the old
ones. `state` is a dict the engine keeps for the rule across updates and checkpoints (plain numbers
and tensors only). Per-tensor rules remove `hyperprune.sparse.counts.removal_count(rate, kept)`
entries of each tensor; the engine regrows as many as were removed in total, whatever the rule did.
"""
