"""Exercise 4: attention, the heart of lecture 12's translation model.

A decoder that writes word t of the translation looks back at every word of the source
sentence: it scores each source position against its own state (the query), turns the
scores into weights with a softmax (padding gets weight 0) and takes the weighted mean
of the encoder's outputs (the context vector). You write the two scores of lecture 12
(additive, Bahdanau et al. 2015; multiplicative, Luong et al. 2015) and the masked
softmax with its context; the check compares them with golden values, then puts them
into lecture 12's model (lectures/l12_translation/attention.py), checks it computes what
the lecture's own attention computes, and trains it for a few steps on a tiny corpus.

    python -m cs20 check e04                       # this file
    python -m cs20 check e04 my_copy_of_e04.py     # or a copy of it

Shapes: queries (batch, target, units), one per decoder step; keys (batch, source, units),
the encoder outputs already multiplied by the key matrix (done once per sentence, outside
these functions); values (batch, source, dim), the encoder outputs. All float32. Read
the docstring of lectures/l12_translation/attention.py first (not its code!).
"""

from __future__ import annotations

import tensorflow as tf  # noqa: F401 (your answers use it)


def additive_scores(queries, keys, query_kernel, energy_kernel):
    """Bahdanau's score of every query against every key: (batch, target, source),
    scores[b, t, s] = sum over u of v[u] * tanh((q W)[u] + k[u]), where q = queries[b, t],
    k = keys[b, s], W = query_kernel (units, units) and v = energy_kernel (units,).

    Example: queries [[[1, 0]]], keys [[[0, 0], [1, 1]]], W the identity, v [1, -1]:
    tanh([1, 0]) . v = 0.76159 and tanh([2, 1]) . v = 0.20243 -> [[[0.76159, 0.20243]]].

    Hint: tf.matmul (or tf.einsum); broadcast (batch, target, 1, units) against
    (batch, 1, source, units) with [:, :, None, :] and [:, None, :, :]; tf.tanh;
    tf.tensordot or tf.einsum for the dot product with v.
    """
    raise NotImplementedError


def multiplicative_scores(queries, keys):
    """Luong's "general" score, the keys already multiplied by W: (batch, target, source),
    scores[b, t, s] = queries[b, t] . keys[b, s].

    Example: queries [[[1, 2]]], keys [[[1, 0], [0, 1], [1, 1]]] -> [[[1, 2, 3]]].

    Hint: one tf.matmul, with transpose_b.
    """
    raise NotImplementedError


def masked_attention(scores, values, source_mask):
    """(context (batch, target, dim), weights (batch, target, source)).

    weights: a softmax of the scores over the source positions where source_mask
    (batch, source, bool) is True; exactly 0 where it is False (padding), whatever the
    score there. context[b, t] = sum over s of weights[b, t, s] * values[b, s]. Every
    sentence has at least one real position.

    Example: scores [[[1, 2, 100]]], values [[[1, 0], [0, 1], [9, 9]]], source_mask
    [[True, True, False]] -> weights [[[0.26894, 0.73106, 0]]],
    context [[[0.26894, 0.73106]]].

    Hint: tf.where(mask[:, None, :], scores, a very negative number) before
    tf.nn.softmax (not -inf: -inf minus -inf is NaN), tf.matmul.
    """
    raise NotImplementedError
