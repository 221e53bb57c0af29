"""Lecture 9's model: the DCGAN's two networks, the WGAN-GP penalty, the train step.

1. `build_generator` and `build_discriminator`, the DCGAN networks (Radford et al. 2016),
   sized for 28x28 digits on a CPU. The generator turns a latent z ~ N(0, I) into a digit
   with pixels in [-1, 1]:

    z (batch, latent) -> dense 7*7*2w -> BN -> ReLU -> (batch, 7, 7, 2w)
      -> transposed conv 4x4 stride 2 -> BN -> ReLU -> (batch, 14, 14, w)
      -> transposed conv 4x4 stride 2 -> tanh -> (batch, 28, 28, 1)

   The discriminator is the mirror image, strided convolutions with leaky ReLUs and no
   batch norm (a WGAN-GP critic's gradient penalty is per example, which batch norm would
   break), ending in one logit per digit:

    image (batch, 28, 28, 1) -> conv 4x4 stride 2 -> LReLU -> (batch, 14, 14, w)
      -> conv 4x4 stride 2 -> LReLU -> (batch, 7, 7, 2w) -> dense -> logit (batch,)

   With `num_classes` both take a digit label too (a conditional GAN, Mirza & Osindero
   2014): the generator reads z next to the label's one-hot vector, the discriminator reads
   the image with the one-hot vector broadcast as extra channels, so it can reject a good
   "3" offered as a "7". The generator's batch norm is synchronized across replicas, so a
   mirrored run normalises over the global batch exactly as one device does.
2. `gradient_penalty`: WGAN-GP's (|grad critic| - 1)^2 between real and fake digits, a
   gradient taken inside the step's tape;
3. `make_train_step`: k = --d-steps discriminator updates, then one generator update, each
   network with its own Adam;
4. `make_sampler`, `grid_inputs`, `interpolation_inputs`: digits from fixed z, for the
   sample grid, FID and the straight lines in z;
5. `worked_example`: one z through the untrained G, and D's opinion of it and of a real digit.
"""

from __future__ import annotations

import functools

from cs20.datasets import mnist
from lectures.l09_gan.config import Config

import keras
import numpy as np
import tensorflow as tf

IMAGE_SHAPE = (28, 28, 1)


def one_hot(labels, num_classes: int):
    """(batch,) int labels -> (batch, classes) one-hot floats."""
    return keras.layers.CategoryEncoding(num_classes, output_mode="one_hot",
                                         name="one_hot")(labels)


def build_generator(latent_dim: int = 64, num_classes: int = 0, width: int = 64) -> keras.Model:
    """z (batch, latent) [and labels (batch,)] -> images (batch, 28, 28, 1) in [-1, 1]."""
    z = keras.Input((latent_dim,), name="z")
    inputs, hidden = z, z
    if num_classes:
        labels = keras.Input((), dtype="int32", name="labels")
        inputs = [z, labels]
        hidden = keras.layers.Concatenate(name="z_and_label")(
            [z, one_hot(labels, num_classes)])  # (batch, latent + classes)
    hidden = keras.layers.Dense(7 * 7 * 2 * width, use_bias=False, name="dense")(hidden)
    hidden = keras.layers.BatchNormalization(synchronized=True, name="bn0")(hidden)
    hidden = keras.layers.ReLU(name="relu0")(hidden)
    hidden = keras.layers.Reshape((7, 7, 2 * width), name="reshape")(hidden)  # (b, 7, 7, 2w)
    hidden = keras.layers.Conv2DTranspose(width, 4, strides=2, padding="same", use_bias=False,
                                          name="deconv1")(hidden)  # (batch, 14, 14, w)
    hidden = keras.layers.BatchNormalization(synchronized=True, name="bn1")(hidden)
    hidden = keras.layers.ReLU(name="relu1")(hidden)
    # float32 output under mixed precision: the pixels go into the discriminator and FID.
    images = keras.layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="tanh",
                                          dtype="float32", name="deconv2")(hidden)
    return keras.Model(inputs, images, name="generator")  # (batch, 28, 28, 1)


def build_discriminator(num_classes: int = 0, width: int = 64) -> keras.Model:
    """images (batch, 28, 28, 1) in [-1, 1] [and labels (batch,)] -> logits (batch,)."""
    images = keras.Input(IMAGE_SHAPE, name="images")
    inputs, hidden = images, images
    if num_classes:
        labels = keras.Input((), dtype="int32", name="labels")
        inputs = [images, labels]
        label_maps = keras.layers.Reshape((1, 1, num_classes), name="label_pixel")(
            one_hot(labels, num_classes))  # (batch, 1, 1, classes)
        label_maps = keras.layers.UpSampling2D(IMAGE_SHAPE[:2], name="label_maps")(label_maps)
        hidden = keras.layers.Concatenate(name="image_and_label")(
            [images, label_maps])  # (batch, 28, 28, 1 + classes)
    hidden = keras.layers.Conv2D(width, 4, strides=2, padding="same", name="conv1")(hidden)
    hidden = keras.layers.LeakyReLU(0.2, name="lrelu1")(hidden)  # (batch, 14, 14, w)
    hidden = keras.layers.Conv2D(2 * width, 4, strides=2, padding="same", name="conv2")(hidden)
    hidden = keras.layers.LeakyReLU(0.2, name="lrelu2")(hidden)  # (batch, 7, 7, 2w)
    hidden = keras.layers.Flatten(name="flatten")(hidden)  # (batch, 7 * 7 * 2w)
    logits = keras.layers.Dense(1, dtype="float32", name="logit")(hidden)  # (batch, 1)
    logits = keras.layers.Reshape((), dtype="float32", name="squeeze")(logits)  # (batch,)
    return keras.Model(inputs, logits, name="discriminator")


def gradient_penalty(critic, real, fake, mix):
    """(|grad_x critic(x)| - 1)^2 per example at x = mix * real + (1 - mix) * fake."""
    between = mix * real + (1.0 - mix) * fake  # (batch, 28, 28, 1)
    with tf.GradientTape() as tape:  # nested inside the step's tape: its result is differentiated again
        tape.watch(between)
        scores = critic(between)  # (batch,)
    # Each score depends on its own image only, so the gradient of their sum is per example.
    gradients = tape.gradient(scores, between)  # (batch, 28, 28, 1)
    norms = tf.sqrt(tf.reduce_sum(tf.square(gradients), axis=[1, 2, 3]) + 1e-12)  # (batch,)
    return tf.square(norms - 1.0)


def conditioned(cfg: Config, inputs, labels):
    """A network's input: `inputs` alone, or with the digit labels under --conditional."""
    return [inputs, labels] if cfg.conditional else inputs


def make_train_step(generator, discriminator, g_optimizer, d_optimizer, cfg: Config):
    """A per-replica step for `training.compile_step`: k D updates, then one G update."""
    def G(z, labels):  # noqa: N802 (the papers' names)
        return generator(conditioned(cfg, z, labels), training=True)

    def D(images, labels):  # noqa: N802
        return discriminator(conditioned(cfg, images, labels), training=True)

    def average(per_example):  # over the global batch: replicas' values add up
        return tf.nn.compute_average_loss(per_example, global_batch_size=cfg.batch_size)

    def update(optimizer, network, tape, scaled_loss):
        gradients = tape.gradient(scaled_loss, network.trainable_variables)
        optimizer.apply(gradients, network.trainable_variables)

    def train_step(batch):
        logs = {}
        for j in range(cfg.d_steps):  # unrolled: k is a small constant
            real, real_labels = batch["images"][:, j], batch["labels"][:, j]
            fake_labels = batch["fake_labels"][:, j]  # (batch,)
            fake = G(batch["z"][:, j], fake_labels)  # (batch, 28, 28, 1)
            with tf.GradientTape() as tape:
                real_scores, fake_scores = D(real, real_labels), D(fake, fake_labels)  # (batch,)
                if cfg.loss == "wgan-gp":
                    penalty = average(gradient_penalty(functools.partial(D, labels=real_labels),
                                                       real, fake, batch["mix"][:, j]))
                    d_loss = average(fake_scores - real_scores) + cfg.gp_weight * penalty
                    logs["gradient_penalty"] = logs.get("gradient_penalty", 0.0) + penalty
                else:  # -log sigmoid(real) - log(1 - sigmoid(fake))
                    d_loss = average(tf.nn.softplus(-real_scores) + tf.nn.softplus(fake_scores))
                # Scaled inside the tape (mixed_float16), or the tape cannot differentiate it.
                scaled_d_loss = d_optimizer.scale_loss(d_loss)
            update(d_optimizer, discriminator, tape, scaled_d_loss)
            for name, value in (("d_loss", d_loss),
                                ("real_accuracy", average(tf.cast(real_scores > 0, tf.float32))),
                                ("fake_accuracy", average(tf.cast(fake_scores < 0, tf.float32)))):
                logs[name] = logs.get(name, 0.0) + value
        logs = {name: value / cfg.d_steps for name, value in logs.items()}  # means over k
        fake_labels = batch["fake_labels"][:, cfg.d_steps]
        with tf.GradientTape() as tape:
            scores = D(G(batch["z"][:, cfg.d_steps], fake_labels), fake_labels)  # (batch,)
            # Non-saturating: -log sigmoid(D(G(z))); WGAN: raise the critic's score.
            logs["g_loss"] = average(-scores if cfg.loss == "wgan-gp" else tf.nn.softplus(-scores))
            scaled_g_loss = g_optimizer.scale_loss(logs["g_loss"])
        update(g_optimizer, generator, tape, scaled_g_loss)
        return logs

    return train_step


def make_sampler(generator, cfg: Config):
    """(z (n, latent), labels (n,)) -> digits (n, 28, 28, 1) in [0, 1], batch norm in
    inference mode (its moving averages), in compiled batches of 500."""
    images = tf.function(lambda z, labels: generator(conditioned(cfg, z, labels), training=False))
    return lambda z, labels: (np.concatenate([  # [-1, 1] -> [0, 1]
        images(tf.constant(z[start:start + 500], tf.float32),
               tf.constant(labels[start:start + 500], tf.int32)).numpy()
        for start in range(0, len(z), 500)]) + 1.0) / 2.0


def grid_inputs(cfg: Config, rng) -> tuple[np.ndarray, np.ndarray, int]:
    """The sample grid's fixed (z, labels, columns): conditional, row r is digit r and
    column c the same z in every row; otherwise 8 x 8 independent z."""
    if cfg.conditional:
        z = np.tile(rng.standard_normal((10, cfg.latent_dim)), (10, 1))  # (100, latent)
        return z, np.repeat(np.arange(10), 10), 10
    return rng.standard_normal((64, cfg.latent_dim)), np.zeros(64, np.int32), 8


def interpolation_inputs(cfg: Config, rng, rows: int = 8, columns: int = 10):
    """Straight lines in z between two random points per row (row r: digit r if
    conditional): (rows * columns, latent) z and labels."""
    start, end = rng.standard_normal((2, rows, 1, cfg.latent_dim))  # (rows, 1, latent) each
    weights = np.linspace(0.0, 1.0, columns)[None, :, None]  # (1, columns, 1)
    z = (1.0 - weights) * start + weights * end  # (rows, columns, latent)
    return z.reshape(-1, cfg.latent_dim), np.repeat(np.arange(rows) % 10, columns)


def worked_example(generator, discriminator, digits: mnist.Split, cfg: Config) -> None:
    """One z through G, and D's opinion of the first real digit, before any training."""
    z = tf.random.stateless_normal((1, cfg.latent_dim), seed=(cfg.seed, 0))  # (1, latent)
    labels = tf.constant([int(digits.labels[0])])  # (1,)
    fake = generator(conditioned(cfg, z, labels), training=False)  # (1, 28, 28, 1)
    real = tf.constant(digits.images[:1] / 127.5 - 1.0, tf.float32)  # (1, 28, 28, 1) in [-1, 1]
    real_score, fake_score = (float(discriminator(conditioned(cfg, x, labels))[0])
                              for x in (real, fake))
    probability = 1 / (1 + np.exp(-np.array([real_score, fake_score])))  # sigmoid
    print(f"Worked example (untrained networks):\n  z {tuple(z.shape)} = [{z[0, 0]:.2f}, "
          f"{z[0, 1]:.2f}, ...] -> generator(z) {tuple(fake.shape)}, pixels in "
          f"[{np.min(fake):.3f}, {np.max(fake):.3f}] (real digits span [-1, 1])\n"
          f"  discriminator logits: a real {int(labels[0])} {real_score:.4f}, generator(z) "
          f"{fake_score:.4f}; P(real) {probability[0]:.3f} and {probability[1]:.3f}: a coin toss\n"
          f"  non-saturating losses: D {np.logaddexp(0, -real_score) + np.logaddexp(0, fake_score):.4f}"
          f" (2 ln 2 = 1.386 at a coin toss), G {np.logaddexp(0, -fake_score):.4f}")
