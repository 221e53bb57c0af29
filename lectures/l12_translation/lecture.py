# %% [markdown]
# # Lecture 12: neural machine translation with attention, beam search and BLEU
#
# English -> French on Tatoeba's pairs, up to 10 tokens a side (`reverse`: French ->
# English; `corpus`: any other parallel file). The model is a bidirectional GRU encoder,
# a GRU decoder and attention: additive (Bahdanau et al. 2015) or multiplicative (Luong
# et al. 2015). Next to this file: [data.py](data.py) (the pairs, tokens, vocabularies
# and batches), [attention.py](attention.py), [model.py](model.py) (the encoder-decoder,
# teacher forcing, the loss over real tokens only, the train step),
# [decoding.py](decoding.py) (greedy decoding one word at a time, beam search with a
# length penalty, the SavedModel translator) and [bleu.py](bleu.py).
#
# The course had its chatbot here (legacy `embedding_attention_seq2seq`, greedy, no
# BLEU). BLEU-4 compares tokens with every reference of a sentence; translations are
# written back as the training targets are ("Montrez-moi !"). The run exports a
# SavedModel that translates a string; `translate` uses it and neither trains nor writes
# anything.
#
# Run it as a script with `python -m lectures.l12_translation` (`--help` lists the
# settings; `--run-dir DIR --translate "I am cold."` translates with a finished run), and
# watch it with `tensorboard --logdir runs/l12_translation`: eval/bleu, then
# test/bleu_greedy against test/bleu_beam4 (higher is better), the example translations
# and attention.png.

# %%
from cs20 import checkpoints, config, plots, runtime, summaries, training
from lectures.l12_translation import data, decoding
from lectures.l12_translation.config import Config
from lectures.l12_translation.model import Seq2Seq, make_train_step, print_worked_example

import keras
import tensorflow as tf

# %% tags=["parameters"]
# The settings: the lecture's defaults, changed here in a notebook, e.g.
# {"num_steps": 500, "reverse": True}. As a script, flags set them instead.
settings = {}

# %%
cfg = config.for_lecture(Config, settings)
if cfg.translate is not None:  # a finished run's translator translates; nothing else runs
    decoding.translate_with_saved(cfg.run_dir, cfg.translate)
    raise runtime.RunFinished(cfg.run_dir)  # the command line exits 0, having written nothing
# Read (and check) the pairs first: a bad corpus stops before the run writes anything.
corpus_path = data.corpus_path(cfg.corpus, cfg.data_dir)
pairs = data.read_pairs(corpus_path)
run = runtime.start("l12_translation", cfg)
print(f"Sentence pairs: {corpus_path}" if cfg.corpus else data.ATTRIBUTION)

# %% [markdown]
# ## 1. The sentence pairs
#
# Tokenised (lower case, punctuation split off), pairs of at most `max_length` tokens a
# side, split into train, validation and test by a hash of the source sentence (all
# translations of a sentence in one split: its references), a vocabulary per side. The
# batches are shuffled pairs of similar length, zero-padded.

# %%
corpus = data.make_corpus(pairs, reverse=cfg.reverse, max_length=cfg.max_length,
                          min_count=cfg.min_count)
if run.chief:  # in a multi-worker run only the chief writes the run directory
    corpus.source_vocabulary.save(run.path("source_vocabulary.txt"))
    corpus.target_vocabulary.save(run.path("target_vocabulary.txt"))
print(f"{len(corpus.train):,} training pairs, {len(corpus.validation):,} validation, "
      f"{len(corpus.test):,} test; vocabularies {len(corpus.source_vocabulary):,} / "
      f"{len(corpus.target_vocabulary):,} words")
source_ids, target_ids = data.encode_split(corpus.train, corpus)
train_data = data.training_dataset(source_ids, target_ids, batch_size=cfg.batch_size,
                                   seed=cfg.seed)

# %% [markdown]
# ## 2. The model, and one pair through it
#
# `Seq2Seq` (model.py), its Adam optimizer and the step counter, made in the strategy's
# scope. Then a training pair as the decoder sees it: it reads BOS w1 .. wn and must
# write w1 .. wn EOS (teacher forcing), and where the untrained attention looks.

# %%
with run.strategy.scope():  # model, optimizer and step counter
    model = Seq2Seq(len(corpus.source_vocabulary), len(corpus.target_vocabulary),
                    embedding_size=cfg.embedding_size, units=cfg.units,
                    bidirectional=cfg.bidirectional, attention=cfg.attention,
                    dropout=cfg.dropout)
    model((tf.ones([1, 2], tf.int32), tf.ones([1, 2], tf.int32)))  # create the variables
    optimizer = training.with_loss_scaling(keras.optimizers.Adam(cfg.learning_rate))
    optimizer.build(model.trainable_variables)
    step = tf.Variable(0, dtype=tf.int64, name="global_step", trainable=False)

# %%
if not cfg.quiet:
    print_worked_example(model, corpus, source_ids, target_ids)

# %% [markdown]
# ## 3. Training
#
# `make_train_step` (model.py) is the lecture's step: teacher forcing, the cross-entropy
# over real tokens only. The shared loop compiles it, checkpoints, and scores greedy
# translations of the validation sentences with BLEU every `eval_every` steps.

# %%
iterator = training.distribute(run, train_data)
checkpoint = checkpoints.make(step, model, optimizer, iterator)
train_step = training.compile_step(run.strategy, make_train_step(model, optimizer,
                                                                 cfg.batch_size))
output_length = cfg.max_length + 2
greedy_decoder = decoding.make_decoder(model, output_length)
validation_sources, validation_references = (
    items[:cfg.validation_sentences] for items in corpus.validation.references())


def evaluate():
    bleu, *_ = decoding.bleu_of(greedy_decoder, validation_sources, validation_references,
                                corpus)
    return {"bleu": bleu}


results = training.train(run, step_fn=train_step, iterator=iterator, checkpoint=checkpoint,
                         step=step, schedule=training.make_schedule(cfg, 1000, len(corpus.train)),
                         evaluate=evaluate)

# %% [markdown]
# ## 4. Greedy against beam search on the test set
#
# Every test sentence translated greedily and with beam search (`beam_width`, length
# penalty `length_penalty`), BLEU against all references of each sentence; a few example
# translations, and where each output word looked.

# %%
test_sources, test_references = corpus.test.references()
beam_decoder = decoding.make_decoder(model, output_length, cfg.beam_width, cfg.length_penalty)
greedy_bleu, greedy_tokens, weights, greedy_speed = decoding.bleu_of(
    greedy_decoder, test_sources, test_references, corpus)
beam_bleu, beam_tokens, _, beam_speed = decoding.bleu_of(beam_decoder, test_sources,
                                                         test_references, corpus)
results.update({"test/bleu_greedy": greedy_bleu, f"test/bleu_beam{cfg.beam_width}": beam_bleu,
                "test/greedy_sentences_per_second": greedy_speed,
                f"test/beam{cfg.beam_width}_sentences_per_second": beam_speed,
                "test/sentences": len(test_sources)})
summaries.scalars(run.writer, {name[5:]: value for name, value in results.items()
                               if name.startswith("test/")}, int(step.numpy()), "test/")

# %%
print(f"\nExample translations{'' if cfg.corpus else f' ({data.ATTRIBUTION})'}:")
decoding.show_examples(run, corpus, test_sources[:6], test_references[:6],
                       greedy_tokens[:6], beam_tokens[:6], int(step.numpy()))
if run.chief:  # where each output word looked
    decoding.plot_attention(run, test_sources, greedy_tokens, weights, int(step.numpy()))
    plots.show(run.path("attention.png"))

# %% [markdown]
# ## 5. The translator, a SavedModel
#
# A string in, its translation out: the vocabularies, tokenisation and the decoding loop
# travel with the weights. Reloaded to show it stands alone.

# %%
translator = decoding.Translator(
    model, corpus.source_vocabulary.tokens, corpus.target_vocabulary.tokens,
    beam_width=cfg.beam_width, alpha=cfg.length_penalty, max_length=2 * cfg.max_length,
    trained_max_length=cfg.max_length, target_orthography=corpus.target_orthography)
decoding.export_translator(run, translator,
                           corpus.source_orthography.detokenize(test_sources[0]))

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
