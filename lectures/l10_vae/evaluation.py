"""Lecture 10's evaluation and pictures, around the model of model.py.

1. `make_evaluate`: the mean ELBO, reconstruction and KL over a dataset, summed on the
   device in one compiled call;
2. the importance-weighted bound with k samples (Burda et al. 2016,
   log p(x) >= IWAE_k >= ELBO: what we report as the test log-likelihood estimate), from
   the density log N(z; m, v) of the prior and of q(z|x);
3. the pictures: reconstructions, samples from the prior, the decoded 2-d manifold, and
   the posterior means for the latent scatter.
"""

from __future__ import annotations

import math

from cs20 import plots, summaries, training
from lectures.l10_vae.data import standard_normal
from lectures.l10_vae.model import VAE, bernoulli_log_likelihood, reparameterise

import numpy as np
import tensorflow as tf

_LOG_TWO_PI = math.log(2.0 * math.pi)


# --- 1. The ELBO over a finite dataset ---

def make_evaluate(terms):
    """-> `evaluate(dataset)`: mean ELBO, reconstruction and KL over a dataset of
    (images, noise), where `terms(images, noise)` returns each per example (model.py's
    `elbo_terms`), summed on the device in one compiled call (`training.compile_totals`)
    that is traced once and reused every epoch."""
    names = ("elbo", "reconstruction", "kl")

    def batch_sums(batch):
        images, noise = batch
        sums = {name: tf.reduce_sum(terms(images, noise)[name]) for name in names}
        return {**sums, "count": tf.shape(images)[0]}

    totals = training.compile_totals(batch_sums, (*names, "count"))

    def evaluate(dataset: tf.data.Dataset) -> dict:
        sums = training.to_floats(totals(dataset))
        return {name: sums[name] / sums["count"] for name in names}

    return evaluate


# --- 2. The importance-weighted bound ---

def gaussian_log_density(z, mean, log_variance):
    """log N(z; mean, exp(log_variance)), summed over the last axis."""
    return -0.5 * tf.reduce_sum(
        _LOG_TWO_PI + log_variance + tf.square(z - mean) * tf.exp(-log_variance), axis=-1)


def importance_log_weights(vae: VAE, images, noise):
    """log p(x, z_k) - log q(z_k|x) for k samples: noise (k, batch, latent) -> (k, batch)."""
    num_samples = tf.shape(noise)[0]
    batch = tf.shape(images)[0]
    mean, log_variance = vae.encode(images)  # (batch, latent) each
    # k samples of q(z|x), reparameterised as in training (no gradient needed here).
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


# --- 3. Pictures: reconstructions, samples from the prior, the 2-d manifold ---

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


def log_pictures(run, model: VAE, inputs: np.ndarray, prior_z: np.ndarray, step: int,
                 save_png: bool = False) -> None:
    """TensorBoard images (and with `save_png`, PNGs in the run directory): `inputs` over
    their reconstructions, the decoded `prior_z` and, for a 2-d latent, the manifold."""
    reconstructions = tf.sigmoid(model(tf.constant(inputs)))[..., 0].numpy()  # (n, 28, 28)
    pairs = summaries.grid(np.concatenate([inputs[..., 0], reconstructions])[..., None],
                           columns=len(inputs))  # row 1 inputs, row 2 reconstructions
    samples = summaries.grid(decode_probabilities(model, prior_z)[..., None], columns=8)
    pictures = {"reconstructions": pairs, "prior_samples": samples}
    if model.latent_dim == 2:
        grid = manifold(model)  # (20, 20, 28, 28)
        pictures["manifold"] = summaries.grid(grid.reshape(-1, 28, 28, 1), columns=len(grid))
    for name, picture in pictures.items():
        summaries.images(run.writer, f"images/{name}", picture[None], step)
    if save_png:
        plots.mosaic(pairs[..., 0], run.path("reconstructions.png"),
                     title="Test digits (top) and their reconstructions (bottom)")
        plots.mosaic(samples[..., 0], run.path("prior_samples.png"),
                     title="Decoded samples z ~ N(0, I)")
        if "manifold" in pictures:
            coordinates = manifold_coordinates(20)
            plots.mosaic(pictures["manifold"][..., 0], run.path("manifold.png"),
                         title="Decoded manifold (grid of N(0, 1) quantiles)",
                         extent=(coordinates[0], coordinates[-1], coordinates[0],
                                 coordinates[-1]), x_label="z1", y_label="z2")
