"""Lecture 11's plumbing around its character RNN (the recurrent stack, the masked loss,
the gradient clipping, the train step and the temperature sampler are in
lectures/l11_char_rnn.py): evaluation, generation, the SavedModel generator.

    model, stepper = l11_char_rnn.build_model(87, (128, 256))  # the lecture's GRUs
    states = char_rnn.zero_states(stepper, batch_size)
    logits, states = char_rnn.step(stepper, inputs, states)  # carry the GRU states along

    bits = char_rnn.make_bits_per_character(model, masked_loss_terms)(dataset)
    generator = char_rnn.Generator(stepper, vocabulary, seeds, sample, end_text="_E_")
    text = generator.generate(tf.constant("We will"), tf.constant(200), tf.constant(0.8))

`Generator` wraps model and vocabulary into a tf.Module whose `generate(seed, length,
temperature)` runs one character at a time inside a tf.function, carrying the GRU
states, stops at the end-of-tweet marker, and can be saved with tf.saved_model.save; it keeps its vocabulary
(`characters`) and the seeds the run sampled from (`seeds`) for whoever loads it.
`generate_with_saved` is lecture 11's --generate: samples from a finished run's
SavedModel, reading the run and writing nothing.

"""

from __future__ import annotations

import math

from cs20 import runtime, summaries, training
from cs20.datasets import chars

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


def generate_ids(stepper, seed_ids, length, temperature, sample, end_ids=()):
    """(batch, seed length >= 1) ids -> (batch, at most `length`) ids drawn by
    `sample(logits, temperature)`.

    The seed runs through the GRUs in one call; then each new character is fed back one
    at a time with the carried states. PAD is never generated. A row stops when its last
    characters are `end_ids` (the end-of-tweet marker; none: never): PAD after it, and
    the loop ends when every row has stopped. The model learned each line on its own, so
    what it writes after the marker is noise.
    """
    vocabulary_size = stepper.outputs[0].shape[-1]
    never_pad = tf.one_hot(chars.PAD_ID, vocabulary_size, on_value=-1e9, off_value=0.0)
    batch_size = tf.shape(seed_ids)[0]
    logits, states = step(stepper, seed_ids, zero_states(stepper, batch_size))
    last = logits[:, -1]  # (batch, vocabulary)
    # The last len(end_ids) characters of each row, the seed's to start with.
    padded_seed = tf.pad(seed_ids, [[0, 0], [len(end_ids), 0]])
    recent = padded_seed[:, -len(end_ids):] if end_ids else padded_seed[:, :0]
    recent = tf.ensure_shape(recent, [None, len(end_ids)])  # (batch, marker length)
    ended = tf.zeros([batch_size], tf.bool)
    generated = tf.TensorArray(tf.int32, size=0, dynamic_size=True)
    position = tf.constant(0)
    while position < length and not tf.reduce_all(ended):
        next_ids = tf.where(ended, chars.PAD_ID, sample(last + never_pad, temperature))
        generated = generated.write(position, next_ids)  # (batch,)
        if end_ids:
            recent = tf.concat([recent[:, 1:], next_ids[:, None]], 1)
            ended = ended | tf.reduce_all(recent == end_ids, axis=1)
        logits, states = step(stepper, next_ids[:, None], states)
        last = logits[:, -1]
        position += 1
    return tf.reshape(tf.transpose(generated.stack()), [batch_size, -1])  # (batch, <= length)


class Generator(tf.Module):
    """Seed string + length (+ temperature) -> generated text, ending at the marker
    `end_text` ("" for none; also none when the vocabulary cannot write it); a
    SavedModel."""

    def __init__(self, stepper, vocabulary: chars.Vocabulary, seeds: tuple[str, ...], sample,
                 end_text: str = ""):
        super().__init__()
        self.stepper = stepper
        self.sample = sample
        writable = set(end_text) <= set(vocabulary.characters)
        self.end_ids = tuple(vocabulary.encode(end_text)) if writable else ()
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
        """The seed followed by at most `length` generated characters. Characters outside
        the vocabulary are dropped from the seed; an empty seed is an error."""
        ids = self.table.lookup(tf.strings.unicode_split(seed, "UTF-8"))
        ids = tf.boolean_mask(ids, ids != chars.PAD_ID)
        tf.debugging.assert_positive(tf.size(ids), message="the seed has no character of "
                                                           "the vocabulary")
        generated = generate_ids(self.stepper, ids[None], length, temperature, self.sample,
                                 tuple(self.end_ids))[0]  # tf.Module wraps tuples
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
