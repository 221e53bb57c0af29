"""Reference solutions of exercise 4 (the tasks are in exercises/e04_attention/exercise.py).

    python -m cs20 check e04 --solution
"""

from __future__ import annotations

import tensorflow as tf

# Finite, so that a softmax over positions that are all masked makes no NaN.
VERY_NEGATIVE = -1e9


def additive_scores(queries, keys, query_kernel, energy_kernel):
    projected = tf.matmul(queries, query_kernel)  # (batch, target, units)
    hidden = tf.tanh(projected[:, :, None, :] + keys[:, None, :, :])  # (b, target, source, units)
    return tf.einsum("btsu,u->bts", hidden, energy_kernel)


def multiplicative_scores(queries, keys):
    return tf.matmul(queries, keys, transpose_b=True)  # (batch, target, source)


def masked_attention(scores, values, source_mask):
    mask = source_mask[:, None, :]  # (batch, 1, source)
    weights = tf.nn.softmax(tf.where(mask, scores, VERY_NEGATIVE), axis=-1)
    weights = tf.where(mask, weights, 0.0)  # (batch, target, source)
    return tf.matmul(weights, values), weights
