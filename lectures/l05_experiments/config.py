"""Lecture 5b's settings (each one a flag: python -m lectures.l05_experiments --help)."""

from __future__ import annotations

import dataclasses

from cs20 import config


@dataclasses.dataclass(frozen=True)
class Config(config.RunConfig):
    pass
