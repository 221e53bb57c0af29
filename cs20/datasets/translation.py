"""English-French sentence pairs from Tatoeba (fra-eng.zip), ready for a seq2seq model.

    corpus = translation.load(data_dir, direction="eng-fra", max_length=10, min_count=2)
    dataset = translation.training_dataset(corpus.train, batch_size=64, seed=42)

The pairs come from the Tatoeba Project via www.manythings.org/anki (CC BY 2.0 FR):
`ATTRIBUTION` must travel with anything built from them. Tokenisation is written with
tf.strings ops so that the data pipeline and the exported translator (a SavedModel that
takes a raw string) split sentences exactly the same way. The split into train,
validation and test is by a hash of the source sentence: deterministic on every machine,
and all translations of one sentence land in the same split, where they become the
references that BLEU compares against.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import itertools
import pathlib
import unicodedata
import zipfile
import zlib

from cs20.datasets import sources

import numpy as np
import tensorflow as tf

ATTRIBUTION = ("English-French pairs: Tatoeba Project (tatoeba.org) via "
               "www.manythings.org/anki, CC BY 2.0 FR")
PAD, BOS, EOS, UNK = "<pad>", "<s>", "</s>", "<unk>"
RESERVED = (PAD, BOS, EOS, UNK)  # ids 0, 1, 2, 3: PAD must be 0 so that padding is zeros
PAD_ID, BOS_ID, EOS_ID, UNK_ID = range(4)
DIRECTIONS = ("eng-fra", "fra-eng")


def tokenize(sentences: tf.Tensor) -> tf.RaggedTensor:
    """(n,) strings -> (n, None) tokens: lower case, punctuation and elisions split off.

    "Je n'ai pas faim !" -> je | n' | ai | pas | faim | !   Letters are matched with
    \\pL (RE2's \\w is ASCII only and would cut "été" apart). French typography puts a
    (narrow) no-break or thin space before ! and ?; it counts as a space.
    """
    text = tf.strings.lower(sentences, encoding="utf-8")
    text = tf.strings.regex_replace(text, r"[\s\x{00a0}\x{2009}\x{202f}]+", " ")
    text = tf.strings.regex_replace(text, r"([^\pL\pN\s'])", r" \1 ")
    text = tf.strings.regex_replace(text, r"([\pL\pN]')", r"\1 ")
    return tf.strings.split(tf.strings.strip(text))


def tokenize_python(sentences: list[str]) -> list[list[str]]:
    """`tokenize` for Python strings (NFC-normalised first: é as one code point)."""
    normalised = [unicodedata.normalize("NFC", sentence) for sentence in sentences]
    if not normalised:
        return []
    tokens = tokenize(tf.constant(normalised)).to_list()
    return [[token.decode("utf-8") for token in sentence] for sentence in tokens]


def detokenize(tokens: list[str]) -> str:
    """Tokens -> readable text: elided words rejoin their neighbour (n' ai -> n'ai)."""
    return " ".join(tokens).replace("' ", "'")


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """Tokens by id: the four reserved tokens first, then by frequency (ties: alphabetical)."""

    tokens: tuple[str, ...]

    @classmethod
    def build(cls, sentences: list[list[str]], min_count: int) -> Vocabulary:
        counts = collections.Counter(token for sentence in sentences for token in sentence)
        kept = sorted((token for token, count in counts.items() if count >= min_count),
                      key=lambda token: (-counts[token], token))
        return cls(RESERVED + tuple(kept))

    @classmethod
    def load(cls, path: pathlib.Path) -> Vocabulary:
        tokens = tuple(path.read_text(encoding="utf-8").split("\n"))
        if tokens[:4] != RESERVED:
            raise ValueError(f"{path} is not a vocabulary file (it must start with "
                             f"{', '.join(RESERVED)})")
        return cls(tokens)

    def save(self, path: pathlib.Path) -> None:
        path.write_text("\n".join(self.tokens), encoding="utf-8")

    def __len__(self) -> int:
        return len(self.tokens)

    @functools.cached_property
    def ids(self) -> dict[str, int]:
        """Token -> id, built once (encoding a split looks up every sentence)."""
        return {token: index for index, token in enumerate(self.tokens)}

    def encode(self, tokens: list[str]) -> list[int]:
        ids = self.ids
        return [ids.get(token, UNK_ID) for token in tokens]

    def decode(self, ids) -> list[str]:
        """Ids -> tokens, stopping at EOS and skipping PAD and BOS."""
        tokens = []
        for index in ids:
            if index == EOS_ID:
                break
            if index not in (PAD_ID, BOS_ID):
                tokens.append(self.tokens[index])
        return tokens

    def unknown(self, tokens: list[str]) -> list[str]:
        ids = self.ids
        return [token for token in tokens if token not in ids]


@dataclasses.dataclass(frozen=True)
class Split:
    """Sentence pairs as token lists; `references` groups targets by identical source."""

    sources: list[list[str]]
    targets: list[list[str]]

    def __len__(self) -> int:
        return len(self.sources)

    def references(self) -> tuple[list[list[str]], list[list[list[str]]]]:
        """(unique sources, all their reference translations), in first-seen order."""
        grouped: dict[tuple, list] = {}
        for source, target in zip(self.sources, self.targets, strict=True):
            grouped.setdefault(tuple(source), []).append(target)
        return [list(source) for source in grouped], list(grouped.values())


@dataclasses.dataclass(frozen=True)
class Corpus:
    train: Split
    validation: Split
    test: Split
    source_vocabulary: Vocabulary
    target_vocabulary: Vocabulary


def read_pairs(path: pathlib.Path) -> list[tuple[str, str]]:
    """(english, french) lines of fra.txt inside the zip, NFC-normalised."""
    with zipfile.ZipFile(path) as archive:
        name = next((n for n in archive.namelist() if n.endswith("fra.txt")), None)
        if name is None:
            raise ValueError(f"{path} has no fra.txt inside; is it the Tatoeba fra-eng.zip?")
        lines = archive.read(name).decode("utf-8").splitlines()
    pairs = []
    for line in lines:
        columns = line.split("\t")
        if len(columns) >= 2:
            pairs.append(tuple(unicodedata.normalize("NFC", c) for c in columns[:2]))
    return pairs


def split_of(source_tokens: list[str], validation_percent: int, test_percent: int) -> str:
    """'train', 'validation' or 'test' from a stable hash (crc32) of the source sentence."""
    bucket = zlib.crc32(" ".join(source_tokens).encode("utf-8")) % 100
    if bucket < test_percent:
        return "test"
    if bucket < test_percent + validation_percent:
        return "validation"
    return "train"


def make_corpus(pairs: list[tuple[str, str]], *, direction: str = "eng-fra",
                max_length: int = 10, min_count: int = 2, validation_percent: int = 5,
                test_percent: int = 5) -> Corpus:
    """Tokenise, keep pairs with at most `max_length` tokens on each side, split, count."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")
    if max_length < 1:
        raise ValueError(f"max_length must be at least 1, got {max_length}")
    if direction == "fra-eng":
        pairs = [(french, english) for english, french in pairs]
    source_tokens = tokenize_python([source for source, _ in pairs])
    target_tokens = tokenize_python([target for _, target in pairs])
    splits = {name: ([], []) for name in ("train", "validation", "test")}
    for source, target in zip(source_tokens, target_tokens, strict=True):
        if 0 < len(source) <= max_length and 0 < len(target) <= max_length:
            name = split_of(source, validation_percent, test_percent)
            splits[name][0].append(source)
            splits[name][1].append(target)
    train = Split(*splits["train"])
    if not train.sources:
        raise ValueError(f"no sentence pair has at most {max_length} tokens on each side")
    return Corpus(train=train, validation=Split(*splits["validation"]),
                  test=Split(*splits["test"]),
                  source_vocabulary=Vocabulary.build(train.sources, min_count),
                  target_vocabulary=Vocabulary.build(train.targets, min_count))


def load(data_dir=None, **options) -> Corpus:
    """fra-eng.zip (found or downloaded by the sources registry) -> a `Corpus`."""
    return make_corpus(read_pairs(sources.resolve("fra_eng", data_dir)), **options)


def encode_split(split: Split, corpus: Corpus) -> tuple[list[list[int]], list[list[int]]]:
    """Source ids, and target ids framed as BOS ... EOS (the decoder's input and output)."""
    source_ids = [corpus.source_vocabulary.encode(tokens) for tokens in split.sources]
    target_ids = [[BOS_ID, *corpus.target_vocabulary.encode(tokens), EOS_ID]
                  for tokens in split.targets]
    return source_ids, target_ids


def ragged(sequences: list[list[int]]) -> tf.RaggedTensor:
    """(n, None) int32: every sequence at its own length."""
    lengths = np.array([len(sequence) for sequence in sequences], np.int64)
    values = np.fromiter(itertools.chain.from_iterable(sequences), np.int32,
                         count=int(lengths.sum()))
    return tf.RaggedTensor.from_row_lengths(values, lengths)


def training_dataset(source_ids: list[list[int]], target_ids: list[list[int]], *,
                     batch_size: int, seed: int) -> tf.data.Dataset:
    """Endless shuffled batches of (source, target), zero-padded, bucketed by length.

    Every epoch visits the pairs in a new uniformly random order. Shuffling pair indices
    over the whole split matters here: fra.txt lists its pairs from the shortest to the
    longest, so a shuffle buffer smaller than the split only mixes a window that slides
    along the file, and the model spends its first thousands of steps on the shortest,
    most ambiguous pairs ("Go." has a dozen translations) without ever seeing a long one;
    it then learns little more than a French language model. An index buffer is also
    small in the checkpoint, which saves it with the iterator.

    Bucketing puts sentences of similar length together, so little of each batch is
    padding. Every batch has exactly `batch_size` pairs (the loss is averaged over the
    global batch, and tf.distribute splits it evenly).
    """
    sources, targets = ragged(source_ids), ragged(target_ids)
    longest = max(max(map(len, source_ids)), max(map(len, target_ids)))
    # Padding every batch up to its bucket's boundary keeps the number of batch shapes
    # (and so of traces of the training step) down to the number of buckets.
    boundaries = sorted({*range(4, longest + 1, 2), longest + 1})
    return (tf.data.Dataset.range(len(source_ids))
            .shuffle(len(source_ids), seed=seed, reshuffle_each_iteration=True)
            .repeat()
            .map(lambda index: (sources[index], targets[index]))
            .bucket_by_sequence_length(
                lambda source, target: tf.maximum(tf.size(source), tf.size(target)),
                bucket_boundaries=boundaries,
                bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
                pad_to_bucket_boundary=True, drop_remainder=True)
            .prefetch(tf.data.AUTOTUNE))


def pad(sequences: list[list[int]], length: int | None = None) -> np.ndarray:
    """(n, length) int32, PAD_ID after each sequence."""
    length = length or max(len(sequence) for sequence in sequences)
    padded = np.full((len(sequences), length), PAD_ID, np.int32)
    for row, sequence in enumerate(sequences):
        padded[row, :len(sequence)] = sequence[:length]
    return padded


def masks(padded: tf.Tensor) -> tf.Tensor:
    """(batch, time) ids -> (batch, time) bool, True on real tokens."""
    return tf.not_equal(padded, PAD_ID)
