"""Lecture 3b's settings (each one a flag: python -m lectures.l03_logistic_regression --help)."""

from __future__ import annotations

import dataclasses

from cs20 import config
from cs20.datasets import idx


@dataclasses.dataclass(frozen=True)
class Config(config.EpochTrainConfig, idx.DatasetFlags):
    num_epochs: int = config.option(30, "Passes over the 55,000 training digits.")
    learning_rate: float = config.option(0.01, "Adam learning rate (the peak, with decay).")
