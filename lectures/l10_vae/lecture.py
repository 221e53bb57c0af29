# %% [markdown]
# # Lecture 10: a variational autoencoder on binarized MNIST, trained on the ELBO
#
# The course lists a VAE lecture but ships no code for it; this follows Kingma & Welling
# (2014) and TensorFlow's convolutional VAE tutorial. The model is in
# [model.py](model.py), next to this file; read it in this order:
#
# 1. `build_encoder`: each digit -> a Gaussian q(z|x) = N(mean, exp(log_variance)) over a
#    small latent z; `build_decoder`: z -> 784 Bernoulli logits p(x|z);
# 2. `reparameterise`: z = mean + standard deviation * noise, so gradients reach the
#    encoder through the sampled z;
# 3. `elbo_terms`: ELBO = log p(x|z) - KL(q(z|x) || N(0, I)) <= log p(x), per digit, with
#    the exact KL (the tutorial estimates it from one sample);
# 4. `make_train_step`: minimise -ELBO; the library compiles, distributes and drives it.
#
# The learning rate decays along a cosine, and the test set is also scored with the
# importance-weighted bound with k samples (Burda et al. 2016), a tighter estimate of
# log p(x) ([evaluation.py](evaluation.py)). With a 2-d latent the run also draws the learnt
# manifold (decoded grid of z values) and where the test digits land in latent space.
#
# Run it as a script with `python -m lectures.l10_vae` (`--help` lists the settings;
# `--latent-dim 50 --num-epochs 60` as the tutorial), and watch it with
# `tensorboard --logdir runs/l10_vae`: train/ and eval/ ELBO, reconstruction and KL (nats
# per digit), and per epoch inputs next to their reconstructions, samples from the prior
# and the manifold. Look at test/elbo and test/iwae_log_likelihood in the final table
# (higher is better; the IWAE bound is the tighter one) and at manifold.png.

# %%
import functools

from cs20 import checkpoints, config, plots, runtime, summaries, training
from cs20.datasets import mnist
from lectures.l09_gan import fid  # lecture 9's scale for generated digits
from lectures.l10_vae import data, evaluation
from lectures.l10_vae.config import Config
from lectures.l10_vae.model import build_vae, elbo_terms, make_train_step, show_worked_example

import keras
import numpy as np
import tensorflow as tf

# %% tags=["parameters"]
# The settings: the lecture's defaults, changed here in a notebook, e.g.
# {"latent_dim": 50, "num_epochs": 5}. As a script, flags set them instead.
settings = {}

# %%
cfg = config.for_lecture(Config, settings)
run = runtime.start("l10_vae", cfg)

# %% [markdown]
# ## 1. The data
#
# Binarized digits (every pixel 0 or 1; or `dataset`'s images) with their
# reparameterisation noise drawn in the pipeline from (seed, batch number), so a resumed or
# distributed run sees the same noise (data.py).

# %%
splits = data.load_splits(cfg.data_dir, dataset=cfg.dataset,
                          skip_bad_shards=cfg.skip_bad_shards)
train_data = data.with_noise(
    mnist.make_dataset(splits.train, cfg.batch_size, shuffle=True, seed=cfg.seed,
                       repeat=True), cfg.latent_dim, cfg.seed)
validation_data = data.with_noise(mnist.make_dataset(splits.validation, 1000),
                                  cfg.latent_dim, cfg.seed + 1)
test_data = data.with_noise(mnist.make_dataset(splits.test, 1000),
                            cfg.latent_dim, cfg.seed + 2)
schedule = training.make_schedule(cfg, steps_per_epoch=-(-len(splits.train)
                                                          // cfg.batch_size))

# %% [markdown]
# ## 2. The model, and one digit through the untrained encoder
#
# Model, optimizer and step are created in the strategy's scope (mirrored variables).
# The worked example shows a test digit's Gaussian, the noise, the sampled z and the
# ELBO's two terms.

# %%
with run.strategy.scope():
    model = build_vae(cfg.latent_dim)
    optimizer = training.with_loss_scaling(keras.optimizers.Adam(
        training.learning_rate(cfg.learning_rate, cfg.decay, schedule.num_steps)))
    optimizer.build(model.trainable_variables)
    step = tf.Variable(0, dtype=tf.int64, name="global_step", trainable=False)
shown = data.as_floats(splits.test)[:8]  # (8, 28, 28, 1)
if not cfg.quiet:
    noise = np.random.default_rng(cfg.seed).standard_normal(cfg.latent_dim)
    show_worked_example(model, shown[0], splits.class_names[splits.test.labels[0]],
                        tf.constant(noise, tf.float32))

# %% [markdown]
# ## 3. Training on -ELBO
#
# `make_train_step` (model.py) is the lecture's step; the library compiles it and runs the
# loop. Every evaluation scores the validation digits' ELBO and draws the pictures into
# TensorBoard.

# %%
iterator = training.distribute(run, train_data)
checkpoint = checkpoints.make(step, model, optimizer, iterator)
train_step = training.compile_step(run.strategy,
                                   make_train_step(model, optimizer, cfg.batch_size),
                                   jit_compile=cfg.jit_compile)

evaluate_terms = evaluation.make_evaluate(functools.partial(elbo_terms, model))
prior_z = np.random.default_rng(cfg.seed).standard_normal((32, cfg.latent_dim))


def evaluate() -> dict:
    evaluation.log_pictures(run, model, shown, prior_z, int(step.numpy()))
    return evaluate_terms(validation_data)


results = training.train(run, step_fn=train_step, iterator=iterator,
                         checkpoint=checkpoint, step=step, schedule=schedule,
                         evaluate=evaluate)

# %% [markdown]
# ## 4. The test set: ELBO, the importance-weighted bound, FID
#
# The ELBO (one z per digit), the tighter importance-weighted bound with k =
# `iwae_samples`, and the FID of prior samples on lecture 7's ConvNet features, the scale
# lecture 9's GAN is measured on. A run stopped early scores them when it finishes.

# %%
if run.final_evaluation_due("the test set's ELBO, importance-weighted bound, FID and "
                            "latent scatter"):
    test = {f"test/{name}": value for name, value in evaluate_terms(test_data).items()}
    print(f"Importance-weighted log-likelihood, k = {cfg.iwae_samples}, "
          f"{cfg.iwae_digits} test digits ...")
    test["test/iwae_log_likelihood"] = evaluation.importance_weighted_log_likelihood(
        model, data.as_floats(splits.test)[:cfg.iwae_digits], cfg.iwae_samples,
        seed=cfg.seed + 3)
    summaries.scalars(run.writer, test, int(step.numpy()))
    results.update(test)
    if cfg.fid_samples:  # FID of prior samples on lecture 7's ConvNet features
        rng = np.random.default_rng(cfg.seed + 4)
        results.update(fid.report(
            run, lambda count: evaluation.decode_probabilities(
                model, rng.standard_normal((count, cfg.latent_dim)))[..., None],
            step=int(step.numpy()), data_dir=cfg.data_dir, dataset=cfg.dataset,
            num_samples=cfg.fid_samples))

# %% [markdown]
# ## 5. Reconstructions, samples, the manifold and the latent space
#
# Test digits over their reconstructions, decoded samples from the prior and, for a 2-d
# latent, the decoded grid of z values and where the test digits land.

# %%
# In a multi-worker run only the chief writes files into the run directory.
evaluation.log_pictures(run, model, shown, prior_z, int(step.numpy()), save_png=run.chief)
if cfg.latent_dim == 2 and run.chief and run.complete:
    means = evaluation.posterior_means(model, data.as_floats(splits.test))
    plots.latent_scatter(means, splits.test.labels, run.path("latent_scatter.png"),
                         title="Test images in latent space (posterior means)",
                         class_names=splits.class_names)
print(f"Pictures: {run.directory}/*.png")
plots.show(*sorted(run.directory.glob("*.png")))

# %% [markdown]
# ## 6. Results, and TensorBoard
#
# What the run measured (also in results.json in the run directory). In a notebook,
# TensorBoard opens below.

# %%
results = run.finish(results, steps=int(step.numpy()))
results

# %%
# %load_ext tensorboard
# %tensorboard --logdir {run.directory}
