"""hyperprune: find the best pruned variant of a recurrent network by its Lyapunov spectrum."""

__version__ = "0.1.0"
