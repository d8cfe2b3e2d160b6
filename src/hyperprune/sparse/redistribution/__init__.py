"""Redistribution rules: how the total regrowth of an update is shared out over tensors.

A rule is `scores(weights, masks, *, signals, threshold) -> {name: float} | None`, computed on the
masks before death; `threshold` is the shared magnitude threshold tau as it stands before this
update (see `hyperprune.sparse.death`). The engine gives each tensor a share of the total regrowth
proportional to its score, never more than its free capacity, leftovers passed on to the others
(`counts.apportion`), so the total regrown equals the total removed. `None` means: each tensor
regrows exactly what it lost (unless the death rule shares its regrowth; then every tensor scores 1).
"""
