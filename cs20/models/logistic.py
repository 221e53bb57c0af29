"""Lecture 3's MNIST logistic regression: one dense layer from 784 pixels to 10 logits."""

from __future__ import annotations

import keras


def build(num_classes: int = 10, input_size: int = 784) -> keras.Model:
    """Softmax regression; the softmax itself lives in the loss (from_logits=True)."""
    inputs = keras.Input(shape=(input_size,), name="pixels")
    logits = keras.layers.Dense(num_classes, name="logits")(inputs)  # (batch, classes)
    return keras.Model(inputs, logits, name="logistic_regression")
