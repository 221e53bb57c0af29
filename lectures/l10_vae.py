"""Lecture 10: a variational autoencoder on binarized MNIST, trained on the ELBO.

The course lists a VAE lecture but ships no code for it; this follows Kingma & Welling
(2014) and TensorFlow's convolutional VAE tutorial. Read it in this order:

1. `build_encoder`: each digit -> a Gaussian q(z|x) = N(mean, exp(log_variance)) over a
   small latent z; `build_decoder`: z -> 784 Bernoulli logits p(x|z);
2. `reparameterise`: z = mean + standard deviation * noise, so gradients reach the
   encoder through the sampled z;
3. `elbo_terms`: ELBO = log p(x|z) - KL(q(z|x) || N(0, I)) <= log p(x), per digit, with
   the exact KL (the tutorial estimates it from one sample);
4. `make_train_step`: minimise -ELBO; the library compiles, distributes and drives it.

Before training, the lecture prints one digit's mean, standard deviation and sampled z
(--quiet leaves that out). The learning rate decays along a cosine, and the test set is
also scored with the importance-weighted bound with k samples (Burda et al. 2016), a
tighter estimate of log p(x). With --latent-dim 2 the run also draws the learnt manifold
(decoded grid of z values) and where the test digits land in latent space. TensorBoard
shows train/ and eval/ ELBO, reconstruction and KL (nats per digit), and per epoch:
inputs next to their reconstructions, samples from the prior and the manifold.

    python lectures/l10_vae.py                                   # 2-d latent, 20 epochs
    python lectures/l10_vae.py --latent-dim 50 --num-epochs 60   # 50-d, as the tutorial
    python lectures/l10_vae.py --dataset fashion_mnist          # or a folder of IDX files
    tensorboard --logdir runs/l10_vae

Look at test/elbo and test/iwae_log_likelihood in the final table (higher is better;
the IWAE bound is the tighter one) and at manifold.png. Our figures: the README's rows
"10 VAE" and "10 VAE, 50-d" (benchmarks/vae.py).
"""

from __future__ import annotations

import dataclasses
import functools

from cs20 import checkpoints, cli, config, plots, runtime, summaries, training
from cs20.datasets import binarized_mnist, idx, mnist
from cs20.models import vae
from lectures.l09_gan import fid

import keras
import numpy as np
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class Config(config.EpochTrainConfig, idx.DatasetFlags):
    num_epochs: int = config.option(20, "Passes over the 55,000 training digits.")
    latent_dim: int = config.option(2, "Size of the latent z (2 draws the manifold; "
                                       "16, 32 or 50 fit better).")
    iwae_samples: int = config.option(100, "Samples k per digit for the importance-weighted "
                                           "test log-likelihood.")
    iwae_digits: int = config.option(10000, "Test digits for the importance-weighted "
                                            "estimate (at most 10,000).")
    fid_samples: int = config.option(10000, "Generated digits scored by FID, the scale "
                                            "lecture 9's GAN is measured on (0: no FID).",
                                     changeable=True)

    def __post_init__(self):
        super().__post_init__()
        for name in ("latent_dim", "iwae_samples", "iwae_digits"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{config.flag_name(name)} must be at least 1")
        if self.iwae_digits > 10000:
            raise ValueError("--iwae-digits must be at most 10000 (the MNIST test set)")


# --- The lesson: the encoder's Gaussian, the reparameterisation, the ELBO, the step ---

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


def build_vae(latent_dim: int) -> vae.VAE:
    return vae.VAE(build_encoder(latent_dim), build_decoder(latent_dim))


def reparameterise(mean, log_variance, noise):
    """z = mean + standard deviation * noise: a sample of q(z|x) that is differentiable in
    mean and log_variance, because all its randomness is in `noise` (batch, latent)."""
    return mean + tf.exp(0.5 * log_variance) * noise  # (batch, latent)


def gaussian_kl(mean, log_variance):
    """KL(N(mean, exp(log_variance)) || N(0, I)) per example, exact, summed over the latent:
    (batch, latent) -> (batch,)."""
    return 0.5 * tf.reduce_sum(tf.exp(log_variance) + tf.square(mean) - 1.0 - log_variance,
                               axis=-1)


def elbo_terms(model: vae.VAE, images, noise, training: bool = False) -> dict:
    """Per-digit ELBO, reconstruction log-likelihood and KL, each (batch,), in nats."""
    images = tf.cast(images, tf.float32)  # (batch, 28, 28, 1) in {0, 1}
    mean, log_variance = model.encode(images, training=training)  # (batch, latent) each
    z = reparameterise(mean, log_variance, noise)  # (batch, latent)
    logits = tf.cast(model.decoder(z, training=training), tf.float32)  # (batch, 28, 28, 1)
    reconstruction = vae.bernoulli_log_likelihood(images, logits)  # log p(x|z), (batch,)
    kl = gaussian_kl(mean, log_variance)  # (batch,)
    return {"elbo": reconstruction - kl, "reconstruction": reconstruction, "kl": kl}


def make_train_step(model: vae.VAE, optimizer: keras.optimizers.Optimizer,
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


def show_worked_example(model: vae.VAE, image: np.ndarray, label: str, noise) -> None:
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


def main(argv=None) -> dict:
    cfg = config.parse(Config, argv, __doc__, prog="l10_vae")
    run = runtime.start("l10_vae", cfg)

    # Data: binarized digits (or --dataset's images) with their reparameterisation noise
    # drawn in the pipeline.
    splits = binarized_mnist.load_splits(cfg.data_dir, dataset=cfg.dataset,
                                         skip_bad_shards=cfg.skip_bad_shards)
    train_data = vae.with_noise(
        mnist.make_dataset(splits.train, cfg.batch_size, shuffle=True, seed=cfg.seed,
                           repeat=True), cfg.latent_dim, cfg.seed)
    validation_data = vae.with_noise(mnist.make_dataset(splits.validation, 1000),
                                     cfg.latent_dim, cfg.seed + 1)
    test_data = vae.with_noise(mnist.make_dataset(splits.test, 1000),
                               cfg.latent_dim, cfg.seed + 2)
    schedule = training.make_schedule(cfg, steps_per_epoch=-(-len(splits.train)
                                                              // cfg.batch_size))

    # Model, optimizer and step are created in the strategy's scope (mirrored variables).
    with run.strategy.scope():
        model = build_vae(cfg.latent_dim)
        optimizer = training.with_loss_scaling(keras.optimizers.Adam(
            training.learning_rate(cfg.learning_rate, cfg.decay, schedule.num_steps)))
        optimizer.build(model.trainable_variables)
        step = tf.Variable(0, dtype=tf.int64, name="global_step", trainable=False)
    shown = binarized_mnist.as_floats(splits.test)[:8]  # (8, 28, 28, 1)
    if not cfg.quiet:
        noise = np.random.default_rng(cfg.seed).standard_normal(cfg.latent_dim)
        show_worked_example(model, shown[0], splits.class_names[splits.test.labels[0]],
                            tf.constant(noise, tf.float32))
    iterator = training.distribute(run, train_data)
    checkpoint = checkpoints.make(step, model, optimizer, iterator)
    train_step = training.compile_step(run.strategy,
                                       make_train_step(model, optimizer, cfg.batch_size),
                                       jit_compile=cfg.jit_compile)

    evaluate_terms = vae.make_evaluate(functools.partial(elbo_terms, model))
    prior_z = np.random.default_rng(cfg.seed).standard_normal((32, cfg.latent_dim))

    def evaluate() -> dict:
        vae.log_pictures(run, model, shown, prior_z, int(step.numpy()))
        return evaluate_terms(validation_data)

    results = training.train(run, step_fn=train_step, iterator=iterator,
                             checkpoint=checkpoint, step=step, schedule=schedule,
                             evaluate=evaluate)

    if run.final_evaluation_due("the test set's ELBO, importance-weighted bound, FID and "
                                "latent scatter"):
        # Test: the ELBO (one z per digit) and the tighter importance-weighted bound.
        test = {f"test/{name}": value for name, value in evaluate_terms(test_data).items()}
        print(f"Importance-weighted log-likelihood, k = {cfg.iwae_samples}, "
              f"{cfg.iwae_digits} test digits ...")
        test["test/iwae_log_likelihood"] = vae.importance_weighted_log_likelihood(
            model, binarized_mnist.as_floats(splits.test)[:cfg.iwae_digits], cfg.iwae_samples,
            seed=cfg.seed + 3)
        summaries.scalars(run.writer, test, int(step.numpy()))
        results.update(test)
        if cfg.fid_samples:  # FID of prior samples on lecture 7's ConvNet features
            rng = np.random.default_rng(cfg.seed + 4)
            results.update(fid.report(
                run, lambda count: vae.decode_probabilities(
                    model, rng.standard_normal((count, cfg.latent_dim)))[..., None],
                step=int(step.numpy()), data_dir=cfg.data_dir, dataset=cfg.dataset,
                num_samples=cfg.fid_samples))

    # In a multi-worker run only the chief writes files into the run directory.
    vae.log_pictures(run, model, shown, prior_z, int(step.numpy()), save_png=run.chief)
    if cfg.latent_dim == 2 and run.chief and run.complete:
        means = vae.posterior_means(model, binarized_mnist.as_floats(splits.test))
        plots.latent_scatter(means, splits.test.labels, run.path("latent_scatter.png"),
                             title="Test images in latent space (posterior means)",
                             class_names=splits.class_names)
    print(f"Pictures: {run.directory}/*.png")
    return run.finish(results, steps=int(step.numpy()))


if __name__ == "__main__":
    cli.guard(main)
