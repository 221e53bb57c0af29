"""Lecture 3a's model, which lecture 4 trains too: y = w * x + b, its losses (squared;
Huber per sample with tf.cond, as in part 3 of the lesson, and vectorised with tf.where),
its closed-form fit (part 1), the gradient-descent step both lectures share, and the
three ways to feed it data that part 2 of the lesson compares."""

from __future__ import annotations

import numpy as np
import tensorflow as tf


class LinearModel(tf.Module):
    """A scalar line with both parameters initialised to 0, as in the course."""

    def __init__(self):
        super().__init__()
        self.w = tf.Variable(0.0, name="weights")
        self.b = tf.Variable(0.0, name="bias")

    def __call__(self, x):
        return self.w * x + self.b


def squared_loss(labels, predictions):
    """Mean of (label - prediction)^2."""
    return tf.reduce_mean(tf.square(labels - predictions))


def huber_loss_cond(label, prediction, delta=14.0):
    """Huber loss of ONE sample with tf.cond, as the course wrote it for its per-sample loop:

        0.5 r^2                 if |r| <= delta
        delta |r| - 0.5 delta^2 otherwise
    """
    residual = tf.abs(label - prediction)
    return tf.cond(residual <= delta,
                   lambda: 0.5 * tf.square(residual),
                   lambda: delta * residual - 0.5 * delta**2)


def huber_loss(labels, predictions, delta=14.0):
    """The same Huber loss vectorised with tf.where, averaged over the batch.

    (Lecture 4's original code returned twice this value; this is the standard one.)
    """
    residual = tf.abs(labels - predictions)
    per_sample = tf.where(residual <= delta,
                          0.5 * tf.square(residual),
                          delta * residual - 0.5 * delta**2)
    return tf.reduce_mean(per_sample)


LOSSES = {"squared": squared_loss, "huber": huber_loss}


def closed_form(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Ordinary least squares (w, b): the target the squared-loss training approaches."""
    design = np.stack([x, np.ones_like(x)], axis=1).astype(np.float64)  # (n, 2)
    (w, b), *_ = np.linalg.lstsq(design, y.astype(np.float64), rcond=None)
    return float(w), float(b)


def sgd_step(model: LinearModel, loss_fn, x, y, learning_rate: float):
    """One plain gradient-descent step; returns the loss before the update."""
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x))
    gradients = tape.gradient(loss, [model.w, model.b])
    for variable, gradient in zip([model.w, model.b], gradients, strict=True):
        variable.assign_sub(learning_rate * gradient)
    return loss


# Three ways to feed the same data to the same per-sample SGD (lecture 3's comparison).
# Each returns the mean loss of every epoch; `model` is updated in place.

def train_one_sample_per_call(model: LinearModel, x: np.ndarray, y: np.ndarray, loss_fn,
                              learning_rate: float, num_epochs: int,
                              compiled: bool = True) -> list[float]:
    """The TF1 feed_dict way: Python hands over one sample per call.

    `compiled=False` runs the step eagerly (lecture 4); the default compiles it once
    into a graph with tf.function.
    """
    def step(x_sample, y_sample):
        return sgd_step(model, loss_fn, x_sample, y_sample, learning_rate)

    step = tf.function(step) if compiled else step
    epoch_losses = []
    for _ in range(num_epochs):
        total = 0.0
        for x_sample, y_sample in zip(x, y, strict=True):
            total += float(step(tf.constant(x_sample), tf.constant(y_sample)))
        epoch_losses.append(total / len(x))
    return epoch_losses


def train_tf_data(model: LinearModel, dataset: tf.data.Dataset, loss_fn, learning_rate: float,
                  num_epochs: int) -> list[float]:
    """tf.data feeds the samples inside one graph per epoch: no Python between samples."""

    @tf.function
    def run_epoch():
        total, count = tf.constant(0.0), tf.constant(0.0)
        for x_sample, y_sample in dataset:  # AutoGraph turns this into a graph loop
            total += sgd_step(model, loss_fn, x_sample, y_sample, learning_rate)
            count += 1.0
        return total / count

    return [float(run_epoch()) for _ in range(num_epochs)]


def train_vectorised(model: LinearModel, x: np.ndarray, y: np.ndarray, loss_fn,
                     learning_rate: float, num_epochs: int) -> list[float]:
    """All samples in one tensor: each update uses the whole batch's gradient.

    To give it as many updates as the per-sample styles, every epoch runs len(x) full-batch
    steps inside one graph loop.
    """
    x_all, y_all = tf.constant(x), tf.constant(y)  # (countries,), (countries,)

    @tf.function
    def run_epoch():
        loss = tf.constant(0.0)
        for _ in tf.range(len(x)):
            loss = sgd_step(model, loss_fn, x_all, y_all, learning_rate)
        return loss

    return [float(run_epoch()) for _ in range(num_epochs)]
