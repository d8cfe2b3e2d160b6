"""One perplexity for the trainer, the console, the epoch log and `evaluate`: exp(loss), inf past float range."""

from __future__ import annotations

import math

import pytest

from hyperprune.perplexity import perplexity


def test_perplexity_is_exp_of_the_mean_loss():
    assert perplexity(0.0) == 1.0
    assert perplexity(math.log(10_000)) == pytest.approx(10_000.0, rel=1e-12)   # uniform over PTB's vocabulary
    assert perplexity(709.0) == pytest.approx(8.218407461554972e307, rel=1e-12)  # still a float


def test_overflow_is_inf_and_warns_only_when_named(recwarn):
    assert perplexity(710.0) == math.inf               # math.exp(710) raises OverflowError
    assert perplexity(math.inf) == math.inf
    assert math.isnan(perplexity(math.nan))
    assert len(recwarn) == 0
    with pytest.warns(RuntimeWarning, match=r"^valid perplexity overflows \(mean loss 812.5 nats/token\), shown as inf"):
        assert perplexity(812.5, "valid") == math.inf


def test_an_overflowing_epoch_prints_inf_not_300_digits(capsys):
    from hyperprune.train import EpochRecord
    from hyperprune.train.progress import TrainingConsole

    record = EpochRecord(epoch=2, train_loss=5.0, valid_loss=900.0, lr=20.0, averaged=False, wall_s=1.0,
                         tokens_per_s=1000.0)
    assert record.valid_ppl == math.inf
    with pytest.warns(RuntimeWarning, match="valid perplexity overflows"):
        TrainingConsole(verbose=True, progress=False).epoch_done(record)
    line = capsys.readouterr().out
    assert "valid ppl       inf" in line and f"train ppl {math.exp(5.0):9.2f}" in line


def test_a_warning_reaches_the_user_as_one_line(monkeypatch, tmp_path, capsys):
    """Python's default shows file, line number and source line; the CLI shows one readable line."""
    import warnings

    from hyperprune import cli

    def noisy(args):
        warnings.warn("spectrum: 3 of 64 exponents did not converge;\n  use more steps", RuntimeWarning)
        return 0

    monkeypatch.setattr(cli, "cmd_report", noisy)
    assert cli.main(["report", str(tmp_path)]) == 0
    assert capsys.readouterr().err == ("hyperprune: warning: spectrum: 3 of 64 exponents did not converge; "
                                       "use more steps\n")
