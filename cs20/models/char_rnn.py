"""Lecture 11's character RNN and its plumbing (the masked loss, the gradient clipping,
the train step and the temperature sampler are in lectures/l11_char_rnn.py).

    model = char_rnn.CharRNN(vocabulary_size=87, hidden_sizes=(128, 256))
    logits = model(inputs)                                  # (batch, time, vocabulary)
    logits, states = model.step(inputs, states)             # carry the GRU states along

    bits = char_rnn.make_bits_per_character(model, masked_loss_terms)(dataset)
    generator = char_rnn.Generator(model, vocabulary, seeds, sample)
    text = generator.generate(tf.constant("We will"), tf.constant(200), tf.constant(0.8))

`Generator` wraps model and vocabulary into a tf.Module whose `generate(seed, length,
temperature)` runs one character at a time inside a tf.function, carrying the GRU
states, and can be saved with tf.saved_model.save; it keeps its vocabulary
(`characters`) and the seeds the run sampled from (`seeds`) for whoever loads it.
`generate_with_saved` is lecture 11's --generate: samples from a finished run's
SavedModel, reading the run and writing nothing.

"""

from __future__ import annotations

import math

from cs20 import runtime, summaries, training
from cs20.datasets import chars

import keras
import tensorflow as tf

GENERATOR_DIR = "generator"


def hidden_sizes(text: str) -> tuple[int, ...]:
    """--hidden-sizes "128,256" -> (128, 256); anything else is a one-line error."""
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise ValueError(f"--hidden-sizes must be positive integers like 128,256, got {text!r}")
    return sizes


class CharRNN(keras.Model):
    """The recurrent stack: character ids (batch, time) -> one-hot -> stacked GRUs ->
    next-character logits (batch, time, vocabulary), carrying each GRU's state.

    A class of the library rather than of the lecture: a Keras subclass at the top of a
    lecture would load TensorFlow for `--help`."""

    def __init__(self, vocabulary_size: int, hidden_sizes=(128, 256), dropout: float = 0.0):
        super().__init__()
        self.vocabulary_size = vocabulary_size
        self.hidden_sizes = tuple(hidden_sizes)
        self.grus = [keras.layers.GRU(size, return_sequences=True, return_state=True,
                                      name=f"gru_{index}")
                     for index, size in enumerate(self.hidden_sizes)]
        # Dropout between layers, not on recurrent connections (no fused GRU kernel then).
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
            hidden, state = gru(hidden, initial_state=state, training=training)  # (b, t, size)
            hidden = self.dropout(hidden, training=training)
            new_states.append(state)
        return self.output_layer(hidden), new_states

    def call(self, ids, training=False):
        logits, _ = self.step(ids, self.zero_states(tf.shape(ids)[0]), training=training)
        return logits


def make_bits_per_character(model, masked_loss_terms):
    """-> `evaluate(dataset)`: mean cross-entropy in bits over every real target character
    of a dataset of (inputs, labels) batches, summed on the device in one compiled call
    (`training.compile_totals`); one trace serves every batch shape.
    `masked_loss_terms(labels, logits)` returns (summed cross-entropy in nats, count)."""

    def batch_sums(batch):
        inputs, labels = batch
        total, count = masked_loss_terms(labels, model(inputs))
        return {"total": total, "count": count}

    totals = training.compile_totals(batch_sums, ("total", "count"))

    def evaluate(dataset: tf.data.Dataset) -> float:
        sums = training.to_floats(totals(dataset))
        return sums["total"] / max(sums["count"], 1.0) / math.log(2.0)

    return evaluate


def generate_ids(model, seed_ids, length, temperature, sample):
    """(batch, seed length >= 1) ids -> (batch, length) ids drawn by `sample(logits,
    temperature)`.

    The seed runs through the GRUs in one call; then each new character is fed back one
    at a time with the carried states. PAD is never generated.
    """
    never_pad = tf.one_hot(chars.PAD_ID, model.vocabulary_size, on_value=-1e9, off_value=0.0)
    logits, states = model.step(seed_ids, model.zero_states(tf.shape(seed_ids)[0]))
    last = tf.cast(logits[:, -1], tf.float32)  # (batch, vocabulary)
    generated = tf.TensorArray(tf.int32, size=length)
    for position in tf.range(length):
        next_ids = sample(last + never_pad, temperature)  # (batch,)
        generated = generated.write(position, next_ids)
        logits, states = model.step(next_ids[:, None], states)
        last = tf.cast(logits[:, -1], tf.float32)
    return tf.transpose(generated.stack())  # (batch, length)


class Generator(tf.Module):
    """Seed string + length (+ temperature) -> generated text; a SavedModel."""

    def __init__(self, model, vocabulary: chars.Vocabulary, seeds: tuple[str, ...], sample):
        super().__init__()
        self.model = model
        self.sample = sample
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
        generated = generate_ids(self.model, ids[None], length, temperature, self.sample)[0]
        return tf.strings.reduce_join(tf.gather(self.characters, tf.concat([ids, generated], 0)))


def samples(generator, seeds, length: int, temperature: float) -> dict:
    """{seed: the seed and `length` generated characters} from a Generator (or its
    reloaded SavedModel)."""
    return {seed: generator.generate(tf.constant(seed), tf.constant(length, tf.int32),
                                     tf.constant(temperature, tf.float32)
                                     ).numpy().decode("utf-8")
            for seed in seeds}


def show_samples(texts: dict) -> str:
    """Prints the samples; returns them as a markdown list for TensorBoard."""
    for text in texts.values():
        print(f"  {text!r}")
    return "\n".join(f"* `{seed}` → {text}" for seed, text in texts.items())


def log_samples(run, generator: Generator, seeds, length: int, temperature: float,
                step: int) -> None:
    """Prints a sample from each seed and logs them as TensorBoard text ("samples")."""
    print(f"Samples at step {step} (temperature {temperature}):")
    markdown = show_samples(samples(generator, seeds, length, temperature))
    summaries.text(run.writer, "samples", markdown, step)


def export(run, generator: Generator, seed: str, temperature: float) -> None:
    """Saves the generator into the run directory and shows a sample of the reloaded
    SavedModel. Every worker of a multi-worker run saves (the save is collective); the
    chief's is kept."""
    tf.saved_model.save(generator, str(run.write_path(GENERATOR_DIR)))
    if run.chief:
        reloaded = tf.saved_model.load(str(run.path(GENERATOR_DIR)))
        example = samples(reloaded, (seed,), 60, temperature)[seed]
        print(f"Saved generator: {run.path(GENERATOR_DIR)}\n  {example!r}\n"
              f"Try: python lectures/l11_char_rnn.py --run-dir {run.directory} --generate")


def generate_with_saved(run_dir: str, start_text: str, length: int,
                        temperature: float) -> dict:
    """--generate: samples from the exported generator of a finished run, from its seeds
    or from `start_text`. Reads the run directory and writes nothing to it."""
    path = runtime.saved_model_of(run_dir, GENERATOR_DIR, "l11_char_rnn", "--generate")
    generator = tf.saved_model.load(str(path))
    if start_text:
        chars.check_start_text(start_text, "".join(character.decode("utf-8") for character
                                                   in generator.characters.numpy()))
        seeds = (start_text,)
    else:
        seeds = tuple(seed.decode("utf-8") for seed in generator.seeds.numpy())
    print(f"Samples from {path} (temperature {temperature}):")
    texts = samples(generator, seeds, length, temperature)
    show_samples(texts)
    return texts
