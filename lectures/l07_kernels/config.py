"""Lecture 7 (kernels)'s settings (each one a flag: python -m lectures.l07_kernels --help)."""

from __future__ import annotations

import dataclasses

from cs20 import config


@dataclasses.dataclass(frozen=True)
class Config(config.RunConfig):
    image: str = config.option("", "Image file to filter (default: the course's friday.jpg).")
    stride: int = config.option(1, "Convolution stride (the course used 3).")
    max_size: int = config.option(1024, "Longer side in pixels above which the picture is "
                                        "scaled down before filtering (0: never; filtering "
                                        "takes about 320 bytes a pixel).")

    def __post_init__(self):
        super().__post_init__()  # --max-size and --stride are not negative
        if self.stride < 1:
            raise ValueError(f"--stride must be at least 1, got {self.stride}")
