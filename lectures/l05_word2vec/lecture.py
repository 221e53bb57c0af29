# %% [markdown]
# # Lecture 5a: word2vec skip-gram with NCE loss, and the tools to manage the experiment
#
# The course's 04_word2vec.py trains a 50,000 x 128 embedding on text8. The lesson:
# 1. skip-gram pairs: each word predicts its neighbours, made for the whole corpus with
#    TensorFlow ops in tf.data ([data.py](data.py));
# 2. `tf.nn.embedding_lookup` reads the centers' rows; `tf.nn.nce_loss` scores each context
#    against 64 Zipf-drawn negatives (`tf.random.log_uniform_candidate_sampler`), no softmax;
# 3. `loss="negative_sampling"`, word2vec.c's loss, lists no pairs: it scores every pair of
#    a row of consecutive centers with one batched matmul;
# 4. the train step: SGD changes only the rows the step touched (`row_power` P divides a
#    word's rows by their count^P: the `fast` preset uses 0.75);
# 5. the vectors kept: a word's input row (the course), or `vectors="input+output"`, its
#    input row plus its output row (GloVe's choice; the `fast` preset uses it).
#
# The model, its losses and its train step are in [model.py](model.py), the scores in
# [evaluation.py](evaluation.py). Around them: name scopes, checkpoints and resuming (the
# same run directory), histograms, probe words' neighbours, the projector, analogies and
# WordSim-353 at the end (results.json).
#
# Run it as a script with `python -m lectures.l05_word2vec` (`--help` lists the settings and
# what each preset sets; `--preset fast` is word2vec.c's recipe, batched, which beats
# gensim; `--run-dir DIR --evaluate --vectors input` re-scores a trained run), and watch it
# with `tensorboard --logdir runs/l05_word2vec`: train/loss, the histograms of a fixed
# batch's pair losses and of the rows' norms, the probe words' neighbours (Text), the
# graph's name scopes, the Projector, and eval/ at the end.

# %%
import math
import time

from cs20 import checkpoints, config, runtime, summaries, training
from lectures.l05_word2vec import data
from lectures.l05_word2vec import model as word2vec
from lectures.l05_word2vec.config import Config

import keras
import tensorflow as tf

# %% tags=["parameters"]
# The settings: the lecture's defaults, changed here in a notebook, e.g.
# {"num_steps": 2000, "preset": "fast"}. As a script, flags set them instead.
settings = {}

# %%
cfg = config.for_lecture(Config, settings)
if cfg.evaluate:  # use a trained run: score its saved vectors; nothing else runs
    word2vec.evaluate_saved(cfg.run_dir, cfg.vectors, cfg.data_dir, cfg.similarity_file)
    raise runtime.RunFinished(cfg.run_dir)  # the command line exits 0, having written nothing
run = runtime.start("l05_word2vec", cfg)

# %% [markdown]
# ## 1. The corpus, its vocabulary, and skip-gram pairs
#
# Words -> a vocabulary of the `vocab_size` most frequent (id 0 is UNK, every other word)
# -> ids -> endless batches of (center, context) pairs, or for negative sampling rows of
# consecutive centers with their windows and negatives. The vocabulary is saved as
# vocab.tsv (TensorBoard's projector reads it too).

# %%
words = data.read_words(data.resolve_corpus(cfg.corpus, cfg.data_dir))
vocabulary = data.build_vocabulary(words, cfg.vocab_size)
vocabulary.save_tsv(run.path("vocab.tsv"))
print(f"{len(words):,} words, vocabulary {vocabulary.size:,}, UNK {vocabulary.counts[0]:,}")
keep = data.keep_probabilities(vocabulary.counts, cfg.subsample)  # None: keep all
by_rows, ids = cfg.loss == "negative_sampling", vocabulary.to_ids(words)
common = (ids, cfg.batch_size, cfg.skip_window, cfg.seed, keep)
dataset = (data.center_rows_dataset(*common, noise_counts=vocabulary.counts,
                                    negatives_per_row=cfg.num_sampled)
           if by_rows else data.skip_gram_dataset(*common))
pairs = data.expected_pairs(vocabulary.counts, cfg.skip_window, keep)  # per epoch
pairs_per_batch = cfg.batch_size * (cfg.skip_window + 1 if by_rows else 1)
schedule = training.make_schedule(cfg, steps_per_epoch=max(1, pairs // pairs_per_batch),
                                  examples=None if by_rows else pairs)  # rows: data.py checks

# %% [markdown]
# ## 2. The model, its optimizer and its train step
#
# The embedding and NCE's output weights and biases, plain SGD (word2vec.c's learning
# rate decays linearly to about 0 with `learning_rate_decay="linear"`), all created under
# the strategy's scope (mirrored variables); the checkpoint holds them with the step and
# the dataset's iterator. The train step's name scopes (loss, optimizer) are in
# TensorBoard's Graphs tab.

# %%
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

train_step = word2vec.make_train_step(model, optimizer, cfg)
if cfg.strategy == "default":
    summaries.step_graph(run.writer, train_step, dataset)  # name scopes in the Graphs tab
steps = training.compile_step(run.strategy, train_step)

# %% [markdown]
# ## 3. A worked example
#
# Five pairs of the corpus's first words, and the negatives of a batch (NCE's, shared by
# its pairs) or of its first row (negative sampling's), each with its expected count among
# the draws. This batch stays fixed: its pair losses are watched during training.

# %%
# Drawn after the step is built, or the seeded sampler would give the step other negatives.
probe_batch = next(iter(dataset))
probe_negatives = None if by_rows else word2vec.sample_negatives(
    probe_batch[1], cfg.num_sampled, cfg.vocab_size, cfg.seed)
if not cfg.quiet:
    word2vec.print_worked_example(words, vocabulary, probe_batch, probe_negatives, cfg)

# %% [markdown]
# ## 4. Training
#
# The shared loop: checkpoints every `checkpoint_every` steps (run the same command again
# to resume), and every `summary_every` steps the loss, the histograms of the fixed batch's
# pair losses and of the rows' norms, and the probe words' nearest neighbours, printed here
# and in TensorBoard's Text tab.

# %%
def on_summary(current: int) -> None:
    losses = word2vec.batch_losses(model, probe_batch, probe_negatives, cfg)  # (batch,)
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

# %% [markdown]
# ## 5. The vectors kept, and how good they are
#
# Mikolov's analogies (a : b :: c : ?, 3CosAdd) and the Spearman correlation with
# WordSim-353's human scores (and with `similarity_file`'s), as eval/ scalars; then the
# `num_visualize` most frequent words' vectors for the Projector tab.

# %%
vectors = word2vec.kept_vectors(model.embedding.numpy(), model.nce_weights.numpy(),
                                cfg.vectors)  # (vocab, embedding)
results.update(word2vec.evaluate_and_export(run, vectors, vocabulary, int(step.numpy()),
                                            cfg.num_visualize, cfg.similarity_file))

# %% [markdown]
# ## 6. Results, and TensorBoard
#
# What the run measured (also in results.json in the run directory). In a notebook,
# TensorBoard opens below.

# %%
results = run.finish(results, steps=int(step.numpy()))
results

# %%
# %load_ext tensorboard
# %tensorboard --logdir {run.directory}
