"""Sparse initialisation rules: how the global budget of kept entries is split over tensors.

A rule is `relative_density(shape) -> float`: a tensor's density is proportional to it, capped at 1
(dense); the engine scales the proportionality so the global count hits the target exactly (see
`hyperprune.sparse.counts.apportion`). Each module here registers one rule with `@register_init`.
"""
