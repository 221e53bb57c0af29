"""Checks of exercise 4 (exercises/e04_attention/exercise.py): both attention scores and
the masked softmax with its context against the docstrings' golden values and the
reference solution on hidden random inputs, then lecture 12's model with the student's
attention inside: the same logits as with the lecture's own attention, and a loss that
falls in training."""

from __future__ import annotations

from cs20.exercises.grading import (
    Context,
    Problem,
    expect_close,
    expect_decrease,
    expect_same,
)

import keras
import numpy as np
import tensorflow as tf

ATTENTION_NAMES = ("additive_scores", "multiplicative_scores", "masked_attention")
# The training check: a tiny model learns to reverse short sentences of a tiny
# vocabulary; this many Adam steps must lower the masked loss by at least this fraction
# (the reference solution's: about two thirds).
VOCABULARY_SIZE = 12
UNITS = 16
STEPS = 30
MIN_DECREASE = 0.4


def floats(context: Context, *shape: int) -> tf.Tensor:
    return tf.constant(context.rng.normal(size=shape), tf.float32)


def source_mask(context: Context, batch_size: int, source_length: int) -> tf.Tensor:
    """(batch, source) bool: each sentence real up to a hidden length (at least 1), then
    padding, as the encoder's padded batches are."""
    lengths = context.rng.integers(1, source_length + 1, size=batch_size)
    lengths[0] = source_length  # one sentence without padding
    return tf.sequence_mask(lengths, source_length)


def check_additive_scores(context: Context) -> None:
    student = context.student_function("additive_scores")
    expect_close("additive_scores(the example)",
                 student(tf.constant([[[1.0, 0.0]]]), tf.constant([[[0.0, 0.0], [1.0, 1.0]]]),
                         tf.eye(2), tf.constant([1.0, -1.0])),
                 tf.constant([[[0.7615942, 0.2024334]]]))
    for batch_size, target, source, units in ((2, 3, 5, 4), (3, 1, 7, 8)):
        expect_same(context, "additive_scores", floats(context, batch_size, target, units),
                    floats(context, batch_size, source, units), floats(context, units, units),
                    floats(context, units), rtol=1e-4, atol=1e-5,
                    label=f"hidden: batch {batch_size}, target {target}, source {source}, "
                          f"units {units}")


def check_multiplicative_scores(context: Context) -> None:
    student = context.student_function("multiplicative_scores")
    expect_close("multiplicative_scores(the example)",
                 student(tf.constant([[[1.0, 2.0]]]),
                         tf.constant([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]])),
                 tf.constant([[[1.0, 2.0, 3.0]]]))
    for batch_size, target, source, units in ((2, 3, 5, 4), (3, 6, 2, 8)):
        expect_same(context, "multiplicative_scores", floats(context, batch_size, target, units),
                    floats(context, batch_size, source, units), rtol=1e-4, atol=1e-5,
                    label=f"hidden: batch {batch_size}, target {target}, source {source}")


def check_masked_attention(context: Context) -> None:
    student = context.student_function("masked_attention")
    expect_close("masked_attention(the example)",
                 student(tf.constant([[[1.0, 2.0, 100.0]]]),
                         tf.constant([[[1.0, 0.0], [0.0, 1.0], [9.0, 9.0]]]),
                         tf.constant([[True, True, False]])),
                 (tf.constant([[[0.26894143, 0.7310586]]]),
                  tf.constant([[[0.26894143, 0.7310586, 0.0]]])))
    for batch_size, target, source, dim in ((4, 3, 6, 5), (3, 2, 9, 3)):
        mask = source_mask(context, batch_size, source)
        # Scores at padded positions far above the real ones: they must not count.
        scores = floats(context, batch_size, target, source) + tf.where(
            mask[:, None, :], 0.0, 50.0)
        expect_same(context, "masked_attention", scores, floats(context, batch_size, source, dim),
                    mask, rtol=1e-4, atol=1e-6,
                    label=f"hidden: batch {batch_size}, target {target}, source {source}, "
                          "padding scored high")


def attention_layer(functions: dict):
    """Lecture 12's attention layer (`lectures.l12_translation.attention.Attention`), its
    scores and masked softmax computed by `functions` ({name in ATTENTION_NAMES: function})
    with the layer's own weights (query projection, energy vector)."""
    from lectures.l12_translation import attention

    class FunctionsAttention(attention.Attention):
        def score(self, queries, keys):
            if self.score_name == "multiplicative":
                return functions["multiplicative_scores"](queries, keys)
            # The lecture's layers create their kernels when first called; here they are
            # only read.
            for layer, input_size in ((self.query_projection, queries.shape[-1]),
                                      (self.energy, keys.shape[-1])):
                if not layer.built:
                    layer.build((None, input_size))
            return functions["additive_scores"](
                queries, keys, self.query_projection.kernel, self.energy.kernel[:, 0])

        def call(self, queries, keys, values, source_mask):
            return functions["masked_attention"](self.score(queries, keys), values, source_mask)

    return FunctionsAttention


def reversal_corpus(seed: int, size: int = 64):
    """(source, target input, labels) int32 arrays: sentences of 2-6 words and their
    reversal, padded, the target framed by BOS and EOS (lecture 12's conventions)."""
    from lectures.l12_translation import data

    rng = np.random.default_rng(seed)
    first_word = data.UNK_ID + 1
    sources = [list(rng.integers(first_word, VOCABULARY_SIZE, rng.integers(2, 7)))
               for _ in range(size)]
    targets = [[data.BOS_ID, *source[::-1], data.EOS_ID] for source in sources]
    framed = data.pad(targets)  # (size, longest + 2)
    return data.pad(sources), framed[:, :-1], framed[:, 1:]


def attention_inputs(seed: int = 0):
    """(queries, keys, values, mask): random inputs of an attention layer, target 4,
    source 5, the second and third sentences padded."""
    rng = np.random.default_rng(seed)
    queries, keys, values = (tf.constant(rng.normal(size=(3, length, UNITS)), tf.float32)
                             for length in (4, 5, 5))
    return queries, keys, values, tf.sequence_mask([5, 3, 1], 5)  # mask (3, 5)


def lecture_attention(score: str, seed: int = 0):
    """(weights, outputs): lecture 12's own attention layer of `score`, its weights
    drawn from `seed`, and its (context, weights) on `attention_inputs`."""
    from lectures.l12_translation import attention

    keras.utils.set_random_seed(seed)
    layer = attention.Attention(UNITS, score)
    outputs = layer(*attention_inputs(seed))
    return layer.get_weights(), outputs


def student_attention(functions: dict, score: str, weights: list, seed: int = 0):
    """On the student's side: (context, weights) of lecture 12's attention layer
    computing with `functions` and holding `weights`, on `attention_inputs`."""
    layer = attention_layer(functions)(UNITS, score)
    inputs = attention_inputs(seed)
    layer(*inputs)  # builds its weights
    layer.set_weights(weights)
    return layer(*inputs)


def train_in_lecture_12(functions: dict, num_steps: int, seed: int = 0) -> tuple[float, float]:
    """On the student's side: the masked loss of lecture 12's model with attention
    computed by `functions` (additive, a one-way encoder for speed) at the first and last
    of `num_steps` Adam steps on `reversal_corpus`.

    The one place that depends on the lecture's machinery (with `attention_layer`,
    `lecture_attention` and `reversal_corpus`): `model.Seq2Seq(attention=layer)`,
    `data.masks`.
    """
    from lectures.l12_translation import data
    from lectures.l12_translation.model import Seq2Seq

    keras.utils.set_random_seed(seed)
    source, target_input, labels = (tf.constant(array) for array in reversal_corpus(seed))
    model = Seq2Seq(VOCABULARY_SIZE, VOCABULARY_SIZE, embedding_size=UNITS, units=UNITS,
                    bidirectional=False, attention=attention_layer(functions)(UNITS, "additive"))
    optimizer = keras.optimizers.Adam(0.01)
    mask = tf.cast(data.masks(labels), tf.float32)  # (batch, target): 0 on padding

    @tf.function
    def train_step():
        with tf.GradientTape() as tape:
            logits = model((source, target_input), training=True)  # (batch, target, vocab)
            per_token = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
            loss = tf.reduce_sum(per_token * mask) / tf.reduce_sum(mask)
        optimizer.apply(tape.gradient(loss, model.trainable_variables),
                        model.trainable_variables)
        return loss

    losses = [float(train_step()) for _ in range(num_steps)]
    return losses[0], losses[-1]


def check_in_lecture_12(context: Context) -> str:
    functions = {name: context.student_function(name) for name in ATTENTION_NAMES}
    for score in ("additive", "multiplicative"):
        weights, expected = lecture_attention(score)
        got = context.on_student_side(student_attention, functions, score, weights)
        expect_close(f"lecture 12's attention layer with your {score} score, the same "
                     "weights as the lecture's own, (context, weights)", got, expected,
                     rtol=1e-4, atol=1e-5)
    first, last = context.on_student_side(train_in_lecture_12, functions, STEPS)
    return expect_decrease(
        f"same outputs as the lecture's layer; in lecture 12's model, loss {first:.3f} -> "
        f"{last:.3f} in {STEPS} steps", first, last, MIN_DECREASE)


PROBLEMS = [
    Problem("additive_scores", check_additive_scores),
    Problem("multiplicative_scores", check_multiplicative_scores),
    Problem("masked_attention", check_masked_attention),
    Problem("in lecture 12's model", check_in_lecture_12, seconds=180.0),
]
