"""Reference solution of exercise 2 (the task is in exercises/e02_regression/exercise.py).

One hidden layer of 120 ReLU units: 784 * 120 + 120 + 120 * 10 + 10 = 95,410 weights.

    python -m cs20 check e02 --solution
"""

from __future__ import annotations

import keras

LEARNING_RATE = 0.003
NUM_EPOCHS = 5
BATCH_SIZE = 128
HIDDEN_UNITS = 120


def build_model(num_classes: int = 10):
    inputs = keras.Input(shape=(784,), name="pixels")
    hidden = keras.layers.Dense(HIDDEN_UNITS, activation="relu", name="hidden")(inputs)
    logits = keras.layers.Dense(num_classes, name="logits")(hidden)  # (batch, classes)
    return keras.Model(inputs, logits, name="one_hidden_layer")
