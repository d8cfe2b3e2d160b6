"""`--device auto` and explicit devices, on a machine whose CUDA is simulated present or absent."""

from __future__ import annotations

import pytest
import torch

from hyperprune.errors import UserError
from hyperprune.train import resolve_device


@pytest.fixture
def cuda(monkeypatch):
    def set_gpus(count: int) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    return set_gpus


@pytest.mark.parametrize("name", ["auto", "AUTO", " auto ", None])
def test_auto_picks_cuda_when_available_and_cpu_otherwise(cuda, name):
    cuda(1)
    assert resolve_device(name) == torch.device("cuda")
    cuda(0)
    assert resolve_device(name) == torch.device("cpu")


def test_explicit_devices_are_checked_against_what_is_there(cuda):
    cuda(2)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(UserError, match=r"device 'cuda:2' does not exist; this machine has 2 GPU\(s\)"):
        resolve_device("cuda:2")
    cuda(0)
    with pytest.raises(UserError, match="no CUDA GPU is available"):
        resolve_device("cuda")
    with pytest.raises(UserError, match="unknown device 'gpu'"):
        resolve_device("gpu")


def test_the_cli_resolves_auto_to_cpu_without_a_gpu(cuda, tiny_corpus_dir, tmp_path):
    import json

    from hyperprune.cli import main
    cuda(0)
    run_dir = tmp_path / "run"
    config = tmp_path / "run.yaml"
    config.write_text(json.dumps({
        "data": {"name": "custom", "path": str(tiny_corpus_dir)},
        "model": {"preset": "lstm-tiny", "hidden_size": 8},
        "train": {"epochs": 1, "batch_size": 4, "eval_batch_size": 4, "bptt": 8},
        "run_dir": str(run_dir), "seed": 1}))
    assert main(["train", str(config), "--device", "auto"]) == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["device"] == "cpu" and summary["epochs"] == 1
