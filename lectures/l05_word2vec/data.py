"""Lecture 5a's data: a word corpus -> vocabulary -> skip-gram (center, context)
batches in tf.data, or rows of consecutive centers for negative sampling.

    words = data.read_words(path)                      # text8.zip, or any UTF-8 text file
    vocabulary = data.build_vocabulary(words, 50000)
    ids = vocabulary.to_ids(words)                     # (num_words,) int32, 0 = UNK
    dataset = data.skip_gram_dataset(ids, batch_size=128, skip_window=1, seed=42)
    rows = data.center_rows_dataset(ids, 1024, 5, 42, noise_counts=vocabulary.counts)

The course (`word2vec_utils.py`) made the pairs in a Python generator, one pair at a time,
which caps the input pipeline at a few hundred thousand pairs per second and cannot be
checkpointed. Here the pairs of a chunk of the corpus are built at once with TensorFlow
ops inside `tf.data`, with the course's rule: for each center word, draw a window size
uniformly in 1..skip_window and pair the center with every word that close to it, left
ones first. Chunks are visited in a shuffled order, the pairs of a chunk are shuffled,
and every random draw is a stateless op keyed by (seed, chunk counter), so the whole
stream is reproducible and its iterator can be saved in a checkpoint. Pairs that would
cross a chunk boundary are not made (at most skip_window per side of 100,000 words).
"""

from __future__ import annotations

import collections
import dataclasses
import pathlib

from cs20.datasets import sources
from cs20.datasets.text import read_text

import numpy as np
import tensorflow as tf

UNK = "UNK"
CHUNK_WORDS = 100_000


def resolve_corpus(name_or_path: str, data_dir=None) -> pathlib.Path:
    """--corpus: a registered data file (`text8_prefix`, found as every data file is) or a path."""
    if name_or_path in sources.REGISTRY:
        return sources.resolve(name_or_path, data_dir)
    return pathlib.Path(name_or_path)


def read_words(path: str | pathlib.Path) -> list[str]:
    """Whitespace-separated tokens, as the course (text8 is lower case, no punctuation)."""
    words = read_text(path).split()
    if not words:
        raise ValueError(f"corpus {path} has no words")
    return words


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """words[i] is the word of id i; words[0] is UNK, counting the words left out."""

    words: tuple[str, ...]
    counts: tuple[int, ...]

    @property
    def size(self) -> int:
        return len(self.words)

    def index(self) -> dict[str, int]:
        return {word: position for position, word in enumerate(self.words)}

    def to_ids(self, words: list[str]) -> np.ndarray:
        """(num_words,) int32; a word outside the vocabulary becomes 0 (UNK)."""
        index = self.index()
        return np.fromiter((index.get(word, 0) for word in words), np.int32, len(words))

    def save_tsv(self, path: pathlib.Path) -> None:
        """word<TAB>count per line, id order, with a header (TensorBoard reads it too)."""
        lines = ["word\tcount"] + [f"{word}\t{count}"
                                   for word, count in zip(self.words, self.counts, strict=True)]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    @classmethod
    def load_tsv(cls, path: pathlib.Path) -> Vocabulary:
        rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()[1:]]
        return cls(tuple(word for word, _ in rows), tuple(int(count) for _, count in rows))


def build_vocabulary(words: list[str], vocab_size: int) -> Vocabulary:
    """UNK plus the vocab_size - 1 most frequent words (ties: first seen first).

    Asking for more words than the corpus has is an error rather than a vocabulary with
    rows that can never be trained.
    """
    counter = collections.Counter(words)
    if vocab_size < 2:
        raise ValueError(f"--vocab-size must be at least 2 (UNK and one word), got {vocab_size}")
    if vocab_size - 1 > len(counter):
        raise ValueError(f"--vocab-size {vocab_size} is larger than the corpus's {len(counter)} "
                         f"distinct words plus UNK; use --vocab-size {len(counter) + 1} or less")
    most_common = counter.most_common(vocab_size - 1)
    unknown = len(words) - sum(count for _, count in most_common)
    return Vocabulary(words=(UNK, *(word for word, _ in most_common)),
                      counts=(unknown, *(count for _, count in most_common)))


def keep_probabilities(counts, threshold: float) -> np.ndarray | None:
    """Mikolov et al.'s subsampling: keep word w with probability sqrt(t / f(w)) + t / f(w).

    f(w) is the word's frequency; words rarer than t are always kept. This is the rule of
    the original word2vec.c and gensim, which throws away most "the" and "of". A
    threshold of 0 is no subsampling: None.
    """
    if not threshold:
        return None
    counts = np.asarray(counts, np.float64)
    ratio = threshold / np.maximum(counts / counts.sum(), 1e-12)
    return np.minimum(1.0, np.sqrt(ratio) + ratio).astype(np.float32)


def expected_pairs(counts, skip_window: int, keep_probability=None) -> int:
    """The expected number of pairs in one pass: words kept x (skip_window + 1), the mean
    of 2 x window for a window drawn uniformly in 1..skip_window (chunk edges ignored)."""
    counts = np.asarray(counts, np.float64)
    kept = counts.sum() if keep_probability is None else np.dot(counts, keep_probability)
    return int(kept * (skip_window + 1))


def subsample(ids, keep_probability, seed):
    """The ids kept by one draw of Mikolov's subsampling (all of them if it is None)."""
    if keep_probability is None:
        return ids
    draws = tf.random.stateless_uniform(tf.shape(ids), seed)  # (words,)
    return tf.boolean_mask(ids, draws < tf.gather(keep_probability, ids))


def chunk_pairs(ids, skip_window: int, seed, keep_probability=None, shuffle: bool = True):
    """Skip-gram pairs of one chunk of word ids -> (centers, contexts), each (pairs,) int32.

    `seed` is a (2,) int tensor for the stateless random ops. For each position i a
    window w_i is drawn in 1..skip_window; (ids[i], ids[i + o]) is a pair for every
    offset o in -w_i..-1, 1..w_i that stays inside the chunk, in that order (the
    course's order) unless `shuffle`.
    """
    seeds = tf.random.experimental.stateless_split(seed, num=3)
    ids = subsample(ids, keep_probability, seeds[0])
    count = tf.size(ids)
    windows = tf.random.stateless_uniform([count], seeds[1], minval=1, maxval=skip_window + 1,
                                          dtype=tf.int32)  # (words,)
    offsets = tf.concat([tf.range(-skip_window, 0), tf.range(1, skip_window + 1)], 0)  # (2w,)
    positions = tf.range(count)[:, None] + offsets[None, :]  # (words, 2w)
    valid = ((tf.abs(offsets)[None, :] <= windows[:, None])
             & (positions >= 0) & (positions < count))  # (words, 2w)
    centers = tf.broadcast_to(ids[:, None], tf.shape(positions))  # (words, 2w)
    centers = tf.boolean_mask(centers, valid)  # (pairs,)
    contexts = tf.gather(ids, tf.boolean_mask(positions, valid))  # (pairs,)
    if shuffle:
        order = tf.random.experimental.stateless_shuffle(tf.range(tf.size(centers)), seeds[2])
        centers, contexts = tf.gather(centers, order), tf.gather(contexts, order)
    return centers, contexts


def corpus_chunks(ids: np.ndarray, chunk_words: int, seed: int,
                  shuffle: bool = True) -> tf.data.Dataset:
    """Endless (counter, (chunk_words,) int32 ids) over the corpus's chunks (the last one
    shorter), visited in a new order each pass (shuffle + repeat reshuffles every pass).
    The counter numbers the chunks drawn so far: it keys each chunk's random draws."""
    corpus = tf.constant(ids, tf.int32)  # (num_words,)
    num_chunks = -(-len(ids) // chunk_words)
    chunks = tf.data.Dataset.range(num_chunks)
    if shuffle:
        chunks = chunks.shuffle(num_chunks, seed=seed, reshuffle_each_iteration=True)
    return chunks.repeat().enumerate().map(
        lambda counter, chunk: (counter, corpus[chunk * chunk_words:(chunk + 1) * chunk_words]))


def skip_gram_dataset(ids: np.ndarray, batch_size: int, skip_window: int, seed: int,
                      subsample_probability: np.ndarray | None = None,
                      chunk_words: int = CHUNK_WORDS, shuffle: bool = True) -> tf.data.Dataset:
    """Endless ((batch,) centers, (batch,) contexts) int32 batches over the corpus: the
    pairs of all chunks flow into fixed-size batches with `rebatch`, which slices tensors
    instead of handling one pair at a time."""
    if skip_window < 1:
        raise ValueError(f"--skip-window must be at least 1, got {skip_window}")
    keep = None if subsample_probability is None else tf.constant(subsample_probability)

    def pairs_of(counter, words):
        chunk_seed = tf.stack([tf.constant(seed, tf.int64), counter])
        return chunk_pairs(words, skip_window, chunk_seed, keep, shuffle)

    return (corpus_chunks(ids, chunk_words, seed, shuffle)
            .map(pairs_of, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .rebatch(batch_size, drop_remainder=True)
            .prefetch(tf.data.AUTOTUNE))


def noise_distribution(counts) -> np.ndarray:
    """word2vec's negative-sampling law: P(w) proportional to count(w) ** 0.75."""
    weights = np.asarray(counts, np.float64) ** 0.75
    return (weights / weights.sum()).astype(np.float32)


def center_rows_dataset(ids: np.ndarray, batch_size: int, skip_window: int, seed: int,
                        subsample_probability: np.ndarray | None = None, *, noise_counts,
                        negatives_per_row: int = 16, row_words: int = 64,
                        chunk_words: int = CHUNK_WORDS) -> tf.data.Dataset:
    """Endless batches for negative sampling, whose pairs are never listed; rows =
    batch_size / row_words rows of consecutive center words, each with:
      spans (rows, row_words + 2 skip_window) int32: the row, and skip_window words of
        context either side (consecutive rows overlap by 2 skip_window words);
      windows (rows, row_words) int32: each center's window, drawn in 1..skip_window;
      negatives (rows, negatives_per_row) int32: the row's own, drawn from
        `noise_distribution(noise_counts)` by inverting its cumulative sum.
    A chunk's words are subsampled anew each pass and cut into rows with `tf.signal.frame`;
    a row is a unit of work, so tf.distribute splits a batch between replicas exactly.
    """
    if skip_window < 1:
        raise ValueError(f"--skip-window must be at least 1, got {skip_window}")
    if batch_size % row_words:
        raise ValueError(f"--batch-size {batch_size} must be a multiple of {row_words}: "
                         f"negative sampling's batches are rows of {row_words} center words")
    kept_words = len(ids) if subsample_probability is None else float(
        np.sum(np.asarray(subsample_probability)[np.asarray(ids)]))
    if kept_words < 2 * batch_size:
        raise ValueError(f"the corpus keeps about {int(kept_words):,} words per pass, too few "
                         f"for batches of {batch_size:,}; lower --batch-size")
    keep = None if subsample_probability is None else tf.constant(subsample_probability)
    cumulative = tf.constant(np.cumsum(noise_distribution(noise_counts)))  # (vocab,)
    span = row_words + 2 * skip_window

    def rows_of(counter, words):
        seeds = tf.random.experimental.stateless_split(
            tf.stack([tf.constant(seed, tf.int64), counter]), num=3)
        spans = tf.signal.frame(subsample(words, keep, seeds[0]), span, row_words)  # (n, span)
        count = tf.shape(spans)[0]
        windows = tf.random.stateless_uniform((count, row_words), seeds[1], minval=1,
                                              maxval=skip_window + 1, dtype=tf.int32)
        uniforms = tf.random.stateless_uniform([count * negatives_per_row], seeds[2])
        negatives = tf.reshape(tf.searchsorted(cumulative, uniforms * cumulative[-1],
                                               side="right", out_type=tf.int32),
                               (count, negatives_per_row))
        return tf.data.Dataset.from_tensor_slices((spans, windows, negatives))

    return (corpus_chunks(ids, chunk_words, seed).flat_map(rows_of)
            .batch(batch_size // row_words, drop_remainder=True).prefetch(tf.data.AUTOTUNE))
