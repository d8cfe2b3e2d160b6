"""The engine on the real small model presets: exact counts, masked training, FLOPs per family."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from hyperprune import models
from hyperprune.sparse import SparseConfig, SparseEngine
from hyperprune.train.asgd import make_asgd

VOCAB = 50


@pytest.mark.parametrize("preset", ["lstm-tiny", "gru-small", "rhn-small", "awd-lstm-small",
                                    "awd-lstm-mos-small"])
@pytest.mark.parametrize("sparse_preset", ["selfish-rnn", "rigl", "snfs", "set"])
def test_presets_train_sparse(preset, sparse_preset):
    torch.manual_seed(0)
    model = models.build_model(models.ModelConfig(preset=preset), VOCAB)
    cfg = SparseConfig(sparsity=0.67, preset=sparse_preset, update_every=2)
    engine = SparseEngine(model, cfg, epochs=3, steps_per_epoch=4, seed=0)
    engine.apply()
    total = sum(p.numel() for p in engine.params.values())
    assert engine.total == total
    assert abs(engine.target - 0.33 * total) <= 0.5
    assert sum(int(m.sum()) for m in engine.masks.values()) == engine.target

    optimizer = torch.optim.SGD(model.parameters(), lr=1.0, momentum=0.9)
    tokens = torch.randint(0, VOCAB, (9, 4), generator=torch.Generator().manual_seed(0))
    state = model.init_state(4)
    for step in range(4):
        if step == 2:
            optimizer = make_asgd(model.parameters(), lr=1.0, weight_decay=0.0)
        optimizer.zero_grad()
        logits, state = model(tokens[:-1], state)
        state = models.detach_state(state)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), tokens[1:].reshape(-1)) + model.penalty()
        loss.backward()
        engine.after_backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        optimizer.step()
        engine.after_step(optimizer)
        for name, param in engine.params.items():
            pruned = ~engine.masks[name]
            assert torch.count_nonzero(param.detach()[pruned]) == 0, name
            for value in optimizer.state[param].values():
                if torch.is_tensor(value) and value.shape == param.shape:
                    assert torch.count_nonzero(value[pruned]) == 0, name
        assert sum(int(m.sum()) for m in engine.masks.values()) == engine.target
    assert len(engine.history) == 2

    summary = engine.summary()
    flops = summary["flops_per_token"]
    assert 0.2 < flops["ratio"] < 0.5
    assert flops["sparse"] == 2 * sum(
        int(engine.masks[n].sum()) * _uses(model, n, t["group"]) for n, t in summary["tensors"].items())


def _uses(model, name, group):
    """The FLOPs convention written out per family: the embedding counts only as a tied decoder,
    and an MoS head applies the decoder once per expert."""
    tied = model.decoder.weight is model.embedding.weight
    experts = model.mos.n_experts if getattr(model, "mos", None) is not None else 1
    if name == "embedding.weight":
        return experts if tied else 0
    if name == "decoder.weight":
        return experts
    return 1
