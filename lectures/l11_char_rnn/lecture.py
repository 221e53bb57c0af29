# %% [markdown]
# # Lecture 11: a character-level RNN that writes tweets
#
# Two stacked GRUs (128 and 256 units, the course's sizes) read a tweet one character at
# a time and learn to predict the next one; then they write, one drawn character after
# another. The network, its masked loss and its train steps are in [model.py](model.py),
# the character windows in [data.py](data.py), sampling and the saved generator in
# [generate.py](generate.py), all next to this file.
#
# Unlike the course, short tweets are kept (a tweet's last window is padded and the loss
# counts real characters only), the gradient's global norm is clipped (the lecture notes'
# recipe for RNNs) and the temperature is used correctly (the course fed
# exp(logits / T) to `tf.multinomial`, which expects logits). The learning rate starts
# at 0.01 (`preset` "fast", the default): it beat 3e-3 (`preset` "course") in every run
# we measured, in 10 minutes and over all 6,000 steps; it decays exponentially.
#
# Run it as a script with `python -m lectures.l11_char_rnn` (`--help` lists the settings;
# `--corpus my_text.txt --vocabulary corpus` learns your own text), and watch it with
# `tensorboard --logdir runs/l11_char_rnn`: eval/bits_per_character (lower is better; the
# unigram distribution scores 4.7) and the samples turning from noise into tweets. The
# run exports a SavedModel generator; `--generate` (with `--run-dir` of a finished run)
# samples from it and neither trains nor writes.

# %%
import math

from cs20 import checkpoints, config, runtime, training
from lectures.l11_char_rnn import data, generate
from lectures.l11_char_rnn.config import Config, hidden_sizes
from lectures.l11_char_rnn.model import (
    build_model,
    make_bits_per_character,
    make_train_step,
    make_truncated_train_step,
)

import keras
import tensorflow as tf

# %% tags=["parameters"]
# The settings: the lecture's defaults, changed here in a notebook, e.g.
# {"num_steps": 500, "preset": "course"}. As a script, flags set them instead.
settings = {}

# %%
cfg = config.for_lecture(Config, settings)
if cfg.generate:  # samples from the generator of the finished run cfg.run_dir
    generate.generate_with_saved(cfg.run_dir, cfg.start_text, cfg.length, cfg.temperature)
    raise runtime.RunFinished(cfg.run_dir)  # nothing trained or written (a script exits 0)
# The text first: a bad corpus or start_text stops before the run writes anything.
vocabulary, split = data.load_corpus(cfg.corpus, cfg.vocabulary, cfg.data_dir)
seeds = data.sample_seeds(cfg.start_text, bool(cfg.corpus), vocabulary, split)
run = runtime.start("l11_char_rnn", cfg)

# %% [markdown]
# ## 1. The data
#
# Every line (a tweet) is its own sequence, split 95 / 5 into training and validation
# lines by a hash of its text. Training lines are cut into windows of 50 characters
# overlapping by 25; the model starts each window from zero states. Id 0 pads.

# %%
if run.chief:  # in a multi-worker run only the chief writes the run directory
    vocabulary.save(run.path("vocabulary.json"))
windows = data.make_windows([vocabulary.encode(line) for line in split.train],
                            cfg.window, cfg.overlap)  # (num_windows, window)
validation_ids = [vocabulary.encode(line) for line in split.validation]
steps_per_epoch = max(len(windows) // cfg.batch_size, 1)
schedule = training.make_schedule(cfg, steps_per_epoch, examples=len(windows))
print(f"{len(windows):,} windows of {cfg.window} characters, {steps_per_epoch:,} steps/epoch")

# %% [markdown]
# ## 2. One window, its targets and its mask
#
# The input is the window without its last character, the target the window without its
# first: each position predicts the next character. The mask keeps padding out of the loss.

# %%
if not cfg.quiet:
    data.show_worked_example(windows, vocabulary)

# %% [markdown]
# ## 3. The network and its train step
#
# `build_model` (model.py) returns two Keras models over the same layers: `model` reads
# whole windows from zero states (training, evaluation); `stepper` carries the GRU states
# from call to call (generation, and `bptt`: truncated back-propagation, each batch read
# in pieces that carry the states, one update per piece). The learning rate decays with
# the optimizer's updates: `bptt` makes several a batch.

# %%
with run.strategy.scope():  # model, optimizer and step counter
    model, stepper = build_model(len(vocabulary), hidden_sizes(cfg.hidden_sizes), cfg.dropout)
    optimizer = training.with_loss_scaling(keras.optimizers.Adam(
        keras.optimizers.schedules.ExponentialDecay(
            cfg.learning_rate, max(round(schedule.num_steps * data.mean_pieces(
                windows, cfg.bptt)), 1), cfg.decay_rate)))
    optimizer.build(model.trainable_variables)
    step = tf.Variable(0, dtype=tf.int64, name="global_step", trainable=False)
train_data = data.training_dataset(windows, cfg.batch_size, cfg.seed)
iterator = training.distribute(run, train_data)
checkpoint = checkpoints.make(step, model, optimizer, iterator)
replica_step = make_truncated_train_step(stepper, optimizer, cfg.clip_norm, cfg.bptt) \
    if cfg.bptt else make_train_step(model, optimizer, cfg.clip_norm)
train_step = training.compile_step(run.strategy, replica_step, jit_compile=cfg.jit_compile)

# %% [markdown]
# ## 4. Training, with samples at every evaluation
#
# Each evaluation prints (and logs as TensorBoard text) a sample from each seed, drawn
# from softmax(logits / temperature) until the end-of-tweet marker `_E_` (generate.py),
# and measures the validation bits per character over whole held-out tweets.

# %%
generator = generate.Generator(stepper, vocabulary, seeds, cfg.end_text)
bits_per_character = make_bits_per_character(model)


def evaluate() -> dict:
    generate.log_samples(run, generator, seeds, cfg.length, cfg.temperature, int(step.numpy()))
    return {"bits_per_character": bits_per_character(data.padded_lines(validation_ids, 256))}


results = training.train(run, step_fn=train_step, iterator=iterator, checkpoint=checkpoint,
                         step=step, schedule=schedule, evaluate=evaluate)
# Train loss is in nats per character; bits are what language-model papers report.
if "train/loss" in results:
    results["train/bits_per_character"] = results["train/loss"] / math.log(2.0)

# %% [markdown]
# ## 5. The saved generator
#
# The generator is a `tf.Module`: saved into the run directory as a SavedModel, reloaded,
# it writes without this code (`--generate`).

# %%
generate.export(run, generator, seeds[0], cfg.temperature)

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
