"""Growth rules: where a mask update adds the entries it regrows.

A rule is `grow(candidates, count, *, name, signals) -> grown`: `candidates` is the bool tensor of
entries not kept after death (entries removed in this very update included, as in RigL and
sparse_learning); it returns a bool tensor of exactly `count` candidates. Rules that read training
signals declare them (`@register_growth("gradient", needs=("gradient",))`) and find them in
`signals` (see `hyperprune.sparse.signals.Signals`). The engine sets new entries to exactly 0.0.
"""
