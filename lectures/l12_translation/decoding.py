"""Decoding lecture 12's model: greedy and beam search, batched decoders, BLEU of decoded
test sentences, and the SavedModel translator.

1. `greedy`: the decoding loop, one word at a time, each the most likely after the
   words before;
2. `beam_search`: keeps the `beam_width` best partial translations of every sentence
   instead, ranked by log-probability divided by the GNMT length penalty
   ((5 + length) / 6) ** alpha, and stops when every beam has produced EOS;
3. `make_decoder` and `bleu_of`: either one as a tf.function over batches of source ids,
   and the BLEU (bleu.py) of what it writes;
4. `Translator`: a string in, its translation out, exported as a SavedModel.

    decoder = decoding.make_decoder(model, max_length, beam_width=4, alpha=0.6)
    tokens, attention = decoding.decode_all(decoder, source_ids)

Both loops call a `step(tokens, state) -> (log-probs, state, attention)` made by
`Seq2Seq.step_function` (model.py), and return the attention weights for plotting.
"""

from __future__ import annotations

import functools
import sys
import time

from cs20 import cli, plots, runtime, summaries
from lectures.l12_translation import bleu, data
from lectures.l12_translation.attention import NEGATIVE_INFINITY
from lectures.l12_translation.model import Seq2Seq

import tensorflow as tf

TRANSLATOR_DIR = "translator"


def greedy(step, state, max_length, source_length):
    """The most likely word at each step, fed back as the next input, until every sentence
    has written EOS -> (tokens (batch, max_length), attention (batch, max_length, source)).
    `step(tokens (batch,), state) -> (log-probs (batch, vocab), state, attention)`."""
    batch_size = tf.shape(tf.nest.flatten(state)[0])[0]
    tokens = tf.fill([batch_size], data.BOS_ID)  # (batch,)
    finished = tf.zeros([batch_size], tf.bool)
    outputs = tf.TensorArray(tf.int32, size=max_length)
    weights = tf.TensorArray(tf.float32, size=max_length, element_shape=[None, None])
    for position in tf.range(max_length):
        log_probs, state, attention_weights = step(tokens, state)  # (batch, vocab), ...
        tokens = tf.argmax(log_probs, axis=-1, output_type=tf.int32)  # (batch,)
        tokens = tf.where(finished, data.PAD_ID, tokens)  # PAD after EOS
        outputs = outputs.write(position, tokens)
        weights = weights.write(position, attention_weights)  # (batch, source)
        finished |= tokens == data.EOS_ID
        if tf.reduce_all(finished):
            break
    padding = max_length - outputs.size()  # steps not taken
    tokens = tf.pad(tf.transpose(outputs.stack()), [[0, 0], [0, padding]])
    weights = tf.pad(tf.transpose(weights.stack(), [1, 0, 2]), [[0, 0], [0, padding], [0, 0]])
    return tokens, tf.reshape(weights, [batch_size, max_length, source_length])


def length_penalty(length, alpha: float):
    """GNMT's ((5 + length) / 6) ** alpha: alpha 0 ranks by log-probability alone, larger
    alpha favours longer translations (log-probabilities only fall as words are added)."""
    return tf.pow((5.0 + tf.cast(length, tf.float32)) / 6.0, alpha)


def tile_beams(tensor, beam_width: int):
    """(batch, ...) -> (batch * beam, ...), each row repeated beam_width times."""
    return tf.repeat(tensor, beam_width, axis=0)


def beam_search(step, state, beam_width: int, max_length, source_length, alpha: float = 0.0):
    """Batched beam search -> (tokens (batch, max_length), attention, scores (batch,)).

    `step` and `state` work on batch * beam_width rows (see `tile_beams`). Every step
    extends each live beam by every word, keeps the beam_width best candidates per
    sentence under log-probability / length_penalty, and reorders the beams' state and
    history to follow their parents. A finished beam (it produced EOS) keeps its score
    and only extends with PAD, so it competes with the live ones until the end.
    """
    rows = tf.shape(tf.nest.flatten(state)[0])[0]
    batch_size = rows // beam_width
    # Only the first beam is live at the start, or all beams would be the same sentence.
    scores = tf.tile(tf.concat([[0.0], tf.fill([beam_width - 1], NEGATIVE_INFINITY)], 0)[None],
                     [batch_size, 1])  # (batch, beam)
    tokens = tf.fill([rows], data.BOS_ID)
    finished = tf.zeros([batch_size, beam_width], tf.bool)
    lengths = tf.zeros([batch_size, beam_width], tf.int32)
    history = tf.zeros([batch_size, beam_width, max_length], tf.int32)
    attention = tf.zeros([batch_size, beam_width, max_length, source_length], tf.float32)
    positions = tf.range(max_length)
    for position in tf.range(max_length):
        # The batch size is only known when the graph runs.
        tf.autograph.experimental.set_loop_options(shape_invariants=[
            (scores, tf.TensorShape([None, beam_width])),
            (finished, tf.TensorShape([None, beam_width])),
            (lengths, tf.TensorShape([None, beam_width])),
            (history, tf.TensorShape([None, beam_width, None])),
            (attention, tf.TensorShape([None, beam_width, None, None])),
            (tokens, tf.TensorShape([None])),
            (state, tf.nest.map_structure(lambda s: tf.TensorShape([None, *s.shape[1:]]),
                                          state))])
        log_probs, state, weights = step(tokens, state)  # (rows, vocab), ..., (rows, source)
        vocab = tf.shape(log_probs)[-1]
        log_probs = tf.reshape(log_probs, [batch_size, beam_width, -1])
        # A finished beam may only add PAD, at no cost.
        pad_only = tf.one_hot(data.PAD_ID, vocab, on_value=0.0,
                              off_value=NEGATIVE_INFINITY)
        log_probs = tf.where(finished[:, :, None], pad_only, log_probs)
        candidates = scores[:, :, None] + log_probs  # (batch, beam, vocab)
        new_lengths = lengths + tf.cast(~finished, tf.int32)
        ranked = candidates / length_penalty(new_lengths, alpha)[:, :, None]
        _, best = tf.math.top_k(tf.reshape(ranked, [batch_size, -1]), k=beam_width)
        parents = best // vocab  # (batch, beam)
        words = best % vocab
        scores = tf.gather(tf.reshape(candidates, [batch_size, -1]), best, batch_dims=1)
        lengths = tf.gather(new_lengths, parents, batch_dims=1)
        finished = tf.gather(finished, parents, batch_dims=1) | (words == data.EOS_ID)
        at_position = (positions == position)[None, None, :]
        history = tf.where(at_position, words[:, :, None],
                           tf.gather(history, parents, batch_dims=1))
        weights = tf.gather(tf.reshape(weights, [batch_size, beam_width, -1]), parents,
                            batch_dims=1)
        attention = tf.where(at_position[:, :, :, None], weights[:, :, None, :],
                             tf.gather(attention, parents, batch_dims=1))
        flat_parents = tf.reshape(parents + tf.range(batch_size)[:, None] * beam_width, [-1])
        state = tf.nest.map_structure(functools.partial(tf.gather, indices=flat_parents), state)
        tokens = tf.reshape(words, [-1])
        if tf.reduce_all(finished):
            break
    final = scores / length_penalty(lengths, alpha)  # (batch, beam)
    best = tf.argmax(final, axis=-1, output_type=tf.int32)
    return (tf.gather(history, best, batch_dims=1), tf.gather(attention, best, batch_dims=1),
            tf.gather(final, best, batch_dims=1))


class Translator(tf.Module):
    """Sentence string -> translated string, exportable with tf.saved_model.save.

    Holds the model, both vocabularies as lookup tables and the target side's
    orthography; tokenisation and detokenisation are the same tf.strings code that the
    training data and the lecture's printed translations go through.
    `trained_max_length` is the longest source (in tokens) it was trained on.
    """

    def __init__(self, model: Seq2Seq, source_tokens, target_tokens, *, beam_width: int,
                 alpha: float, max_length: int, trained_max_length: int,
                 target_orthography: data.Orthography):
        super().__init__()
        self.model = model
        self.source_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(list(source_tokens)), tf.range(len(source_tokens), dtype=tf.int32)),
            default_value=data.UNK_ID)
        # Target ids -> words as written ("tom" -> "Tom").
        self.target_words = tf.Variable([target_orthography.written(token)
                                         for token in target_tokens], trainable=False)
        self.joins_left = target_orthography.joins_left
        self.joins_right = target_orthography.joins_right
        self.trained_max_length = tf.Variable(trained_max_length, trainable=False)
        self.beam_width = beam_width
        self.alpha = alpha
        self.max_length = max_length

    def ids(self, sentence):
        tokens = data.tokenize(tf.reshape(sentence, [1]))  # (1, None)
        tf.debugging.assert_positive(tf.size(tokens.flat_values),
                                     message="empty sentence: nothing to translate")
        return self.source_table.lookup(tokens).to_tensor()  # (1, source)

    def text(self, ids):
        """(max_length,) ids -> the written sentence, cut at EOS."""
        length = tf.reduce_min(tf.concat([tf.where(ids == data.EOS_ID)[:, 0],
                                          [tf.size(ids, out_type=tf.int64)]], 0))
        return data.detokenize_words(tf.gather(self.target_words, ids[:length]),
                                            self.joins_left, self.joins_right)

    @tf.function(input_signature=[tf.TensorSpec([], tf.string)])
    def translate(self, sentence):
        """Beam search translation of one sentence."""
        source = self.ids(sentence)
        encoded = tf.nest.map_structure(lambda t: tile_beams(t, self.beam_width),
                                        self.model.encode(source))
        tokens, _, _ = beam_search(self.model.step_function(encoded), encoded[2], self.beam_width,
                                   self.max_length, tf.shape(source)[1], self.alpha)
        return self.text(tokens[0])

    @tf.function(input_signature=[tf.TensorSpec([], tf.string)])
    def translate_greedy(self, sentence):
        """Greedy translation of one sentence."""
        source = self.ids(sentence)
        encoded = self.model.encode(source)
        tokens, _ = greedy(self.model.step_function(encoded), encoded[2], self.max_length,
                           tf.shape(source)[1])
        return self.text(tokens[0])


def make_decoder(model: Seq2Seq, max_length: int, beam_width: int = 1, alpha: float = 0.0):
    """A tf.function: source ids (batch, source) -> (tokens (batch, max_length), attention).

    Beam width 1 means `greedy` decoding. One trace serves every batch shape.
    """

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)])
    def decode(source):
        encoded = model.encode(source)
        if beam_width == 1:
            return greedy(model.step_function(encoded), encoded[2], max_length,
                          tf.shape(source)[1])
        encoded = tf.nest.map_structure(lambda t: tile_beams(t, beam_width), encoded)
        tokens, attention, _ = beam_search(model.step_function(encoded), encoded[2],
                                           beam_width, max_length, tf.shape(source)[1], alpha)
        return tokens, attention

    return decode


def decode_all(decoder, source_ids: list[list[int]], batch_size: int = 256):
    """Decodes every sentence (sorted by length, so batches carry little padding).

    -> (token id arrays, attention arrays (output, source)), in the input order.
    """
    order = sorted(range(len(source_ids)), key=lambda index: len(source_ids[index]))
    tokens, attention = [None] * len(source_ids), [None] * len(source_ids)
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        batch = data.pad([source_ids[index] for index in chunk])
        batch_tokens, batch_attention = decoder(tf.constant(batch))
        for row, index in enumerate(chunk):
            tokens[index] = batch_tokens[row].numpy()
            attention[index] = batch_attention[row, :, :len(source_ids[index])].numpy()
    return tokens, attention


def bleu_of(decoder, sources, references, corpus) -> tuple[float, list, list, float]:
    """Corpus BLEU of decoded `sources` -> (bleu, hypotheses, attention, sentences/s)."""
    source_ids = [corpus.source_vocabulary.encode(tokens) for tokens in sources]
    started = time.perf_counter()
    tokens, attention = decode_all(decoder, source_ids)
    speed = len(sources) / (time.perf_counter() - started)
    hypotheses = [corpus.target_vocabulary.decode(ids) for ids in tokens]
    return bleu.corpus_bleu(references, hypotheses), hypotheses, attention, speed


def show_examples(run, corpus, sources, references, greedy_translations, beam_translations,
                  step) -> None:
    """Prints example translations and logs them as a markdown table (test/examples)."""
    lines = ["| source | reference | greedy | beam |", "|---|---|---|---|"]
    for source, reference_set, greedy_tokens, beam_tokens in zip(
            sources, references, greedy_translations, beam_translations, strict=True):
        cells = [corpus.source_orthography.detokenize(source)] + [
            corpus.target_orthography.detokenize(tokens)
            for tokens in (reference_set[0], greedy_tokens, beam_tokens)]
        scores = [bleu.sentence_bleu(reference_set, tokens)
                  for tokens in (greedy_tokens, beam_tokens)]
        print(f"  {cells[0]}\n    reference: {cells[1]}\n    greedy:    {cells[2]}  "
              f"(BLEU {scores[0]:.2f})\n    beam:      {cells[3]}  (BLEU {scores[1]:.2f})")
        lines.append("| " + " | ".join(cells) + " |")
    summaries.text(run.writer, "test/examples", "\n".join(lines), step)


def plot_attention(run, sources, outputs, attention, step, count: int = 4) -> None:
    """Heatmaps of where each output word looked (one row per output word, EOS included)
    for the first `count` sentences: attention.png and TensorBoard (test/attention)."""
    shown = range(min(count, len(sources)))
    words = [(outputs[i] + [data.EOS])[:len(attention[i])] for i in shown]
    heatmap = plots.attention_heatmaps([attention[i][:len(words[i])] for i in shown],
                                       [sources[i] for i in shown], words,
                                       run.path("attention.png"),
                                       title="Attention (greedy decoding)")
    summaries.png_file(run.writer, "test/attention", heatmap, step)
    print(f"Attention heatmaps: {heatmap}")


def export_translator(run, translator: Translator, example: str) -> None:
    """Saves the translator into the run directory and shows that the reloaded SavedModel
    stands alone. Every worker of a multi-worker run saves (the save is collective); the
    chief's is kept."""
    tf.saved_model.save(translator, str(run.write_path(TRANSLATOR_DIR)))
    if run.chief:
        reloaded = tf.saved_model.load(str(run.path(TRANSLATOR_DIR)))
        print(f"Saved translator: {run.path(TRANSLATOR_DIR)}\n  {example!r} -> "
              f"{reloaded.translate(tf.constant(example)).numpy().decode('utf-8')!r}\n"
              f"Try: {cli.lecture_command(run.lecture)} --run-dir {run.directory} "
              f"--translate \"How are you?\"")


def translate_with_saved(run_dir: str, sentence: str) -> dict:
    """Lecture 12's --translate: the translator exported by a finished run translates
    `sentence` (greedy and beam). Reads the run directory and writes nothing to it."""
    path = runtime.saved_model_of(run_dir, TRANSLATOR_DIR, "l12_translation", "--translate")
    tokens = data.tokenize_python([sentence])[0]
    if not tokens:
        raise ValueError("--translate got an empty sentence: give the sentence to translate")
    vocabulary = data.Vocabulary.load(path.parent / "source_vocabulary.txt")
    unknown = vocabulary.unknown(tokens)
    if unknown:
        print(f"Unknown words (read as {data.UNK}): {', '.join(unknown)}")
    translator = tf.saved_model.load(str(path))
    trained_max_length = int(translator.trained_max_length.numpy())
    if len(tokens) > trained_max_length:
        print(f"warning: the sentence has {len(tokens)} tokens but the model was trained on "
              f"sentences of at most {trained_max_length} (--max-length); expect a poor or "
              f"cut-off translation", file=sys.stderr)
    text = tf.constant(sentence)
    result = {"source": sentence,
              "greedy": translator.translate_greedy(text).numpy().decode("utf-8"),
              "beam": translator.translate(text).numpy().decode("utf-8")}
    print(f"{result['source']}\n  greedy: {result['greedy']}\n  beam:   {result['beam']}")
    return result
