# %% [markdown]
# # Lecture 5b: managing experiments: variable sharing, randomness, autodiff, checkpoints
#
# The course's 05_variable_sharing.py and 05_randomization.py in TensorFlow 2 terms, four
# small experiments whose code is in [experiments.py](experiments.py), next to this file:
#
# 1. Variable sharing. TF 1 shared weights with `tf.variable_scope(reuse=True)`. In TF 2 a
#    variable belongs to the object that made it: calling one Keras layer on two inputs
#    shares its weights, two layers do not. The course's `two_hidden_layers` function
#    that makes its variables inside would create a new set at every call.
# 2. Randomness. The global seed (`tf.random.set_seed`) and an operation's own seed
#    together fix a stateful op's sequence; `tf.random.Generator` carries its state in a
#    variable (so it can be checkpointed); stateless ops (`tf.random.stateless_*`) depend
#    on their seed argument only. A second Python process prints the same numbers.
# 3. Autodiff with tf.GradientTape: the course's 24.0 (d(2x^3)/dx at 2) and [768, 32]
#    (z = 3 + y^2 with y = 2x^3), a second derivative with nested tapes (1,920),
#    `watch` for constants, and None for a source the target does not depend on.
# 4. A checkpoint of a small model and its optimizer, saved, restored into a fresh copy,
#    and compared.
#
# Run it as a script with `python -m lectures.l05_experiments` (`--help` lists the
# settings). The results are the counts, gradients and equalities above.

# %%
import json

from cs20 import config, runtime, summaries
from lectures.l05_experiments import experiments
from lectures.l05_experiments.config import Config

# %% tags=["parameters"]
# The settings: the lecture's defaults, changed here in a notebook, e.g. {"seed": 7}.
# As a script, flags set them instead.
settings = {}

# %%
cfg = config.for_lecture(Config, settings)
run = runtime.start("l05_experiments", cfg)

# %% [markdown]
# ## 1. Variable sharing
#
# One Keras model called on two inputs uses the same variables both times; a function
# that makes its layers inside makes new ones at every call (counted with
# `tf.variable_creator_scope`).

# %%
counts = experiments.variable_sharing()
print(f"1. One Keras model called on two inputs: {counts['shared_model_variables']} "
      f"variables (shared). The function that makes its layers inside, called twice: "
      f"{counts['fresh_function_variables']} variables.")

# %% [markdown]
# ## 2. Randomness
#
# A stateful op with the global seed and its own, a `tf.random.Generator` and a stateless
# op, drawn here and again in a fresh Python process: the same seeds, the same numbers.

# %%
here = experiments.random_numbers(cfg.seed)
there = experiments.random_numbers_in_new_process(cfg.seed)
print(f"2. Random numbers with seed {cfg.seed}: {json.dumps(here)}")
print(f"   the same in a new process: {here == there}")

# %% [markdown]
# ## 3. Autodiff
#
# First derivatives, a second one from nested tapes, a watched constant, and an
# unconnected source (its gradient is None, not 0).

# %%
gradients = experiments.autodiff()
print("3. Gradients: " + ", ".join(f"{name} = {value}" for name, value in gradients.items()))

# %% [markdown]
# ## 4. A checkpoint round trip
#
# A small model trained 5 steps with Adam, saved with its optimizer and step, restored
# into a fresh copy: the same weights, the same step, the same optimizer iterations.

# %%
round_trip = experiments.checkpoint_round_trip(run.checkpoint_dir)
print(f"4. Checkpoint {round_trip['saved']}: restored at step {round_trip['restored_step']}, "
      f"weights equal: {round_trip['weights_equal']}")

# %% [markdown]
# ## 5. Results, and TensorBoard
#
# What the run measured (also in results.json in the run directory); the random numbers
# are in TensorBoard's text tab. In a notebook, TensorBoard opens below.

# %%
summaries.text(run.writer, "experiments/random_numbers", f"`{json.dumps(here)}`", step=0)
results = {f"variables/{name}": value for name, value in counts.items()}
results["random/same_in_new_process"] = here == there
results.update({f"gradients/{name}": value for name, value in gradients.items()})
results["checkpoint/weights_equal"] = round_trip["weights_equal"]
results["checkpoint/restored_step"] = round_trip["restored_step"]
results = run.finish(results)
results

# %%
# %load_ext tensorboard
# %tensorboard --logdir {run.directory}
