"""Lecture 11's data: characters of a text file -> overlapping, padded windows for a
character-level RNN.

    lines = data.read_lines(path)                     # trump_tweets.txt, or any UTF-8 text
    vocabulary = data.Vocabulary.course()             # or data.Vocabulary.build(lines)
    split = data.split_lines(lines)                   # deterministic 95 / 5 by line hash
    windows = data.make_windows([vocabulary.encode(l) for l in split.train], 50, 25)
    dataset = data.training_dataset(windows, batch_size=64, seed=42)

Every line (a tweet) is its own sequence: windows never cross a line boundary and the
model starts each line from a zero state. Id 0 is padding; the loss is masked there.

The course's `read_data` made windows with `range(0, len(text) - window, overlap)`, so a
tweet of 50 characters or fewer (1,029 of the 19,469 in trump_tweets.txt, counted in the
course's character set) produced no example at all, and the tail of every longer tweet
was dropped. `windows_of` always covers the whole line: the last window is padded, and a
short line is one padded window.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import pathlib
import zlib

from cs20.datasets import shuffling, sources
from cs20.datasets.text import read_text

import numpy as np
import tensorflow as tf

PAD_ID = 0
# The course's character set for the tweets (11_char_rnn.py), in its order; the course
# listed the apostrophe twice, which left one output id that no input could produce.
COURSE_CHARACTERS = ("$%'()+,-./0123456789:;=?ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     " \"_abcdefghijklmnopqrstuvwxyz{|}@#➡📈")
# The course's seeds for samples of the tweets.
COURSE_SEEDS = ("Hillary", "I", "R", "T", "@", "N", "M", ".", "G", "A", "W")


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """Characters with ids 1..n (0 is padding); characters outside it are dropped."""

    characters: str

    def __post_init__(self):
        if not self.characters:
            raise ValueError("a vocabulary needs at least one character")
        if len(set(self.characters)) != len(self.characters):
            raise ValueError("vocabulary characters must be distinct")

    @classmethod
    def course(cls) -> Vocabulary:
        return cls(COURSE_CHARACTERS)

    @classmethod
    def build(cls, lines: list[str], min_count: int = 1) -> Vocabulary:
        """Every character seen at least `min_count` times, most frequent first."""
        counts: dict[str, int] = {}
        for line in lines:
            for character in line:
                counts[character] = counts.get(character, 0) + 1
        kept = sorted((c for c, n in counts.items() if n >= min_count),
                      key=lambda c: (-counts[c], c))
        return cls("".join(kept))

    def __len__(self) -> int:
        """Number of ids, padding included: the size of the model's input and output."""
        return len(self.characters) + 1

    @property
    def ids(self) -> dict[str, int]:
        return {character: index + 1 for index, character in enumerate(self.characters)}

    def encode(self, text: str) -> list[int]:
        ids = self.ids
        return [ids[character] for character in text if character in ids]

    def decode(self, ids) -> str:
        return "".join(self.characters[int(i) - 1] for i in ids if int(i) != PAD_ID)

    def save(self, path: pathlib.Path) -> None:
        # JSON keeps every character (space, quotes, emoji) exactly.
        path.write_text(json.dumps({"characters": self.characters}, ensure_ascii=False) + "\n",
                        encoding="utf-8")

    @classmethod
    def load(cls, path: pathlib.Path) -> Vocabulary:
        return cls(json.loads(pathlib.Path(path).read_text(encoding="utf-8"))["characters"])


def outside_vocabulary(lines: list[str], vocabulary: Vocabulary) -> tuple[collections.Counter, int]:
    """(count of each character the vocabulary lacks, number of characters in all)."""
    counts = collections.Counter("".join(lines))
    for character in vocabulary.characters:
        counts.pop(character, None)
    return counts, sum(map(len, lines))


def describe_outside(counts: collections.Counter, total: int, vocabulary_name: str) -> str:
    """One line for the terminal on what `outside_vocabulary` found ("" when nothing)."""
    outside = sum(counts.values())
    if not outside:
        return ""
    common = ", ".join(f"{character!r} ({count:,})" for character, count in counts.most_common(5))
    advice = "; use --vocabulary corpus" if vocabulary_name == "course" else ""
    return (f"{outside / total:.1%} of characters ({outside:,} of {total:,}) are outside "
            f"--vocabulary {vocabulary_name} and are dropped, most often {common}{advice}")


def seeds_from(lines: list[str], vocabulary: Vocabulary, count: int = 6,
               longest: int = 12) -> tuple[str, ...]:
    """Up to `count` distinct seeds for samples: the first word (at most `longest`
    characters) of each line, in order, kept when the vocabulary has all its characters;
    the vocabulary's first character when no line gives one."""
    seeds: list[str] = []
    known = set(vocabulary.characters)
    for line in lines:
        seed = line.split()[0][:longest]
        if seed not in seeds and set(seed) <= known:
            seeds.append(seed)
            if len(seeds) == count:
                break
    return tuple(seeds) or (vocabulary.characters[0],)


def check_start_text(text: str, characters: str) -> None:
    """A --start-text needs a character the model knows; the others are left out."""
    unknown = sorted(set(text) - set(characters))
    if len(unknown) == len(set(text)):
        raise ValueError(f"--start-text {text!r} has no character of the model's vocabulary; "
                         f"use characters of the training text")
    if unknown:
        print(f"Characters of --start-text outside the vocabulary, left out: "
              f"{''.join(unknown)!r}")


def sample_seeds(start_text: str, from_corpus: bool, vocabulary: Vocabulary,
                 split: Split) -> tuple[str, ...]:
    """--start-text, or the first words of a --corpus's validation lines, or the course's
    seeds (those with a character of the vocabulary)."""
    if start_text:
        check_start_text(start_text, vocabulary.characters)
        return (start_text,)
    if from_corpus:
        return seeds_from(split.validation, vocabulary)
    return tuple(seed for seed in COURSE_SEEDS if vocabulary.encode(seed)) or \
        (vocabulary.characters[0],)


def load_corpus(corpus: str, vocabulary_name: str, data_dir=None) -> tuple[Vocabulary, Split]:
    """--corpus (default trump_tweets.txt) split into training and validation lines, and
    the course's vocabulary or (`vocabulary_name` "corpus") the training lines' own.
    Prints the sizes and what the vocabulary leaves out."""
    path = pathlib.Path(corpus) if corpus else sources.resolve("trump_tweets", data_dir)
    lines = read_lines(path)
    split = split_lines(lines)
    vocabulary = Vocabulary.course() if vocabulary_name == "course" else \
        Vocabulary.build(split.train)
    print(f"{path}: {len(split.train):,} training lines, {len(split.validation):,} "
          f"validation; {len(vocabulary) - 1} characters")
    outside = describe_outside(*outside_vocabulary(lines, vocabulary), vocabulary_name)
    if outside:
        print(outside)
    return vocabulary, split


def read_lines(path: str | pathlib.Path) -> list[str]:
    """Non-empty, stripped lines of a UTF-8 text file; an error for a file without any."""
    lines = [line.strip() for line in read_text(path).splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        raise ValueError(f"corpus {path} has no text (only empty lines)")
    return lines


@dataclasses.dataclass(frozen=True)
class Split:
    train: list[str]
    validation: list[str]


def split_lines(lines: list[str], validation_percent: int = 5) -> Split:
    """A line goes to validation when a hash of its text falls in the first percent.

    Deterministic on every machine, independent of the file's order, and a line that
    occurs twice (a repeated tweet) cannot sit on both sides.
    """
    if not 0 < validation_percent < 100:
        raise ValueError(f"validation percent must be in 1..99, got {validation_percent}")
    held_out = [zlib.crc32(line.encode("utf-8")) % 100 < validation_percent for line in lines]
    split = Split(train=[line for line, out in zip(lines, held_out, strict=True) if not out],
                  validation=[line for line, out in zip(lines, held_out, strict=True) if out])
    if not split.train or not split.validation:
        raise ValueError(f"{len(lines)} line(s) are too few for a train / validation split")
    return split


def windows_of(ids: list[int], window: int, overlap: int) -> list[list[int]]:
    """Windows of `window` ids, each starting `window - overlap` after the previous,
    until one reaches the end of the line; the last is padded with PAD_ID.

    Every pair of neighbouring characters lies inside some window, so every character
    but the first is a training target. A line of fewer than 2 ids has no target.
    """
    if not 0 <= overlap < window:
        raise ValueError(f"overlap must be in 0..window-1 ({window - 1}), got {overlap}")
    if window < 2:
        raise ValueError(f"window must be at least 2 characters, got {window}")
    if len(ids) < 2:
        return []
    result = []
    start = 0
    while True:
        chunk = ids[start:start + window]
        result.append(chunk + [PAD_ID] * (window - len(chunk)))
        if start + window >= len(ids):
            return result
        start += window - overlap


def make_windows(lines_ids: list[list[int]], window: int, overlap: int) -> np.ndarray:
    """All windows of all lines -> (num_windows, window) int32."""
    windows = [chunk for ids in lines_ids for chunk in windows_of(ids, window, overlap)]
    if not windows:
        raise ValueError("no line has two characters of the vocabulary: nothing to learn")
    return np.asarray(windows, dtype=np.int32)


def masks(ids: tf.Tensor) -> tf.Tensor:
    """True where a position holds a real character (not padding)."""
    return tf.not_equal(ids, PAD_ID)


def inputs_and_labels(windows: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(batch, window) -> inputs (batch, window - 1) and next characters (batch, window - 1)."""
    return windows[:, :-1], windows[:, 1:]


def training_dataset(windows: np.ndarray, batch_size: int, seed: int,
                     sorted_batches: int = 32) -> tf.data.Dataset:
    """Shuffled, repeating batches of (inputs, labels), (batch, time) with `time` the
    longest window of the batch (rounded up to a multiple of 16, at most the window's):
    padding a batch of short tweets to the longest possible one would waste compute.

    Windows of similar length are batched together: each run of `sorted_batches`
    batches' worth of the shuffled stream is sorted by length, cut into batches, and the
    batches are shuffled. Shuffled by position (`shuffling`): a checkpoint saves where
    the stream is (and one run of indices), not a buffer of 73,000 windows, and a
    resumed run reads the same batches in the same order."""
    all_windows = tf.constant(windows)  # (num_windows, window)
    lengths = tf.constant(np.count_nonzero(windows != PAD_ID, axis=1), tf.int64)  # padding trails
    group = batch_size * sorted_batches

    def sorted_into_batches(indices):  # (group,) shuffled window indices
        by_length = tf.gather(indices, tf.argsort(tf.gather(lengths, indices), stable=True))
        batches = tf.reshape(by_length, [sorted_batches, batch_size])
        # A new order of the batches for each run, the same for the same seed.
        keys = tf.random.stateless_uniform([sorted_batches], seed=[seed, indices[0]])
        return tf.gather(batches, tf.argsort(keys))  # (sorted_batches, batch)

    def trimmed(indices):  # (batch,) -> inputs and labels without all-padding columns
        longest = tf.reduce_max(tf.gather(lengths, indices))
        time = tf.minimum((longest + 15) // 16 * 16, windows.shape[1])
        return inputs_and_labels(tf.gather(all_windows, indices)[:, :time])

    return (shuffling.index_batches(len(windows), group, shuffle=True, seed=seed,
                                    repeat=True, drop_remainder=True)
            .map(sorted_into_batches)
            .unbatch()
            .map(trimmed, num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))


def piece_length(time, longest_piece: int):
    """The length of the pieces that cut `time` characters into as few equal pieces of at
    most `longest_piece` as possible (truncated back-propagation: 144 in pieces of at
    most 64 -> 3 pieces of 48, not 64 + 64 + 16)."""
    num_pieces = (time + longest_piece - 1) // longest_piece
    return (time + num_pieces - 1) // num_pieces


def pieces(ids: tf.Tensor, time, longest_piece: int) -> tf.Tensor:
    """(batch, t <= time) -> (num_pieces, batch, piece): the batch padded to `time`
    characters and cut along time into equal consecutive pieces of at most
    `longest_piece` (the last padded further when they do not divide `time`)."""
    length = piece_length(time, longest_piece)
    num_pieces = (time + length - 1) // length
    padded = tf.pad(ids, [[0, 0], [0, num_pieces * length - tf.shape(ids)[1]]],
                    constant_values=PAD_ID)  # (batch, num_pieces * piece)
    return tf.transpose(tf.reshape(padded, [tf.shape(ids)[0], num_pieces, length]), [1, 0, 2])


def show_worked_example(windows, vocabulary: Vocabulary) -> None:
    """The first training window that ends in padding, up to two padding positions: its
    input, targets and mask."""
    window = next((window for window in windows if window[-1] == PAD_ID), windows[0])
    shown = window[:int((window != PAD_ID).sum()) + 2]
    inputs, labels = inputs_and_labels(tf.constant(shown[None]))
    mask = masks(labels)[0].numpy()  # (window - 1,)

    def text(ids) -> str:  # one character per position, padding as ·
        return "".join(vocabulary.decode([i]) or "·" for i in ids)

    print(f"Worked example: a training window ({len(window)} characters; input and target "
          f"shifted by one; id {PAD_ID} pads, shown as ·)\n"
          f"  input   {text(inputs[0].numpy())}\n  target  {text(labels[0].numpy())}\n"
          f"  mask    {''.join(str(int(m)) for m in mask)}  ({int(mask.sum())} targets "
          f"in the loss)\n  ids     {inputs[0, :12].numpy().tolist()} ... -> "
          f"{labels[0, :12].numpy().tolist()} ...")


def mean_pieces(windows: np.ndarray, longest_piece: int) -> float:
    """About how many pieces (`pieces`) a batch of `windows` is cut into: the mean over
    the windows of their targets over `longest_piece`, rounded up; 1 when 0 (not cut)."""
    if not longest_piece:
        return 1.0
    targets = np.count_nonzero(windows != PAD_ID, axis=1) - 1
    return float(np.mean(np.ceil(targets / longest_piece)))


def padded_lines(lines_ids: list[list[int]], batch_size: int) -> tf.data.Dataset:
    """Whole lines, sorted by length and padded per batch, for evaluation: batches of
    (inputs, labels) with shapes (batch, longest - 1)."""
    kept = sorted((ids for ids in lines_ids if len(ids) >= 2), key=len)
    lines = tf.ragged.constant(kept, dtype=tf.int32)  # (num_lines, None)
    return (tf.data.Dataset.range(len(kept))
            .map(lambda index: lines[index])  # (length,): one line, dense
            .padded_batch(batch_size, padding_values=PAD_ID)  # (batch, longest)
            .map(lambda batch: (batch[:, :-1], batch[:, 1:])))
