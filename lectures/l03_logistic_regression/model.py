"""Lecture 3b's model, MNIST logistic regression: one dense layer from 784 pixels to 10 logits.

1. `build`: softmax regression, the course's one dense layer; its train step is
   cs20/classification.py's `make_train_step` (lecture 8a trains the same model from
   TFRecords, and exercise e02 grades a classifier with the same recipe).
"""

from __future__ import annotations

import keras


def build(num_classes: int = 10, input_size: int = 784) -> keras.Model:
    """Softmax regression; the softmax itself lives in the loss (from_logits=True)."""
    inputs = keras.Input(shape=(input_size,), name="pixels")
    logits = keras.layers.Dense(num_classes, name="logits")(inputs)  # (batch, classes)
    return keras.Model(inputs, logits, name="logistic_regression")
