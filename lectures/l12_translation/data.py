"""Lecture 12's data: sentence pairs of a tab-separated parallel file, ready for a
seq2seq model.

    from lectures.l12_translation import data
    corpus = data.load(data_dir, max_length=10, min_count=2)   # Tatoeba eng-fra
    corpus = data.load(corpus="deu.txt", reverse=True)         # German -> English
    dataset = data.training_dataset(*data.encode_split(corpus.train, corpus),
                                    batch_size=64, seed=42)

The default pairs are English-French from the Tatoeba Project via www.manythings.org/anki
(CC BY 2.0 FR): `ATTRIBUTION` must travel with anything built from them. Any other file
with one pair a line, "source<TAB>target", optionally followed by a third column (the
attribution of manythings.org's newer files), works too, plain or as a manythings zip.

Tokenisation is written with tf.strings ops so that the data pipeline and the exported
translator (a SavedModel that takes a raw string) split sentences exactly the same way;
it lower-cases and splits punctuation off ("Montrez-moi !" -> montrez - moi !). Going
back to written text (`Orthography`) undoes that the way the training sentences are
written: their usual capitalisation of each word, a capital first letter, and spaces
around punctuation as the language puts them ("Montrez-moi !" in French, "Show me!" in
English). The split into train, validation and test is by a hash of the source
sentence: deterministic on every machine, and all translations of one sentence land in
the same split, where they become the references that BLEU compares against.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import itertools
import pathlib
import re
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


# What `tokenize` keeps together as a word, and what it splits off as a token of its own
# (Python's \w is letters, digits and _; RE2's \pL\pN leaves _ out).
WORD = re.compile(r"[^\W_]+")
MARK = re.compile(r"[^\w\s'\"]|_")  # not the straight quote, which opens and closes
# A sentence's first word, with what precedes it: the line's start or an end of sentence
# and a space, then any marks ("« Tom", "¿Dónde").
FIRST_WORDS = re.compile(r"(^|[.!?…] )([^\w\n]*)[^\W_]+", re.MULTILINE)


def _character_class(characters: str) -> str:
    """An RE2 character class matching exactly `characters` (which are not empty)."""
    return "[" + re.escape(characters) + "]"


def capitalize_first_word(words: tf.Tensor) -> tf.Tensor:
    """(n,) words -> the same with the first word (not a mark) starting with a capital;
    <unk> counts as a word and stays as it is, as does a number."""
    is_word = tf.strings.regex_full_match(words, r"[\pL\pN<].*")
    first = tf.argmax(tf.concat([tf.cast(is_word, tf.int32), [1]], 0))  # n when none
    padded = tf.concat([words, [""]], 0)  # (n + 1,), so that `first` = n is an index
    word = padded[first]
    capital = tf.strings.upper(tf.strings.substr(word, 0, 1, unit="UTF8_CHAR"),
                               encoding="utf-8")
    rest = tf.strings.regex_replace(word, "^.", "")  # RE2's . is one UTF-8 character
    return tf.tensor_scatter_nd_update(padded, [[first]], [capital + rest])[:-1]


def detokenize_words(words: tf.Tensor, joins_left: str, joins_right: str) -> tf.Tensor:
    """(n,) words -> written text, a scalar string.

    The first word gets a capital; elided words rejoin the next one (n' ai -> n'ai),
    marks in `joins_left` lose the space before them and marks in `joins_right` the
    space after them ("montrez - moi ." -> "montrez-moi."), and each pair of straight
    quotes hugs what it quotes. tf.strings ops, so that the SavedModel translator writes
    exactly what the lecture prints.
    """
    text = tf.strings.reduce_join(capitalize_first_word(words), separator=" ")
    text = tf.strings.regex_replace(text, "' ", "'")
    if joins_left:
        text = tf.strings.regex_replace(text, " (" + _character_class(joins_left) + ")", r"\1")
    if joins_right:
        text = tf.strings.regex_replace(text, "(" + _character_class(joins_right) + ") ", r"\1")
    return tf.strings.regex_replace(text, r'" ?([^"]*?) ?"', r'"\1"')


@dataclasses.dataclass(frozen=True)
class Orthography:
    """How one side of a corpus writes what `tokenize` took apart, learnt from its
    training sentences (so it fits the language of any --corpus):

    `cased` maps a lower-cased word to its usual written form away from the start of a
    sentence ("tom" -> "Tom", "i" -> "I"); `joins_left` holds the marks written with no
    space before them (English "?" and "!", the hyphen) and `joins_right` those with no
    space after them (the hyphen, "¿", "("). French writes "Va !" with a space, so its
    "!" does not join left.
    """

    cased: dict[str, str]
    joins_left: str
    joins_right: str

    @classmethod
    def learn(cls, sentences: list[str], sample: int = 50_000) -> Orthography:
        """From every k-th sentence, `sample` of them at most: a second per side instead
        of several for all of Tatoeba, and names that occur only once are not in the
        vocabulary anyway."""
        sentences = sentences[::max(1, len(sentences) // sample)]
        # One string, one sentence a line, every other kind of space (U+202F too) as " ":
        # the regular expressions below then count in C, not in a Python loop.
        text = re.sub(r"[^\S\n]+", " ", "\n".join(sentences))
        # A sentence's first word is capitalised whatever it is: count the others.
        inner = FIRST_WORDS.sub(r"\1\2", text)
        forms: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        for form, count in collections.Counter(WORD.findall(inner)).items():
            forms[form.lower()][form] = count
        cased = {word: counts.most_common(1)[0][0] for word, counts in sorted(forms.items())
                 if counts.most_common(1)[0][0] != word}

        def joining(next_to_word: str, next_to_space: str) -> str:
            joined = collections.Counter(re.findall(next_to_word, text))
            spaced = collections.Counter(re.findall(next_to_space, text))
            return "".join(sorted(mark for mark in joined if joined[mark] > spaced[mark]))

        mark = f"({MARK.pattern})"
        return cls(cased, joins_left=joining(r"(?<=[^\W_])" + mark, "(?<= )" + mark),
                   joins_right=joining(mark + r"(?=[^\W_])", mark + "(?= )"))

    def written(self, token: str) -> str:
        """A token in its usual case ("tom'" of "Tom's" -> "Tom'")."""
        stem = token.rstrip("'")
        return self.cased.get(stem, stem) + token[len(stem):]

    def detokenize(self, tokens: list[str]) -> str:
        """Tokens -> written text ("montrez - moi !" -> "Montrez-moi !")."""
        words = tf.constant([self.written(token) for token in tokens], tf.string)
        return detokenize_words(words, self.joins_left, self.joins_right).numpy().decode("utf-8")


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
    source_orthography: Orthography
    target_orthography: Orthography


def _corpus_text(path: pathlib.Path) -> str:
    """The text of a plain file, or of the one sentence file of a manythings.org zip
    (fra-eng.zip holds fra-eng/fra.txt and fra-eng/_about.txt)."""
    if path.is_dir():
        raise ValueError(f"corpus {path} is a folder; give the tab-separated file itself")
    if not path.is_file():
        raise FileNotFoundError(f"corpus {path} does not exist")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = [name for name in archive.namelist() if name.endswith(".txt")
                     and not pathlib.PurePosixPath(name).name.startswith("_")]
            if len(names) != 1:
                raise ValueError(f"corpus {path} must hold exactly one .txt file of sentence "
                                 f"pairs (not counting _about.txt), found {len(names)}")
            raw = archive.read(names[0])
    else:
        raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[:error.start].count(b"\n") + 1
        raise ValueError(f"corpus {path}, line {line}: not UTF-8 text; convert it, e.g. with "
                         f"iconv -f latin1 -t utf-8") from None


def read_pairs(path) -> list[tuple[str, str]]:
    """(first column, second column) of every line of a tab-separated parallel file,
    NFC-normalised. A third column (manythings.org's attribution) is ignored; blank
    lines are skipped; any other line is an error naming its number."""
    path = pathlib.Path(path)
    pairs = []
    for number, line in enumerate(_corpus_text(path).split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        columns = line.split("\t")
        if len(columns) not in (2, 3) or not columns[0].strip() or not columns[1].strip():
            raise ValueError(f"corpus {path}, line {number}: expected a sentence, a tab and its "
                             f"translation (and optionally a tab and an attribution), got "
                             f"{line[:70]!r}")
        pairs.append(tuple(unicodedata.normalize("NFC", column) for column in columns[:2]))
    if not pairs:
        raise ValueError(f"corpus {path} has no sentence pairs")
    return pairs


def split_of(source_tokens: list[str], validation_percent: int, test_percent: int) -> str:
    """'train', 'validation' or 'test' from a stable hash (crc32) of the source sentence."""
    bucket = zlib.crc32(" ".join(source_tokens).encode("utf-8")) % 100
    if bucket < test_percent:
        return "test"
    if bucket < test_percent + validation_percent:
        return "validation"
    return "train"


def make_corpus(pairs: list[tuple[str, str]], *, reverse: bool = False, max_length: int = 10,
                min_count: int = 2, validation_percent: int = 5,
                test_percent: int = 5) -> Corpus:
    """Tokenise, keep pairs with at most `max_length` tokens on each side, split, count.

    Each pair translates its first sentence into its second, or the other way round
    with `reverse`.
    """
    if max_length < 1:
        raise ValueError(f"max_length must be at least 1, got {max_length}")
    if reverse:
        pairs = [(second, first) for first, second in pairs]
    source_tokens = tokenize_python([source for source, _ in pairs])
    target_tokens = tokenize_python([target for _, target in pairs])
    splits = {name: ([], []) for name in ("train", "validation", "test")}
    train_pairs = []  # as written, to learn each side's orthography from
    for pair, source, target in zip(pairs, source_tokens, target_tokens, strict=True):
        if 0 < len(source) <= max_length and 0 < len(target) <= max_length:
            name = split_of(source, validation_percent, test_percent)
            splits[name][0].append(source)
            splits[name][1].append(target)
            if name == "train":
                train_pairs.append(pair)
    train = Split(*splits["train"])
    if not train.sources:
        raise ValueError(f"no sentence pair has at most {max_length} tokens on each side")
    return Corpus(train=train, validation=Split(*splits["validation"]),
                  test=Split(*splits["test"]),
                  source_vocabulary=Vocabulary.build(train.sources, min_count),
                  target_vocabulary=Vocabulary.build(train.targets, min_count),
                  source_orthography=Orthography.learn([source for source, _ in train_pairs]),
                  target_orthography=Orthography.learn([target for _, target in train_pairs]))


def corpus_path(corpus: str = "", data_dir=None) -> pathlib.Path:
    """--corpus FILE, or Tatoeba's fra-eng.zip (found or downloaded by the sources registry)."""
    return pathlib.Path(corpus) if corpus else sources.resolve("fra_eng", data_dir)


def load(data_dir=None, corpus: str = "", **options) -> Corpus:
    """The pairs of `corpus_path(corpus, data_dir)` -> a `Corpus`."""
    return make_corpus(read_pairs(corpus_path(corpus, data_dir)), **options)


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
