"""Lecture 5a: word2vec skip-gram with NCE loss, and the tools to manage the experiment.

The course's 04_word2vec.py trains a 50,000 x 128 embedding on text8: every word predicts
its neighbours (skip-gram), and noise-contrastive estimation scores each true neighbour
against 64 words drawn from a Zipf distribution instead of a 50,000-way softmax. Around
the model, the lecture shows what managing a long experiment takes:

- name scopes, so the TensorBoard graph reads data / embed / loss / optimizer;
- checkpoints with the global step every 5,000 steps, and resuming (run it twice with
  the same --run-dir, or stop it with Ctrl-C and run the printed command);
- summaries: the loss, a histogram of one fixed batch's per-pair losses and of the
  embedding norms (at summary steps only: a 50,000 x 128 histogram is not free), and the
  nearest neighbours of a few probe words as text;
- the TensorBoard projector for the 3,000 most frequent words (`metadata.tsv` +
  `projector_config.pbtxt` in the run directory, found from any directory TensorBoard is
  started in; `vectors.tsv` for projector.tensorflow.org);
- an evaluation at the end: Mikolov's analogies (questions-words.txt, only questions
  whose four words are in the vocabulary; `eval/analogy_covered` says how many) and the
  Spearman correlation with WordSim-353's human similarity scores.

The defaults are the course's (vocab 50,000, batch 128, embedding 128, skip window 1,
64 negatives, SGD with learning rate 1.0, 100,000 steps, loss every 5,000 steps). The
pairs are made by TensorFlow ops in tf.data (see cs20/datasets/text_corpus.py), and one
call of the compiled step runs --steps-per-call steps, because a step is tiny.
The course's embedding starts uniform in [0, 1): all vectors in one corner, which costs
quality; --embedding-init word2vec starts them around 0 as word2vec.c does.

    python lectures/l05_word2vec.py                       # text8_prefix.txt (2.1M words)
    python lectures/l05_word2vec.py --corpus path/to/text8.zip   # the full text8
    tensorboard --logdir runs/l05_word2vec

Our run on 2 CPU cores with the defaults on text8_prefix.txt: 27 s (25 s of training,
100,000 steps, ~600,000 pairs/s), final loss 4.39, analogy accuracy 0.51% (of 13,238
covered questions), WordSim-353 Spearman 0.12. The course's settings learn slowly: with
word2vec.c's choices (--skip-window 5 --subsample 1e-3 --embedding-init word2vec
--learning-rate-decay linear --batch-size 512 --learning-rate 16 --num-steps 40000) our
run reached 5.3% and 0.43 in 34 s of training (benchmarks/word2vec.py compares gensim).

--mixed-precision is refused (the step has no dense layer to speed up; NCE logits stay in
float32); --jit-compile compiles the update with XLA while the sampler runs outside it;
--strategy mirrored splits each batch across replicas, which draw the same negatives.
Measured on 2 CPU cores (5,000 steps each): 2,515 steps/s with --jit-compile against
~4,700 without (XLA does not pay off on a CPU here); --strategy mirrored
--logical-devices 2 trains to the same loss (26.75 at step 5,000 all three ways) at 149
steps/s, 618 with XLA: both replicas share the same two cores, so it shows the cost of
the machinery, not a speed-up.
"""

from __future__ import annotations

import dataclasses
import time

from cs20 import checkpoints, cli, config, runtime, summaries, training
from cs20.datasets import sources, text_corpus
from cs20.metrics import word_vectors
from cs20.models import word2vec

import keras
import numpy as np
import tensorflow as tf

PROBE_WORDS = "one,king,three,france,computer,war,music,government"


@dataclasses.dataclass(frozen=True)
class Config(config.TrainConfig):
    num_steps: int = config.option(100_000, "Training steps (the course's 100,000).")
    batch_size: int = config.option(128, "Global batch of (center, context) pairs.")
    learning_rate: float = config.option(1.0, "SGD learning rate (the course's 1.0).")
    learning_rate_decay: str = config.option("constant", "constant, or linear to 0 over the "
                                                         "run as word2vec.c does.",
                                             choices=("constant", "linear"))
    corpus: str = config.option("text8_prefix", "A registered data file or a path to a "
                                                "text file / text8.zip.")
    vocab_size: int = config.option(50_000, "Vocabulary size, UNK included.")
    embedding_size: int = config.option(128, "Embedding dimension.")
    embedding_init: str = config.option("course", "course: uniform [0, 1); word2vec: "
                                                  "uniform +-0.5/dim.",
                                        choices=("course", "word2vec"))
    skip_window: int = config.option(1, "Context words up to this far on each side "
                                        "(a random 1..skip_window per center).")
    subsample: float = config.option(0.0, "Frequent-word subsampling threshold t "
                                          "(0: off, as the course; word2vec uses 1e-3).")
    num_sampled: int = config.option(64, "Negative words per batch.")
    loss: str = config.option("nce", "Sampled loss.", choices=("nce", "sampled_softmax"))
    summary_every: int = config.option(5000, "Loss, histograms and neighbours every N steps.")
    checkpoint_every: int = config.option(5000, "Checkpoint every N steps.")
    num_visualize: int = config.option(3000, "Most frequent words shown in the projector.",
                                       changeable=True)
    probe_words: str = config.option(PROBE_WORDS, "Comma-separated words whose neighbours "
                                                  "are printed at summary steps.",
                                     changeable=True)

    def __post_init__(self):
        super().__post_init__()
        if self.mixed_precision:
            raise ValueError("--mixed-precision does not apply to word2vec: its step is "
                             "embedding lookups and one sampled dot product (no dense layer "
                             "to speed up), and the NCE logits need float32")
        if self.vocab_size < self.num_sampled:
            raise ValueError(f"--vocab-size {self.vocab_size} is smaller than --num-sampled "
                             f"{self.num_sampled}: each step draws that many different negative "
                             "words from the vocabulary; raise --vocab-size or lower "
                             "--num-sampled")


def corpus_path(name_or_path: str, data_dir: str):
    """A registered data file (`text8_prefix`) or a path."""
    if name_or_path in sources.REGISTRY:
        return sources.resolve(name_or_path, data_dir)
    return name_or_path


def learning_rate(cfg: Config):
    if cfg.learning_rate_decay == "linear":
        return keras.optimizers.schedules.PolynomialDecay(
            cfg.learning_rate, cfg.num_steps, end_learning_rate=cfg.learning_rate * 1e-4)
    return cfg.learning_rate


def neighbours_markdown(unit_embedding, vocabulary, probe_ids) -> str:
    """One line per probe word: `word: neighbour, neighbour, ...`."""
    nearest = word2vec.nearest_neighbours(unit_embedding, probe_ids)
    return "\n\n".join(f"**{vocabulary.words[probe]}**: "
                       + ", ".join(vocabulary.words[neighbour] for neighbour in row)
                       for probe, row in zip(probe_ids, nearest, strict=True))


def write_graph(run, train_step, dataset) -> None:
    """The step's graph (not run: traced only), with the name scopes of the course."""

    @tf.function
    def one_step(iterator):
        with tf.name_scope("data"):
            batch = next(iterator)
        return train_step(batch)

    graph = one_step.get_concrete_function(iter(dataset)).graph
    with run.writer.as_default(step=0):
        tf.summary.graph(graph)


def evaluate(unit_embedding, vocabulary, data_dir) -> dict:
    index = vocabulary.index()
    analogies = word_vectors.analogy_accuracy(
        unit_embedding, index,
        word_vectors.read_analogies(sources.resolve("questions_words", data_dir)))
    similarity = word_vectors.similarity_correlation(
        unit_embedding, index,
        word_vectors.read_word_similarity(sources.resolve("wordsim353", data_dir)))
    return {"analogy_accuracy": analogies["accuracy"], "analogy_covered": analogies["covered"],
            "wordsim353_spearman": similarity["spearman"],
            "wordsim353_covered": similarity["covered"]}


def main(argv=None) -> dict:
    cfg = config.parse(Config, argv, __doc__, prog="l05_word2vec")
    run = runtime.start("l05_word2vec", cfg)

    # Data: words -> vocabulary (0 = UNK) -> ids -> shuffled skip-gram pair batches.
    words = text_corpus.read_words(corpus_path(cfg.corpus, cfg.data_dir))
    vocabulary = text_corpus.build_vocabulary(words, cfg.vocab_size)
    vocabulary.save_tsv(run.path("vocab.tsv"))
    ids = vocabulary.to_ids(words)  # (num_words,)
    print(f"{len(words):,} words, {vocabulary.size:,} in the vocabulary, "
          f"{vocabulary.counts[0]:,} UNK tokens")
    keep = (text_corpus.keep_probabilities(vocabulary.counts, cfg.subsample)
            if cfg.subsample else None)
    dataset = text_corpus.skip_gram_dataset(ids, cfg.batch_size, cfg.skip_window, cfg.seed, keep)

    # Model, optimizer and global step under the strategy's scope (mirrored variables).
    with run.strategy.scope():
        model = word2vec.SkipGram(cfg.vocab_size, cfg.embedding_size, cfg.embedding_init,
                                  seed=cfg.seed)
        optimizer = keras.optimizers.SGD(learning_rate(cfg))
        optimizer.build(model.trainable_variables)
        step = tf.Variable(0, dtype=tf.int64, name="global_step", trainable=False)
    iterator = training.distribute(run, dataset)
    checkpoint = checkpoints.make(step, model, optimizer, iterator)

    train_step = word2vec.make_train_step(
        model, optimizer, cfg.batch_size, cfg.num_sampled, cfg.loss,
        jit_compile=cfg.jit_compile, sampler_seed=cfg.seed)
    if cfg.strategy == "default":
        write_graph(run, train_step, dataset)
    steps = training.compile_step(run.strategy, train_step)

    # A fixed batch and fixed negatives, to watch the distribution of per-pair losses.
    probe_centers, probe_contexts = next(iter(dataset))
    probe_negatives = word2vec.sample_candidates(probe_contexts, cfg.num_sampled,
                                                 cfg.vocab_size, seed=cfg.seed)
    index = vocabulary.index()
    probe_ids = [index[word] for word in cfg.probe_words.split(",") if word in index]

    def on_summary(current: int) -> None:
        embedding = model.embedding.numpy()  # (vocab, embedding)
        pair_losses = word2vec.per_example_loss(model, probe_centers, probe_contexts,
                                                probe_negatives, cfg.loss)
        with run.writer.as_default(step=current):
            tf.summary.histogram("train/pair_loss", pair_losses)
            tf.summary.histogram("train/embedding_norm", np.linalg.norm(embedding, axis=1))
        if probe_ids:
            text = neighbours_markdown(word2vec.normalized(embedding), vocabulary, probe_ids)
            summaries.text(run.writer, "train/nearest_neighbours", text, current)
            print(text.replace("**", "").replace("\n\n", "\n"), flush=True)

    schedule = training.make_schedule(cfg, steps_per_epoch=cfg.num_steps)
    started = time.perf_counter()
    results = training.train(run, step_fn=steps, iterator=iterator, checkpoint=checkpoint,
                             step=step, schedule=schedule, on_summary=on_summary,
                             steps_per_call=cfg.steps_per_call)
    train_seconds = time.perf_counter() - started

    # Evaluation and artefacts on the final embedding.
    unit_embedding = word2vec.normalized(model.embedding.numpy())
    scores = evaluate(unit_embedding, vocabulary, cfg.data_dir)
    summaries.scalars(run.writer, scores, int(step.numpy()), prefix="eval/")
    results.update({f"eval/{name}": value for name, value in scores.items()})
    if "train/steps_per_second" in results:
        results["train/pairs_per_second"] = results["train/steps_per_second"] * cfg.batch_size
    results["train_seconds"] = train_seconds
    if run.chief and cfg.num_visualize:
        count = min(cfg.num_visualize, vocabulary.size)
        files = summaries.projector(run.directory, "embedding", model.embedding.numpy()[:count],
                                    list(vocabulary.words[:count]))
        print(f"Projector: {files['config']} ({count} words); vectors.tsv and metadata.tsv "
              f"for projector.tensorflow.org")
    return run.finish(results, steps=int(step.numpy()))


if __name__ == "__main__":
    cli.guard(main)
