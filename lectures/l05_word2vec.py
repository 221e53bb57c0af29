"""Lecture 5a: word2vec skip-gram with NCE loss, and the tools to manage the experiment.

The course's 04_word2vec.py trains a 50,000 x 128 embedding on text8. The lesson:
1. skip-gram pairs: each word predicts its neighbours. `window_pairs` makes one window's;
   `text_corpus.skip_gram_dataset` makes the whole corpus's with TensorFlow ops in tf.data;
2. `tf.nn.embedding_lookup` reads the centers' rows; `tf.nn.nce_loss` scores each context
   against 64 Zipf-drawn negatives (`tf.random.log_uniform_candidate_sampler`), no softmax;
3. `--loss negative_sampling`, word2vec.c's loss, lists no pairs: `row_losses` scores
   every pair of a row of consecutive centers with one batched matmul;
4. the train step: SGD changes only the rows the step touched (--row-power P divides a
   word's rows by their count^P: --preset fast uses 0.75);
5. the vectors kept: a word's input row (the course), or `--vectors input+output`, its
   input row plus its output row (GloVe's choice; --preset fast uses it).
Around it: name scopes, checkpoints and resuming (the same --run-dir), histograms, probe
words' neighbours, the projector, analogies and WordSim-353 at the end (results.json).

    python lectures/l05_word2vec.py                  # the course's settings, text8_prefix.txt
    python lectures/l05_word2vec.py --preset fast    # word2vec.c's recipe, batched: beats gensim
    python lectures/l05_word2vec.py --corpus path/to/text8.zip   # the full text8
    python lectures/l05_word2vec.py --similarity-file pairs.csv  # also scored on your own set
    python lectures/l05_word2vec.py --run-dir DIR --evaluate --vectors input  # re-score, no training

`--help` lists what each preset sets (typed flags win). Figures: README, row "5a".
"""

from __future__ import annotations

import dataclasses
import math
import time
import typing

from cs20 import checkpoints, cli, config, runtime, summaries, training
from cs20.datasets import text_corpus
from cs20.metrics import word_vectors
from cs20.models import word2vec

import keras
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class Config(config.TrainConfig):
    # fast: word2vec.c's recipe in batches. A frequent word's rows are divided by their
    # count^0.75 (summed, 0.025 a pair diverged); 48 negatives a row of 64 centers; input +
    # output rows kept (analogies 6.2% -> 8.2% on the same weights: README, benchmarks).
    PRESETS: typing.ClassVar[dict] = {"course": {}, "fast": {
        "loss": "negative_sampling", "skip_window": 5, "subsample": 1e-3, "row_power": 0.75,
        "embedding_init": "word2vec", "learning_rate_decay": "linear", "batch_size": 1024,
        "learning_rate": 250.0, "num_sampled": 48, "num_steps": 0, "num_epochs": 5,
        "vectors": "input+output"}}
    preset: str = config.option("course", "Named settings.", choices=tuple(PRESETS))
    num_steps: int = config.option(100_000, "Training steps (0: use --num-epochs).")
    batch_size: int = config.option(128, "Global batch: pairs, or centers in rows of 64.")
    learning_rate: float = config.option(1.0, "SGD learning rate (the course's 1.0).")
    learning_rate_decay: str = config.option("constant", "Or linear to 0.",
                                             choices=("constant", "linear"))
    corpus: str = config.option("text8_prefix", "A data file's name, or a path (text8.zip).")
    vocab_size: int = config.option(50_000, "Vocabulary size, UNK included.")
    embedding_size: int = config.option(128, "Embedding dimension.")
    embedding_init: str = config.option("course", "course: uniform [0, 1) (all in one corner); "
                                        "word2vec: +-0.5/dim.", choices=("course", "word2vec"))
    skip_window: int = config.option(1, "Context up to a random 1..N words on each side.")
    subsample: float = config.option(0.0, "Subsampling threshold t of frequent words (0: off).")
    num_sampled: int = config.option(64, "NCE's negatives a batch; negative_sampling's a row.")
    loss: str = config.option("nce", "Sampled loss.", choices=("nce", "negative_sampling"))
    negatives_per_pair: float = config.option(5.0, "negative_sampling's k per pair.")
    row_power: float = config.option(0.0, "Divide the rows that update one word by (their "
                                          "number in the batch)^P: 0 sums them, 1 averages.")
    # Choices written out: reading word2vec.KEPT_VECTORS here would load TensorFlow for --help.
    vectors: str = config.option("input", "The vectors kept (neighbours, evaluation, projector): "
                                 "input rows, or input + output rows.",
                                 choices=("input", "input+output"), changeable=True)
    similarity_file: str = config.option("", "Also score your own word-similarity file: word, "
                                         "word, human score a line (commas or tabs).",
                                         changeable=True)
    evaluate: bool = config.option(False, "Score the vectors of --run-dir's newest checkpoint "
                                          "(--vectors, --similarity-file); no training.",
                                   changeable=True)
    summary_every: int = config.option(5000, "Loss, histograms and neighbours every N steps.")
    checkpoint_every: int = config.option(5000, "Checkpoint every N steps.")
    num_visualize: int = config.option(3000, "Words in the projector.", changeable=True)
    probe_words: str = config.option("one,king,three,france,computer,war,music,government",
                                     "Words whose neighbours are printed.", changeable=True)

    def __post_init__(self):
        super().__post_init__()
        if self.mixed_precision:
            raise ValueError("--mixed-precision does not apply to word2vec: logits need float32")
        if not 0.0 <= self.row_power <= 1.0:
            raise ValueError(f"--row-power must be in [0, 1] (0: sum, 1: mean), got {self.row_power}")
        if self.similarity_file:  # read now: a bad file would otherwise fail after training
            word_vectors.read_word_similarity(self.similarity_file)
        if self.vocab_size < self.num_sampled:
            raise ValueError(f"--vocab-size {self.vocab_size} is smaller than --num-sampled "
                             f"{self.num_sampled}; raise --vocab-size or lower --num-sampled")


# 1. Skip-gram pairs.

def window_pairs(words, center: int, skip_window: int) -> list[tuple]:
    """The (center, context) pairs of one window: the center word with each word up to
    `skip_window` away, left ones first (the course's order)."""
    offsets = [*range(-skip_window, 0), *range(1, skip_window + 1)]
    return [(words[center], words[center + offset]) for offset in offsets
            if 0 <= center + offset < len(words)]


# 2. Embedding lookup, and NCE or negative sampling with their samplers.

def sample_negatives(contexts, num_sampled: int, vocab_size: int, seed: int | None = None):
    """NCE's negatives, shared by all the batch's pairs: (sampled ids (num_sampled,), the
    expected count among the draws of each true context (batch, 1) and of each sampled id).
    Distinct and log-uniform, as ids are by frequency (Zipf's law)."""
    return tf.random.log_uniform_candidate_sampler(
        true_classes=tf.cast(contexts[:, None], tf.int64), num_true=1, num_sampled=num_sampled,
        unique=True, range_max=vocab_size, seed=seed)


def row_losses(model: word2vec.SkipGram, spans, windows, negatives,
               negatives_per_pair: float = 5.0):
    """Negative sampling on rows of consecutive centers -> ((rows, row) each center's summed
    pair losses, (rows, row) its number of pairs). `text_corpus.center_rows_dataset` gives
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


def batch_losses(model: word2vec.SkipGram, batch, negatives, cfg: Config):
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


# 3. The train step.

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


def make_train_step(model: word2vec.SkipGram, optimizer, cfg: Config):
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


def print_worked_example(words, vocabulary, batch, negatives, cfg: Config) -> None:
    """Five pairs of the corpus's first words, and the negatives of a batch (NCE's) or of
    its first row (negative sampling's, drawn by the dataset)."""
    index, first = vocabulary.index(), words[:8]
    print(f"Worked example: pairs (skip window 1) of \"{' '.join(first)} ...\"")
    for center, context in [pair for i in range(4) for pair in window_pairs(first, i, 1)][:5]:
        print(f"  {center} ({index.get(center, 0)}) -> {context} ({index.get(context, 0)})")
    if negatives is None:
        owner, sampled = f"the first row of {len(batch[2])}", batch[2][0].numpy()
        expected = len(sampled) * text_corpus.noise_distribution(vocabulary.counts)[sampled]
    else:
        owner, sampled, expected = f"the {cfg.batch_size} pairs", *negatives[0:3:2]
    print(f"Negatives of {owner} ({len(sampled)}), each with its expected count among the "
          "draws:\n  " + ", ".join(f"{vocabulary.words[i]} {float(n):.3f}"
                                   for i, n in zip(sampled[:6], expected[:6], strict=True)))


def main(argv=None) -> dict:
    cfg = config.parse(Config, argv, __doc__, prog="l05_word2vec")
    if cfg.evaluate:  # use the model: read the run, write nothing
        return word2vec.evaluate_saved(cfg.run_dir, cfg.vectors, cfg.data_dir,
                                       cfg.similarity_file)
    run = runtime.start("l05_word2vec", cfg)

    # Data: words -> vocabulary (0 = UNK) -> ids -> pair batches, or rows of centers.
    words = text_corpus.read_words(text_corpus.resolve_corpus(cfg.corpus, cfg.data_dir))
    vocabulary = text_corpus.build_vocabulary(words, cfg.vocab_size)
    vocabulary.save_tsv(run.path("vocab.tsv"))
    print(f"{len(words):,} words, vocabulary {vocabulary.size:,}, UNK {vocabulary.counts[0]:,}")
    keep = text_corpus.keep_probabilities(vocabulary.counts, cfg.subsample)  # None: keep all
    by_rows, ids = cfg.loss == "negative_sampling", vocabulary.to_ids(words)
    common = (ids, cfg.batch_size, cfg.skip_window, cfg.seed, keep)
    dataset = (text_corpus.center_rows_dataset(*common, noise_counts=vocabulary.counts,
                                               negatives_per_row=cfg.num_sampled)
               if by_rows else text_corpus.skip_gram_dataset(*common))
    pairs = text_corpus.expected_pairs(vocabulary.counts, cfg.skip_window, keep)  # per epoch
    pairs_per_batch = cfg.batch_size * (cfg.skip_window + 1 if by_rows else 1)
    schedule = training.make_schedule(cfg, steps_per_epoch=max(1, pairs // pairs_per_batch),
                                      examples=None if by_rows else pairs)  # rows: text_corpus checks

    # Model, optimizer and global step under the strategy's scope (mirrored variables).
    with run.strategy.scope():
        model = word2vec.SkipGram(cfg.vocab_size, cfg.embedding_size, cfg.embedding_init, cfg.seed)
        decayed = keras.optimizers.schedules.PolynomialDecay(  # word2vec.c's: linear to ~0
            cfg.learning_rate, schedule.num_steps, end_learning_rate=cfg.learning_rate * 1e-4)
        optimizer = keras.optimizers.SGD(
            decayed if cfg.learning_rate_decay == "linear" else cfg.learning_rate)
        optimizer.build(model.trainable_variables)
        step = tf.Variable(0, dtype=tf.int64, name="global_step", trainable=False)
    iterator = training.distribute(run, dataset)
    checkpoint = checkpoints.make(step, model, optimizer, iterator)

    train_step = make_train_step(model, optimizer, cfg)
    if cfg.strategy == "default":
        summaries.step_graph(run.writer, train_step, dataset)  # name scopes in the Graphs tab
    steps = training.compile_step(run.strategy, train_step)
    # A fixed batch (and NCE's negatives) to show and watch; drawn after the step is built,
    # or the seeded sampler would give the step other negatives.
    probe_batch = next(iter(dataset))
    probe_negatives = None if by_rows else sample_negatives(probe_batch[1], cfg.num_sampled,
                                                            cfg.vocab_size, cfg.seed)
    if not cfg.quiet:
        print_worked_example(words, vocabulary, probe_batch, probe_negatives, cfg)

    def on_summary(current: int) -> None:
        losses = batch_losses(model, probe_batch, probe_negatives, cfg)  # (batch,)
        vectors = word2vec.kept_vectors(model.embedding.numpy(), model.nce_weights.numpy(),
                                         cfg.vectors)  # (vocab, embedding)
        print(word2vec.write_summaries(run.writer, current, vectors, losses, vocabulary,
                                       cfg.probe_words.split(",")), flush=True)

    started = time.perf_counter()
    # Negative sampling starts near (1 + k) log 2 a pair: twice that is divergence, not saved.
    diverged = 2 * (1 + cfg.negatives_per_pair) * math.log(2) if by_rows else None
    results = training.train(run, step_fn=steps, iterator=iterator, checkpoint=checkpoint,
                             step=step, schedule=schedule, on_summary=on_summary,
                             steps_per_call=cfg.steps_per_call, max_loss=diverged)
    results["train_seconds"] = time.perf_counter() - started

    # Analogies and WordSim-353 (eval/ in TensorBoard), then the Projector's files.
    vectors = word2vec.kept_vectors(model.embedding.numpy(), model.nce_weights.numpy(),
                                     cfg.vectors)  # (vocab, embedding)
    results.update(word2vec.evaluate_and_export(run, vectors, vocabulary,
                                                int(step.numpy()), cfg.num_visualize,
                                                cfg.similarity_file))
    return run.finish(results, steps=int(step.numpy()))


if __name__ == "__main__":
    cli.guard(main)
