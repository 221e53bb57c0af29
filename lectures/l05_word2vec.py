"""Lecture 5a: word2vec skip-gram with NCE loss, and the tools to manage the experiment.

The course's 04_word2vec.py trains a 50,000 x 128 embedding on text8. The lesson, in order:
1. skip-gram pairs: each word predicts its neighbours. `window_pairs` makes one window's;
   `text_corpus.skip_gram_dataset` makes the whole corpus's with TensorFlow ops in tf.data;
2. `tf.nn.embedding_lookup` reads the center words' rows; `tf.nn.nce_loss` scores each
   true context word against 64 negatives drawn from a Zipf distribution by
   `tf.random.log_uniform_candidate_sampler`, instead of a 50,000-way softmax;
   `--loss negative_sampling` is word2vec's own loss, written out beside it;
3. the train step: SGD changes only the rows the step touched.
Around it: name scopes, checkpoints and resuming (the same --run-dir), histograms, probe
words' neighbours, the projector, analogies and WordSim-353 at the end (results.json).

    python lectures/l05_word2vec.py                  # the course's settings, text8_prefix.txt
    python lectures/l05_word2vec.py --preset fast    # word2vec.c's recipe in big batches
    python lectures/l05_word2vec.py --corpus path/to/text8.zip   # the full text8

`--help` lists what each preset sets (typed flags win). Figures: README, row "5a".
"""

from __future__ import annotations

import dataclasses
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
    # fast: word2vec.c's choices in 4096-pair batches, the learning rate scaled to them.
    PRESETS: typing.ClassVar[dict] = {"course": {}, "fast": {
        "loss": "negative_sampling", "skip_window": 5, "subsample": 3e-4,
        "embedding_init": "word2vec", "learning_rate_decay": "linear", "batch_size": 4096,
        "learning_rate": 100.0, "num_sampled": 64, "num_steps": 0, "num_epochs": 3}}
    preset: str = config.option("course", "Named settings.", choices=tuple(PRESETS))
    num_steps: int = config.option(100_000, "Training steps (0: use --num-epochs).")
    batch_size: int = config.option(128, "Global batch of (center, context) pairs.")
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
    num_sampled: int = config.option(64, "Negative words per batch, shared by its pairs.")
    loss: str = config.option("nce", "Sampled loss.",
                              choices=("nce", "sampled_softmax", "negative_sampling"))
    negatives_per_pair: float = config.option(5.0, "negative_sampling's k per pair.")
    summary_every: int = config.option(5000, "Loss, histograms and neighbours every N steps.")
    checkpoint_every: int = config.option(5000, "Checkpoint every N steps.")
    num_visualize: int = config.option(3000, "Words in the projector.", changeable=True)
    probe_words: str = config.option("one,king,three,france,computer,war,music,government",
                                     "Words whose neighbours are printed.", changeable=True)

    def __post_init__(self):
        super().__post_init__()
        if self.mixed_precision:
            raise ValueError("--mixed-precision does not apply to word2vec: its step is "
                             "lookups and one sampled matmul, and the logits need float32")
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

def sample_negatives(contexts, num_sampled: int, vocab_size: int, seed: int | None = None,
                     unigram_counts=None):
    """One batch's negatives, shared by all its pairs: (sampled ids (num_sampled,), expected
    count among the draws of each true context (batch, 1) and of each sampled id). NCE's:
    distinct, log-uniform (ids are by frequency); given `unigram_counts`, word2vec's."""
    labels = tf.cast(contexts[:, None], tf.int64)  # (batch, 1)
    if unigram_counts is None:
        return tf.random.log_uniform_candidate_sampler(
            true_classes=labels, num_true=1, num_sampled=num_sampled, unique=True,
            range_max=vocab_size, seed=seed)
    return tf.random.fixed_unigram_candidate_sampler(
        true_classes=labels, num_true=1, num_sampled=num_sampled, unique=False,
        range_max=vocab_size, distortion=0.75, unigrams=list(unigram_counts), seed=seed)


def negative_sampling_losses(model: word2vec.SkipGram, centers, contexts, negatives,
                             negatives_per_pair: float):
    """(batch,) -log sigmoid(true logit) - k * mean_j log sigmoid(-sampled logit j): the
    mean over the batch's shared negatives estimates word2vec's k per pair. A logit is w.x +
    b, NCE's without its -log Q. The negative term depends on the center only: once each."""
    unique_centers, center_of_pair = tf.unique(centers)  # (centers,), (batch,)
    embedded = tf.nn.embedding_lookup(model.embedding.value, unique_centers)  # (centers, emb)
    true_weights = tf.nn.embedding_lookup(model.nce_weights.value, contexts)  # (batch, emb)
    sampled_weights = tf.nn.embedding_lookup(model.nce_weights.value, negatives[0])  # (K, emb)
    true_logits = (tf.reduce_sum(tf.gather(embedded, center_of_pair) * true_weights, axis=1)
                   + tf.gather(model.nce_biases.value, contexts))  # (batch,)
    sampled_logits = (tf.matmul(embedded, sampled_weights, transpose_b=True)
                      + tf.gather(model.nce_biases.value, negatives[0]))  # (centers, K)
    # softplus(-z) = -log sigmoid(z), computed without overflow.
    negative_terms = negatives_per_pair * tf.reduce_mean(tf.nn.softplus(sampled_logits), axis=1)
    return tf.nn.softplus(-true_logits) + tf.gather(negative_terms, center_of_pair)


def pair_losses(model: word2vec.SkipGram, centers, contexts, negatives, loss: str = "nce",
                negatives_per_pair: float = 5.0):
    """(batch,) loss of each (center, context) pair."""
    if loss == "negative_sampling":
        return negative_sampling_losses(model, centers, contexts, negatives, negatives_per_pair)
    with tf.name_scope("embed"):
        # `.value` is the tf.Variable itself: gathering from it reads only the rows needed
        # (a Keras variable is read whole, and the sparse update then copies all of it).
        embedded = tf.nn.embedding_lookup(model.embedding.value, centers)  # (batch, embedding)
    labels = tf.cast(contexts[:, None], tf.int64)  # (batch, 1)
    sampled_loss = tf.nn.nce_loss if loss == "nce" else tf.nn.sampled_softmax_loss
    return sampled_loss(weights=model.nce_weights.value,  # (vocab, embedding)
                        biases=model.nce_biases.value, labels=labels, inputs=embedded,
                        num_sampled=int(negatives[0].shape[0]), num_classes=model.vocab_size,
                        sampled_values=negatives)


# 3. The train step.

def make_train_step(model: word2vec.SkipGram, optimizer, global_batch_size: int,
                    num_sampled: int, loss: str = "nce", jit_compile: bool = False,
                    sampler_seed: int | None = None, unigram_counts=None,
                    negatives_per_pair: float = 5.0):
    """A per-replica step: batch (centers, contexts) -> {"loss"}. --jit-compile compiles the
    loss and its gradients only (XLA has no sampler kernel). The sampler's fixed op seed
    makes every replica draw the negatives a single device would."""

    def loss_and_gradients(centers, contexts, negatives):
        with tf.GradientTape() as tape:
            per_pair = pair_losses(model, centers, contexts, negatives, loss, negatives_per_pair)
            batch_loss = tf.nn.compute_average_loss(per_pair, global_batch_size=global_batch_size)
        return batch_loss, tape.gradient(batch_loss, model.trainable_variables)

    if jit_compile:
        loss_and_gradients = tf.function(loss_and_gradients, jit_compile=True)

    def train_step(batch):
        centers, contexts = batch  # (batch,) ids each
        with tf.name_scope("loss"):
            negatives = sample_negatives(contexts, num_sampled, model.vocab_size, sampler_seed,
                                         unigram_counts)
            batch_loss, gradients = loss_and_gradients(centers, contexts, negatives)
        # Outside the compiled function: under tf.distribute, applying gradients
        # all-reduces them across replicas, which a nested tf.function cannot do.
        with tf.name_scope("optimizer"):
            optimizer.apply(gradients, model.trainable_variables)  # IndexedSlices: rows only
        return {"loss": batch_loss}

    return train_step


def print_worked_example(words, vocabulary, contexts, negatives) -> None:
    """Five pairs of the corpus's first words, and one batch's negatives."""
    index, first = vocabulary.index(), words[:8]
    print(f"Worked example: pairs (skip window 1) of \"{' '.join(first)} ...\"")
    for center, context in [pair for i in range(4) for pair in window_pairs(first, i, 1)][:5]:
        print(f"  {center} ({index.get(center, 0)}) -> {context} ({index.get(context, 0)})")
    sampled, true_expected, sampled_expected = (value.numpy() for value in negatives)
    print(f"One batch: its {len(contexts)} pairs share {len(sampled)} negatives; "
          "expected count among the draws:")
    for name, ids, counts in (("negatives", sampled, sampled_expected),
                              ("true contexts", contexts.numpy(), true_expected[:, 0])):
        print(f"  {name}: " + ", ".join(f"{vocabulary.words[word]} {count:.3f}"
                                        for word, count in zip(ids[:6], counts[:6], strict=True)))


def main(argv=None) -> dict:
    cfg = config.parse(Config, argv, __doc__, prog="l05_word2vec")
    run = runtime.start("l05_word2vec", cfg)

    # Data: words -> vocabulary (0 = UNK) -> ids -> shuffled skip-gram pair batches.
    words = text_corpus.read_words(text_corpus.resolve_corpus(cfg.corpus, cfg.data_dir))
    vocabulary = text_corpus.build_vocabulary(words, cfg.vocab_size)
    vocabulary.save_tsv(run.path("vocab.tsv"))
    print(f"{len(words):,} words, vocabulary {vocabulary.size:,}, UNK {vocabulary.counts[0]:,}")
    keep = text_corpus.keep_probabilities(vocabulary.counts, cfg.subsample)  # None: keep all
    # Negative sampling's batches keep a center's pairs together (one negative term each).
    dataset = text_corpus.skip_gram_dataset(vocabulary.to_ids(words), cfg.batch_size,
                                            cfg.skip_window, cfg.seed, keep,
                                            by_center=cfg.loss == "negative_sampling")
    pairs = text_corpus.expected_pairs(vocabulary.counts, cfg.skip_window, keep)  # per epoch
    schedule = training.make_schedule(cfg, steps_per_epoch=max(1, pairs // cfg.batch_size))

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

    # Negative sampling draws from the corpus's word counts, NCE from a log-uniform law.
    counts = vocabulary.counts if cfg.loss == "negative_sampling" else None
    train_step = make_train_step(model, optimizer, cfg.batch_size, cfg.num_sampled, cfg.loss,
                                 cfg.jit_compile, cfg.seed, counts, cfg.negatives_per_pair)
    if cfg.strategy == "default":
        summaries.step_graph(run.writer, train_step, dataset)  # name scopes in the Graphs tab
    steps = training.compile_step(run.strategy, train_step)
    # A fixed batch and negatives to show and watch (drawn after the step is built: drawn
    # before, the seeded sampler would give the step other negatives).
    probe_centers, probe_contexts = next(iter(dataset))
    probe_negatives = sample_negatives(probe_contexts, cfg.num_sampled, cfg.vocab_size,
                                       cfg.seed, counts)
    if not cfg.quiet:
        print_worked_example(words, vocabulary, probe_contexts, probe_negatives)

    def on_summary(current: int) -> None:
        losses = pair_losses(model, probe_centers, probe_contexts, probe_negatives, cfg.loss,
                             cfg.negatives_per_pair)  # (batch,)
        print(word2vec.write_summaries(run.writer, current, model.embedding.numpy(), losses,
                                       vocabulary, cfg.probe_words.split(",")), flush=True)

    started = time.perf_counter()
    results = training.train(run, step_fn=steps, iterator=iterator, checkpoint=checkpoint,
                             step=step, schedule=schedule, on_summary=on_summary,
                             steps_per_call=cfg.steps_per_call)
    results["train_seconds"] = time.perf_counter() - started

    # Evaluation and artefacts on the final embedding.
    scores = word_vectors.evaluate(word2vec.normalized(model.embedding.numpy()),
                                   vocabulary.index(), cfg.data_dir)
    summaries.scalars(run.writer, scores, int(step.numpy()), prefix="eval/")
    results.update({f"eval/{name}": value for name, value in scores.items()})
    if run.chief and cfg.num_visualize:
        print(word2vec.write_projector(run.directory, model.embedding.numpy(), vocabulary.words,
                                       cfg.num_visualize))
    return run.finish(results, steps=int(step.numpy()))


if __name__ == "__main__":
    cli.guard(main)
