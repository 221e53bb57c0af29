"""Lecture 12: neural machine translation with attention, beam search and BLEU.

English -> French on Tatoeba's sentence pairs (up to 10 tokens a side; `--reverse` for
French -> English, `--corpus FILE` for any other tab-separated parallel file): a bidirectional
GRU encoder, a GRU decoder trained with teacher forcing and a masked cross-entropy, and
attention (additive, Bahdanau et al. 2015; or --attention multiplicative, Luong et al.
2015) that decides which source words each output word looks at. The course's code for
this lecture was its chatbot assignment (legacy `embedding_attention_seq2seq`, greedy
decoding, no BLEU); here decoding runs in tf.function, greedy and batched beam search
with a length penalty, and translations are scored with corpus BLEU-4 against every
reference translation of the sentence. BLEU compares tokens (lower-cased, punctuation
split off), as in training; printed translations, TensorBoard's text and the translator
write sentences back the way the training targets are written ("Montrez-moi !", with
the capitals and the spacing of punctuation learnt from them). The run ends by
exporting a SavedModel that translates a raw string; `--translate` uses it and neither
trains nor writes anything.

    python lectures/l12_translation.py
    python lectures/l12_translation.py --corpus deu.txt --reverse     # German -> English
    python lectures/l12_translation.py --run-dir runs/l12_translation/DIR --translate "I am cold."
    tensorboard --logdir runs/l12_translation

A corpus file has one pair a line, "sentence<TAB>translation", and may have a third
column (the attribution in manythings.org's files, ignored); it may be one of
manythings.org's zips. Without --reverse the model translates the first column into
the second.

Our run on 2 shared CPU cores (`python benchmarks/translation.py`, the default 4,000 steps
of 64 pairs, about 2.2 epochs): 752 s for training and test decoding, 5.8 training
steps/s, train loss 1.05, validation BLEU 0.444 (greedy, 1,000 sentences); test BLEU 0.408
greedy, 0.436 beam 4, 0.437 beam 8 (4,469 test sentences; decoding 768 / 180 / 83
sentences/s).
"""

from __future__ import annotations

import dataclasses
import sys
import time

from cs20 import checkpoints, cli, config, plots, runtime, summaries, training
from cs20.datasets import translation
from cs20.metrics import bleu
from cs20.models import seq2seq

import keras
import tensorflow as tf

TRANSLATOR_DIR = "translator"


@dataclasses.dataclass(frozen=True)
class Config(config.TrainConfig):
    num_steps: int = config.option(4000, "Training steps (0: use --num-epochs).")
    batch_size: int = config.option(64, "Global batch size (sentence pairs).")
    learning_rate: float = config.option(2e-3, "Adam learning rate.")
    eval_every: int = config.option(1000, "Validation BLEU every N steps.")
    checkpoint_every: int = config.option(1000, "Checkpoint every N steps.")
    corpus: str = config.option("", "Tab-separated file of sentence pairs, one a line "
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
    beam_width: int = config.option(4, "Beam width for the beam-search translations.",
                                    changeable=True)
    length_penalty: float = config.option(0.6, "Length penalty alpha of beam search "
                                               "(0: rank by log-probability alone).",
                                          changeable=True)
    validation_sentences: int = config.option(1000, "Validation sentences scored with "
                                                    "greedy BLEU at each evaluation.",
                                              changeable=True)
    translate: str = config.option(None, "Translate this sentence with the translator saved "
                                         "in --run-dir, then exit (nothing is trained or "
                                         "written).",
                                   changeable=True)

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


def translate_with_saved(cfg: Config) -> dict:
    """--translate: load the exported translator of a finished run and translate.

    Reads the run directory and writes nothing to it, whatever the other flags say.
    """
    path = runtime.saved_model_of(cfg.run_dir, TRANSLATOR_DIR, "l12_translation",
                                  "--translate")
    tokens = translation.tokenize_python([cfg.translate])[0]
    if not tokens:
        raise ValueError("--translate got an empty sentence: give the sentence to translate")
    vocabulary = translation.Vocabulary.load(path.parent / "source_vocabulary.txt")
    unknown = vocabulary.unknown(tokens)
    if unknown:
        print(f"Unknown words (read as {translation.UNK}): {', '.join(unknown)}")
    translator = tf.saved_model.load(str(path))
    trained_max_length = int(translator.trained_max_length.numpy())
    if len(tokens) > trained_max_length:
        print(f"warning: the sentence has {len(tokens)} tokens but the model was trained on "
              f"sentences of at most {trained_max_length} (--max-length); expect a poor or "
              f"cut-off translation", file=sys.stderr)
    sentence = tf.constant(cfg.translate)
    result = {"source": cfg.translate,
              "greedy": translator.translate_greedy(sentence).numpy().decode("utf-8"),
              "beam": translator.translate(sentence).numpy().decode("utf-8")}
    print(f"{result['source']}\n  greedy: {result['greedy']}\n  beam:   {result['beam']}")
    return result


def build(cfg: Config, corpus: translation.Corpus, run: runtime.Run):
    """Model, optimizer and step counter, created under the strategy's scope."""
    with run.strategy.scope():
        model = seq2seq.Seq2Seq(len(corpus.source_vocabulary), len(corpus.target_vocabulary),
                                embedding_size=cfg.embedding_size, units=cfg.units,
                                bidirectional=cfg.bidirectional, attention=cfg.attention,
                                dropout=cfg.dropout)
        model((tf.ones([1, 2], tf.int32), tf.ones([1, 2], tf.int32)))  # create the variables
        optimizer = training.with_loss_scaling(keras.optimizers.Adam(cfg.learning_rate))
        optimizer.build(model.trainable_variables)
        step = tf.Variable(0, dtype=tf.int64, name="global_step", trainable=False)
    return model, optimizer, step


def make_train_step(model, optimizer, global_batch_size: int):
    """Per replica: teacher forcing (input BOS w1 .. wn, labels w1 .. wn EOS)."""

    def train_step(batch):
        source, target = batch  # (batch, source), (batch, target + 1)
        with tf.GradientTape() as tape:
            logits = model((source, target[:, :-1]), training=True)  # (batch, target, vocab)
            per_sentence = seq2seq.masked_cross_entropy(target[:, 1:], logits)
            loss = tf.nn.compute_average_loss(per_sentence, global_batch_size=global_batch_size)
            scaled_loss = optimizer.scale_loss(loss)  # unchanged unless mixed_float16
        optimizer.apply(tape.gradient(scaled_loss, model.trainable_variables),
                        model.trainable_variables)
        return {"loss": loss}

    return train_step


def bleu_of(decoder, sources, references, corpus) -> tuple[float, list, list, float]:
    """Corpus BLEU of decoded `sources` -> (bleu, hypotheses, attention, sentences/s)."""
    source_ids = [corpus.source_vocabulary.encode(tokens) for tokens in sources]
    started = time.perf_counter()
    tokens, attention = seq2seq.decode_all(decoder, source_ids)
    speed = len(sources) / (time.perf_counter() - started)
    hypotheses = [corpus.target_vocabulary.decode(ids) for ids in tokens]
    return bleu.corpus_bleu(references, hypotheses), hypotheses, attention, speed


def show_examples(run, corpus, sources, references, greedy, beam, step) -> None:
    """Prints example translations and logs them as a markdown table."""
    lines = ["| source | reference | greedy | beam |", "|---|---|---|---|"]
    for source, reference_set, greedy_tokens, beam_tokens in zip(sources, references, greedy,
                                                                  beam, strict=True):
        cells = [corpus.source_orthography.detokenize(source)] + [
            corpus.target_orthography.detokenize(tokens)
            for tokens in (reference_set[0], greedy_tokens, beam_tokens)]
        scores = [bleu.sentence_bleu(reference_set, tokens)
                  for tokens in (greedy_tokens, beam_tokens)]
        print(f"  {cells[0]}\n    reference: {cells[1]}\n    greedy:    {cells[2]}  "
              f"(BLEU {scores[0]:.2f})\n    beam:      {cells[3]}  (BLEU {scores[1]:.2f})")
        lines.append("| " + " | ".join(cells) + " |")
    summaries.text(run.writer, "test/examples", "\n".join(lines), step)


def main(argv=None) -> dict:
    cfg = config.parse(Config, argv, __doc__, prog="l12_translation")
    if cfg.translate is not None:
        return translate_with_saved(cfg)
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
    train_data = translation.training_dataset(*translation.encode_split(corpus.train, corpus),
                                              batch_size=cfg.batch_size, seed=cfg.seed)

    model, optimizer, step = build(cfg, corpus, run)
    iterator = training.distribute(run, train_data)
    checkpoint = checkpoints.make(step, model, optimizer, iterator)
    train_step = training.compile_step(run.strategy, make_train_step(model, optimizer,
                                                                     cfg.batch_size))
    output_length = cfg.max_length + 2
    greedy_decoder = seq2seq.make_decoder(model, 1, 0.0, output_length)
    validation_sources, validation_references = corpus.validation.references()
    validation_sources = validation_sources[:cfg.validation_sentences]
    validation_references = validation_references[:cfg.validation_sentences]

    def evaluate():
        bleu, *_ = bleu_of(greedy_decoder, validation_sources, validation_references, corpus)
        return {"bleu": bleu}

    results = training.train(run, step_fn=train_step, iterator=iterator, checkpoint=checkpoint,
                             step=step, schedule=training.make_schedule(cfg, 1000),
                             evaluate=evaluate)

    # Test set: greedy vs beam search, BLEU against all references of each sentence.
    test_sources, test_references = corpus.test.references()
    beam_decoder = seq2seq.make_decoder(model, cfg.beam_width, cfg.length_penalty,
                                        output_length)
    greedy_bleu, greedy, attention, greedy_speed = bleu_of(
        greedy_decoder, test_sources, test_references, corpus)
    beam_bleu, beam, _, beam_speed = bleu_of(beam_decoder, test_sources, test_references, corpus)
    results.update({"test/bleu_greedy": greedy_bleu, f"test/bleu_beam{cfg.beam_width}": beam_bleu,
                    "test/greedy_sentences_per_second": greedy_speed,
                    f"test/beam{cfg.beam_width}_sentences_per_second": beam_speed,
                    "test/sentences": len(test_sources)})
    summaries.scalars(run.writer, {name[5:]: value for name, value in results.items()
                                   if name.startswith("test/")}, int(step.numpy()), "test/")
    print("\nExample translations" + ("" if cfg.corpus else f" ({translation.ATTRIBUTION})")
          + ":")
    show_examples(run, corpus, test_sources[:6], test_references[:6], greedy[:6], beam[:6],
                  int(step.numpy()))

    # Where each output word looked: one row per output word, EOS included.
    if run.chief:
        shown = range(4)
        outputs = [(greedy[i] + [translation.EOS])[:len(attention[i])] for i in shown]
        heatmap = plots.attention_heatmaps(
            [attention[i][:len(outputs[i])] for i in shown],
            [test_sources[i] for i in shown], outputs, run.path("attention.png"),
            title="Attention (greedy decoding)")
        summaries.png_file(run.writer, "test/attention", heatmap, int(step.numpy()))
        print(f"Attention heatmaps: {heatmap}")

    # A SavedModel that takes a string; reloaded here to show it stands alone.
    translator = seq2seq.Translator(model, corpus.source_vocabulary.tokens,
                                    corpus.target_vocabulary.tokens, beam_width=cfg.beam_width,
                                    alpha=cfg.length_penalty, max_length=2 * cfg.max_length,
                                    trained_max_length=cfg.max_length,
                                    target_orthography=corpus.target_orthography)
    # Every worker of a multi-worker run saves (the save is collective); the chief's is kept.
    tf.saved_model.save(translator, str(run.write_path(TRANSLATOR_DIR)))
    if run.chief:
        example = corpus.source_orthography.detokenize(test_sources[0])
        reloaded = tf.saved_model.load(str(run.path(TRANSLATOR_DIR)))
        print(f"Saved translator: {run.path(TRANSLATOR_DIR)}\n  {example!r} -> "
              f"{reloaded.translate(tf.constant(example)).numpy().decode('utf-8')!r}\n"
              f"Try: python lectures/l12_translation.py --run-dir {run.directory} "
              f"--translate \"How are you?\"")
    return run.finish(results, steps=int(step.numpy()))


if __name__ == "__main__":
    cli.guard(main)
