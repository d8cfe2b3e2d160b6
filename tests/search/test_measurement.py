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
from hyperprune.search.measurement import load_spectrum, reach
from hyperprune.search.reference import build_probe, measure
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
    expected = before if point == "before-update" else after
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


@pytest.mark.parametrize("point", ["before-update", "after-update"])
def test_a_search_records_the_spectrum_of_the_state_lyapunov_measure_names(tiny_cfg, tmp_path, run, point):
    _, _, _, before, after, _ = run
    space = {key: [value] for key, value in PARAMS.items()}      # one candidate: the reference's
    cfg = tiny_cfg(run_dir=tmp_path / f"search-{point}", train={"epochs": 3},
                   search={"n_candidates": 1, "finalists": 1, "first_epoch": EPOCH, "space": space},
                   lyapunov={"measure": point})
    results = run_search(cfg, verbose=False)
    (candidate,) = results["candidates"]
    expected = before if point == "before-update" else after
    assert candidate["spectra"][str(EPOCH)] == expected.mean.tolist()
    stored = json.loads((cfg.checkpoint_dir / "0000" / "spectra" / f"epoch-{EPOCH:04d}.json").read_text())
    assert stored["measured"]["point"] == point
    dense = results["dense"]["spectra"][str(EPOCH)]
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
        spectra.append(run_search(cfg, verbose=False)["dense"]["spectra"]["1"])
        assert Workbench(cfg).reference.dir.parent == dense_dir
    assert spectra[0] == spectra[1]
    assert len(list(dense_dir.glob("*/spectra/*.json"))) == 1
