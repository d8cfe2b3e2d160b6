"""Mixture-of-Softmaxes output head (Yang et al. 2018, "Breaking the Softmax Bottleneck").

    P(w | c) = sum_k pi_k(c) softmax(W g_k(c))_w,    g_k = tanh(P_k h + b_k),   pi = softmax(W_pi h)

computed in log space: log P = logsumexp_k(log pi_k + log_softmax(W g_k)). The result rows are
log-probabilities, which are exact logits for cross_entropy.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from hyperprune.models.dropout import locked_dropout


class MixtureOfSoftmaxes(nn.Module):
    def __init__(self, hidden_size: int, emb_size: int, n_experts: int, dropout_latent: float = 0.0):
        super().__init__()
        self.n_experts, self.emb_size, self.dropout_latent = n_experts, emb_size, dropout_latent
        self.latent = nn.Linear(hidden_size, n_experts * emb_size)  # the K contexts g_k, stacked
        self.prior = nn.Linear(hidden_size, n_experts, bias=False)  # mixture weights pi

    def forward(self, h: Tensor, decoder: nn.Linear) -> Tensor:
        """h (T, B, H) -> log-probabilities (T, B, V); `decoder` maps (.., E) -> (.., V) (often tied)."""
        latent = torch.tanh(self.latent(h))  # (T, B, K*E)
        if latent.dim() == 3:
            latent = locked_dropout(latent, self.dropout_latent, self.training)
        latent = latent.view(*h.shape[:-1], self.n_experts, self.emb_size)  # (T, B, K, E)
        log_expert = torch.log_softmax(decoder(latent), dim=-1)  # (T, B, K, V)
        log_prior = torch.log_softmax(self.prior(h), dim=-1)  # (T, B, K)
        return torch.logsumexp(log_expert + log_prior.unsqueeze(-1), dim=-2)  # (T, B, V)

    def extra_repr(self) -> str:
        return f"n_experts={self.n_experts}, emb_size={self.emb_size}, dropout_latent={self.dropout_latent}"
