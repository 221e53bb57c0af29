"""Lecture 11's sampling and generator: the next character drawn at a temperature, one
character at a time with the GRU states carried, a SavedModel that writes tweets.

4. `sample`: the next character drawn from softmax(logits / temperature) (the course fed
   exp(logits / T) to `tf.multinomial`, which expects logits); `generate_ids` feeds each
   drawn character back with the carried states (model.py's `step`) until the
   end-of-tweet marker `_E_` (--end-text);
5. `Generator` wraps the stepper and the vocabulary into a tf.Module whose
   `generate(seed, length, temperature)` runs inside a tf.function and can be saved with
   tf.saved_model.save; it keeps its vocabulary (`characters`) and the seeds the run
   sampled from (`seeds`) for whoever loads it. `generate_with_saved` is --generate:
   samples from a finished run's SavedModel, reading the run and writing nothing.

    generator = generate.Generator(stepper, vocabulary, seeds, end_text="_E_")
    text = generator.generate(tf.constant("We will"), tf.constant(200), tf.constant(0.8))
"""

from __future__ import annotations

from cs20 import cli, runtime, summaries
from lectures.l11_char_rnn import data, model

import tensorflow as tf

GENERATOR_DIR = "generator"


def sample(logits, temperature):
    """One id per row of `logits` (batch, vocabulary): argmax when `temperature` is 0,
    otherwise drawn from softmax(logits / temperature)."""
    logits = tf.cast(logits, tf.float32)
    greedy = tf.argmax(logits, axis=-1, output_type=tf.int32)
    drawn = tf.random.categorical(logits / tf.maximum(temperature, 1e-6), 1, dtype=tf.int32)[:, 0]
    return tf.where(temperature > 0.0, drawn, greedy)  # (batch,)


def generate_ids(stepper, seed_ids, length, temperature, end_ids=()):
    """(batch, seed length >= 1) ids -> (batch, at most `length`) ids drawn by
    `sample(logits, temperature)`.

    The seed runs through the GRUs in one call; then each new character is fed back one
    at a time with the carried states. PAD is never generated. A row stops when its last
    characters are `end_ids` (the end-of-tweet marker; none: never): PAD after it, and
    the loop ends when every row has stopped. The model learned each line on its own, so
    what it writes after the marker is noise.
    """
    vocabulary_size = stepper.outputs[0].shape[-1]
    never_pad = tf.one_hot(data.PAD_ID, vocabulary_size, on_value=-1e9, off_value=0.0)
    batch_size = tf.shape(seed_ids)[0]
    logits, states = model.step(stepper, seed_ids, model.zero_states(stepper, batch_size))
    last = logits[:, -1]  # (batch, vocabulary)
    # The last len(end_ids) characters of each row, the seed's to start with.
    padded_seed = tf.pad(seed_ids, [[0, 0], [len(end_ids), 0]])
    recent = padded_seed[:, -len(end_ids):] if end_ids else padded_seed[:, :0]
    recent = tf.ensure_shape(recent, [None, len(end_ids)])  # (batch, marker length)
    ended = tf.zeros([batch_size], tf.bool)
    generated = tf.TensorArray(tf.int32, size=0, dynamic_size=True)
    position = tf.constant(0)
    while position < length and not tf.reduce_all(ended):
        next_ids = tf.where(ended, data.PAD_ID, sample(last + never_pad, temperature))
        generated = generated.write(position, next_ids)  # (batch,)
        if end_ids:
            recent = tf.concat([recent[:, 1:], next_ids[:, None]], 1)
            ended = ended | tf.reduce_all(recent == end_ids, axis=1)
        logits, states = model.step(stepper, next_ids[:, None], states)
        last = logits[:, -1]
        position += 1
    return tf.reshape(tf.transpose(generated.stack()), [batch_size, -1])  # (batch, <= length)


class Generator(tf.Module):
    """Seed string + length (+ temperature) -> generated text, ending at the marker
    `end_text` ("" for none; also none when the vocabulary cannot write it); a
    SavedModel."""

    def __init__(self, stepper, vocabulary: data.Vocabulary, seeds: tuple[str, ...],
                 end_text: str = ""):
        super().__init__()
        self.stepper = stepper
        writable = set(end_text) <= set(vocabulary.characters)
        self.end_ids = tuple(vocabulary.encode(end_text)) if writable else ()
        characters = list(vocabulary.characters)
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(characters), tf.range(1, len(characters) + 1, dtype=tf.int32)),
            default_value=data.PAD_ID)
        self.characters = tf.Variable([""] + characters, trainable=False)  # id -> character
        self.seeds = tf.Variable(list(seeds), trainable=False)

    @tf.function(input_signature=[tf.TensorSpec([], tf.string), tf.TensorSpec([], tf.int32),
                                  tf.TensorSpec([], tf.float32)])
    def generate(self, seed, length, temperature):
        """The seed followed by at most `length` generated characters. Characters outside
        the vocabulary are dropped from the seed; an empty seed is an error."""
        ids = self.table.lookup(tf.strings.unicode_split(seed, "UTF-8"))
        ids = tf.boolean_mask(ids, ids != data.PAD_ID)
        tf.debugging.assert_positive(tf.size(ids), message="the seed has no character of "
                                                           "the vocabulary")
        generated = generate_ids(self.stepper, ids[None], length, temperature,
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
              f"Try: {cli.lecture_command('l11_char_rnn')} --run-dir {run.directory} "
              "--generate")


def generate_with_saved(run_dir: str, start_text: str, length: int,
                        temperature: float) -> dict:
    """--generate: samples from the exported generator of a finished run, from its seeds
    or from `start_text`. Reads the run directory and writes nothing to it."""
    path = runtime.saved_model_of(run_dir, GENERATOR_DIR, "l11_char_rnn", "--generate")
    generator = tf.saved_model.load(str(path))
    if start_text:
        data.check_start_text(start_text, "".join(character.decode("utf-8") for character
                                                  in generator.characters.numpy()))
        seeds = (start_text,)
    else:
        seeds = tuple(seed.decode("utf-8") for seed in generator.seeds.numpy())
    print(f"Samples from {path} (temperature {temperature}):")
    texts = samples(generator, seeds, length, temperature)
    show_samples(texts)
    return texts
