"""Lecture 7's settings (each one a flag: python -m lectures.l07_convnet --help)."""

from __future__ import annotations

import dataclasses

from cs20 import config
from cs20.datasets import idx


@dataclasses.dataclass(frozen=True)
class Config(config.EpochTrainConfig, idx.DatasetFlags):
    num_epochs: int = config.option(8, "Passes over the 55,000 training digits.")
    dropout: float = config.option(0.25, "Dropout rate after the dense layer "
                                         "(the course's keep_prob 0.75).")
    max_misclassified: int = config.option(32, "Misclassified test digits to show.",
                                           changeable=True)
