"""Lecture 7's ConvNet for MNIST, the course's network in Keras layers.

conv 5x5x32 (SAME) + ReLU -> max-pool 2 -> conv 5x5x64 + ReLU -> max-pool 2 ->
dense 1024 + ReLU -> dropout -> dense 10 (logits): 3,274,634 parameters, 98% of them in
the first dense layer (7 * 7 * 64 * 1024 weights).

Dropout is active only when the model is called with `training=True`. The course's
low-level version (07_convnet_mnist.py) kept dropping units at evaluation time too, and
its tf.layers version (07_convnet_layers.py) never dropped any, because it did not pass
`training` to the dropout layer.
"""

from __future__ import annotations

import keras

IMAGE_SHAPE = (28, 28, 1)


def build(num_classes: int = 10, dropout_rate: float = 0.25,
          image_shape: tuple = IMAGE_SHAPE) -> keras.Model:
    """The ConvNet; the course's keep_prob 0.75 is a dropout rate of 0.25."""
    if not 0.0 <= dropout_rate < 1.0:
        raise ValueError(f"dropout rate must be in [0, 1), got {dropout_rate}")
    inputs = keras.Input(shape=image_shape, name="images")  # (batch, 28, 28, 1)
    hidden = keras.layers.Conv2D(32, 5, padding="same", activation="relu",
                                 name="conv1")(inputs)  # (batch, 28, 28, 32)
    hidden = keras.layers.MaxPooling2D(2, name="pool1")(hidden)  # (batch, 14, 14, 32)
    hidden = keras.layers.Conv2D(64, 5, padding="same", activation="relu",
                                 name="conv2")(hidden)  # (batch, 14, 14, 64)
    hidden = keras.layers.MaxPooling2D(2, name="pool2")(hidden)  # (batch, 7, 7, 64)
    hidden = keras.layers.Flatten(name="flatten")(hidden)  # (batch, 3136)
    hidden = keras.layers.Dense(1024, activation="relu", name="fc")(hidden)  # (batch, 1024)
    hidden = keras.layers.Dropout(dropout_rate, name="dropout")(hidden)
    # The logits stay float32 under a mixed-precision policy: the softmax and its
    # cross-entropy lose too much in float16/bfloat16.
    logits = keras.layers.Dense(num_classes, name="logits", dtype="float32")(hidden)
    return keras.Model(inputs, logits, name="convnet")  # (batch, classes)
