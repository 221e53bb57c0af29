"""A word corpus -> vocabulary -> skip-gram (center, context) batches in tf.data.

    words = text_corpus.read_words(path)              # text8.zip, or any UTF-8 text file
    vocabulary = text_corpus.build_vocabulary(words, 50000)
    ids = vocabulary.to_ids(words)                     # (num_words,) int32, 0 = UNK
    dataset = text_corpus.skip_gram_dataset(ids, batch_size=128, skip_window=1, seed=42)

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
import zipfile

from cs20.datasets import sources

import numpy as np
import tensorflow as tf

UNK = "UNK"
CHUNK_WORDS = 100_000


def resolve_corpus(name_or_path: str, data_dir=None) -> pathlib.Path:
    """--corpus: a registered data file (`text8_prefix`, found as every data file is) or a path."""
    if name_or_path in sources.REGISTRY:
        return sources.resolve(name_or_path, data_dir)
    return pathlib.Path(name_or_path)


def read_text(path: str | pathlib.Path) -> str:
    """The text of a plain file, or of the first member of a .zip (text8.zip).

    A file that is empty, contains NUL bytes (binary data) or is not valid UTF-8 is an
    error naming the file and the byte offset, never decoded with silent replacements.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"corpus {path} does not exist")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if not names:
                raise ValueError(f"corpus {path} is an empty zip archive")
            raw = archive.read(names[0])
    else:
        raw = path.read_bytes()
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise ValueError(f"corpus {path} looks binary (NUL byte at offset {nul}); "
                         f"pass a plain-text file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"corpus {path} is not UTF-8 text (invalid byte at offset "
                         f"{error.start}); convert it, e.g. with iconv -f latin1 -t utf-8") from None


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


def chunk_pairs(ids, skip_window: int, seed, keep_probability=None, shuffle: bool = True,
                by_center: bool = False):
    """Skip-gram pairs of one chunk of word ids -> (centers, contexts), each (pairs,) int32.

    `seed` is a (2,) int tensor for the stateless random ops. For each position i a
    window w_i is drawn in 1..skip_window; (ids[i], ids[i + o]) is a pair for every
    offset o in -w_i..-1, 1..w_i that stays inside the chunk, in that order (the
    course's order) unless `shuffle`: all pairs shuffled, or with `by_center` the
    centers shuffled, each one's pairs kept together (a step can then share work per center).
    """
    seeds = tf.random.experimental.stateless_split(seed, num=3)
    if keep_probability is not None:
        draws = tf.random.stateless_uniform(tf.shape(ids), seeds[0])  # (words,)
        ids = tf.boolean_mask(ids, draws < tf.gather(keep_probability, ids))
    count = tf.size(ids)
    windows = tf.random.stateless_uniform([count], seeds[1], minval=1, maxval=skip_window + 1,
                                          dtype=tf.int32)  # (words,)
    offsets = tf.concat([tf.range(-skip_window, 0), tf.range(1, skip_window + 1)], 0)  # (2w,)
    positions = tf.range(count)[:, None] + offsets[None, :]  # (words, 2w)
    valid = ((tf.abs(offsets)[None, :] <= windows[:, None])
             & (positions >= 0) & (positions < count))  # (words, 2w)
    centers = tf.broadcast_to(ids[:, None], tf.shape(positions))  # (words, 2w)
    if shuffle and by_center:
        order = tf.random.experimental.stateless_shuffle(tf.range(count), seeds[2])
        centers, positions, valid = (tf.gather(value, order) for value in
                                     (centers, positions, valid))
    centers = tf.boolean_mask(centers, valid)  # (pairs,)
    contexts = tf.gather(ids, tf.boolean_mask(positions, valid))  # (pairs,)
    if shuffle and not by_center:
        order = tf.random.experimental.stateless_shuffle(tf.range(tf.size(centers)), seeds[2])
        centers, contexts = tf.gather(centers, order), tf.gather(contexts, order)
    return centers, contexts


def skip_gram_dataset(ids: np.ndarray, batch_size: int, skip_window: int, seed: int,
                      subsample_probability: np.ndarray | None = None,
                      chunk_words: int = CHUNK_WORDS, shuffle: bool = True,
                      by_center: bool = False) -> tf.data.Dataset:
    """Endless ((batch,) centers, (batch,) contexts) int32 batches over the corpus.

    Each pass visits the chunks in a new order (shuffle + repeat reshuffles every pass);
    the pairs of all chunks flow into fixed-size batches with `rebatch`, which slices
    tensors instead of handling one pair at a time.
    """
    if skip_window < 1:
        raise ValueError(f"--skip-window must be at least 1, got {skip_window}")
    corpus = tf.constant(ids, tf.int32)  # (num_words,)
    num_chunks = -(-len(ids) // chunk_words)
    keep = None if subsample_probability is None else tf.constant(subsample_probability)

    def pairs_of(counter, chunk):
        start = chunk * chunk_words
        words = corpus[start:start + chunk_words]  # (chunk_words,), shorter at the end
        chunk_seed = tf.stack([tf.constant(seed, tf.int64), counter])
        return chunk_pairs(words, skip_window, chunk_seed, keep, shuffle, by_center)

    chunks = tf.data.Dataset.range(num_chunks)
    if shuffle:
        chunks = chunks.shuffle(num_chunks, seed=seed, reshuffle_each_iteration=True)
    return (chunks.repeat().enumerate()
            .map(pairs_of, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .rebatch(batch_size, drop_remainder=True)
            .prefetch(tf.data.AUTOTUNE))
