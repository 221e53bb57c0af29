"""What one step of lecture 9 reads: real digits for each discriminator update and the
noise of every update, drawn in the pipeline from (seed, step)."""

from __future__ import annotations

from cs20.datasets import mnist
from lectures.l09_gan.config import Config

import tensorflow as tf


def step_inputs(split: mnist.Split, cfg: Config) -> tf.data.Dataset:
    """What one training step reads: real digits for each of the k = --d-steps D updates,
    and the noise of all k + 1 updates, drawn from (seed, step) like lecture 10's noise,
    so a resumed or mirrored run sees the same. Batch first, so replicas split it."""
    batch, k = cfg.batch_size, cfg.d_steps
    digits = mnist.make_dataset(split, batch * k, shuffle=True, seed=cfg.seed, repeat=True)

    def arrange(number, images_and_labels):
        images, labels = images_and_labels  # (b * k, 28, 28, 1) in [0, 1], (b * k,)
        seeds = tf.random.experimental.stateless_split(tf.stack([cfg.seed, number]), 3)
        return {"images": tf.reshape(images * 2.0 - 1.0, (batch, k, 28, 28, 1)),  # [-1, 1]
                "labels": tf.reshape(tf.cast(labels, tf.int32), (batch, k)),
                "z": tf.random.stateless_normal((batch, k + 1, cfg.latent_dim), seeds[0]),
                "fake_labels": tf.random.stateless_uniform((batch, k + 1), seeds[1], 0, 10,
                                                           tf.int32),
                "mix": tf.random.stateless_uniform((batch, k, 1, 1, 1), seeds[2])}

    return digits.enumerate().map(arrange).prefetch(tf.data.AUTOTUNE)
