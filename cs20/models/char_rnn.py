"""A character-level language model: stacked GRUs over one-hot characters (lecture 11).

    model = char_rnn.CharRNN(vocabulary_size=86, hidden_sizes=(128, 256))
    logits = model(inputs)                                  # (batch, time, vocabulary)
    logits, states = model.step(inputs, states)             # carry the GRU states along

Training minimises the cross-entropy of the next character averaged over real
characters only (padding is masked), with the gradient's global norm clipped. Sampling
divides the logits by a temperature and draws with `tf.random.categorical`; the course
fed `exp(logits / T)` to `tf.multinomial`, which expects logits, so its "temperature
1.5" actually sampled from softmax(exp(logits / 1.5)): nearly greedy, not warmer.
Temperature 0 here means greedy (argmax).

`Generator` wraps model and vocabulary into a tf.Module whose `generate(seed, length,
temperature)` runs one character at a time inside a tf.function, carrying the GRU
states, and can be saved with tf.saved_model.save; it keeps its vocabulary
(`characters`) and the seeds the run sampled from (`seeds`) for whoever loads it.
"""

from __future__ import annotations

import math

from cs20 import training
from cs20.datasets import chars

import keras
import tensorflow as tf


class CharRNN(keras.Model):
    """Character ids (batch, time) -> next-character logits (batch, time, vocabulary)."""

    def __init__(self, vocabulary_size: int, hidden_sizes=(128, 256), dropout: float = 0.0,
                 **kwargs):
        super().__init__(**kwargs)
        if not hidden_sizes or min(hidden_sizes) < 1:
            raise ValueError(f"hidden sizes must be positive, got {hidden_sizes}")
        self.vocabulary_size = vocabulary_size
        self.hidden_sizes = tuple(hidden_sizes)
        self.grus = [keras.layers.GRU(size, return_sequences=True, return_state=True,
                                      name=f"gru_{index}")
                     for index, size in enumerate(self.hidden_sizes)]
        # Dropout between layers (not on the recurrent connections, which would stop
        # Keras from using its fused GRU kernel).
        self.dropout = keras.layers.Dropout(dropout)
        self.output_layer = keras.layers.Dense(vocabulary_size, name="logits")

    def zero_states(self, batch_size) -> list[tf.Tensor]:
        return [tf.zeros([batch_size, size], self.compute_dtype) for size in self.hidden_sizes]

    def step(self, ids, states, training=False):
        """-> (logits (batch, time, vocabulary), new states [(batch, size) per GRU])."""
        # int32 whatever Keras guesses for a traced signature (it assumes floats).
        hidden = tf.one_hot(tf.cast(ids, tf.int32), self.vocabulary_size,
                            dtype=self.compute_dtype)  # (batch, time, vocabulary)
        new_states = []
        for gru, state in zip(self.grus, states, strict=True):
            hidden, state = gru(hidden, initial_state=state, training=training)
            hidden = self.dropout(hidden, training=training)
            new_states.append(state)
        return self.output_layer(hidden), new_states

    def call(self, ids, training=False):
        logits, _ = self.step(ids, self.zero_states(tf.shape(ids)[0]), training=training)
        return logits


def masked_loss_terms(labels, logits):
    """-> (sum of cross-entropies over real characters, number of real characters)."""
    mask = tf.cast(chars.masks(labels), tf.float32)
    per_character = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels, tf.cast(logits, tf.float32))  # (batch, time)
    return tf.reduce_sum(per_character * mask), tf.reduce_sum(mask)


def clip_global_gradient(gradients, clip_norm: float):
    """Scales this replica's gradients so that their sum over replicas (what the optimizer
    applies) has global norm at most `clip_norm`; also returns that sum's norm.

    Keras optimizers clip (`global_clipnorm`) before they all-reduce, i.e. each replica's
    part separately; clipping the all-reduced gradient keeps one step the same whatever
    the number of replicas. The extra all-reduce is one small vector per step.
    """
    context = tf.distribute.get_replica_context()
    total = context.all_reduce(tf.distribute.ReduceOp.SUM, gradients)
    norm = tf.linalg.global_norm(total)
    scale = clip_norm / tf.maximum(norm, clip_norm)
    return [gradient * scale for gradient in gradients], norm


def make_train_step(model: CharRNN, optimizer, clip_norm: float):
    """Per replica: masked next-character loss averaged over the global batch's real
    characters, gradient clipped on its global norm, one optimizer update."""

    def train_step(batch):
        inputs, labels = batch  # (batch, time) each
        context = tf.distribute.get_replica_context()
        with tf.GradientTape() as tape:
            logits = model(inputs, training=True)  # (batch, time, vocabulary)
            total, count = masked_loss_terms(labels, logits)
            global_count = context.all_reduce(tf.distribute.ReduceOp.SUM, count)
            loss = total / tf.maximum(global_count, 1.0)  # this replica's share
            scaled_loss = optimizer.scale_loss(loss)  # unchanged unless mixed_float16
        gradients = tape.gradient(scaled_loss, model.trainable_variables)
        gradients, norm = clip_global_gradient(gradients, clip_norm)
        optimizer.apply(gradients, model.trainable_variables)
        replicas = context.num_replicas_in_sync
        # compile_step sums every value over replicas.
        return {"loss": loss, "gradient_norm": norm / replicas}

    return train_step


def make_bits_per_character(model: CharRNN):
    """-> `evaluate(dataset)`: mean cross-entropy in bits over every real target character
    of a dataset of (inputs, labels) batches, summed on the device in one compiled call
    (`training.compile_totals`); one trace serves every batch shape."""

    def batch_sums(batch):
        inputs, labels = batch
        total, count = masked_loss_terms(labels, model(inputs))
        return {"total": total, "count": count}

    totals = training.compile_totals(batch_sums, ("total", "count"))

    def evaluate(dataset: tf.data.Dataset) -> float:
        sums = training.to_floats(totals(dataset))
        return sums["total"] / max(sums["count"], 1.0) / math.log(2.0)

    return evaluate


def sample(logits, temperature):
    """One id per row of `logits` (batch, vocabulary): argmax when `temperature` is 0,
    otherwise drawn from softmax(logits / temperature)."""
    logits = tf.cast(logits, tf.float32)
    greedy = tf.argmax(logits, axis=-1, output_type=tf.int32)
    drawn = tf.random.categorical(logits / tf.maximum(temperature, 1e-6), 1,
                                  dtype=tf.int32)[:, 0]
    return tf.where(temperature > 0.0, drawn, greedy)


def generate_ids(model: CharRNN, seed_ids, length, temperature):
    """(batch, seed length >= 1) ids -> (batch, length) generated ids.

    The seed runs through the GRUs in one call; then each new character is fed back one
    at a time with the carried states. PAD is never generated.
    """
    never_pad = tf.one_hot(chars.PAD_ID, model.vocabulary_size, on_value=-1e9, off_value=0.0)
    logits, states = model.step(seed_ids, model.zero_states(tf.shape(seed_ids)[0]))
    last = tf.cast(logits[:, -1], tf.float32)  # (batch, vocabulary)
    generated = tf.TensorArray(tf.int32, size=length)
    for position in tf.range(length):
        next_ids = sample(last + never_pad, temperature)
        generated = generated.write(position, next_ids)
        logits, states = model.step(next_ids[:, None], states)
        last = tf.cast(logits[:, -1], tf.float32)
    return tf.transpose(generated.stack())  # (batch, length)


class Generator(tf.Module):
    """Seed string + length (+ temperature) -> generated text; a SavedModel."""

    def __init__(self, model: CharRNN, vocabulary: chars.Vocabulary, seeds: tuple[str, ...]):
        super().__init__()
        self.model = model
        characters = list(vocabulary.characters)
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(characters), tf.range(1, len(characters) + 1, dtype=tf.int32)),
            default_value=chars.PAD_ID)
        self.characters = tf.Variable([""] + characters, trainable=False)  # id -> character
        self.seeds = tf.Variable(list(seeds), trainable=False)

    @tf.function(input_signature=[tf.TensorSpec([], tf.string), tf.TensorSpec([], tf.int32),
                                  tf.TensorSpec([], tf.float32)])
    def generate(self, seed, length, temperature):
        """The seed followed by `length` generated characters. Characters outside the
        vocabulary are dropped from the seed; an empty seed is an error."""
        ids = self.table.lookup(tf.strings.unicode_split(seed, "UTF-8"))
        ids = tf.boolean_mask(ids, ids != chars.PAD_ID)
        tf.debugging.assert_positive(tf.size(ids), message="the seed has no character of "
                                                           "the vocabulary")
        generated = generate_ids(self.model, ids[None], length, temperature)[0]
        return tf.strings.reduce_join(tf.gather(self.characters, tf.concat([ids, generated], 0)))
