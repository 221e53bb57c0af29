"""Lecture 12: neural machine translation with attention, beam search and BLEU.

English -> French on Tatoeba's pairs (up to 10 tokens a side; --reverse: French -> English;
--corpus: any other parallel file). The model (cs20/models/seq2seq.py): a bidirectional GRU
encoder, a GRU decoder and attention (cs20/models/attention.py: additive, Bahdanau et al.
2015, or multiplicative, Luong et al. 2015). Read in order:

1. `attention_of`: attention scores and context, step by step, for one sentence pair;
2. `masked_cross_entropy` and `make_train_step`: teacher forcing (the decoder reads the
   reference shifted by one) with a loss over real tokens only;
3. `greedy`: the decoding loop, one word at a time; beam search keeps the best few
   partial translations instead (`decoding.beam_search`, with a length penalty).

Before training it prints one sentence pair with the decoder input shifted by one, as words
and ids, and where the untrained attention looks (--quiet: not). The course had its chatbot
here (legacy `embedding_attention_seq2seq`, greedy, no BLEU). BLEU-4 compares tokens with
every reference of a sentence; translations are written back as the training targets are
("Montrez-moi !"). The run exports a SavedModel that translates a string; `--translate` uses
it and neither trains nor writes anything.

    python lectures/l12_translation.py
    python lectures/l12_translation.py --corpus deu.txt --reverse     # German -> English
    python lectures/l12_translation.py --run-dir runs/l12_translation/DIR --translate "I am cold."
    tensorboard --logdir runs/l12_translation

Look at eval/bleu, then test/bleu_greedy against test/bleu_beam4 (higher is better), the
example translations and attention.png. Our figures: README, row "12 translation".
"""

from __future__ import annotations

import dataclasses

from cs20 import checkpoints, cli, config, runtime, summaries, training
from cs20.datasets import translation
from cs20.models import attention, decoding, seq2seq

import keras
import numpy as np
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class Config(config.TrainConfig):
    num_steps: int = config.option(4000, "Training steps (0: use --num-epochs).")
    batch_size: int = config.option(64, "Global batch size (sentence pairs).")
    learning_rate: float = config.option(2e-3, "Adam learning rate.")
    eval_every: int = config.option(1000, "Validation BLEU every N steps.")
    checkpoint_every: int = config.option(1000, "Checkpoint every N steps.")
    corpus: str = config.option("", "File of sentence pairs, 'sentence<TAB>translation' a line, "
                                    "a third column ignored, or a manythings.org zip "
                                    "(default: Tatoeba's English-French fra-eng.zip).")
    reverse: bool = config.option(False, "Translate the second column into the first "
                                         "(French -> English on the default corpus).")
    max_length: int = config.option(10, "Keep pairs with at most this many tokens a side.")
    min_count: int = config.option(2, "Words seen fewer times in training become <unk>.")
    embedding_size: int = config.option(128, "Word embedding size.")
    units: int = config.option(256, "GRU and attention units.")
    bidirectional: bool = config.option(True, "Read the source in both directions.")
    attention: str = config.option("additive", "Attention score: additive (Bahdanau) or "
                                               "multiplicative (Luong).",
                                   choices=("additive", "multiplicative"))
    dropout: float = config.option(0.2, "Dropout on embeddings and attentional vectors.")
    beam_width: int = config.option(4, "Beam width of the beam-search translations.", changeable=True)
    length_penalty: float = config.option(0.6, "Length penalty alpha of beam search (0: rank "
                                               "by log-probability alone).", changeable=True)
    validation_sentences: int = config.option(1000, "Validation sentences scored with greedy "
                                                    "BLEU at each evaluation.", changeable=True)
    translate: str = config.option(None, "Translate this sentence with the translator saved "
                                         "in --run-dir, then exit (nothing is trained or "
                                         "written).", changeable=True)

    def __post_init__(self):
        super().__post_init__()
        if self.beam_width < 1:
            raise ValueError(f"--beam-width must be at least 1, got {self.beam_width}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"--dropout must be in [0, 1), got {self.dropout}")
        if self.jit_compile:
            raise ValueError("--jit-compile is not supported by l12_translation: its batches "
                             "are bucketed by length, and XLA would recompile the step for "
                             "every batch shape")


# --- The lesson: attention, teacher forcing, the decoding loop ---

def attention_of(model: seq2seq.Seq2Seq, source, target_input):
    """Attention scores and context for source ids (batch, source) and decoder input ids
    (batch, target), step by step: what `model.decode` does inside."""
    outputs, keys, state, source_mask = model.encode(source)  # keys (batch, source, units)
    embedded = model.target_embedding(target_input)  # (batch, target, embedding)
    queries, _ = model.decoder_rnn(embedded, initial_state=state)  # (batch, target, units)
    scores = model.attention.score(queries, keys)  # (batch, target, source)
    # Weights: softmax over real source words; context: their weighted sum of outputs.
    context, weights = attention.attend(scores, outputs, source_mask)
    return scores, weights, context  # ..., (batch, target, source), (batch, target, 2 units)


def masked_cross_entropy(labels, logits):
    """Per-sentence mean cross-entropy over real target tokens: (batch, time) -> (batch,)."""
    mask = tf.cast(translation.masks(labels), tf.float32)  # (batch, time): 0 on padding
    per_token = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels, tf.cast(logits, tf.float32))  # (batch, time)
    return tf.reduce_sum(per_token * mask, axis=1) / tf.maximum(tf.reduce_sum(mask, axis=1), 1.0)


def make_train_step(model, optimizer, global_batch_size: int):
    """Per replica: teacher forcing (input BOS w1 .. wn, labels w1 .. wn EOS)."""

    def train_step(batch):
        source, target = batch  # (batch, source), (batch, target + 1)
        with tf.GradientTape() as tape:
            logits = model((source, target[:, :-1]), training=True)  # (batch, target, vocab)
            per_sentence = masked_cross_entropy(target[:, 1:], logits)  # (batch,)
            loss = tf.nn.compute_average_loss(per_sentence, global_batch_size=global_batch_size)
            scaled_loss = optimizer.scale_loss(loss)  # unchanged unless mixed_float16
        gradients = tape.gradient(scaled_loss, model.trainable_variables)
        # dense_gradients: an embedding's rows summed per word, for Adam and the replicas.
        optimizer.apply(training.dense_gradients(gradients), model.trainable_variables)
        return {"loss": loss}

    return train_step


def greedy(step, state, max_length, source_length):
    """The most likely word at each step, fed back as the next input, until every sentence
    has written EOS -> (tokens (batch, max_length), attention (batch, max_length, source)).
    `step(tokens (batch,), state) -> (log-probs (batch, vocab), state, attention)`."""
    batch_size = tf.shape(tf.nest.flatten(state)[0])[0]
    tokens = tf.fill([batch_size], translation.BOS_ID)  # (batch,)
    finished = tf.zeros([batch_size], tf.bool)
    outputs = tf.TensorArray(tf.int32, size=max_length)
    weights = tf.TensorArray(tf.float32, size=max_length, element_shape=[None, None])
    for position in tf.range(max_length):
        log_probs, state, attention_weights = step(tokens, state)  # (batch, vocab), ...
        tokens = tf.argmax(log_probs, axis=-1, output_type=tf.int32)  # (batch,)
        tokens = tf.where(finished, translation.PAD_ID, tokens)  # PAD after EOS
        outputs = outputs.write(position, tokens)
        weights = weights.write(position, attention_weights)  # (batch, source)
        finished |= tokens == translation.EOS_ID
        if tf.reduce_all(finished):
            break
    padding = max_length - outputs.size()  # steps not taken
    tokens = tf.pad(tf.transpose(outputs.stack()), [[0, 0], [0, padding]])
    weights = tf.pad(tf.transpose(weights.stack(), [1, 0, 2]), [[0, 0], [0, padding], [0, 0]])
    return tokens, tf.reshape(weights, [batch_size, max_length, source_length])


def show_worked_example(model, corpus: translation.Corpus, source_ids, target_ids) -> None:
    """A training pair (the first of 4 words or more): the decoder reads BOS w1 .. wn and
    must write w1 .. wn EOS; and where the untrained attention looks."""
    index = next((i for i, words in enumerate(corpus.train.sources) if len(words) >= 4), 0)
    source = corpus.train.sources[index]
    decoder_input, labels = target_ids[index][:-1], target_ids[index][1:]
    words = corpus.target_vocabulary.tokens
    _, weights, context = attention_of(model, tf.constant([source_ids[index]]),
                                       tf.constant([decoder_input]))
    print(f"Worked example: a training pair, the decoder's input shifted by one\n"
          f"  source         {' '.join(source)}  {source_ids[index]}\n"
          f"  decoder input  {' '.join(words[i] for i in decoder_input)}  {decoder_input}\n"
          f"  labels         {' '.join(words[i] for i in labels)}  {labels}\n"
          f"  untrained attention of {words[labels[0]]!r} over the source words: "
          f"{np.array2string(weights[0, 0].numpy(), precision=2)} (sum 1)\n"
          f"  context {tuple(context.shape)}: (batch, target, 2 x units), a weighted sum of "
          f"the encoder outputs per target position")


def main(argv=None) -> dict:
    cfg = config.parse(Config, argv, __doc__, prog="l12_translation")
    if cfg.translate is not None:
        return decoding.translate_with_saved(cfg.run_dir, cfg.translate)
    # Read (and check) the pairs first: a bad --corpus stops before the run writes anything.
    corpus_path = translation.corpus_path(cfg.corpus, cfg.data_dir)
    pairs = translation.read_pairs(corpus_path)
    run = runtime.start("l12_translation", cfg)
    print(f"Sentence pairs: {corpus_path}" if cfg.corpus else translation.ATTRIBUTION)

    corpus = translation.make_corpus(pairs, reverse=cfg.reverse, max_length=cfg.max_length,
                                     min_count=cfg.min_count)
    if run.chief:  # in a multi-worker run only the chief writes the run directory
        corpus.source_vocabulary.save(run.path("source_vocabulary.txt"))
        corpus.target_vocabulary.save(run.path("target_vocabulary.txt"))
    print(f"{len(corpus.train):,} training pairs, {len(corpus.validation):,} validation, "
          f"{len(corpus.test):,} test; vocabularies {len(corpus.source_vocabulary):,} / "
          f"{len(corpus.target_vocabulary):,} words")
    source_ids, target_ids = translation.encode_split(corpus.train, corpus)
    train_data = translation.training_dataset(source_ids, target_ids,
                                              batch_size=cfg.batch_size, seed=cfg.seed)

    with run.strategy.scope():  # model, optimizer and step counter
        model = seq2seq.Seq2Seq(len(corpus.source_vocabulary), len(corpus.target_vocabulary),
                                embedding_size=cfg.embedding_size, units=cfg.units,
                                bidirectional=cfg.bidirectional, attention=cfg.attention,
                                dropout=cfg.dropout)
        model((tf.ones([1, 2], tf.int32), tf.ones([1, 2], tf.int32)))  # create the variables
        optimizer = training.with_loss_scaling(keras.optimizers.Adam(cfg.learning_rate))
        optimizer.build(model.trainable_variables)
        step = tf.Variable(0, dtype=tf.int64, name="global_step", trainable=False)
    if not cfg.quiet:
        show_worked_example(model, corpus, source_ids, target_ids)
    iterator = training.distribute(run, train_data)
    checkpoint = checkpoints.make(step, model, optimizer, iterator)
    train_step = training.compile_step(run.strategy, make_train_step(model, optimizer,
                                                                     cfg.batch_size))
    output_length = cfg.max_length + 2
    greedy_decoder = decoding.make_decoder(model, output_length, greedy)
    validation_sources, validation_references = (
        items[:cfg.validation_sentences] for items in corpus.validation.references())

    def evaluate():
        bleu, *_ = decoding.bleu_of(greedy_decoder, validation_sources, validation_references,
                                    corpus)
        return {"bleu": bleu}

    results = training.train(run, step_fn=train_step, iterator=iterator, checkpoint=checkpoint,
                             step=step, schedule=training.make_schedule(cfg, 1000, len(corpus.train)),
                             evaluate=evaluate)

    # Test set: greedy vs beam search, BLEU against all references of each sentence.
    test_sources, test_references = corpus.test.references()
    beam_decoder = decoding.make_decoder(model, output_length, greedy, cfg.beam_width,
                                         cfg.length_penalty)
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
    print(f"\nExample translations{'' if cfg.corpus else f' ({translation.ATTRIBUTION})'}:")
    decoding.show_examples(run, corpus, test_sources[:6], test_references[:6],
                           greedy_tokens[:6], beam_tokens[:6], int(step.numpy()))
    if run.chief:  # where each output word looked
        decoding.plot_attention(run, test_sources, greedy_tokens, weights, int(step.numpy()))

    # A SavedModel that takes a string; reloaded to show it stands alone.
    translator = decoding.Translator(
        model, corpus.source_vocabulary.tokens, corpus.target_vocabulary.tokens, greedy=greedy,
        beam_width=cfg.beam_width, alpha=cfg.length_penalty, max_length=2 * cfg.max_length,
        trained_max_length=cfg.max_length, target_orthography=corpus.target_orthography)
    decoding.export_translator(run, translator,
                               corpus.source_orthography.detokenize(test_sources[0]))
    return run.finish(results, steps=int(step.numpy()))


if __name__ == "__main__":
    cli.guard(main)
