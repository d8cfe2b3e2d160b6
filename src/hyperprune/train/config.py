"""The training recipe, and a whole training run (data + model + recipe + sparsity)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hyperprune.config import check_choice, check_range
from hyperprune.data.config import DataConfig
from hyperprune.models.config import ModelConfig
from hyperprune.sparse.config import SparseConfig


@dataclass
class TrainConfig:
    epochs: int = 13
    batch_size: int = 20
    # 20: the validation batch of Zaremba et al., Selfish-RNN and the LSH code (args.py:22); only
    # pytorch/examples' word_language_model uses 10. It changes the split's chunking, so the loss too.
    eval_batch_size: int = 20
    # the test split's batch, where it differs from validation's: AWD-LSTM-MoS tests with 1 (its
    # main.py:119), which keeps every token's full left context. None: eval_batch_size.
    test_batch_size: int | None = None
    bptt: int = 35
    variable_bptt: bool = False        # AWD-LSTM: random sequence length around bptt
    optimizer: str = "sgd"             # sgd | nt-asgd (switch to averaged SGD when validation stalls)
    lr: float = 1.0
    lr_decay: float = 0.5              # lr *= lr_decay after each epoch past decay_after
    decay_after: int | None = 4        # None: never decay (NT-ASGD recipes)
    momentum: float = 0.0
    weight_decay: float = 0.0
    clip: float = 5.0                  # max global gradient norm; 0: no clipping
    nonmono: int = 5                   # NT-ASGD: epochs without improvement before switching

    @property
    def test_batch(self) -> int:
        return self.test_batch_size if self.test_batch_size is not None else self.eval_batch_size

    def validate(self) -> None:
        check_range("train.epochs", self.epochs, 0)
        check_range("train.batch_size", self.batch_size, 1)
        check_range("train.eval_batch_size", self.eval_batch_size, 1)
        if self.test_batch_size is not None:
            check_range("train.test_batch_size", self.test_batch_size, 1)
        check_range("train.bptt", self.bptt, 1)
        check_choice("train.optimizer", self.optimizer, ["sgd", "nt-asgd"])
        check_range("train.lr", self.lr, 0.0, low_open=True)
        check_range("train.lr_decay", self.lr_decay, 0.0, 1.0, low_open=True)
        check_range("train.clip", self.clip, 0.0)
        check_range("train.nonmono", self.nonmono, 1)


@dataclass
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    sparse: SparseConfig = field(default_factory=SparseConfig)
    seed: int = 0
    device: str = "auto"               # auto | cpu | cuda | cuda:N
    run_dir: str = "runs/train"
