"""NT-ASGD: the trigger, and SparseASGD's per-entry averages, restarted where a weight is regrown."""

from __future__ import annotations

import pytest
import torch

from hyperprune.sparse import SparseConfig, SparseEngine
from hyperprune.train.asgd import SparseASGD, averaged_weights, should_switch, use_averages


def test_trigger_compares_with_the_epochs_before_this_one():
    # The released code tests `len(L) > nonmono and loss > min(L[:-nonmono])` on the list L of the
    # EARLIER epochs' losses, then appends: with nonmono = 1 the 3rd epoch (L = [5, 4]) compares
    # 4.5 with min([5]) and does not switch; only the 4th (L = [5, 4, 4.5]) compares with min([5, 4]).
    assert not should_switch([5.0, 4.0, 4.5], nonmono=1)
    assert should_switch([5.0, 4.0, 4.5, 4.6], nonmono=1)
    assert not should_switch([5.0, 4.0, 3.0, 2.0], nonmono=1)
    assert not should_switch([5.0, 4.0], nonmono=1)            # one earlier epoch is not enough
    assert should_switch([3.0, 4.0, 4.5, 4.6, 4.7], nonmono=3)


def test_trigger_needs_more_than_nonmono_earlier_epochs():
    # nonmono = 2: the earliest switch is the 4th epoch, compared with the 1st only
    assert should_switch([3.0, 4.0, 4.5, 4.6], nonmono=2) is True
    assert should_switch([3.0, 4.0, 4.5], nonmono=2) is False


def test_average_of_the_iterates_after_the_first():
    # lr 1, gradients -1, -2, -3, -4 on a weight starting at 0: iterates 1, 3, 6, 10.
    # ax = p_1, p_2, mean(p_2, p_3), mean(p_2, p_3, p_4) = 1, 3, 4.5, 19/3 (torch's ASGD too).
    w = torch.nn.Parameter(torch.zeros(1))
    ours = SparseASGD([w], lr=1.0)
    reference_w = torch.nn.Parameter(torch.zeros(1))
    reference = torch.optim.ASGD([reference_w], lr=1.0, t0=0, lambd=0.0)
    got, theirs = [], []
    for g in (-1.0, -2.0, -3.0, -4.0):
        w.grad = torch.tensor([g])
        reference_w.grad = torch.tensor([g])
        ours.step()
        reference.step()
        got.append(float(ours.state[w]["ax"]))
        theirs.append(float(reference.state[reference_w]["ax"]))
    assert got == pytest.approx([1.0, 3.0, 4.5, 19 / 3])
    assert theirs == pytest.approx(got)
    assert ours.state[w]["step"].tolist() == [4.0]


def test_weight_decay_is_added_to_the_gradient():
    w = torch.nn.Parameter(torch.tensor([2.0]))
    optimizer = SparseASGD([w], lr=0.5, weight_decay=0.1)
    w.grad = torch.tensor([1.0])
    optimizer.step()
    assert float(w.detach()) == pytest.approx(2.0 - 0.5 * (1.0 + 0.1 * 2.0))


class Row(torch.nn.Module):
    """One 1 x 4 masked weight: regrowth by hand."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1, 4))

    def sparsifiable(self):
        return {"w": ("recurrent", self.w)}


def test_a_regrown_weight_starts_a_fresh_average():
    model = Row()
    cfg = SparseConfig(sparsity=0.5, death="magnitude", growth="gradient", death_rate=0.5,
                       death_rate_schedule="constant")
    engine = SparseEngine(model, cfg, epochs=5, steps_per_epoch=1, seed=0)
    engine.apply()
    state = engine.state_dict()
    state["masks"] = {"w": torch.tensor([[True, True, False, False]])}
    engine.load_state_dict(state)
    with torch.no_grad():
        model.w.copy_(torch.tensor([[1.0, 0.1, 0.0, 0.0]]))
    optimizer = SparseASGD(model.parameters(), lr=1.0)

    def step(grad):
        model.w.grad = torch.tensor([grad])
        engine.after_backward()
        optimizer.step()
        engine.after_step(optimizer)

    # One step before the update: w = [0.5, -0.4, 0, 0] (entry 2 moved to -5, then re-masked).
    step([0.5, 0.5, 5.0, 0.0])
    assert optimizer.state[model.w]["step"].tolist() == [[1.0, 1.0, 0.0, 0.0]]
    # The update removes entry 1 (|-0.4| < 0.5) and regrows entry 2 (largest |gradient| 5 among
    # the candidates 1, 2, 3). Right after it, entry 2's average is its value, 0, its count 0.
    engine.end_of_epoch(1, optimizer)
    assert engine.masks["w"].tolist() == [[True, False, True, False]]
    average = optimizer.state[model.w]["ax"]
    assert float(average[0, 2]) == float(model.w.detach()[0, 2]) == 0.0
    # Three steps with gradients -1, -2, -3 at entry 2 (lr 1): it takes 1, 3, 6; its average
    # follows only these: 1, 3, then mean(3, 6) = 4.5.
    seen = []
    for g in (-1.0, -2.0, -3.0):
        step([0.0, 0.0, g, 0.0])
        seen.append((float(model.w.detach()[0, 2]), float(optimizer.state[model.w]["ax"][0, 2])))
    assert seen == [(1.0, 1.0), (3.0, 3.0), (6.0, 4.5)]
    # entry 0 kept its count across the update; the pruned entries 1 and 3 hold 0
    assert optimizer.state[model.w]["step"].tolist() == [[4.0, 0.0, 3.0, 0.0]]
    assert optimizer.state[model.w]["ax"][0, [1, 3]].tolist() == [0.0, 0.0]


def test_state_written_by_torch_asgd_continues_its_average():
    # A checkpoint from before SparseASGD: torch's ASGD after 2 steps (ax = p_2 = 3).
    torch_w = torch.nn.Parameter(torch.zeros(1))
    old = torch.optim.ASGD([torch_w], lr=1.0, t0=0, lambd=0.0)
    for g in (-1.0, -2.0):
        torch_w.grad = torch.tensor([g])
        old.step()
    w = torch.nn.Parameter(torch_w.detach().clone())
    ours = SparseASGD([w], lr=1.0)
    ours.load_state_dict(old.state_dict())
    w.grad = torch.tensor([-3.0])
    ours.step()
    assert float(ours.state[w]["ax"]) == pytest.approx(4.5)       # mean(3, 6)
    assert ours.state[w]["step"].tolist() == [3.0]


def test_averaged_weights_swap_in_and_out():
    w = torch.nn.Parameter(torch.zeros(2))
    optimizer = SparseASGD([w], lr=1.0)
    for g in (-1.0, -3.0, -2.0):                # iterates 1, 4, 6: ax = mean(4, 6) = 5
        w.grad = torch.full((2,), g)
        optimizer.step()
    with averaged_weights(optimizer):
        assert w.detach().tolist() == [5.0, 5.0]
    assert w.detach().tolist() == [6.0, 6.0]
    saved = use_averages(optimizer)             # load_trained's permanent swap
    assert w.detach().tolist() == [5.0, 5.0] and saved[0][1].tolist() == [6.0, 6.0]
    plain = torch.optim.SGD([w], lr=1.0)        # no averages: nothing changes
    with averaged_weights(plain):
        assert w.detach().tolist() == [5.0, 5.0]
