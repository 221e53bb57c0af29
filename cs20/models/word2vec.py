"""Skip-gram word2vec's variables and what is done with the trained embedding.

`SkipGram` holds three variables: the embedding matrix (vocab, embedding) that we keep,
and the NCE output weights (vocab, embedding) and biases (vocab,) that only serve the
loss. The lookup, the NCE loss with its sampler and the train step are the lesson of
lectures/l05_word2vec.py. Nearest neighbours and analogies work on the embedding's unit
rows (`normalized`).
"""

from __future__ import annotations

import math
import pathlib

from cs20 import runtime, summaries
from cs20.datasets import text_corpus
from cs20.metrics import word_vectors

import keras
import numpy as np
import tensorflow as tf

EMBEDDING_INITS = ("course", "word2vec")
KEPT_VECTORS = ("input", "input+output")


class SkipGram(keras.Model):
    """The embedding plus the NCE output layer's weights and biases (no forward pass: the
    lecture looks rows up with `tf.nn.embedding_lookup`)."""

    def __init__(self, vocab_size: int, embedding_size: int, embedding_init: str = "course",
                 seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if embedding_init not in EMBEDDING_INITS:
            raise ValueError(f"--embedding-init must be one of {', '.join(EMBEDDING_INITS)}, "
                             f"not {embedding_init!r}")
        self.vocab_size = vocab_size
        self.embedding_size = embedding_size
        # The course: uniform in [0, 1) (TF 1's random_uniform_initializer default), so all
        # vectors start in one corner. word2vec.c: uniform in +-0.5 / embedding_size.
        if embedding_init == "course":
            initializer = keras.initializers.RandomUniform(0.0, 1.0, seed=seed)
        else:
            limit = 0.5 / embedding_size
            initializer = keras.initializers.RandomUniform(-limit, limit, seed=seed)
        self.embedding = self.add_weight(shape=(vocab_size, embedding_size), name="embedding",
                                         initializer=initializer)
        self.nce_weights = self.add_weight(
            shape=(vocab_size, embedding_size), name="nce_weights",
            initializer=keras.initializers.TruncatedNormal(
                stddev=1.0 / math.sqrt(embedding_size),
                seed=None if seed is None else seed + 1))
        self.nce_biases = self.add_weight(shape=(vocab_size,), name="nce_biases",
                                          initializer="zeros")


def kept_vectors(embedding: np.ndarray, output: np.ndarray, kept: str) -> np.ndarray:
    """(vocab, embedding) vectors a word keeps after training, from the trained `embedding`
    and output weights `output` (both (vocab, embedding)). "input": its embedding row, the
    course's (it is what `tf.nn.embedding_lookup` reads for a center). "input+output":
    that row plus the word's output row (trained as a context): GloVe keeps this sum, and
    Levy, Goldberg and Dagan (2015) found it helps skip-gram's vectors too, at no cost in
    training."""
    if kept not in KEPT_VECTORS:
        raise ValueError(f"--vectors must be one of {', '.join(KEPT_VECTORS)}, not {kept!r}")
    return embedding + output if kept == "input+output" else embedding


def evaluate_saved(run_dir: str, kept: str, data_dir, similarity_file: str = "") -> dict:
    """--evaluate: the scores of a trained run's newest checkpoint, with the vectors `kept`
    (analogies, WordSim-353, the optional similarity file). Reads the run directory and
    writes nothing to it, so another --vectors or similarity file costs no training."""
    if not run_dir:
        raise ValueError("--evaluate needs --run-dir of a trained run")
    checkpoint = tf.train.latest_checkpoint(str(pathlib.Path(run_dir) / "checkpoints"))
    if checkpoint is None:
        raise FileNotFoundError(f"no checkpoint in {run_dir}: train first with "
                                f"python lectures/l05_word2vec.py --run-dir {run_dir}")
    reader = tf.train.load_checkpoint(checkpoint)
    embedding, output = (reader.get_tensor(f"model/{name}/.ATTRIBUTES/VARIABLE_VALUE")
                         for name in ("embedding", "nce_weights"))
    vocabulary = text_corpus.Vocabulary.load_tsv(pathlib.Path(run_dir) / "vocab.tsv")
    scores = word_vectors.evaluate(normalized(kept_vectors(embedding, output, kept)),
                                   vocabulary.index(), data_dir, similarity_file)
    print(f"Scores of {checkpoint} ({kept} rows):{runtime.format_table(scores)}")
    return scores


def normalized(embedding: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, so a dot product is a cosine similarity."""
    norms = np.linalg.norm(embedding, axis=1, keepdims=True)
    return embedding / np.maximum(norms, 1e-12)


def nearest_neighbours(unit_embedding: np.ndarray, query_ids, count: int = 8,
                       exclude_unk: bool = True) -> np.ndarray:
    """(queries, count) ids of the most cosine-similar words, the query itself left out."""
    similarity = unit_embedding[np.asarray(query_ids)] @ unit_embedding.T  # (queries, vocab)
    similarity[np.arange(len(query_ids)), query_ids] = -np.inf
    if exclude_unk:
        similarity[:, 0] = -np.inf
    return np.argsort(-similarity, axis=1)[:, :count]


def neighbours_markdown(unit_embedding: np.ndarray, words, probe_ids) -> str:
    """One line per probe word, `**word**: neighbour, neighbour, ...` (TensorBoard text)."""
    nearest = nearest_neighbours(unit_embedding, probe_ids)
    return "\n\n".join(f"**{words[probe]}**: " + ", ".join(words[neighbour] for neighbour in row)
                       for probe, row in zip(probe_ids, nearest, strict=True))


def analogy(unit_embedding: np.ndarray, a_ids, b_ids, c_ids) -> np.ndarray:
    """a : b :: c : ?  -> (questions,) ids of argmax cos(x, b - a + c), with a, b, c and
    UNK (id 0) excluded: Mikolov's 3CosAdd, as word2vec's compute-accuracy and gensim."""
    a_ids, b_ids, c_ids = (np.asarray(ids) for ids in (a_ids, b_ids, c_ids))
    targets = unit_embedding[b_ids] - unit_embedding[a_ids] + unit_embedding[c_ids]
    similarity = targets @ unit_embedding.T  # (questions, vocab)
    rows = np.arange(len(a_ids))
    for ids in (a_ids, b_ids, c_ids, np.zeros_like(a_ids)):
        similarity[rows, ids] = -np.inf
    return np.argmax(similarity, axis=1)


def write_summaries(writer, step: int, embedding: np.ndarray, pair_losses, vocabulary,
                    probe_words) -> str:
    """Histograms of one fixed batch's per-pair losses and of the rows' norms, and the
    nearest neighbours of the probe words in the vocabulary (Text tab); returns the
    neighbours as plain text."""
    index = vocabulary.index()
    probe_ids = [index[word] for word in probe_words if word in index]
    words = vocabulary.words
    with writer.as_default(step=step):
        tf.summary.histogram("train/pair_loss", pair_losses)
        tf.summary.histogram("train/embedding_norm", np.linalg.norm(embedding, axis=1))
        if not probe_ids:
            return ""
        text = neighbours_markdown(normalized(embedding), words, probe_ids)
        tf.summary.text("train/nearest_neighbours", text)
    return text.replace("**", "").replace("\n\n", "\n")


def write_projector(directory, embedding: np.ndarray, words, count: int) -> str:
    """The `count` most frequent words' vectors for the Projector tab (and for
    projector.tensorflow.org); returns a line saying where they are."""
    count = min(count, len(words))
    files = summaries.projector(directory, "embedding", embedding[:count], list(words[:count]))
    return (f"Projector: {files['config']} ({count} words); vectors.tsv and metadata.tsv "
            f"for projector.tensorflow.org")


def evaluate_and_export(run, embedding: np.ndarray, vocabulary, step: int,
                        num_visualize: int, similarity_file: str = "") -> dict:
    """Scores the final embedding (analogies, WordSim-353 and the optional similarity file:
    eval/ scalars at `step`) and, on the chief, writes the `num_visualize` most frequent
    words for the Projector; returns the scores as {"eval/<name>": value}."""
    scores = word_vectors.evaluate(normalized(embedding), vocabulary.index(), run.config.data_dir,
                                   similarity_file)
    summaries.scalars(run.writer, scores, step, prefix="eval/")
    if run.chief and num_visualize:
        print(write_projector(run.directory, embedding, vocabulary.words, num_visualize))
    return {f"eval/{name}": value for name, value in scores.items()}
