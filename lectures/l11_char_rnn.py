"""Lecture 11: a character-level RNN that writes tweets.

Two stacked GRUs (128 and 256 units, the course's sizes) read a tweet one character at a
time and predict the next one (cs20/models/char_rnn.py). Tweets are cut into windows of
50 characters overlapping by 25; the last window of a tweet is padded and the loss is
averaged over real characters only, so padding teaches nothing. The gradient's global
norm is clipped and the learning rate decays exponentially (the lecture notes' recipes
for RNNs). Unlike the course (cs20/datasets/chars.py, models/char_rnn.py): tweets of 50
characters or fewer are no longer dropped, and sampling uses the temperature correctly.

Every evaluation prints, and logs to TensorBoard as text, a sample from each of the
course's seeds (with --corpus: the first words of the first validation lines; with
--start-text: that text), and measures validation bits per character over whole
held-out tweets (5% of the lines, chosen by a hash). Characters outside the vocabulary
are dropped from the text, and the run says how many and which. The run ends by
exporting a SavedModel generator that takes a seed string, a length and a temperature;
`--generate` samples from it (from the run's seeds, or --start-text) and neither trains
nor writes anything.

    python lectures/l11_char_rnn.py                       # trump_tweets.txt
    python lectures/l11_char_rnn.py --corpus my_text.txt --vocabulary corpus
    python lectures/l11_char_rnn.py --run-dir runs/l11_char_rnn/DIR --generate
    python lectures/l11_char_rnn.py --run-dir runs/l11_char_rnn/DIR --generate --start-text "We will"
    tensorboard --logdir runs/l11_char_rnn

Our run on 2 CPU cores (benchmarks/char_rnn.py: the default flags stopped by
--max-seconds 600): 5,705 of the 6,000 steps in 606 s, 9.8 steps/s; validation 1.773 bits
per character (train 1.738), against 4.744 for the unigram distribution and 1.794 for
the best smoothed character n-gram (order 6) on the same characters. Samples then
(temperature 0.8), e.g.

  'Hillary said she is a deal with this morning. Massive thanks to talk about the gov ...'
  'RT @WhiteHouse: Dry is making in people who has me to gain too home to win stamina. ...'

trump_tweets.txt ends every tweet with " _E_" and links read "__HTTP__"; nothing follows
_E_ within a line, so a sample that reaches it goes on with a loop of those markers.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib

from cs20 import checkpoints, cli, config, runtime, summaries, training
from cs20.datasets import chars, sources
from cs20.models import char_rnn

import keras
import tensorflow as tf

GENERATOR_DIR = "generator"
VOCABULARY_FILE = "vocabulary.json"
COURSE_SEEDS = ("Hillary", "I", "R", "T", "@", "N", "M", ".", "G", "A", "W")


@dataclasses.dataclass(frozen=True)
class Config(config.TrainConfig):
    num_steps: int = config.option(6000, "Training steps (0: use --num-epochs).")
    batch_size: int = config.option(64, "Global batch size (windows).")
    learning_rate: float = config.option(3e-3, "Adam learning rate at step 0 (the course: "
                                               "3e-4, constant).")
    decay_rate: float = config.option(0.1, "Exponential decay: the learning rate is "
                                           "multiplied by this over the whole run "
                                           "(1: constant).")
    clip_norm: float = config.option(5.0, "Clip the gradient's global norm to this.")
    eval_every: int = config.option(1000, "Validation bits per character and samples "
                                          "every N steps.")
    checkpoint_every: int = config.option(1000, "Checkpoint every N steps.")
    corpus: str = config.option("", "Text file to learn, one sequence per line "
                                    "(default: trump_tweets.txt).")
    vocabulary: str = config.option("course", "Characters: the course's 86 or every "
                                              "character of the corpus.",
                                    choices=("course", "corpus"))
    window: int = config.option(50, "Characters per training window.")
    overlap: int = config.option(25, "Characters shared by neighbouring windows.")
    hidden_sizes: str = config.option("128,256", "Units of each stacked GRU, comma-separated.")
    dropout: float = config.option(0.0, "Dropout between the GRUs and before the output.")
    temperature: float = config.option(0.8, "Sampling temperature (0: greedy).",
                                       changeable=True)
    length: int = config.option(200, "Characters generated per sample.",
                                changeable=True)
    start_text: str = config.option("", "Seed of the samples (default: the course's 11 seeds; "
                                        "with --corpus, the first words of its first "
                                        "validation lines).",
                                    changeable=True)
    generate: bool = config.option(False, "Print samples from the generator saved in "
                                          "--run-dir, without training or writing anything.",
                                   changeable=True)

    def __post_init__(self):
        super().__post_init__()
        if self.window < 2 or not 0 <= self.overlap < self.window:
            raise ValueError(f"need --window >= 2 and 0 <= --overlap < --window, got "
                             f"{self.window} and {self.overlap}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"--dropout must be in [0, 1), got {self.dropout}")
        if not 0.0 < self.decay_rate <= 1.0:
            raise ValueError(f"--decay-rate must be in (0, 1], got {self.decay_rate}")
        if not self.clip_norm > 0:
            raise ValueError(f"--clip-norm must be positive, got {self.clip_norm}")
        hidden_sizes(self)  # a malformed list is a one-line error now, not later


def hidden_sizes(cfg: Config) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in cfg.hidden_sizes.split(","))
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise ValueError(f"--hidden-sizes must be positive integers like 128,256, "
                         f"got {cfg.hidden_sizes!r}")
    return sizes


def samples(generator: char_rnn.Generator, seeds, length: int, temperature: float) -> dict:
    return {seed: generator.generate(tf.constant(seed), tf.constant(length, tf.int32),
                                     tf.constant(temperature, tf.float32)
                                     ).numpy().decode("utf-8")
            for seed in seeds}


def show_samples(texts: dict) -> str:
    """Prints the samples; returns them as a markdown list for TensorBoard."""
    for text in texts.values():
        print(f"  {text!r}")
    return "\n".join(f"* `{seed}` → {text}" for seed, text in texts.items())


def check_start_text(text: str, characters: str) -> None:
    """A --start-text needs a character the model knows; the others are left out."""
    unknown = sorted(set(text) - set(characters))
    if len(unknown) == len(set(text)):
        raise ValueError(f"--start-text {text!r} has no character of the model's vocabulary; "
                         f"use characters of the training text")
    if unknown:
        print(f"Characters of --start-text outside the vocabulary, left out: "
              f"{''.join(unknown)!r}")


def generate_with_saved(cfg: Config) -> dict:
    """--generate: samples from the exported generator of a finished run.

    Reads the run directory and writes nothing to it, whatever the other flags say.
    """
    path = runtime.saved_model_of(cfg.run_dir, GENERATOR_DIR, "l11_char_rnn", "--generate")
    generator = tf.saved_model.load(str(path))
    if cfg.start_text:
        check_start_text(cfg.start_text, "".join(character.decode("utf-8") for character
                                                 in generator.characters.numpy()))
        seeds = (cfg.start_text,)
    else:
        seeds = tuple(seed.decode("utf-8") for seed in generator.seeds.numpy())
    print(f"Samples from {path} (temperature {cfg.temperature}):")
    texts = samples(generator, seeds, cfg.length, cfg.temperature)
    show_samples(texts)
    return texts


def load_text(cfg: Config) -> tuple[chars.Vocabulary, chars.Split]:
    path = pathlib.Path(cfg.corpus) if cfg.corpus else sources.resolve("trump_tweets",
                                                                      cfg.data_dir)
    lines = chars.read_lines(path)
    split = chars.split_lines(lines)
    vocabulary = (chars.Vocabulary.course() if cfg.vocabulary == "course"
                  else chars.Vocabulary.build(split.train))
    print(f"{path}: {len(split.train):,} training lines, {len(split.validation):,} "
          f"validation; {len(vocabulary) - 1} characters")
    outside = chars.describe_outside(*chars.outside_vocabulary(lines, vocabulary),
                                     cfg.vocabulary)
    if outside:
        print(outside)
    return vocabulary, split


def sample_seeds(cfg: Config, vocabulary: chars.Vocabulary, split: chars.Split):
    """--start-text, or the first words of a --corpus's validation lines, or the course's
    seeds (those with a character of the vocabulary)."""
    if cfg.start_text:
        check_start_text(cfg.start_text, vocabulary.characters)
        return (cfg.start_text,)
    if cfg.corpus:
        return chars.seeds_from(split.validation, vocabulary)
    return tuple(seed for seed in COURSE_SEEDS if vocabulary.encode(seed)) or \
        (vocabulary.characters[0],)


def build(cfg: Config, vocabulary: chars.Vocabulary, run: runtime.Run, num_steps: int):
    """Model, optimizer and step counter, created under the strategy's scope."""
    with run.strategy.scope():
        model = char_rnn.CharRNN(len(vocabulary), hidden_sizes(cfg), cfg.dropout)
        model(tf.ones([1, 2], tf.int32))  # create the variables
        rate = keras.optimizers.schedules.ExponentialDecay(
            cfg.learning_rate, decay_steps=max(num_steps, 1), decay_rate=cfg.decay_rate)
        optimizer = training.with_loss_scaling(keras.optimizers.Adam(rate))
        optimizer.build(model.trainable_variables)
        step = tf.Variable(0, dtype=tf.int64, name="global_step", trainable=False)
    return model, optimizer, step


def main(argv=None) -> dict:
    cfg = config.parse(Config, argv, __doc__, prog="l11_char_rnn")
    if cfg.generate:
        return generate_with_saved(cfg)
    # The text first: a bad --corpus or --start-text stops before the run writes anything.
    vocabulary, split = load_text(cfg)
    seeds = sample_seeds(cfg, vocabulary, split)
    run = runtime.start("l11_char_rnn", cfg)

    if run.chief:  # in a multi-worker run only the chief writes the run directory
        vocabulary.save(run.path(VOCABULARY_FILE))
    windows = chars.make_windows([vocabulary.encode(line) for line in split.train],
                                 cfg.window, cfg.overlap)  # (num_windows, window)
    validation_ids = [vocabulary.encode(line) for line in split.validation]
    steps_per_epoch = max(len(windows) // cfg.batch_size, 1)
    schedule = training.make_schedule(cfg, steps_per_epoch)
    print(f"{len(windows):,} windows of {cfg.window} characters: {steps_per_epoch:,} steps "
          f"per epoch")

    model, optimizer, step = build(cfg, vocabulary, run, schedule.num_steps)
    train_data = chars.training_dataset(windows, cfg.batch_size, cfg.seed)
    iterator = training.distribute(run, train_data)
    checkpoint = checkpoints.make(step, model, optimizer, iterator)
    train_step = training.compile_step(
        run.strategy, char_rnn.make_train_step(model, optimizer, cfg.clip_norm),
        jit_compile=cfg.jit_compile)
    generator = char_rnn.Generator(model, vocabulary, seeds)
    bits_per_character = char_rnn.make_bits_per_character(model)

    def evaluate() -> dict:
        print(f"Samples at step {int(step.numpy())} (temperature {cfg.temperature}):")
        markdown = show_samples(samples(generator, seeds, cfg.length, cfg.temperature))
        summaries.text(run.writer, "samples", markdown, int(step.numpy()))
        return {"bits_per_character": bits_per_character(
            chars.padded_lines(validation_ids, 256))}

    results = training.train(run, step_fn=train_step, iterator=iterator, checkpoint=checkpoint,
                             step=step, schedule=schedule, evaluate=evaluate)
    # Train loss is in nats per character; bits are what language-model papers report.
    if "train/loss" in results:
        results["train/bits_per_character"] = results["train/loss"] / math.log(2.0)

    # Every worker of a multi-worker run saves (the save is collective); the chief's is kept.
    tf.saved_model.save(generator, str(run.write_path(GENERATOR_DIR)))
    if run.chief:
        reloaded = tf.saved_model.load(str(run.path(GENERATOR_DIR)))
        example = samples(reloaded, seeds[:1], 60, cfg.temperature)[seeds[0]]
        print(f"Saved generator: {run.path(GENERATOR_DIR)}\n  {example!r}\n"
              f"Try: python lectures/l11_char_rnn.py --run-dir {run.directory} --generate")
    return run.finish(results, steps=int(step.numpy()))


if __name__ == "__main__":
    cli.guard(main)
