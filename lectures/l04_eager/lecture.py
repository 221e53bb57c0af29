# %% [markdown]
# # Lecture 4: eager execution and automatic differentiation with tf.GradientTape
#
# TensorFlow 2 runs eagerly by default: an op returns its value at once, like NumPy, and
# Python's own control flow, printing and debugging just work. This lecture shows:
#
# 1. eager tensors and their NumPy interop;
# 2. gradients with tf.GradientTape: d(x^2)/dx at 3 is 6; d(2x^3)/dx at 2 is 24; and with
#    y = 2x^3, z = 3 + y^2 at x = 2, dz/dx and dz/dy are [768, 32] (the course's examples);
# 3. lecture 3's linear regression trained one sample at a time with the Huber loss
#    (delta 1.0, 100 epochs as the course's eager example), first eagerly, then with the
#    same step compiled by tf.function, timed side by side.
#    The course's eager Huber returned t^2 and m(2|t| - m): twice the standard loss.
#    We use the standard 0.5 t^2 / delta(|t| - delta/2), whose gradients are half as big,
#    so the course's learning rate 0.01 becomes 0.02 here: the very same updates.
#
# The model, its Huber loss and the per-sample training are lecture 3a's
# ([model.py](../l03_linear_regression/model.py)). Run it as a script with
# `python -m lectures.l04_eager` (`--help` lists the settings).
#
# Our runs' figures (the fit and how much faster the tf.function is) are in
# [docs/results.md](../../docs/results.md).

# %%
import functools
import time

from cs20 import checkpoints, config, plots, runtime, summaries
from lectures.l03_linear_regression import data as birth_life
from lectures.l03_linear_regression import model as linear
from lectures.l04_eager.config import Config

import numpy as np
import tensorflow as tf

# %% tags=["parameters"]
# The settings: the lecture's defaults, changed here in a notebook, e.g.
# {"num_epochs": 10}. As a script, flags set them instead.
settings = {}

# %%
cfg = config.for_lecture(Config, settings)
run = runtime.start("l04_eager", cfg)

# %% [markdown]
# ## 1. Eager tensors
#
# An op returns its value at once, and NumPy takes a tensor as it is.

# %%
print("Eager: ops run at once and return values.")
matrix = tf.constant([[1.0, 2.0], [3.0, 4.0]])
product = matrix @ matrix
print(f"  tf.constant([[1, 2], [3, 4]]) @ itself = {product.numpy().tolist()}")
print(f"  and NumPy takes the tensor as it is: np.sum(...) = {np.sum(product)}")

# %% [markdown]
# ## 2. Gradients with tf.GradientTape
#
# The tape records the ops run inside it and differentiates them backwards. It watches
# variables on its own, a constant only when asked (`tape.watch`); a persistent tape
# answers more than one `gradient()` call.

# %%
x = tf.constant(3.0)
with tf.GradientTape() as tape:
    tape.watch(x)  # constants are not watched automatically; variables are
    square = x**2
d_square = tape.gradient(square, x)

x = tf.Variable(2.0)
with tf.GradientTape(persistent=True) as tape:  # persistent: two gradient() calls
    y = 2.0 * x**3
    z = 3.0 + y**2
d_y_dx = tape.gradient(y, x)
d_z_dx, d_z_dy = tape.gradient(z, [x, y])
del tape
gradients = {"d(x^2)/dx at 3": float(d_square), "d(2x^3)/dx at 2": float(d_y_dx),
             "dz/dx at 2": float(d_z_dx), "dz/dy at 2": float(d_z_dy)}

print("\nGradients with tf.GradientTape:")
for name, value in gradients.items():
    print(f"  {name:<18} = {value:g}")
summaries.text(run.writer, "gradients", "\n\n".join(
    f"{name} = {value:g}" for name, value in gradients.items()), step=0)

# %% [markdown]
# ## 3. Lecture 3's regression, eagerly and compiled
#
# The same per-sample step (`linear.sgd_step`) with the Huber loss, run eagerly, then
# compiled once by tf.function: the same updates, so the same line, at different speeds.

# %%
data = birth_life.load(cfg.data_dir)
x, y = data.birth_rate, data.life_expectancy  # (190,), (190,)
huber = functools.partial(linear.huber_loss, delta=cfg.delta)

print(f"\nLinear regression, Huber loss, one sample per step, {cfg.num_epochs} epochs:")
results, lines, curves, models = {}, {}, {}, {}
for mode, compiled in (("eager", False), ("tf_function", True)):
    model = models[mode] = linear.LinearModel()
    started = time.perf_counter()
    epoch_losses = linear.train_one_sample_per_call(
        model, x, y, huber, cfg.learning_rate, cfg.num_epochs, compiled=compiled)
    seconds = time.perf_counter() - started
    w, b = float(model.w.numpy()), float(model.b.numpy())
    print(f"  {mode:<12} w = {w:.4f}  b = {b:.4f}  loss = {epoch_losses[-1]:.4f}  "
          f"{seconds:.2f} s")
    for epoch, loss in enumerate(epoch_losses, start=1):
        summaries.scalars(run.writer, {f"huber/{mode}/loss": loss}, epoch)
    results.update({f"huber/{mode}/w": w, f"huber/{mode}/b": b,
                    f"huber/{mode}/loss": epoch_losses[-1], f"huber/{mode}/seconds": seconds})
    lines[f"Huber, {mode}"] = (w, b)
    curves[mode] = epoch_losses
speedup = results["huber/eager/seconds"] / results["huber/tf_function/seconds"]
print(f"  tf.function is {speedup:.1f}x faster than eager for the same per-sample steps.")

# %% [markdown]
# ## 4. The fitted lines and the losses
#
# Both lines are saved in a checkpoint; the data with the two lines (one on top of the
# other), and each training's loss per epoch.

# %%
print(f"  Fitted lines saved to {checkpoints.save_final(run.checkpoint_dir, **models)}")
plots.data_and_lines(x, y, lines, run.path("fit.png"), x_label="birth rate",
                     y_label="life expectancy", title="Huber regression, eager vs tf.function")
plots.curves(curves, run.path("loss.png"), x_label="epoch", y_label="mean Huber loss",
             title="Training loss")
plots.show(run.path("fit.png"), run.path("loss.png"))
results.update({f"gradients/{name}": value for name, value in gradients.items()})
results["huber/speedup_tf_function_over_eager"] = speedup

# %% [markdown]
# ## 5. Results, and TensorBoard
#
# What the run measured (also in results.json in the run directory). In a notebook,
# TensorBoard opens below.

# %%
results = run.finish(results)
results

# %%
# %load_ext tensorboard
# %tensorboard --logdir {run.directory}
