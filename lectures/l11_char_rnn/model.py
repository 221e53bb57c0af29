"""Lecture 11's network: the recurrent stack, the masked loss, clipping, the train steps.

1. `build_model`: two stacked GRUs (128 and 256 units, the course's sizes) read a tweet
   one character at a time and predict the next one; a second Keras model over the same
   layers, the `stepper`, carries the GRU states from call to call (`zero_states`,
   `step`), to generate and to read a batch in pieces;
2. `masked_loss_terms`: tweets are cut into windows of 50 characters overlapping by 25
   (data.py; batches of similar lengths, cut to their longest); a tweet's last window is
   padded, and the loss counts real characters only; `make_bits_per_character` measures
   it in bits over whole held-out tweets;
3. `clip_global_gradient`, `make_train_step`: the gradient's global norm is clipped (the
   lecture notes' recipe for RNNs); the learning rate decays exponentially;
   `make_truncated_train_step` (--bptt N): truncated back-propagation, pieces of N
   characters that carry the GRU states, one update each.

Sampling and the saved generator are generate.py.
"""

from __future__ import annotations

import math

from cs20 import training
from lectures.l11_char_rnn import data

import keras
import tensorflow as tf


def build_model(vocabulary_size: int, hidden_sizes, dropout: float = 0.0):
    """The recurrent stack: character ids (batch, time) -> one-hot -> stacked GRUs ->
    next-character logits (batch, time, vocabulary). Returns two Keras models that share
    every layer: `model` (ids -> logits, each line from zero states) trains and
    evaluates; `stepper` ((ids, *states) -> (logits, *new states)) carries the GRU
    states from one call to the next, to generate one character at a time."""
    ids = keras.Input((None,), dtype="int32")  # (batch, time)
    states = [keras.Input((size,)) for size in hidden_sizes]  # (batch, size) each
    grus = [keras.layers.GRU(size, return_sequences=True, return_state=True, name=f"gru_{i}")
            for i, size in enumerate(hidden_sizes)]
    # Dropout between layers, not on recurrent connections (no fused GRU kernel then).
    dropout_layer = keras.layers.Dropout(dropout)
    output_layer = keras.layers.Dense(vocabulary_size, name="logits")

    def stack(initial_states):
        hidden = keras.ops.one_hot(ids, vocabulary_size)  # (batch, time, vocabulary)
        final_states = []
        for gru, state in zip(grus, initial_states, strict=True):
            hidden, state = gru(hidden, initial_state=state)  # (batch, time, size), (batch, size)
            hidden = dropout_layer(hidden)
            final_states.append(state)
        return output_layer(hidden), final_states  # (batch, time, vocabulary)

    model = keras.Model(ids, stack([None] * len(grus))[0], name="char_rnn")
    logits, final_states = stack(states)
    return model, keras.Model([ids, *states], [logits, *final_states], name="stepper")


def zero_states(stepper, batch_size) -> list[tf.Tensor]:
    """The GRUs' states at the start of a line: zeros (batch, size) for each state input
    of `stepper`."""
    return [tf.zeros([batch_size, state.shape[-1]]) for state in stepper.inputs[1:]]


def step(stepper, ids, states, training: bool = False):
    """-> (logits (batch, time, vocabulary) float32, new states [(batch, size) float32])
    from a stepper: ids (batch, time) and states -> logits and states. float32 whatever
    the compute dtype, so that the states can be carried through a loop."""
    # int32 whatever Keras guesses for a traced signature (it assumes floats).
    logits, *new_states = stepper([tf.cast(ids, tf.int32), *states], training=training)
    return tf.cast(logits, tf.float32), [tf.cast(state, tf.float32) for state in new_states]


def masked_loss_terms(labels, logits):
    """-> (sum of cross-entropies over real characters, number of real characters)."""
    mask = tf.cast(data.masks(labels), tf.float32)  # (batch, time): 0 on padding
    per_character = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels, tf.cast(logits, tf.float32))  # (batch, time)
    return tf.reduce_sum(per_character * mask), tf.reduce_sum(mask)


def make_bits_per_character(model):
    """-> `evaluate(dataset)`: mean cross-entropy in bits (`masked_loss_terms`) over every
    real target character of a dataset of (inputs, labels) batches, summed on the device
    in one compiled call (`training.compile_totals`); one trace serves every batch shape."""

    def batch_sums(batch):
        inputs, labels = batch
        total, count = masked_loss_terms(labels, model(inputs))
        return {"total": total, "count": count}

    totals = training.compile_totals(batch_sums, ("total", "count"))

    def evaluate(dataset: tf.data.Dataset) -> float:
        sums = training.to_floats(totals(dataset))
        return sums["total"] / max(sums["count"], 1.0) / math.log(2.0)

    return evaluate


def clip_global_gradient(gradients, clip_norm: float):
    """Scales this replica's gradients so that their sum over replicas (what the optimizer
    applies) has global norm at most `clip_norm`; also returns that sum's norm. Keras'
    `global_clipnorm` clips each replica's part separately, so one step would depend on
    the number of replicas; the extra all-reduce is one small vector per step."""
    context = tf.distribute.get_replica_context()
    total = context.all_reduce(tf.distribute.ReduceOp.SUM, gradients)
    norm = tf.linalg.global_norm(total)
    scale = clip_norm / tf.maximum(norm, clip_norm)
    return [gradient * scale for gradient in gradients], norm


def global_mean_loss(labels, logits):
    """This replica's share of the loss averaged over the *global* batch's real characters."""
    total, count = masked_loss_terms(labels, logits)
    global_count = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, count)
    return total / tf.maximum(global_count, 1.0)


def clipped_update(optimizer, tape, scaled_loss, variables, clip_norm: float):
    """One optimizer update from the gradient of `tape`'s loss, clipped -> its norm."""
    gradients = tape.gradient(scaled_loss, variables)
    # Under mixed_float16 these are the loss's gradients times the loss scale, which
    # `apply` divides out: clip them at the scaled norm, report the loss's own norm.
    scale = training.loss_scale(optimizer)
    gradients, norm = clip_global_gradient(gradients, clip_norm * scale)
    optimizer.apply(gradients, variables)
    return norm / scale / tf.distribute.get_replica_context().num_replicas_in_sync


def make_train_step(model, optimizer, clip_norm: float):
    """Per replica: masked next-character loss averaged over the global batch's real
    characters, gradient clipped on its global norm, one optimizer update."""

    def train_step(batch):
        inputs, labels = batch  # (batch, time) each
        with tf.GradientTape() as tape:
            logits = model(inputs, training=True)  # (batch, time, vocabulary)
            loss = global_mean_loss(labels, logits)
            scaled_loss = optimizer.scale_loss(loss)  # unchanged unless mixed_float16
        norm = clipped_update(optimizer, tape, scaled_loss, model.trainable_variables, clip_norm)
        # compile_step sums every value over replicas.
        return {"loss": loss, "gradient_norm": norm}

    return train_step


def make_truncated_train_step(stepper, optimizer, clip_norm: float, longest_piece: int):
    """Truncated back-propagation through time. A batch (whole tweets, with --window 300)
    is read in equal pieces of at most `longest_piece` characters: each piece starts from
    the GRU states where the last one ended, its gradient stops there, and the optimizer
    updates after every piece: a tweet keeps its whole context, with several updates. On
    one device only: tf.distribute cannot all-reduce inside the loop over pieces."""

    def train_step(batch):
        inputs, labels = batch  # (batch, time) each
        time = tf.shape(inputs)[1]
        input_pieces = data.pieces(inputs, time, longest_piece)  # (pieces, batch, piece)
        label_pieces = data.pieces(labels, time, longest_piece)
        states = zero_states(stepper, tf.shape(inputs)[0])  # [(batch, size)]
        summed_loss, summed_norm = tf.constant(0.0), tf.constant(0.0)
        for index in tf.range(tf.shape(input_pieces)[0]):
            with tf.GradientTape() as tape:
                logits, states = step(stepper, input_pieces[index], states,
                                     training=True)  # (batch, piece, vocabulary)
                loss = global_mean_loss(label_pieces[index], logits)
                scaled_loss = optimizer.scale_loss(loss)
            summed_norm += clipped_update(optimizer, tape, scaled_loss,
                                          stepper.trainable_variables, clip_norm)
            summed_loss += loss
        num_pieces = tf.cast(tf.shape(input_pieces)[0], tf.float32)  # the pieces' means:
        return {"loss": summed_loss / num_pieces, "gradient_norm": summed_norm / num_pieces}

    return train_step
