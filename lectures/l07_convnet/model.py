"""Lecture 7's network: the ConvNet's layers, its train step, one digit through it.

1. `build_convnet`: two convolution + max-pool blocks learn local stroke detectors; a
   dense layer of 1,024 units with dropout combines them into digits (the shape after
   each layer in the comments);
2. `make_train_step`: the model is called with training=True under a `tf.GradientTape`,
   the softmax cross-entropy is averaged over the global batch, Adam makes one update;
   evaluation (cs20/classification.py `make_eval_step`) calls it with training=False;
3. `print_worked_example`: one test digit through the layers, each output's shape and
   parameter count, and what dropout does to it.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


def build_convnet(num_classes: int = 10, dropout_rate: float = 0.25,
                  image_shape: tuple = (28, 28, 1)) -> keras.Model:
    """The course's ConvNet in Keras layers: 3,274,634 parameters for 10 classes, 98% of
    them in `fc` (7 * 7 * 64 * 1024 weights). The course's keep_prob 0.75 is a dropout
    rate of 0.25."""
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
    # Active only when the model is called with training=True (the train step below).
    hidden = keras.layers.Dropout(dropout_rate, name="dropout")(hidden)
    # The logits stay float32 under a mixed-precision policy: the softmax and its
    # cross-entropy lose too much in float16/bfloat16.
    logits = keras.layers.Dense(num_classes, name="logits", dtype="float32")(hidden)
    return keras.Model(inputs, logits, name="convnet")  # (batch, classes)


def make_train_step(model: keras.Model, optimizer: keras.optimizers.Optimizer,
                    global_batch_size: int):
    """Per replica: (images, labels) -> one update on the softmax cross-entropy averaged
    over the global batch; returns that loss and the fraction of digits right."""

    def train_step(batch):
        images, labels = batch  # (batch, 28, 28, 1) in [0, 1], (batch,) class ids
        with tf.GradientTape() as tape:
            # training=True: the dropout layer zeroes each of fc's 1,024 units with
            # probability `rate` and multiplies the others by 1 / (1 - rate), a new draw
            # every step; evaluation calls the model with training=False and keeps them all.
            logits = model(images, training=True)  # (batch, classes), float32
            per_digit = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
            # Over the global batch: summing the replicas' losses gives the batch mean.
            loss = tf.nn.compute_average_loss(per_digit, global_batch_size=global_batch_size)
            scaled_loss = optimizer.scale_loss(loss)  # unchanged unless mixed_float16
        gradients = tape.gradient(scaled_loss, model.trainable_variables)
        optimizer.apply(gradients, model.trainable_variables)
        # The thinned network's answers: train/accuracy runs a little below eval/accuracy.
        right = tf.cast(tf.argmax(logits, axis=-1) == labels, tf.float32)  # (batch,)
        return {"loss": loss, "accuracy": tf.reduce_sum(right) / global_batch_size}

    return train_step


def print_worked_example(model: keras.Model, digit, label: str, seed: int) -> None:
    """One digit through the ConvNet's layers, and what dropout does to it."""
    print(f"Worked example: one test digit ({label}) through the ConvNet, layer by layer")
    hidden = digit  # (1, 28, 28, 1)
    print(f"  {'images':<22} {tuple(hidden.shape)}")
    for layer in model.layers[1:]:  # layers[0] is the input
        if isinstance(layer, keras.layers.Dropout):
            # What the layer does with training=True (the train step), drawn without
            # touching the model's own random state; with training=False it passes all.
            dropped = tf.nn.experimental.stateless_dropout(hidden, layer.rate, seed=[seed, 0])
            active = tf.cast(hidden != 0, tf.float32)  # the ReLU has zeroed the others
            zeroed = (tf.reduce_sum(active * tf.cast(dropped == 0, tf.float32))
                      / tf.maximum(tf.reduce_sum(active), 1.0))
            print(f"  {layer.name:<8} training=True: {float(zeroed):.0%} of the active units "
                  f"zeroed, the rest x{1 / (1 - layer.rate):.2f}; training=False: unchanged")
            continue
        hidden = layer(hidden, training=False)
        print(f"  {layer.name:<8} {type(layer).__name__:<13} {str(tuple(hidden.shape)):<16} "
              f"{layer.count_params():>9,} parameters")


def misclassified(images, labels, predictions, limit: int, class_names):
    """The first `limit` wrong predictions: ((n, 28, 28) images, "predicted / true" titles)."""
    wrong = np.flatnonzero(predictions != labels)[:limit]
    titles = [f"{class_names[predictions[index]]} (true {class_names[labels[index]]})"
              for index in wrong]
    return images[wrong, :, :, 0], titles
