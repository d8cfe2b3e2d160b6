"""When a sparse candidate is measured: before the end-of-epoch prune/regrow (the paper's), or after.

The reference numbers come from a separate trainer of the same run whose `before_mask_update` hook
measures the state the paper saves (train.py:178-193), and from the checkpoint after the update.
Equality is float-exact: the search must record those very numbers, also after a crash.
"""

from __future__ import annotations

import json
import math

import pytest

from hyperprune.search import run_search
from hyperprune.search.execute import Workbench
from hyperprune.search.strategies import strategy_for
from hyperprune.search.measurement import last_improving, load_spectrum, reach
from hyperprune.search.probe import build_probe
from hyperprune.search.spectrum import measure
from hyperprune.search.space import SearchSpace
from hyperprune.train import Trainer
from hyperprune.train.checkpoint import list_checkpoints

PARAMS = {"sparse.init": "uniform", "sparse.death": "magnitude", "sparse.growth": "random",
          "sparse.redistribution": "none", "sparse.death_rate": 0.5}
EPOCH = 2


@pytest.fixture
def run(tiny_cfg, tmp_path):
    """(search config, run config of one sparse candidate, probe, the reference spectra at EPOCH)."""
    cfg = tiny_cfg(train={"epochs": 3})
    run_cfg = SearchSpace.from_config(cfg).run_config(PARAMS, str(tmp_path / "reference"))
    trainer = Trainer(run_cfg, tmp_path / "reference", verbose=False, progress=False)
    probe = build_probe(cfg, trainer.corpus.valid)
    seen = {}

    def before_update(tr, epoch):
        if epoch == EPOCH:
            seen["spectrum"], _ = measure(tr, probe, cfg)
            seen["valid_loss"] = tr.val_losses[-1]
    trainer.train(until_epoch=EPOCH, before_mask_update=before_update)
    after, _ = measure(trainer, probe, cfg)
    return cfg, run_cfg, probe, seen["spectrum"], after, trainer


def _trainer(run_cfg, directory):
    return Trainer(run_cfg, directory, verbose=False, progress=False)


def test_before_and_after_the_update_are_different_states(run):
    _, _, _, before, after, trainer = run
    assert trainer.sparse is not None
    assert before.mean.tolist() != after.mean.tolist()


@pytest.mark.parametrize("point", ["before-update", "after-update"])
def test_reach_measures_the_named_state_and_its_validation_loss(run, tmp_path, point):
    cfg, run_cfg, probe, before, after, reference = run
    trainer = _trainer(run_cfg, tmp_path / point)
    path = tmp_path / point / "spectra" / f"epoch-{EPOCH:04d}.json"
    reached = reach(trainer, EPOCH, point=point, spectrum_path=path, probe=probe, cfg=cfg,
                    scratch_trainer=lambda d: _trainer(run_cfg, d))
    expected = after if point == "after-update" else before
    assert reached.spectrum.mean.tolist() == expected.mean.tolist()
    assert load_spectrum(path, point)[0].mean.tolist() == expected.mean.tolist()
    if point == "before-update":
        # the validation of epoch 2 ran before the update: the same state as the spectrum
        assert reached.valid_loss == reference.history[EPOCH - 1].valid_loss
    else:
        # a second validation pass, on the pruned and regrown model the spectrum saw
        assert reached.valid_loss == reference.evaluate_loss("valid")
        assert reached.valid_loss != reference.history[EPOCH - 1].valid_loss
    assert reached.scratch is None


def test_a_missing_spectrum_is_measured_again_from_the_previous_checkpoint(run, tmp_path):
    cfg, run_cfg, probe, before, _, _ = run
    directory = tmp_path / "crashed"
    path = directory / "spectra" / f"epoch-{EPOCH:04d}.json"
    trainer = _trainer(run_cfg, directory)
    reach(trainer, EPOCH, point="before-update", spectrum_path=path, probe=probe, cfg=cfg,
          scratch_trainer=lambda d: _trainer(run_cfg, d))
    path.unlink()                                   # checkpoint 2 exists, its spectrum does not
    checkpoints = [e for e, _ in list_checkpoints(directory / "checkpoints")]
    assert checkpoints == [1, 2]
    resumed = _trainer(run_cfg, directory)
    assert resumed.epoch == EPOCH
    reached = reach(resumed, EPOCH, point="before-update", spectrum_path=path, probe=probe, cfg=cfg,
                    scratch_trainer=lambda d: _trainer(run_cfg, d))
    assert reached.scratch is not None and reached.at_epoch is not resumed
    assert reached.at_epoch.epoch == EPOCH
    assert reached.spectrum.mean.tolist() == before.mean.tolist()
    reached.release()
    assert not (directory / f"rewind-{EPOCH:04d}").exists()
    assert [e for e, _ in list_checkpoints(directory / "checkpoints")] == [1, 2]   # the run untouched
    assert load_spectrum(path, "before-update")[0].mean.tolist() == before.mean.tolist()


def test_a_crash_inside_the_measurement_leaves_no_checkpoint_of_that_epoch(run, tmp_path, monkeypatch):
    cfg, run_cfg, probe, before, _, _ = run
    directory = tmp_path / "killed"
    path = directory / "spectra" / f"epoch-{EPOCH:04d}.json"
    import hyperprune.search.measurement as measurement

    def killed(*args, **kwargs):
        raise KeyboardInterrupt
    with monkeypatch.context() as patch:
        patch.setattr(measurement, "measure", killed)
        with pytest.raises(KeyboardInterrupt):
            reach(_trainer(run_cfg, directory), EPOCH, point="before-update", spectrum_path=path, probe=probe,
                  cfg=cfg, scratch_trainer=lambda d: _trainer(run_cfg, d))
    assert [e for e, _ in list_checkpoints(directory / "checkpoints")] == [1]
    assert not path.exists()
    resumed = _trainer(run_cfg, directory)
    reached = reach(resumed, EPOCH, point="before-update", spectrum_path=path, probe=probe, cfg=cfg,
                    scratch_trainer=lambda d: _trainer(run_cfg, d))
    assert reached.scratch is None                  # epoch 2 was trained again, the hook measured it
    assert reached.spectrum.mean.tolist() == before.mean.tolist()


@pytest.fixture
def before_epoch_1(run, tmp_path):
    cfg, run_cfg, probe, *_ = run
    seen = {}
    _trainer(run_cfg, tmp_path / "epoch-1").train(
        until_epoch=1, before_mask_update=lambda tr, e: seen.update(s=measure(tr, probe, cfg)[0]))
    return seen["s"]


@pytest.mark.parametrize("point", ["last-improving", "before-update", "after-update"])
def test_a_search_records_the_spectrum_of_the_state_lyapunov_measure_names(tiny_cfg, tmp_path, run, point,
                                                                          before_epoch_1):
    _, _, _, before, after, reference = run
    if point == "last-improving":
        improved = reference.history[1].valid_loss < reference.history[0].valid_loss
        before = before if improved else before_epoch_1
    space = {key: [value] for key, value in PARAMS.items()}      # one candidate: the reference's
    cfg = tiny_cfg(run_dir=tmp_path / f"search-{point}", train={"epochs": 3},
                   search={"n_candidates": 1, "finalists": 1, "first_epoch": EPOCH, "space": space},
                   lyapunov={"measure": point})
    results = run_search(cfg, verbose=False)
    (candidate,) = results.candidates
    expected = after if point == "after-update" else before
    assert candidate["spectra"][str(EPOCH)] == expected.mean.tolist()
    stored = json.loads((cfg.checkpoint_dir / "0000" / "spectra" / f"epoch-{EPOCH:04d}.json").read_text())
    assert stored["measured"]["point"] == point
    assert (cfg.checkpoint_dir / "0000" / "best-valid").is_dir()        # the finalist's reported state
    dense = results.dense["spectra"][str(EPOCH)]
    l2 = math.sqrt(sum((a - b) ** 2 for a, b in zip(expected.mean.tolist(), dense)))
    assert candidate["scores"][str(EPOCH)] == pytest.approx(l2, rel=1e-12)


def test_the_dense_reference_is_one_state_before_and_after(tiny_cfg, tmp_path):
    # Same dense directory, the two points: the second search reuses the first one's spectrum.
    dense_dir = tmp_path / "dense"
    spectra = []
    for point in ("before-update", "after-update"):
        cfg = tiny_cfg(run_dir=tmp_path / point, train={"epochs": 2},
                       search={"n_candidates": 1, "finalists": 1, "first_epoch": 1, "dense_dir": str(dense_dir),
                               "space": {key: [value] for key, value in PARAMS.items()}},
                       lyapunov={"measure": point})
        spectra.append(run_search(cfg, verbose=False).dense["spectra"]["1"])
        assert Workbench(cfg, strategy_for(cfg)).reference.dir.parent == dense_dir
    assert spectra[0] == spectra[1]
    assert len(list(dense_dir.glob("*/spectra/*.json"))) == 1


# -- last-improving: the released code measures the last epoch that improved validation ------------

@pytest.mark.parametrize("losses, expected", [
    ([5.0, 4.0, 4.5, 3.9, 4.0], [1, 2, 2, 4, 4]),
    ([3.0, 3.0, 2.0], [1, 1, 3]),               # equal is not better (train.py:178: val_loss < stored_loss)
    ([float("nan"), 2.0], [1, 2]),
])
def test_last_improving_is_the_last_epoch_that_beat_every_earlier_one(losses, expected):
    assert [last_improving(losses, e) for e in range(1, len(losses) + 1)] == expected


def _with_validation(trainer, losses):
    """`trainer` whose per-epoch validation loss reads `losses` (epoch 1 first); training is untouched."""
    real = trainer.evaluate_loss

    def evaluate_loss(split):
        return losses[trainer.epoch] if split == "valid" and trainer.epoch < len(losses) else real(split)
    trainer.evaluate_loss = evaluate_loss
    return trainer


def test_last_improving_measures_the_pre_update_state_of_the_last_better_epoch(run, tmp_path, before_epoch_1):
    cfg, run_cfg, probe, before_2, _, _ = run
    # The pre-update spectrum of epoch 1, from an independent trainer.
    before_1 = before_epoch_1
    assert before_1.mean.tolist() != before_2.mean.tolist()
    losses = [5.0, 6.0]                              # epoch 2 does not improve: the paper measures epoch 1
    make = lambda d: _with_validation(_trainer(run_cfg, d), losses)
    directory = tmp_path / "worse"
    path = directory / "spectra" / f"epoch-{EPOCH:04d}.json"
    kwargs = dict(point="last-improving", spectrum_path=path, probe=probe, cfg=cfg, scratch_trainer=make)
    reached = reach(make(directory), EPOCH, **kwargs)
    assert reached.spectrum.mean.tolist() == before_1.mean.tolist()
    assert reached.valid_loss == 5.0                 # the best so far, as train_main returns
    assert json.loads(path.read_text())["measured"]["point"] == "last-improving"
    # Resumed without its spectrum: measured again from the kept weights of epoch 1 ...
    path.unlink()
    again = reach(_trainer(run_cfg, directory), EPOCH, **kwargs)
    assert again.scratch is None and again.spectrum.mean.tolist() == before_1.mean.tolist()
    # ... and without those either: retrained from the start in a scratch directory.
    path.unlink()
    (directory / "best-valid" / "epoch-0001.pt").unlink()
    rewound = reach(_trainer(run_cfg, directory), EPOCH, **kwargs)
    assert rewound.scratch is not None and rewound.spectrum.mean.tolist() == before_1.mean.tolist()
    rewound.release()
    # An epoch that improves is measured before its own update, as before-update does.
    better = _with_validation(_trainer(run_cfg, tmp_path / "better"), [5.0, 4.0])
    improving = reach(better, EPOCH, **{**kwargs, "spectrum_path": tmp_path / "better" / "s.json"})
    assert improving.spectrum.mean.tolist() == before_2.mean.tolist() and improving.valid_loss == 4.0


@pytest.mark.parametrize("later, windows_after_e0", [(5, 5), (None, 2)])
def test_scores_after_e0_are_measured_on_the_later_probe(tiny_cfg, tmp_path, later, windows_after_e0, request):
    """The released code measures its first round on 2 validation windows and the later rounds on 5
    (main_pruning_competition.py:95): every spectrum after e0, the candidates' and the dense model's
    it is compared with, has one row of exponents per window of its probe, the first 5 windows."""
    from hyperprune.search.probe import probe_sequences

    if later == tiny_cfg().lyapunov.later_sequences:      # the tiny search as written: run once per session
        cfg, results, _ = request.getfixturevalue("tiny_search_run")
    else:
        cfg = tiny_cfg(run_dir=tmp_path / f"later-{later}", lyapunov={"later_sequences": later})
        results = run_search(cfg, verbose=False)
    assert [probe_sequences(cfg, e) for e in (1, 2, 3)] == [2, windows_after_e0, windows_after_e0]
    bench = Workbench(cfg, strategy_for(cfg))
    assert bench.probe_at(2).starts == build_probe(cfg, bench.corpus.valid, windows_after_e0).starts
    rows = {}
    for path in cfg.checkpoint_dir.glob("*/spectra/epoch-*.json"):
        rows.setdefault(int(path.stem.split("-")[1]), set()).add(len(json.loads(path.read_text())["exponents"]))
    assert rows[1] == {2} and rows[2] == {windows_after_e0}
    for epoch, windows in ((1, 2), (2, windows_after_e0)):
        dense = json.loads(bench.reference.spectrum_path(bench.tag_at(epoch), epoch).read_text())
        assert len(dense["exponents"]) == windows
        assert [float(v) for v in dense["mean"]] == pytest.approx(results.dense["spectra"][str(epoch)], rel=1e-12)
    assert (bench.tag_at(1) == bench.tag_at(2)) == (later is None)
