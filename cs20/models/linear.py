"""Lecture 3 and 4's model: y = w * x + b, its losses and its closed-form fit."""

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
