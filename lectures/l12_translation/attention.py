"""Attention of decoder outputs over encoder outputs (Bahdanau et al. 2015; Luong et al.
2015), as lecture 12's model uses it.

    attention = Attention(units=256, score="additive")        # or "multiplicative"
    keys = attention.key_projection(encoder_outputs)          # (batch, source, units), once
    context, weights = attention(queries, keys, encoder_outputs, source_mask)
    # queries (batch, target, units) -> context (batch, target, values), weights (b, t, s)

The score says how well each query (a decoder output) matches each key (a projected
encoder output): additive (Bahdanau) v . tanh(W q + k), or multiplicative (Luong's
"general") q . k, where k = U h is `key_projection` of an encoder output h. `attend`
turns scores into weights, a softmax over the real source positions (padding gets
exactly 0), and the context, the weighted sum of the values (the encoder outputs).
`Seq2Seq(attention=...)` takes any layer with this interface (`key_projection` and
this call), e.g. one written as an exercise.
"""

from __future__ import annotations

import keras
import tensorflow as tf

NEGATIVE_INFINITY = -1e9  # finite, so that -inf - -inf never makes a NaN
SCORES = ("additive", "multiplicative")


def attend(scores, values, source_mask):
    """scores (batch, target, source), values (batch, source, values), source_mask
    (batch, source) -> context (batch, target, values), weights (batch, target, source).

    The softmax runs in float32 (also under mixed precision); padding is pushed to
    exactly 0, so each row of weights sums to 1 over the real source positions.
    """
    scores = tf.where(source_mask[:, None, :], tf.cast(scores, tf.float32), NEGATIVE_INFINITY)
    weights = tf.nn.softmax(scores, axis=-1)
    weights *= tf.cast(source_mask[:, None, :], tf.float32)  # (batch, target, source)
    context = tf.matmul(tf.cast(weights, values.dtype), values)  # (batch, target, values)
    return context, weights


class Attention(keras.layers.Layer):
    """Masked attention of queries (decoder outputs) over keys (projected encoder outputs)."""

    def __init__(self, units: int, score: str = "additive", **kwargs):
        super().__init__(**kwargs)
        if score not in SCORES:
            raise ValueError(f"attention score must be additive or multiplicative, not {score!r}")
        self.score_name = score
        self.key_projection = keras.layers.Dense(units, use_bias=False, name="key_projection")
        if score == "additive":
            self.query_projection = keras.layers.Dense(units, use_bias=False,
                                                       name="query_projection")
            self.energy = keras.layers.Dense(1, use_bias=False, name="energy")

    def score(self, queries, keys):
        """queries (batch, target, units), keys (batch, source, units) -> (batch, target, source)."""
        if self.score_name == "additive":
            hidden = tf.tanh(self.query_projection(queries)[:, :, None, :]
                             + keys[:, None, :, :])  # (batch, target, source, units)
            return tf.squeeze(self.energy(hidden), -1)  # v . tanh(W q + k)
        return tf.matmul(queries, keys, transpose_b=True)  # q . k

    def call(self, queries, keys, values, source_mask):
        return attend(self.score(queries, keys), values, source_mask)
