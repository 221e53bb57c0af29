"""Lecture 10's convolutional variational autoencoder (Kingma & Welling 2014) on binarized MNIST.

The encoder maps a digit x to a Gaussian q(z|x) = N(mean, exp(log_variance)); the decoder
maps a latent z to 784 Bernoulli logits p(x|z). Training maximises the evidence lower bound

    ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || N(0, I))  <=  log p(x)

per example, in nats: the reconstruction term is estimated with one sample
z = mean + exp(log_variance / 2) * noise (the reparameterisation trick, so gradients reach
the encoder through z), the KL term is exact. The importance-weighted bound with k samples
(Burda et al. 2016) is tighter, log p(x) >= IWAE_k >= ELBO, and is what we report as the
test log-likelihood estimate.

The noise is an input, not drawn inside the step: `with_noise` adds it to the data
pipeline, drawn from (seed, batch number). A distributed run then splits the very same
noise across replicas as the images, so one and several devices train identically, and
the step has no random op (XLA compiles it as it is).
"""

from __future__ import annotations

import math

from cs20 import training

import keras
import numpy as np
import tensorflow as tf

IMAGE_SHAPE = (28, 28, 1)
_LOG_TWO_PI = math.log(2.0 * math.pi)


def build_encoder(latent_dim: int) -> keras.Model:
    """(batch, 28, 28, 1) in {0, 1} -> mean and log-variance, each (batch, latent)."""
    images = keras.Input(IMAGE_SHAPE, name="images")
    hidden = keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu",
                                 name="conv1")(images)  # (batch, 14, 14, 32)
    hidden = keras.layers.Conv2D(64, 3, strides=2, padding="same", activation="relu",
                                 name="conv2")(hidden)  # (batch, 7, 7, 64)
    hidden = keras.layers.Flatten(name="flatten")(hidden)  # (batch, 3136)
    mean = keras.layers.Dense(latent_dim, name="mean")(hidden)  # (batch, latent)
    log_variance = keras.layers.Dense(latent_dim, name="log_variance")(hidden)
    return keras.Model(images, [mean, log_variance], name="encoder")


def build_decoder(latent_dim: int) -> keras.Model:
    """(batch, latent) -> Bernoulli logits (batch, 28, 28, 1), float32 under any policy."""
    latent = keras.Input((latent_dim,), name="latent")
    hidden = keras.layers.Dense(7 * 7 * 32, activation="relu", name="dense")(latent)
    hidden = keras.layers.Reshape((7, 7, 32), name="reshape")(hidden)  # (batch, 7, 7, 32)
    hidden = keras.layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu",
                                          name="deconv1")(hidden)  # (batch, 14, 14, 64)
    hidden = keras.layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu",
                                          name="deconv2")(hidden)  # (batch, 28, 28, 32)
    # The logits stay float32 under mixed precision: log-likelihoods sum 784 terms.
    logits = keras.layers.Conv2DTranspose(1, 3, padding="same", dtype="float32",
                                          name="logits")(hidden)  # (batch, 28, 28, 1)
    return keras.Model(latent, logits, name="decoder")


# --- The math, as pure functions of tensors (tested against hand-computed values). ---

def gaussian_kl(mean, log_variance):
    """KL(N(mean, exp(log_variance)) || N(0, I)) per example, summed over the latent."""
    return 0.5 * tf.reduce_sum(tf.exp(log_variance) + tf.square(mean) - 1.0 - log_variance,
                               axis=-1)  # (batch,)


def bernoulli_log_likelihood(images, logits):
    """log p(x|z) = sum over pixels of x log sigmoid(l) + (1 - x) log(1 - sigmoid(l))."""
    per_pixel = -tf.nn.sigmoid_cross_entropy_with_logits(labels=images, logits=logits)
    return tf.reduce_sum(tf.reshape(per_pixel, (tf.shape(per_pixel)[0], -1)), axis=-1)


def gaussian_log_density(z, mean, log_variance):
    """log N(z; mean, exp(log_variance)), summed over the last axis."""
    return -0.5 * tf.reduce_sum(
        _LOG_TWO_PI + log_variance + tf.square(z - mean) * tf.exp(-log_variance), axis=-1)


def reparameterise(mean, log_variance, noise):
    """z = mean + standard deviation * noise: a sample of q(z|x) that is differentiable
    in mean and log_variance, because the randomness is all in `noise`."""
    return mean + tf.exp(0.5 * log_variance) * noise  # (batch, latent)


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


class VAE(keras.Model):
    """Encoder + decoder. `model.fit(images_or_images_and_noise)` trains it with Adam etc.;
    the lectures' shared loop uses `make_train_step` instead (per-replica, global batch)."""

    def __init__(self, latent_dim: int = 2, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = latent_dim
        self.encoder = build_encoder(latent_dim)
        self.decoder = build_decoder(latent_dim)
        # Used only when fit/evaluate get images without noise.
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.elbo_tracker = keras.metrics.Mean(name="elbo")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")

    def encode(self, images, training: bool = False):
        mean, log_variance = self.encoder(images, training=training)
        return tf.cast(mean, tf.float32), tf.cast(log_variance, tf.float32)

    def call(self, images, training: bool = False):
        """Reconstruction logits through the posterior mean (no noise)."""
        mean, _ = self.encode(images, training=training)
        return self.decoder(mean, training=training)

    def terms(self, images, noise, training: bool = False) -> dict:
        """Per-example ELBO, reconstruction log-likelihood and KL, each (batch,), in nats."""
        images = tf.cast(images, tf.float32)
        mean, log_variance = self.encode(images, training=training)
        z = reparameterise(mean, log_variance, noise)
        logits = tf.cast(self.decoder(z, training=training), tf.float32)
        reconstruction = bernoulli_log_likelihood(images, logits)
        kl = gaussian_kl(mean, log_variance)
        return {"elbo": reconstruction - kl, "reconstruction": reconstruction, "kl": kl}

    # --- keras.Model.fit / evaluate support ---

    @property
    def metrics(self):
        return [self.elbo_tracker, self.reconstruction_tracker, self.kl_tracker]

    def _images_and_noise(self, data):
        if isinstance(data, (tuple, list)):
            images, noise = data
        else:
            images = data
            noise = keras.random.normal((tf.shape(images)[0], self.latent_dim),
                                        seed=self.seed_generator)
        return images, noise

    def _track(self, terms: dict) -> dict:
        for tracker in self.metrics:
            tracker.update_state(terms[tracker.name])
        return {tracker.name: tracker.result() for tracker in self.metrics}

    def train_step(self, data):
        images, noise = self._images_and_noise(data)
        with tf.GradientTape() as tape:
            terms = self.terms(images, noise, training=True)
            loss = self.optimizer.scale_loss(-tf.reduce_mean(terms["elbo"]))
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        return self._track(terms)

    def test_step(self, data):
        images, noise = self._images_and_noise(data)
        return self._track(self.terms(images, noise))


def make_train_step(vae: VAE, optimizer: keras.optimizers.Optimizer, global_batch_size: int):
    """A per-replica step for `training.compile_step`: (images, noise) -> the loss
    (-ELBO averaged over the global batch) and ELBO, reconstruction and KL likewise."""

    def train_step(batch):
        images, noise = batch
        with tf.GradientTape() as tape:
            terms = vae.terms(images, noise, training=True)
            loss = tf.nn.compute_average_loss(-terms["elbo"], global_batch_size=global_batch_size)
            scaled_loss = optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled_loss, vae.trainable_variables)
        optimizer.apply(gradients, vae.trainable_variables)
        averages = {name: tf.nn.compute_average_loss(values, global_batch_size=global_batch_size)
                    for name, values in terms.items()}
        return {"loss": loss, **averages}

    return train_step


# --- Evaluation: the ELBO and the importance-weighted bound over a finite dataset. ---

def make_evaluate(vae: VAE):
    """-> `evaluate(dataset)`: mean ELBO, reconstruction and KL over a dataset of
    (images, noise), summed on the device in one compiled call (`training.compile_totals`)
    that is traced once and reused every epoch."""
    names = ("elbo", "reconstruction", "kl")

    def batch_sums(batch):
        images, noise = batch
        sums = {name: tf.reduce_sum(values) for name, values in vae.terms(images, noise).items()}
        return {**sums, "count": tf.shape(images)[0]}

    totals = training.compile_totals(batch_sums, (*names, "count"))

    def evaluate(dataset: tf.data.Dataset) -> dict:
        sums = training.to_floats(totals(dataset))
        return {name: sums[name] / sums["count"] for name in names}

    return evaluate


def importance_log_weights(vae: VAE, images, noise):
    """log p(x, z_k) - log q(z_k|x) for k samples: noise (k, batch, latent) -> (k, batch)."""
    num_samples = tf.shape(noise)[0]
    batch = tf.shape(images)[0]
    mean, log_variance = vae.encode(tf.cast(images, tf.float32))  # (batch, latent) each
    z = reparameterise(mean, log_variance, noise)  # (k, batch, latent)
    flat_z = tf.reshape(z, (-1, vae.latent_dim))  # (k * batch, latent)
    repeated = tf.tile(tf.cast(images, tf.float32), (num_samples, 1, 1, 1))  # (k * batch, ...)
    logits = tf.cast(vae.decoder(flat_z), tf.float32)  # (k * batch, 28, 28, 1)
    log_likelihood = tf.reshape(bernoulli_log_likelihood(repeated, logits),
                                (num_samples, batch))  # (k, batch)
    log_prior = gaussian_log_density(z, 0.0, 0.0)  # (k, batch)
    log_posterior = gaussian_log_density(z, mean, log_variance)  # (k, batch)
    return log_likelihood + log_prior - log_posterior


def importance_weighted_bound(log_weights):
    """log (1/k) sum_k exp(log_weights), per example: (k, batch) -> (batch,)."""
    num_samples = tf.cast(tf.shape(log_weights)[0], log_weights.dtype)
    return tf.reduce_logsumexp(log_weights, axis=0) - tf.math.log(num_samples)


def importance_weighted_log_likelihood(vae: VAE, images: np.ndarray, num_samples: int,
                                       seed: int, decodes_per_call: int = 4000) -> float:
    """Mean IWAE_k estimate of log p(x) (nats) over `images`, in chunks that keep
    k * chunk decodes in memory at a time."""
    chunk = max(1, decodes_per_call // num_samples)

    @tf.function
    def bound(batch, counter):
        noise = standard_normal((num_samples, tf.shape(batch)[0], vae.latent_dim), seed, counter)
        return importance_weighted_bound(importance_log_weights(vae, batch, noise))

    total = 0.0
    for counter, start in enumerate(range(0, len(images), chunk)):
        batch = tf.constant(images[start:start + chunk], tf.float32)
        total += float(tf.reduce_sum(bound(batch, tf.constant(counter, tf.int64))))
    return total / len(images)


# --- Pictures: samples from the prior and the decoded 2-d manifold. ---

def decode_probabilities(vae: VAE, z) -> np.ndarray:
    """(n, latent) -> pixel probabilities (n, 28, 28)."""
    return tf.sigmoid(vae.decoder(tf.constant(z, tf.float32)))[..., 0].numpy()


def prior_samples(vae: VAE, count: int, seed: int) -> np.ndarray:
    """Decoded z ~ N(0, I): (count, 28, 28) pixel probabilities."""
    z = np.random.default_rng(seed).standard_normal((count, vae.latent_dim))
    return decode_probabilities(vae, z)


def manifold_coordinates(size: int) -> np.ndarray:
    """Evenly spaced quantiles of N(0, 1) (5% to 95%), so the grid covers the prior's mass
    evenly instead of wasting cells on its tails: (size,) values."""
    return tf.math.ndtri(tf.linspace(0.05, 0.95, size)).numpy()


def manifold(vae: VAE, size: int = 20) -> np.ndarray:
    """Decoded (z1, z2) grid for a 2-d latent: (size, size, 28, 28), rows top = high z2."""
    if vae.latent_dim != 2:
        raise ValueError(f"the manifold grid needs --latent-dim 2, not {vae.latent_dim}")
    coordinates = manifold_coordinates(size)
    z2, z1 = np.meshgrid(coordinates[::-1], coordinates, indexing="ij")
    z = np.stack([z1.ravel(), z2.ravel()], axis=-1)  # (size * size, 2)
    return decode_probabilities(vae, z).reshape(size, size, 28, 28)


def posterior_means(vae: VAE, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """The encoder's mean for each image: (n, 28, 28, 1) -> (n, latent)."""
    encode = tf.function(lambda batch: vae.encode(batch)[0])
    return np.concatenate([encode(tf.constant(images[start:start + batch_size])).numpy()
                           for start in range(0, len(images), batch_size)])
