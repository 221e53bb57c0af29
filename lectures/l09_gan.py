"""Lecture 9: a generative adversarial network (DCGAN) on MNIST, scored by FID.

A generator G turns noise z ~ N(0, I) into digits; a discriminator D tells them from real ones
(Goodfellow et al. 2014). Each has its own Adam: a step teaches D to say "real" to digits and
"fake" to G(z), then G to make D say "real". Both are a small DCGAN (Radford et al. 2016).

- `--loss non-saturating` (default): D minimises the real/fake cross-entropy, G minimises
  -log D(G(z)) (not log(1 - D(G(z))), whose gradient vanishes while D wins).
- `--loss wgan-gp` (Gulrajani et al. 2017): D is a critic whose score gap estimates the
  Wasserstein distance, kept 1-Lipschitz by a penalty on its gradient norm between real
  and fake digits (a nested GradientTape); usually with `--d-steps 5 --beta1 0`.

    python lectures/l09_gan.py                  # 5,000 steps of 64 digits
    python lectures/l09_gan.py --conditional    # G and D also take the digit: a row per digit

A GAN has no likelihood; like lecture 10's VAE it is scored by FID, the Fréchet distance between
lecture 7's ConvNet features of samples and of test digits (cs20/metrics/fid.py). Look at
train/d_loss and train/g_loss (neither goes to 0 while the game is balanced), the real and fake
accuracies (well below 1), the `samples` image (same z at each evaluation), eval/fid falling,
eval/modes_covered at 10, samples.png, interpolation.png. Figures: the README's lecture 9 row.
"""

from __future__ import annotations

import dataclasses
import functools

from cs20 import checkpoints, cli, config, plots, runtime, summaries, training
from cs20.datasets import mnist
from cs20.metrics import fid
from cs20.models import gan

import keras
import numpy as np
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class Config(config.TrainConfig):
    num_steps: int = config.option(5000, "Training steps (each: --d-steps discriminator "
                                         "updates, one generator update).", changeable=True)
    batch_size: int = config.option(64, "Real digits per discriminator update (global).")
    learning_rate: float = config.option(2e-4, "Adam learning rate of both networks.")
    beta1: float = config.option(0.5, "Adam's first-moment decay (DCGAN: 0.5; WGAN-GP: 0).")
    loss: str = config.option("non-saturating", "The adversarial loss.",
                              choices=("non-saturating", "wgan-gp"))
    d_steps: int = config.option(1, "Discriminator updates per generator update.")
    gp_weight: float = config.option(10.0, "Weight of the WGAN-GP gradient penalty.")
    latent_dim: int = config.option(64, "Size of the noise z.")
    width: int = config.option(32, "Channels of D's first and G's last hidden layer "
                                   "(twice as many in the other one).")
    conditional: bool = config.option(False, "Give both networks the digit label.")
    eval_every: int = config.option(500, "Sample grid and FID every N steps.", changeable=True)
    checkpoint_every: int = config.option(500, "Checkpoint every N steps.", changeable=True)
    fid_samples: int = config.option(10000, "Generated digits scored by FID "
                                     "(0: no FID).", changeable=True)

    def __post_init__(self):
        super().__post_init__()
        for name in ("d_steps", "latent_dim", "width"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{config.flag_name(name)} must be at least 1")
        if self.beta1 >= 1.0:  # negative values are refused for every number
            raise ValueError(f"--beta1 must be in [0, 1), got {self.beta1}")


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


def main(argv=None) -> dict:
    cfg = config.parse(Config, argv, __doc__, prog="l09_gan")
    run = runtime.start("l09_gan", cfg)
    splits = mnist.load_splits(cfg.data_dir)
    num_classes = splits.num_classes if cfg.conditional else 0
    schedule = training.make_schedule(cfg, len(splits.train) // (cfg.batch_size * cfg.d_steps))

    with run.strategy.scope():  # both networks, both optimizers and the step counter
        generator = gan.build_generator(cfg.latent_dim, num_classes, cfg.width)
        discriminator = gan.build_discriminator(num_classes, cfg.width)
        g_optimizer, d_optimizer = (training.with_loss_scaling(keras.optimizers.Adam(
            cfg.learning_rate, beta_1=cfg.beta1)) for _ in range(2))
        g_optimizer.build(generator.trainable_variables)
        d_optimizer.build(discriminator.trainable_variables)
        step = tf.Variable(0, dtype=tf.int64, name="global_step", trainable=False)
    iterator = training.distribute(run, step_inputs(splits.train, cfg))
    checkpoint = checkpoints.make(step, generator, g_optimizer, iterator,
                                  discriminator=discriminator, d_optimizer=d_optimizer)
    train_step = training.compile_step(
        run.strategy, make_train_step(generator, discriminator, g_optimizer, d_optimizer, cfg),
        jit_compile=cfg.jit_compile)
    if not cfg.quiet:
        worked_example(generator, discriminator, splits.train, cfg)

    sample = make_sampler(generator, cfg)
    rng = np.random.default_rng(cfg.seed)
    grid_z, grid_labels, columns = grid_inputs(cfg, rng)
    scorer = fid.Scorer(splits) if cfg.fid_samples else None
    fid_z = rng.standard_normal((cfg.fid_samples, cfg.latent_dim))  # the same z every time
    fid_labels = np.arange(cfg.fid_samples) % 10  # under --conditional, each digit as often

    def evaluate() -> dict:
        grid = summaries.grid(sample(grid_z, grid_labels), columns)  # (rows*28, cols*28, 1)
        summaries.images(run.writer, "samples", grid[None], int(step.numpy()))
        return scorer(sample(fid_z, fid_labels)) if scorer else {}

    results = training.train(run, step_fn=train_step, iterator=iterator, checkpoint=checkpoint,
                             step=step, schedule=schedule, evaluate=evaluate)
    if scorer and run.final_evaluation_due("the test FID"):
        test = scorer(sample(fid_z, fid_labels))
        summaries.scalars(run.writer, test, int(step.numpy()), prefix="test/")
        results.update({f"test/{name}": value for name, value in test.items()})
    if run.chief:  # only the chief writes files into the run directory
        plots.mosaic(summaries.grid(sample(grid_z, grid_labels), columns)[..., 0],
                     run.path("samples.png"), title=f"Samples after {int(step.numpy())} steps")
        line_z, line_labels = interpolation_inputs(cfg, rng)
        plots.mosaic(summaries.grid(sample(line_z, line_labels), 10)[..., 0],
                     run.path("interpolation.png"), title="Straight lines in z, left to right")
        print(f"Pictures: {run.path('samples.png')}, {run.path('interpolation.png')}")
    return run.finish(results, steps=int(step.numpy()))


if __name__ == "__main__":
    cli.guard(main)
