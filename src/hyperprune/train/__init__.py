"""Training: the loop, NT-ASGD, atomic resumable checkpoints."""

from hyperprune.train.config import RunConfig, TrainConfig
from hyperprune.train.device import resolve_device
from hyperprune.train.trainer import (EpochRecord, Trainer, TrainingDiverged, evaluate_loss, evaluate_model,
                                      load_trained, resolve_run_config, write_summary)

__all__ = ["EpochRecord", "RunConfig", "TrainConfig", "Trainer", "TrainingDiverged", "evaluate_loss",
           "evaluate_model", "load_trained", "resolve_device", "resolve_run_config", "write_summary"]
