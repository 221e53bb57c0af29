"""Lecture 10's data: binarized MNIST (every pixel 0 or 1, fixed once, so Bernoulli
likelihoods apply), and the reparameterisation noise drawn in the pipeline.

The binarization is a fixed threshold: a pixel is 1 when its grey level is above half
(> 127 of 255), exactly as TensorFlow's convolutional VAE tutorial does, so our test ELBO
compares with its -78 nats. It is deterministic, the same for every run and every epoch.
(The other convention, one Bernoulli sample per pixel with p = grey level, gives noisier
digits and bounds around -85 to -90 nats; numbers under the two are not comparable.)

Images are kept as uint8 0/255 so `mnist.make_dataset` turns them into 0.0/1.0 floats.

The noise is an input, not drawn inside the step: `with_noise` adds it to the data
pipeline, drawn from (seed, batch number). A distributed run then splits the very same
noise across replicas as the images, so one and several devices train identically, and
the step has no random op (XLA compiles it as it is).
"""

from __future__ import annotations

import dataclasses

from cs20.datasets import mnist

import numpy as np
import tensorflow as tf

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


def standard_normal(shape, seed, counter):
    """N(0, I) noise that depends only on (seed, counter): the same on every device."""
    return tf.random.stateless_normal(shape, seed=tf.stack([tf.cast(seed, tf.int64),
                                                            tf.cast(counter, tf.int64)]))


def with_noise(dataset: tf.data.Dataset, latent_dim: int, seed: int) -> tf.data.Dataset:
    """Batches (images, labels) -> (images, noise (batch, latent)); batch b's noise is drawn
    from (seed, b), so a restored iterator and a distributed run see the same noise."""
    def add_noise(batch_number, batch):
        images, _ = batch
        noise = standard_normal((tf.shape(images)[0], latent_dim), seed, batch_number)
        return images, noise

    return dataset.enumerate().map(add_noise).prefetch(tf.data.AUTOTUNE)
