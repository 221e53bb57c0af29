"""Lecture 4's settings (each one a flag: python -m lectures.l04_eager --help)."""

from __future__ import annotations

import dataclasses

from cs20 import config


@dataclasses.dataclass(frozen=True)
class Config(config.RunConfig):
    num_epochs: int = config.option(100, "Passes over the 190 countries.")
    learning_rate: float = config.option(0.02, "Gradient-descent learning rate (the "
                                               "course's 0.01 on a loss twice as big).")
    delta: float = config.option(1.0, "Huber loss threshold.")

    def __post_init__(self):
        super().__post_init__()
        if self.num_epochs < 1:
            raise ValueError("--num-epochs must be at least 1")
