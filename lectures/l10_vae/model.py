"""Lecture 10's model: the encoder's Gaussian, the reparameterisation, the ELBO, the step.

Read it in this order:

1. `build_encoder`: each digit -> a Gaussian q(z|x) = N(mean, exp(log_variance)) over a
   small latent z; `build_decoder`: z -> 784 Bernoulli logits p(x|z); `VAE` holds both;
2. `reparameterise`: z = mean + standard deviation * noise, so gradients reach the
   encoder through the sampled z;
3. `elbo_terms`: ELBO = log p(x|z) - KL(q(z|x) || N(0, I)) <= log p(x), per digit, with
   the exact KL (the tutorial estimates it from one sample);
4. `make_train_step`: minimise -ELBO; the library compiles, distributes and drives it;
5. `show_worked_example`: one digit through the untrained encoder, its z and the ELBO.

    model = build_vae(latent_dim)
    mean, log_variance = model.encode(images)     # q(z|x) = N(mean, exp(log_variance))
    logits = model.decoder(z)                      # p(x|z): 784 Bernoulli logits
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

# --- 1. The encoder, the decoder and the model that holds both ---

def build_encoder(latent_dim: int) -> keras.Model:
    """(batch, 28, 28, 1) in {0, 1} -> mean and log-variance, each (batch, latent)."""
    images = keras.Input((28, 28, 1), name="images")
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


class VAE(keras.Model):
    """The lecture's encoder (images -> mean, log-variance) and decoder (z -> logits) as one
    model, so that one checkpoint, one strategy scope and `model.trainable_variables` cover
    both; `elbo_terms` and the train step below use them."""

    def __init__(self, encoder: keras.Model, decoder: keras.Model, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.latent_dim = decoder.input_shape[-1]

    def encode(self, images, training: bool = False):
        """-> mean and log-variance of q(z|x), each (batch, latent), in float32."""
        mean, log_variance = self.encoder(images, training=training)
        return tf.cast(mean, tf.float32), tf.cast(log_variance, tf.float32)

    def call(self, images, training: bool = False):
        """Reconstruction logits through the posterior mean (no noise)."""
        mean, _ = self.encode(images, training=training)
        return self.decoder(mean, training=training)


def build_vae(latent_dim: int) -> VAE:
    return VAE(build_encoder(latent_dim), build_decoder(latent_dim))


# --- 2. and 3. The reparameterisation, the KL and the likelihood, the ELBO ---

def reparameterise(mean, log_variance, noise):
    """z = mean + standard deviation * noise: a sample of q(z|x) that is differentiable in
    mean and log_variance, because all its randomness is in `noise` (batch, latent)."""
    return mean + tf.exp(0.5 * log_variance) * noise  # (batch, latent)


def gaussian_kl(mean, log_variance):
    """KL(N(mean, exp(log_variance)) || N(0, I)) per example, exact, summed over the latent:
    (batch, latent) -> (batch,)."""
    return 0.5 * tf.reduce_sum(tf.exp(log_variance) + tf.square(mean) - 1.0 - log_variance,
                               axis=-1)


def bernoulli_log_likelihood(images, logits):
    """log p(x|z) = sum over pixels of x log sigmoid(l) + (1 - x) log(1 - sigmoid(l)):
    images and logits (batch, 28, 28, 1) -> (batch,)."""
    per_pixel = -tf.nn.sigmoid_cross_entropy_with_logits(labels=images, logits=logits)
    return tf.reduce_sum(tf.reshape(per_pixel, (tf.shape(per_pixel)[0], -1)), axis=-1)


def elbo_terms(model: VAE, images, noise, training: bool = False) -> dict:
    """Per-digit ELBO, reconstruction log-likelihood and KL, each (batch,), in nats."""
    images = tf.cast(images, tf.float32)  # (batch, 28, 28, 1) in {0, 1}
    mean, log_variance = model.encode(images, training=training)  # (batch, latent) each
    z = reparameterise(mean, log_variance, noise)  # (batch, latent)
    logits = tf.cast(model.decoder(z, training=training), tf.float32)  # (batch, 28, 28, 1)
    reconstruction = bernoulli_log_likelihood(images, logits)  # log p(x|z), (batch,)
    kl = gaussian_kl(mean, log_variance)  # (batch,)
    return {"elbo": reconstruction - kl, "reconstruction": reconstruction, "kl": kl}


# --- 4. The train step, and 5. the worked example ---

def make_train_step(model: VAE, optimizer: keras.optimizers.Optimizer,
                    global_batch_size: int):
    """Per replica: (images, noise) -> one Adam step on -ELBO averaged over the global
    batch; returns that loss and the ELBO, reconstruction and KL likewise."""

    def train_step(batch):
        images, noise = batch  # (batch, 28, 28, 1), (batch, latent)
        with tf.GradientTape() as tape:
            terms = elbo_terms(model, images, noise, training=True)
            loss = tf.nn.compute_average_loss(-terms["elbo"], global_batch_size=global_batch_size)
            scaled_loss = optimizer.scale_loss(loss)  # unchanged unless mixed_float16
        gradients = tape.gradient(scaled_loss, model.trainable_variables)
        optimizer.apply(gradients, model.trainable_variables)
        averages = {name: tf.nn.compute_average_loss(values, global_batch_size=global_batch_size)
                    for name, values in terms.items()}
        return {"loss": loss, **averages}

    return train_step


def show_worked_example(model: VAE, image: np.ndarray, label: str, noise) -> None:
    """One image through the freshly initialised encoder: its Gaussian, a sampled z, and
    the ELBO's two terms."""
    mean, log_variance = model.encode(image[None])  # (1, latent) each
    z = reparameterise(mean, log_variance, noise[None])
    terms = elbo_terms(model, image[None], noise[None])
    shown = min(model.latent_dim, 6)

    def row(values) -> str:
        return np.array2string(np.asarray(values)[0, :shown], precision=3, suppress_small=True) \
            + (" ..." if model.latent_dim > shown else "")

    print(f"Worked example: a test image (class {label}) through the untrained encoder "
          f"(latent {model.latent_dim})\n"
          f"  mean                 {row(mean)}\n"
          f"  standard deviation   {row(tf.exp(0.5 * log_variance))}   exp(log_variance / 2)\n"
          f"  noise ~ N(0, I)      {row(noise[None])}\n"
          f"  z = mean + sd*noise  {row(z)}\n"
          f"  ELBO {float(terms['elbo'][0]):.1f} = log p(x|z) "
          f"{float(terms['reconstruction'][0]):.1f} - KL {float(terms['kl'][0]):.3f} nats")
