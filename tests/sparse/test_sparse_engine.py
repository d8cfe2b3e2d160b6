"""SparseEngine: timing of updates, optimiser state, groups, checkpoints, summary and FLOPs."""

from __future__ import annotations

import io

import pytest
import torch
import torch.nn.functional as F

from hyperprune.errors import UserError
from hyperprune.sparse import SparseConfig, SparseEngine, sparsity_summary


def engine_for(model, epochs=5, **cfg):
    cfg.setdefault("sparsity", 0.5)
    engine = SparseEngine(model, SparseConfig(**cfg), epochs=epochs, steps_per_epoch=4, seed=0)
    engine.apply()
    return engine


def test_maybe_returns_none_when_dense(tiny_lm):
    assert SparseEngine.maybe(tiny_lm, SparseConfig(), epochs=3, steps_per_epoch=2, seed=0) is None
    assert SparseEngine.maybe(tiny_lm, SparseConfig(sparsity=0.3), epochs=3, steps_per_epoch=2,
                              seed=0) is not None


def test_dense_engine_is_a_no_op(tiny_lm):
    before = {n: p.clone() for n, p in tiny_lm.named_parameters()}
    engine = SparseEngine(tiny_lm, SparseConfig(sparsity=0.0), epochs=3, steps_per_epoch=2, seed=0)
    engine.apply()
    engine.after_backward()
    assert engine.after_step(None) is None and engine.end_of_epoch(1, None) is None
    assert all(torch.equal(p, before[n]) for n, p in tiny_lm.named_parameters())
    assert engine.summary()["flops_per_token"]["ratio"] == 1.0


def test_training_before_apply_is_a_bug(tiny_lm):
    engine = SparseEngine(tiny_lm, SparseConfig(sparsity=0.5), epochs=3, steps_per_epoch=2, seed=0)
    with pytest.raises(RuntimeError, match="apply"):
        engine.after_step(None)


def test_epoch_updates_respect_start_stop_and_skip_the_last_epoch(tiny_lm, make_tiny):
    engine = engine_for(tiny_lm, start_epoch=1, stop_epoch=4, epochs=6)
    # end_of_epoch(n) follows the n-th epoch, whose 0-based index is n - 1
    updated = [engine.end_of_epoch(n, None) is not None for n in range(1, 7)]
    assert updated == [False, True, True, True, False, False]
    engine = engine_for(make_tiny(), epochs=3)
    assert [engine.end_of_epoch(n, None) is not None for n in (1, 2, 3)] == [True, True, False]


def test_step_updates_every_k_steps_within_start_stop(tiny_lm):
    engine = engine_for(tiny_lm, update_every=3, start_epoch=1, stop_epoch=2, death_rate_schedule="constant")
    steps_with_update = []
    for epoch in range(3):
        for _ in range(4):
            if engine.after_step(None) is not None:
                steps_with_update.append(engine.step)
        assert engine.end_of_epoch(epoch + 1, None) is None  # no epoch-end updates when k > 0
    assert steps_with_update == [6]                          # steps 3, 9, 12 fall outside epoch 1


def test_only_masked_groups_are_masked(tiny_lm):
    engine = engine_for(tiny_lm, masked=["recurrent"])
    assert set(engine.masks) == {"layers.0.weight_ih", "layers.0.weight_hh"}
    assert engine.total == 32 * 6 + 32 * 8 and engine.target == 224
    assert torch.count_nonzero(tiny_lm.decoder.weight) == tiny_lm.decoder.weight.numel()
    summary = engine.summary()
    assert summary["tensors"]["decoder.weight"]["masked"] is False
    assert summary["tensors"]["decoder.weight"]["density"] == 1.0


def test_masked_groups_the_model_lacks_are_a_user_error(make_tiny):
    model = make_tiny()
    model.sparsifiable = lambda: {"w": ("recurrent", model.weight_hh)}
    with pytest.raises(UserError, match="selects no weight matrix"):
        SparseEngine(model, SparseConfig(sparsity=0.5, masked=["decoder"]), epochs=1, steps_per_epoch=1,
                     seed=0)


def test_unknown_strategy_names_the_closest(make_tiny):
    with pytest.raises(UserError, match="did you mean 'SET-signed'"):
        SparseEngine(make_tiny(), SparseConfig(sparsity=0.5, death="SET_signed"), epochs=1,
                     steps_per_epoch=1, seed=0)
    with pytest.raises(UserError, match="did you mean 'momentum'"):
        SparseEngine(make_tiny(), SparseConfig(sparsity=0.5, growth="momentun"), epochs=1,
                     steps_per_epoch=1, seed=0)


def test_adam_moments_are_zeroed_at_pruned_entries(tiny_lm):
    engine = engine_for(tiny_lm, update_every=2, growth="gradient", redistribution="magnitude")
    optimizer = torch.optim.Adam(tiny_lm.parameters(), lr=0.01)
    tokens = torch.randint(0, 24, (6, 3), generator=torch.Generator().manual_seed(0))
    for _ in range(6):
        optimizer.zero_grad()
        logits = tiny_lm(tokens[:-1])
        F.cross_entropy(logits.reshape(-1, 24), tokens[1:].reshape(-1)).backward()
        engine.after_backward()
        optimizer.step()
        engine.after_step(optimizer)
        for name, param in engine.params.items():
            pruned = ~engine.masks[name]
            state = optimizer.state[param]
            assert torch.count_nonzero(param.detach()[pruned]) == 0
            assert torch.count_nonzero(state["exp_avg"][pruned]) == 0
            assert torch.count_nonzero(state["exp_avg_sq"][pruned]) == 0
    assert len(engine.history) == 3


def test_state_dict_survives_torch_save_with_weights_only(tiny_lm, make_tiny):
    engine = engine_for(tiny_lm, death="threshold", growth="momentum", redistribution="momentum",
                        update_every=1)
    for p in tiny_lm.parameters():
        p.grad = torch.randn_like(p)
    engine.after_backward()
    engine.after_step(None)
    buffer = io.BytesIO()
    torch.save(engine.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    other = SparseEngine(make_tiny(), engine.cfg, epochs=5, steps_per_epoch=4, seed=42)
    other.load_state_dict(state)
    assert all(torch.equal(other.masks[n], m) for n, m in engine.masks.items())
    assert other.death_state == engine.death_state
    assert torch.equal(other.generator.get_state(), engine.generator.get_state())
    assert other.step == engine.step == 1
    for name, m in engine.signals.momentum.items():
        assert torch.equal(other.signals.momentum[name], m)
    # load_state_dict masks the loaded model's weights too
    for name, param in other.params.items():
        assert torch.count_nonzero(param.detach()[~other.masks[name]]) == 0


def test_loading_a_checkpoint_of_another_model_is_a_user_error(tiny_lm, make_tiny):
    state = engine_for(tiny_lm).state_dict()
    other = SparseEngine(make_tiny(), SparseConfig(sparsity=0.5, masked=["recurrent"]), epochs=1,
                         steps_per_epoch=1, seed=0)
    with pytest.raises(UserError, match="do not match"):
        other.load_state_dict(state)
    state["masks"]["decoder.weight"] = torch.ones(3, 3, dtype=torch.bool)
    with pytest.raises(UserError, match="shape"):
        SparseEngine(make_tiny(), SparseConfig(sparsity=0.5), epochs=1, steps_per_epoch=1,
                     seed=0).load_state_dict(state)


def test_different_seeds_give_different_masks(make_tiny):
    a = engine_for(make_tiny())
    b = SparseEngine(make_tiny(), SparseConfig(sparsity=0.5), epochs=5, steps_per_epoch=4, seed=1)
    b.apply()
    assert any(not torch.equal(a.masks[n], b.masks[n]) for n in a.masks)


def test_summary_counts_and_flops(tiny_lm):
    engine = engine_for(tiny_lm, sparsity=0.6)
    s = engine.summary()
    assert s["masked_total"] == s["total"] == 784
    assert s["masked_nonzero"] == s["nonzero"] == s["target_nonzero"] == 314
    assert s["sparsity"] == pytest.approx(1 - 314 / 784)
    t = s["tensors"]["layers.0.weight_hh"]
    assert t["group"] == "recurrent" and t["shape"] == [32, 8] and t["total"] == 256
    assert t["nonzero"] == int(engine.masks["layers.0.weight_hh"].sum())
    assert t["density"] == pytest.approx(t["nonzero"] / 256)
    # embedding lookup: 0; W_ih, W_hh, decoder: 2 per entry per token
    dense = 2 * (32 * 6 + 32 * 8 + 24 * 8)
    sparse = 2 * sum(s["tensors"][n]["nonzero"] for n in ("layers.0.weight_ih", "layers.0.weight_hh",
                                                             "decoder.weight"))
    assert s["flops_per_token"] == {"dense": dense, "sparse": sparse, "ratio": sparse / dense}
    assert s["mask_updates"] == 0


def test_tied_decoder_counts_the_embedding_once_as_a_product(make_tiny):
    model = make_tiny(tie=True)
    s = sparsity_summary(model)
    assert "decoder.weight" not in s["tensors"]
    assert s["flops_per_token"]["dense"] == 2 * (24 * 8 + 32 * 8 + 32 * 8)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("growth", ["random", "gradient"])
def test_same_seed_same_masks_on_cpu_and_cuda(make_run, growth):
    cfg = SparseConfig(sparsity=0.6, growth=growth, redistribution="magnitude", update_every=2)
    runs = []
    for device in ("cpu", "cuda"):
        run = make_run(cfg, device=device)
        run.engine.apply()
        for _ in range(4):
            run.step()
        runs.append({n: m.cpu() for n, m in run.engine.masks.items()})
    assert all(torch.equal(runs[0][n], runs[1][n]) for n in runs[0])


class Square(torch.nn.Module):
    """One 2 x 2 masked weight: the clipping arithmetic by hand."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor([[1.0, 1.0], [0.0, 0.0]]))

    def sparsifiable(self):
        return {"w": ("recurrent", self.w)}


@pytest.mark.parametrize("over,norm,kept_step", [
    # gradient [[3, 4], [12, 0]]; row 0 kept. all: ||g|| = 13, kept entries scaled by 1/13;
    # kept: the pruned 12 is zeroed first, ||g|| = 5, kept entries scaled by 1/5.
    ("all", 13.0, [3 / 13, 4 / 13]),
    ("kept", 5.0, [3 / 5, 4 / 5]),
])
def test_clip_norm_counts_pruned_gradients_unless_told_otherwise(over, norm, kept_step):
    model = Square()
    engine = SparseEngine(model, SparseConfig(sparsity=0.5, clip_norm_over=over), epochs=3,
                          steps_per_epoch=1, seed=0)
    engine.apply()
    state = engine.state_dict()
    state["masks"] = {"w": torch.tensor([[True, True], [False, False]])}
    engine.load_state_dict(state)
    with torch.no_grad():
        model.w.copy_(torch.tensor([[1.0, 1.0], [0.0, 0.0]]))    # apply()'s random mask zeroed some
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0, momentum=0.9)
    model.w.grad = torch.tensor([[3.0, 4.0], [12.0, 0.0]])
    engine.after_backward()                                  # the trainer's order:
    total = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)   # clip,
    optimizer.step()                                         # step,
    engine.after_step(optimizer)                             # re-mask
    assert float(total) == pytest.approx(norm)
    expected = torch.tensor([[1.0 - kept_step[0], 1.0 - kept_step[1]], [0.0, 0.0]])
    # (clip_grad_norm_ divides by norm + 1e-6: a few float32 ulps)
    torch.testing.assert_close(model.w.detach(), expected, rtol=0, atol=1e-6)
    # the pruned entry's momentum (12/13 under "all") is zeroed with its weight
    buffer = optimizer.state[model.w]["momentum_buffer"]
    torch.testing.assert_close(buffer, torch.tensor([[kept_step[0], kept_step[1]], [0.0, 0.0]]),
                               rtol=0, atol=1e-6)


def test_a_checkpoint_with_per_tensor_taus_restarts_the_shared_one(tiny_lm, make_tiny):
    engine = engine_for(tiny_lm, death="threshold", threshold_init=0.004)
    state = engine.state_dict()
    state["death_state"] = {"threshold": {"layers.0.weight_hh": 0.3}}     # the bisecting rule's state
    other = SparseEngine(make_tiny(), engine.cfg, epochs=5, steps_per_epoch=4, seed=0)
    other.load_state_dict(state)
    assert other.death_state == {"threshold": 0.004}
