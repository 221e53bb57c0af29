"""Binarized MNIST for the VAE: every pixel 0 or 1, fixed once, so Bernoulli likelihoods apply.

The binarization is a fixed threshold: a pixel is 1 when its grey level is above half
(> 127 of 255), exactly as TensorFlow's convolutional VAE tutorial does, so our test ELBO
compares with its -78 nats. It is deterministic, the same for every run and every epoch.
(The other convention, one Bernoulli sample per pixel with p = grey level, gives noisier
digits and bounds around -85 to -90 nats; numbers under the two are not comparable.)

Images are kept as uint8 0/255 so `mnist.make_dataset` turns them into 0.0/1.0 floats.
"""

from __future__ import annotations

import dataclasses

from cs20.datasets import mnist

import numpy as np

THRESHOLD = 127


def binarize(images: np.ndarray) -> np.ndarray:
    """uint8 grey levels -> uint8 0/255 (255 where the grey level is above THRESHOLD)."""
    return np.where(images > THRESHOLD, 255, 0).astype(np.uint8)


def load_splits(data_dir=None, **options) -> mnist.Splits:
    """MNIST's 55k / 5k / 10k splits (as lecture 3), or those of another MNIST-format
    set (`options` go to `mnist.load_splits`), binarized."""
    splits = mnist.load_splits(data_dir, **options)
    return dataclasses.replace(splits, **{
        name: mnist.Split(binarize(split.images), split.labels)
        for name, split in (("train", splits.train), ("validation", splits.validation),
                            ("test", splits.test))})


def as_floats(split: mnist.Split) -> np.ndarray:
    """(n, 28, 28, 1) float32 in {0, 1}."""
    return (split.images > 0).astype(np.float32)
