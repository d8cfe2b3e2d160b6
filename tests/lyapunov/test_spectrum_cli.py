"""`hyperprune spectrum` defaults to the search's convention and refuses a misleading top-k."""

from __future__ import annotations

import json

from hyperprune.cli import main

from tests.test_cli import write_config


def test_spectrum_defaults_to_reference_and_refuses_k_with_its_identity_frame(tiny_corpus_dir, tmp_path, capsys):
    config = write_config(tmp_path, tiny_corpus_dir)
    assert main(["train", config, "train.epochs=1"]) == 0
    capsys.readouterr()
    run = str(tmp_path / "run")
    assert main(["spectrum", run, "--k", "4", "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip()
    # lstm-tiny: 2 layers x 32 hidden units -> 64 exponents in the reference convention
    assert err == ("hyperprune: error: k = 4 of 64 exponents with the identity frame: the leading k need "
                   "init=random; the paper's reference uses all exponents (leave k out)")
    out_json = tmp_path / "ls.json"
    assert main(["spectrum", run, "--json", str(out_json), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    result = json.loads(out_json.read_text())
    assert result["settings"]["convention"] == "reference" and result["settings"]["k"] == 64
    assert "64 of 64 exponents, in log2 per step, largest first" in out
    # the table's #1 is the largest mean exponent, whatever its QR position
    header = next(line for line in out.splitlines() if line.split()[:1] == ["#"])
    assert header.split()[:4] == ["#", "qr", "mean", "std"]          # identity frame: QR order is unit order
    row = next(line for line in out.splitlines() if line.split()[:1] == ["1"]).split()
    means = [float(v) for v in result["mean"]]
    assert float(row[2]) == round(max(means), 6) and int(row[1]) == means.index(max(means)) + 1
