"""Lecture 3a's settings (each one a flag: python -m lectures.l03_linear_regression --help)."""

from __future__ import annotations

import dataclasses

from cs20 import config


@dataclasses.dataclass(frozen=True)
class Config(config.RunConfig):
    num_epochs: int = config.option(100, "Passes over the 190 countries.")
    learning_rate: float = config.option(0.001, "Gradient-descent learning rate.")
    delta: float = config.option(14.0, "Huber loss threshold (years of life expectancy).")

    def __post_init__(self):
        super().__post_init__()
        if self.num_epochs < 1:
            raise ValueError("--num-epochs must be at least 1")
