"""Reference solutions of exercise 3 (the tasks are in exercises/e03_style/exercise.py).

    python -m cs20 check e03 --solution
"""

from __future__ import annotations

import tensorflow as tf


def gram_matrix(features):
    channels = tf.shape(features)[-1]
    flat = tf.reshape(features, (-1, channels))  # (positions, channels)
    return tf.matmul(flat, flat, transpose_a=True)  # (channels, channels)


def content_loss(generated, content):
    size = tf.cast(tf.size(content), tf.float32)
    return tf.reduce_sum(tf.square(generated - content)) / (4.0 * size)


def style_loss(generated_features, style_grams, layer_weights):
    total = tf.constant(0.0)
    for features, style_gram, weight in zip(generated_features, style_grams, layer_weights,
                                            strict=True):
        shape = tf.shape(features)
        channels = tf.cast(shape[3], tf.float32)
        positions = tf.cast(shape[1] * shape[2], tf.float32)
        difference = gram_matrix(features) - style_gram  # (channels, channels)
        total += weight * tf.reduce_sum(tf.square(difference)) / (
            4.0 * channels ** 2 * positions ** 2)
    return total


def total_variation_loss(images):
    vertical = tf.abs(images[:, 1:] - images[:, :-1])  # (batch, height - 1, width, channels)
    horizontal = tf.abs(images[:, :, 1:] - images[:, :, :-1])  # (batch, height, width - 1, c)
    edges = (tf.reduce_sum(vertical[:, 0]) + tf.reduce_sum(vertical[:, -1])
             + tf.reduce_sum(horizontal[:, :, 0]) + tf.reduce_sum(horizontal[:, :, -1]))
    num_pixels = tf.cast(tf.reduce_prod(tf.shape(images)[:3]), tf.float32)
    return (tf.reduce_sum(vertical) + tf.reduce_sum(horizontal) + edges) / num_pixels
