"""Redistribution rules: how the total regrowth of an update is shared out over tensors.

A rule is `scores(weights, masks, *, signals) -> {name: float} | None`, computed on the masks before
death. The engine gives each tensor a share of the total regrowth proportional to its score, never
more than its free capacity, leftovers passed on to the others (`counts.apportion`), so the total
regrown equals the total removed. `None` means: each tensor regrows exactly what it lost.
"""
