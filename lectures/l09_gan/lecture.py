# %% [markdown]
# # Lecture 9: a generative adversarial network (DCGAN) on MNIST, scored by FID
#
# A generator G turns noise z ~ N(0, I) into digits; a discriminator D tells them from
# real ones (Goodfellow et al. 2014). Each has its own Adam: a step teaches D to say
# "real" to digits and "fake" to G(z), then G to make D say "real". Both are a small DCGAN
# (Radford et al. 2016); the networks, the gradient penalty and the train step are in
# [model.py](model.py), next to this file.
#
# - `loss="non-saturating"` (default): D minimises the real/fake cross-entropy, G
#   minimises -log D(G(z)) (not log(1 - D(G(z))), whose gradient vanishes while D wins).
# - `loss="wgan-gp"` (Gulrajani et al. 2017): D is a critic whose score gap estimates the
#   Wasserstein distance, kept 1-Lipschitz by a penalty on its gradient norm between real
#   and fake digits (a nested GradientTape); usually with `d_steps=5, beta1=0`.
#
# A GAN has no likelihood; like lecture 10's VAE it is scored by FID, the Fréchet distance
# between lecture 7's ConvNet features of samples and of test digits ([fid.py](fid.py)).
#
# Run it as a script with `python -m lectures.l09_gan` (`--help` lists the settings;
# `--conditional` gives both networks the digit, a row per digit in the grid), and watch
# it with `tensorboard --logdir runs/l09_gan`: train/d_loss and train/g_loss (neither goes
# to 0 while the game is balanced), the real and fake accuracies (well below 1), the
# `samples` image (same z at each evaluation), eval/fid falling, eval/modes_covered at 10.

# %%
from cs20 import checkpoints, config, plots, runtime, summaries, training
from cs20.datasets import mnist
from lectures.l09_gan import data, fid
from lectures.l09_gan.config import Config
from lectures.l09_gan.model import (
    build_discriminator,
    build_generator,
    grid_inputs,
    interpolation_inputs,
    make_sampler,
    make_train_step,
    worked_example,
)

import keras
import numpy as np
import tensorflow as tf

# %% tags=["parameters"]
# The settings: the lecture's defaults, changed here in a notebook, e.g.
# {"num_steps": 500, "conditional": True}. As a script, flags set them instead.
settings = {}

# %%
cfg = config.for_lecture(Config, settings)
run = runtime.start("l09_gan", cfg)

# %% [markdown]
# ## 1. The data
#
# MNIST's 55k training digits. One step reads `d_steps` batches of real digits in
# [-1, 1] (one per discriminator update) and the noise z of every update, drawn in the
# pipeline from (seed, step), so a resumed or mirrored run sees the same (data.py).

# %%
splits = mnist.load_splits(cfg.data_dir)
num_classes = splits.num_classes if cfg.conditional else 0
schedule = training.make_schedule(cfg, len(splits.train) // (cfg.batch_size * cfg.d_steps))

# %% [markdown]
# ## 2. Two networks, two optimizers, one step
#
# Both networks, both optimizers and the step counter are made in the strategy's scope;
# one checkpoint holds them all and the data iterator. `make_train_step` (model.py) makes
# k discriminator updates, then one generator update; the library compiles it.

# %%
with run.strategy.scope():  # both networks, both optimizers and the step counter
    generator = build_generator(cfg.latent_dim, num_classes, cfg.width)
    discriminator = build_discriminator(num_classes, cfg.width)
    g_optimizer, d_optimizer = (training.with_loss_scaling(keras.optimizers.Adam(
        cfg.learning_rate, beta_1=cfg.beta1)) for _ in range(2))
    g_optimizer.build(generator.trainable_variables)
    d_optimizer.build(discriminator.trainable_variables)
    step = tf.Variable(0, dtype=tf.int64, name="global_step", trainable=False)
iterator = training.distribute(run, data.step_inputs(splits.train, cfg))
checkpoint = checkpoints.make(step, generator, g_optimizer, iterator,
                              discriminator=discriminator, d_optimizer=d_optimizer)
train_step = training.compile_step(
    run.strategy, make_train_step(generator, discriminator, g_optimizer, d_optimizer, cfg),
    jit_compile=cfg.jit_compile)

# %% [markdown]
# ## 3. One z through the untrained networks
#
# What G makes of one z, and what D thinks of it and of a real digit: a coin toss.

# %%
if not cfg.quiet:
    worked_example(generator, discriminator, splits.train, cfg)

# %% [markdown]
# ## 4. Training, scored by FID
#
# Every `eval_every` steps: the sample grid of the same z (TensorBoard's `samples`) and,
# with `fid_samples`, the FID of that many generated digits against the test digits, the
# entropy of the digits they are classified as and how many digits are generated at all.

# %%
sample = make_sampler(generator, cfg)
rng = np.random.default_rng(cfg.seed)
grid_z, grid_labels, columns = grid_inputs(cfg, rng)
scorer = fid.Scorer(splits) if cfg.fid_samples else None
fid_z = rng.standard_normal((cfg.fid_samples, cfg.latent_dim))  # the same z every time
fid_labels = np.arange(cfg.fid_samples) % 10  # under conditional, each digit as often


def evaluate() -> dict:
    grid = summaries.grid(sample(grid_z, grid_labels), columns)  # (rows*28, cols*28, 1)
    summaries.images(run.writer, "samples", grid[None], int(step.numpy()))
    return scorer(sample(fid_z, fid_labels)) if scorer else {}


results = training.train(run, step_fn=train_step, iterator=iterator, checkpoint=checkpoint,
                         step=step, schedule=schedule, evaluate=evaluate)

# %% [markdown]
# ## 5. The test FID
#
# Once the last step is done (a run stopped early scores it when it finishes).

# %%
if scorer and run.final_evaluation_due("the test FID"):
    test = scorer(sample(fid_z, fid_labels))
    summaries.scalars(run.writer, test, int(step.numpy()), prefix="test/")
    results.update({f"test/{name}": value for name, value in test.items()})

# %% [markdown]
# ## 6. Samples, and straight lines in z
#
# The grid of the same z as in TensorBoard, and digits decoded along straight lines
# between two random z (row r is digit r when conditional).

# %%
if run.chief:  # only the chief writes files into the run directory
    plots.mosaic(summaries.grid(sample(grid_z, grid_labels), columns)[..., 0],
                 run.path("samples.png"), title=f"Samples after {int(step.numpy())} steps")
    line_z, line_labels = interpolation_inputs(cfg, rng)
    plots.mosaic(summaries.grid(sample(line_z, line_labels), 10)[..., 0],
                 run.path("interpolation.png"), title="Straight lines in z, left to right")
    print(f"Pictures: {run.path('samples.png')}, {run.path('interpolation.png')}")
    plots.show(run.path("samples.png"), run.path("interpolation.png"))

# %% [markdown]
# ## 7. Results, and TensorBoard
#
# What the run measured (also in results.json in the run directory). In a notebook,
# TensorBoard opens below.

# %%
results = run.finish(results, steps=int(step.numpy()))
results

# %%
# %load_ext tensorboard
# %tensorboard --logdir {run.directory}
