"""Lectures 1-2's settings (each one a flag: python -m lectures.l02_ops --help)."""

from __future__ import annotations

import dataclasses

from cs20 import config


@dataclasses.dataclass(frozen=True)
class Config(config.RunConfig):
    num_calls: int = config.option(10, "Calls in the lazy-loading demonstration.")
