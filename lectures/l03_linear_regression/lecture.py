# %% [markdown]
# # Lecture 3a: linear regression, three ways to feed data, and the Huber loss
#
# The course fits life expectancy = w * birth rate + b over 190 countries (World Bank
# 2010) with per-sample gradient descent (learning rate 0.001, 100 epochs, w and b
# starting at 0). Here the same training runs three ways, timed side by side:
#
# 1. one sample per call: Python hands each (x, y) to a compiled step, the TF2 shape of
#    TF1's `feed_dict`;
# 2. tf.data: the samples flow through a `tf.data.Dataset` inside one graph per epoch;
# 3. vectorised: all 190 samples in one tensor, full-batch gradient steps.
#
# Then the Huber loss (delta 14.0), written per sample with `tf.cond` as in the course
# (its vectorised `tf.where` twin is next to it), pulls the line less towards the
# outliers. Ordinary least squares in closed form is the reference. The model, its losses,
# its step and the three feeding styles are in [model.py](model.py), the data in
# [data.py](data.py); lecture 4 trains the same model.
#
# Run it as a script with `python -m lectures.l03_linear_regression` (`--help` lists the
# settings), and watch the losses with `tensorboard --logdir runs/l03_linear_regression`.
#
# The fitted lines and the time each way took are printed below; our runs' figures are
# in [docs/results.md](../../docs/results.md). The Huber line moves more slowly than the
# squared loss's (near the line its gradient is half as large): give it more epochs.

# %%
import functools
import time

from cs20 import checkpoints, config, plots, runtime, summaries
from lectures.l03_linear_regression import data as birth_life
from lectures.l03_linear_regression import model as linear
from lectures.l03_linear_regression.config import Config

# %% tags=["parameters"]
# The settings: the lecture's defaults, changed here in a notebook, e.g.
# {"num_epochs": 300, "delta": 5.0}. As a script, flags set them instead.
settings = {}

# %%
cfg = config.for_lecture(Config, settings)
run = runtime.start("l03_linear_regression", cfg)

# %% [markdown]
# ## 1. The data, and the line least squares draws
#
# Birth rate (births per 1000 people) and life expectancy (years) of 190 countries: two
# vectors of 190 float32. The closed-form least-squares line is where training with the
# squared loss heads.

# %%
data = birth_life.load(cfg.data_dir)
x, y = data.birth_rate, data.life_expectancy  # (190,), (190,)

closed_w, closed_b = linear.closed_form(x, y)
print(f"Closed-form least squares: w = {closed_w:.4f}, b = {closed_b:.4f}")

# %% [markdown]
# ## 2. Three ways to feed the same training
#
# The same per-sample gradient-descent step (`linear.sgd_step`) with the squared loss,
# fed one sample per call, through tf.data inside a graph, or all samples at once. The
# first two see the same samples in the same order and end on the same line.

# %%
def log_epoch_losses(tag: str, epoch_losses: list[float]) -> None:
    for epoch, loss in enumerate(epoch_losses, start=1):
        summaries.scalars(run.writer, {tag: loss}, epoch)


feeding_styles = {
    "one_sample_per_call": lambda model: linear.train_one_sample_per_call(
        model, x, y, linear.squared_loss, cfg.learning_rate, cfg.num_epochs),
    "tf_data": lambda model: linear.train_tf_data(
        model, birth_life.dataset(data), linear.squared_loss, cfg.learning_rate,
        cfg.num_epochs),
    "vectorised": lambda model: linear.train_vectorised(
        model, x, y, linear.squared_loss, cfg.learning_rate, cfg.num_epochs),
}
results, lines, curves, models = {}, {"closed form": (closed_w, closed_b)}, {}, {}
print(f"\n{'feeding style':<22}{'w':>9}{'b':>9}{'loss':>9}{'seconds':>9}")
for style, train in feeding_styles.items():
    model = models[style] = linear.LinearModel()
    started = time.perf_counter()
    epoch_losses = train(model)
    seconds = time.perf_counter() - started
    w, b = float(model.w.numpy()), float(model.b.numpy())
    print(f"{style:<22}{w:>9.4f}{b:>9.4f}{epoch_losses[-1]:>9.3f}{seconds:>9.2f}")
    log_epoch_losses(f"squared/{style}/loss", epoch_losses)
    results.update({f"squared/{style}/w": w, f"squared/{style}/b": b,
                    f"squared/{style}/loss": epoch_losses[-1],
                    f"squared/{style}/seconds": seconds})
    curves[f"squared, {style}"] = epoch_losses
lines["squared loss (tf.data)"] = (results["squared/tf_data/w"], results["squared/tf_data/b"])

# %% [markdown]
# ## 3. The Huber loss
#
# Quadratic near the line, linear far from it, so outliers pull less: written per sample
# with `tf.cond` (`linear.huber_loss_cond`), trained through tf.data.

# %%
huber_model = linear.LinearModel()
huber_losses = linear.train_tf_data(
    huber_model, birth_life.dataset(data),
    functools.partial(linear.huber_loss_cond, delta=cfg.delta),
    cfg.learning_rate, cfg.num_epochs)
huber_w, huber_b = float(huber_model.w.numpy()), float(huber_model.b.numpy())
print(f"{'huber (tf.cond)':<22}{huber_w:>9.4f}{huber_b:>9.4f}{huber_losses[-1]:>9.3f}")
log_epoch_losses("huber/loss", huber_losses)
lines["Huber loss"] = (huber_w, huber_b)
results.update({"huber/w": huber_w, "huber/b": huber_b, "huber/loss": huber_losses[-1],
                "closed_form/w": closed_w, "closed_form/b": closed_b})

# %% [markdown]
# ## 4. The fitted lines and the losses
#
# Every trained line is saved in a checkpoint; the data with the lines, and each
# training's loss per epoch.

# %%
saved = checkpoints.save_final(run.checkpoint_dir, huber=huber_model, **models)
print(f"\nFitted lines saved to {saved}")
plot = plots.data_and_lines(x, y, lines, run.path("fit.png"), x_label="birth rate",
                            y_label="life expectancy", title="Birth rate vs life expectancy")
plots.curves({**curves, "huber": huber_losses}, run.path("loss.png"), x_label="epoch",
             y_label="mean loss per sample", title="Training loss", log_y=True)
print(f"\nPlots: {plot}, {run.path('loss.png')}")
plots.show(plot, run.path("loss.png"))

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
