"""Lecture 5a's model: skip-gram word2vec's variables, its two sampled losses, the train
step, and what is done with the trained embedding.

1. skip-gram pairs: each word predicts its neighbours. `window_pairs` makes one window's;
   data.py's `skip_gram_dataset` makes the whole corpus's with TensorFlow ops in tf.data;
2. `SkipGram` holds three variables: the embedding (vocab, embedding) that we keep, and
   the NCE output weights (vocab, embedding) and biases (vocab,) that only serve the loss.
   `tf.nn.embedding_lookup` reads the centers' rows; `tf.nn.nce_loss` scores each context
   against 64 Zipf-drawn negatives (`sample_negatives`), no softmax (`batch_losses`);
3. `--loss negative_sampling`, word2vec.c's loss, lists no pairs: `row_losses` scores
   every pair of a row of consecutive centers with one batched matmul;
4. the train step (`make_train_step`): SGD changes only the rows the step touched
   (`scaled_by_row_counts`: --row-power P divides a word's rows by their count^P);
5. the vectors kept (`kept_vectors`): a word's input row (the course), or its input row
   plus its output row (GloVe's choice).
Around it: `print_worked_example`, the summaries (histograms, probe words' neighbours),
the projector, and the scores (evaluation.py) at the end or of a saved run (`evaluate_saved`).
"""

from __future__ import annotations

import math
import pathlib

from cs20 import cli, runtime, summaries
from lectures.l05_word2vec import data, evaluation
from lectures.l05_word2vec.config import EMBEDDING_INITS, KEPT_VECTORS, Config

import keras
import numpy as np
import tensorflow as tf

# 1. Skip-gram pairs.

def window_pairs(words, center: int, skip_window: int) -> list[tuple]:
    """The (center, context) pairs of one window: the center word with each word up to
    `skip_window` away, left ones first (the course's order)."""
    offsets = [*range(-skip_window, 0), *range(1, skip_window + 1)]
    return [(words[center], words[center + offset]) for offset in offsets
            if 0 <= center + offset < len(words)]


# 2. The variables, the embedding lookup, and NCE with its sampler.

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


def sample_negatives(contexts, num_sampled: int, vocab_size: int, seed: int | None = None):
    """NCE's negatives, shared by all the batch's pairs: (sampled ids (num_sampled,), the
    expected count among the draws of each true context (batch, 1) and of each sampled id).
    Distinct and log-uniform, as ids are by frequency (Zipf's law)."""
    return tf.random.log_uniform_candidate_sampler(
        true_classes=tf.cast(contexts[:, None], tf.int64), num_true=1, num_sampled=num_sampled,
        unique=True, range_max=vocab_size, seed=seed)


# 3. Negative sampling on rows of centers.

def row_losses(model: SkipGram, spans, windows, negatives,
               negatives_per_pair: float = 5.0):
    """Negative sampling on rows of consecutive centers -> ((rows, row) each center's summed
    pair losses, (rows, row) its number of pairs). `data.center_rows_dataset` gives
    spans (rows, row + 2 w): a row's words with w more either side; windows (rows, row);
    negatives (rows, K): the row's own. No pair is listed: one batched matmul scores each
    center against its row's span (a mask keeps its window), another against the row's
    negatives. A pair's loss is -log sigmoid(true logit) - k * mean_j log sigmoid(-logit of
    negative j); a logit is w.x + b (NCE's, without its -log Q)."""
    row = int(windows.shape[1])
    skip_window = (int(spans.shape[1]) - row) // 2
    centers_at = tf.range(skip_window, skip_window + row)  # (row,) the centers' places
    offsets = tf.range(row + 2 * skip_window)[None, :] - centers_at[:, None]  # (row, span)
    is_pair = (offsets != 0) & (tf.abs(offsets) <= windows[:, :, None])  # (rows, row, span)
    embedded = tf.nn.embedding_lookup(model.embedding.value,
                                      spans[:, skip_window:skip_window + row])  # (rows, row, emb)
    true_logits, sampled_logits = (  # (rows, row, span), (rows, row, K)
        tf.matmul(embedded, tf.nn.embedding_lookup(model.nce_weights.value, ids), transpose_b=True)
        + tf.gather(model.nce_biases.value, ids)[:, None, :] for ids in (spans, negatives))
    pairs = tf.reduce_sum(tf.cast(is_pair, tf.float32), axis=-1)  # (rows, row)
    # softplus(-z) = -log sigmoid(z), computed without overflow.
    true_terms = tf.reduce_sum(tf.where(is_pair, tf.nn.softplus(-true_logits), 0.0), axis=-1)
    negative_terms = negatives_per_pair * tf.reduce_mean(tf.nn.softplus(sampled_logits), -1)
    return true_terms + pairs * negative_terms, pairs


def batch_losses(model: SkipGram, batch, negatives, cfg: Config):
    """(batch,) losses: of each (center, context) pair, or with negative_sampling of each
    center of a row (the sum over its pairs)."""
    if cfg.loss == "negative_sampling":  # the batch holds its negatives
        return tf.reshape(row_losses(model, *batch, cfg.negatives_per_pair)[0], (-1,))
    centers, contexts = batch  # (batch,) ids each
    # `.value` is the tf.Variable itself: gathering from it reads only the rows needed
    # (a Keras variable is read whole, and the sparse update then copies all of it).
    embedded = tf.nn.embedding_lookup(model.embedding.value, centers)  # (batch, embedding)
    labels = tf.cast(contexts[:, None], tf.int64)  # (batch, 1)
    return tf.nn.nce_loss(weights=model.nce_weights.value,  # (vocab, embedding)
                          biases=model.nce_biases.value, labels=labels, inputs=embedded,
                          num_sampled=int(negatives[0].shape[0]), num_classes=model.vocab_size,
                          sampled_values=negatives)


# 4. The train step.

def scaled_by_row_counts(gradients, power: float):
    """Each row of a sparse gradient (tf.IndexedSlices) divided by count^power, where count
    is how many rows of the *global* batch update the same word (summed over replicas, so
    the update does not depend on their number). power 0: plain batched SGD, which sums a
    frequent word's rows into one large step; 1: their mean; dense gradients unchanged."""
    context = tf.distribute.get_replica_context()
    scaled = []
    for gradient in gradients:
        if isinstance(gradient, tf.IndexedSlices):
            rows = tf.math.unsorted_segment_sum(tf.ones_like(gradient.indices, tf.float32),
                                                gradient.indices, gradient.dense_shape[0])
            rows = context.all_reduce(tf.distribute.ReduceOp.SUM, rows)  # (vocab,)
            scale = tf.gather(rows, gradient.indices) ** -power  # (rows,)
            scale = tf.reshape(scale, [-1] + [1] * (gradient.values.shape.rank - 1))
            gradient = tf.IndexedSlices(gradient.values * scale, gradient.indices,
                                        gradient.dense_shape)
        scaled.append(gradient)
    return scaled


def make_train_step(model: SkipGram, optimizer, cfg: Config):
    """A per-replica step: a batch -> {"loss"}, the mean per pair (a center of a row counts
    as skip_window + 1 pairs). --jit-compile compiles the loss and its gradients only (XLA
    has no sampler kernel). NCE's sampler op seed (--seed) makes every replica draw the
    negatives a single device would."""
    by_rows = cfg.loss == "negative_sampling"
    expected_pairs = cfg.batch_size * (cfg.skip_window + 1 if by_rows else 1)  # global

    def loss_and_gradients(batch, negatives):
        with tf.GradientTape() as tape:
            losses = batch_losses(model, batch, negatives, cfg)
            batch_loss = tf.nn.compute_average_loss(losses, global_batch_size=expected_pairs)
        return batch_loss, tape.gradient(batch_loss, model.trainable_variables)

    if cfg.jit_compile:
        loss_and_gradients = tf.function(loss_and_gradients, jit_compile=True)

    def train_step(batch):  # (centers, contexts), or rows' (spans, windows, negatives)
        with tf.name_scope("loss"):
            negatives = None if by_rows else sample_negatives(batch[1], cfg.num_sampled,
                                                              model.vocab_size, cfg.seed)
            batch_loss, gradients = loss_and_gradients(batch, negatives)
        if cfg.row_power:  # a frequent word's many rows would add up to one overlong step
            gradients = scaled_by_row_counts(gradients, cfg.row_power)
        # Outside the compiled function: under tf.distribute, applying gradients
        # all-reduces them across replicas, which a nested tf.function cannot do.
        with tf.name_scope("optimizer"):
            optimizer.apply(gradients, model.trainable_variables)  # IndexedSlices: rows only
        return {"loss": batch_loss}

    return train_step


# 5. The vectors kept.

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


# Around the lesson: the worked example, the summaries, the projector and the scores.

def print_worked_example(words, vocabulary, batch, negatives, cfg: Config) -> None:
    """Five pairs of the corpus's first words, and the negatives of a batch (NCE's) or of
    its first row (negative sampling's, drawn by the dataset)."""
    index, first = vocabulary.index(), words[:8]
    print(f"Worked example: pairs (skip window 1) of \"{' '.join(first)} ...\"")
    for center, context in [pair for i in range(4) for pair in window_pairs(first, i, 1)][:5]:
        print(f"  {center} ({index.get(center, 0)}) -> {context} ({index.get(context, 0)})")
    if negatives is None:
        owner, sampled = f"the first row of {len(batch[2])}", batch[2][0].numpy()
        expected = len(sampled) * data.noise_distribution(vocabulary.counts)[sampled]
    else:
        owner, sampled, expected = f"the {cfg.batch_size} pairs", *negatives[0:3:2]
    print(f"Negatives of {owner} ({len(sampled)}), each with its expected count among the "
          "draws:\n  " + ", ".join(f"{vocabulary.words[i]} {float(n):.3f}"
                                   for i, n in zip(sampled[:6], expected[:6], strict=True)))


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
        text = evaluation.neighbours_markdown(evaluation.normalized(embedding), words,
                                              probe_ids)
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
    scores = evaluation.evaluate(evaluation.normalized(embedding), vocabulary.index(),
                                 run.config.data_dir, similarity_file)
    summaries.scalars(run.writer, scores, step, prefix="eval/")
    if run.chief and num_visualize:
        print(write_projector(run.directory, embedding, vocabulary.words, num_visualize))
    return {f"eval/{name}": value for name, value in scores.items()}


def evaluate_saved(run_dir: str, kept: str, data_dir, similarity_file: str = "") -> dict:
    """--evaluate: the scores of a trained run's newest checkpoint, with the vectors `kept`
    (analogies, WordSim-353, the optional similarity file). Reads the run directory and
    writes nothing to it, so another --vectors or similarity file costs no training."""
    if not run_dir:
        raise ValueError("--evaluate needs --run-dir of a trained run")
    checkpoint = tf.train.latest_checkpoint(str(pathlib.Path(run_dir) / "checkpoints"))
    if checkpoint is None:
        raise FileNotFoundError(f"no checkpoint in {run_dir}: train first with "
                                f"{cli.lecture_command('l05_word2vec')} --run-dir {run_dir}")
    reader = tf.train.load_checkpoint(checkpoint)
    embedding, output = (reader.get_tensor(f"model/{name}/.ATTRIBUTES/VARIABLE_VALUE")
                         for name in ("embedding", "nce_weights"))
    vocabulary = data.Vocabulary.load_tsv(pathlib.Path(run_dir) / "vocab.tsv")
    scores = evaluation.evaluate(evaluation.normalized(kept_vectors(embedding, output, kept)),
                                 vocabulary.index(), data_dir, similarity_file)
    print(f"Scores of {checkpoint} ({kept} rows):{runtime.format_table(scores)}")
    return scores
