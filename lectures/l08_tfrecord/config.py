"""Lecture 8a's settings (each one a flag: python -m lectures.l08_tfrecord --help)."""

from __future__ import annotations

import dataclasses

from cs20 import config
from cs20.datasets import idx


@dataclasses.dataclass(frozen=True)
class Config(config.EpochTrainConfig, idx.DatasetFlags):
    num_epochs: int = config.option(10, "Passes over the 55,000 training digits.")
    learning_rate: float = config.option(0.01, "Adam learning rate (the peak, with decay).")
    image: str = config.option("", "Image for the one-record example (default: friday.jpg).")
    shards: int = config.option(4, "Number of MNIST shards per split.")
    compression: str = config.option("", "Compression of the MNIST shards.",
                                     choices=("", "GZIP", "ZLIB"))
    tfrecord_dir: str = config.option("", "Folder of the MNIST shards (default: <run dir>/"
                                          "tfrecords); shards already there are reused if "
                                          "they hold the same data and pass their sha256.")
    throughput: bool = config.option(True, "Time the input pipelines (about 20 s).",
                                     changeable=True)
