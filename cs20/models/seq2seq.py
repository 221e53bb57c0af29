"""Encoder-decoder with attention (Bahdanau et al. 2015; Luong et al. 2015), and decoding.

The encoder is a GRU (optionally bidirectional) over the source. The decoder GRU reads
the target shifted right (teacher forcing) starting from the encoder's final state;
each of its outputs then attends over the encoder outputs and the context vector and
the output are combined into an "attentional" vector that predicts the next word
(Luong's placement, as in TensorFlow's NMT tutorial: attention after the RNN, so the
whole target runs through one GRU call during training). The score that decides where
to attend is additive (Bahdanau: v . tanh(W q + U k)) or multiplicative (Luong's
"general": q . W k).

Decoding runs inside tf.function: `greedy` takes the most likely word at each step;
`beam_search` keeps the `beam_width` best partial translations of every sentence, ranked
by log-probability divided by the GNMT length penalty ((5 + length) / 6) ** alpha, and
stops when every beam has produced EOS. Both return the attention weights for plotting.
"""

from __future__ import annotations

import functools

from cs20.datasets import translation

import keras
import tensorflow as tf

NEGATIVE_INFINITY = -1e9  # finite, so that -inf - -inf never makes a NaN


class Attention(keras.layers.Layer):
    """Masked attention of queries (decoder outputs) over keys (encoder outputs)."""

    def __init__(self, units: int, score: str = "additive", **kwargs):
        super().__init__(**kwargs)
        if score not in ("additive", "multiplicative"):
            raise ValueError(f"attention score must be additive or multiplicative, not {score!r}")
        self.score = score
        self.key_projection = keras.layers.Dense(units, use_bias=False, name="key_projection")
        if score == "additive":
            self.query_projection = keras.layers.Dense(units, use_bias=False,
                                                       name="query_projection")
            self.energy = keras.layers.Dense(1, use_bias=False, name="energy")

    def call(self, queries, keys, values, source_mask):
        # queries (batch, target, units); keys = projected encoder outputs (batch, source, units)
        if self.score == "additive":
            hidden = tf.tanh(self.query_projection(queries)[:, :, None, :]
                             + keys[:, None, :, :])  # (batch, target, source, units)
            scores = tf.squeeze(self.energy(hidden), -1)  # (batch, target, source)
        else:
            scores = tf.matmul(queries, keys, transpose_b=True)  # (batch, target, source)
        # Softmax in float32 (also under mixed precision), padding pushed to exactly 0.
        scores = tf.where(source_mask[:, None, :], tf.cast(scores, tf.float32), NEGATIVE_INFINITY)
        weights = tf.nn.softmax(scores, axis=-1)
        weights *= tf.cast(source_mask[:, None, :], tf.float32)  # (batch, target, source)
        context = tf.matmul(tf.cast(weights, values.dtype), values)  # (batch, target, values)
        return context, weights


class Seq2Seq(keras.Model):
    """Source ids (batch, source) + target ids (batch, target) -> logits (batch, target, vocab)."""

    def __init__(self, source_vocabulary_size: int, target_vocabulary_size: int, *,
                 embedding_size: int = 128, units: int = 256, bidirectional: bool = True,
                 attention: str = "additive", dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.target_vocabulary_size = target_vocabulary_size
        # Embeddings start at unit scale, N(0, 1). Keras' default, U(-0.05, 0.05), feeds
        # each word to the GRUs at about a twentieth of the scale of their state: the
        # decoder then learns where in the sentence it is rather than which word it just
        # wrote ("je je . . </s>") and the source barely matters (train loss after 300
        # steps: 5.37 with Keras' default, 3.48 with N(0, 1)).
        initializer = keras.initializers.RandomNormal(stddev=1.0)
        self.source_embedding = keras.layers.Embedding(
            source_vocabulary_size, embedding_size, embeddings_initializer=initializer,
            name="source_embedding")
        self.target_embedding = keras.layers.Embedding(
            target_vocabulary_size, embedding_size, embeddings_initializer=initializer,
            name="target_embedding")
        encoder_rnn = keras.layers.GRU(units, return_sequences=True, return_state=True,
                                       name="encoder_gru")
        self.encoder_rnn = (keras.layers.Bidirectional(encoder_rnn, name="encoder")
                            if bidirectional else encoder_rnn)
        # Both directions' final states -> the decoder's first state.
        self.bridge = keras.layers.Dense(units, activation="tanh", name="bridge")
        self.decoder_rnn = keras.layers.GRU(units, return_sequences=True, return_state=True,
                                            name="decoder_gru")
        self.attention = Attention(units, attention, name="attention")
        self.combine = keras.layers.Dense(units, activation="tanh", use_bias=False,
                                          name="attentional")
        self.dropout = keras.layers.Dropout(dropout)
        self.output_layer = keras.layers.Dense(target_vocabulary_size, name="logits")

    def encode(self, source, training=False):
        """-> (encoder outputs (batch, source, units'), keys, decoder state, source mask)."""
        source_mask = translation.masks(source)  # (batch, source)
        embedded = self.dropout(self.source_embedding(source), training=training)
        outputs, *final_states = self.encoder_rnn(embedded, mask=source_mask, training=training)
        state = self.bridge(tf.concat(final_states, axis=-1))  # (batch, units)
        return outputs, self.attention.key_projection(outputs), state, source_mask

    def decode(self, target_input, encoded, state, training=False):
        """Teacher-forced (or one-step) decoding -> (logits, new state, attention weights)."""
        outputs, keys, _, source_mask = encoded
        embedded = self.dropout(self.target_embedding(target_input), training=training)
        decoded, state = self.decoder_rnn(embedded, initial_state=state, training=training)
        context, weights = self.attention(decoded, keys, outputs, source_mask)
        attentional = self.combine(tf.concat([context, decoded], axis=-1))
        logits = self.output_layer(self.dropout(attentional, training=training))
        return logits, state, weights  # (batch, target, vocab), (batch, units), (b, t, s)

    def call(self, inputs, training=False):
        source, target_input = inputs
        encoded = self.encode(source, training=training)
        logits, _, _ = self.decode(target_input, encoded, encoded[2], training=training)
        return logits

    def step_function(self, encoded):
        """A `step(tokens (n,), state) -> (log-probs (n, vocab), state, attention (n, source))`
        for `greedy` and `beam_search`, over encoder results with n rows."""

        # PAD and BOS are never the next word (PAD is masked out of the loss, so the model
        # never learnt to avoid it).
        never = tf.one_hot([translation.PAD_ID, translation.BOS_ID], self.target_vocabulary_size,
                           on_value=NEGATIVE_INFINITY, off_value=0.0)
        never = tf.reduce_sum(never, axis=0)  # (vocab,)

        def step(tokens, state):
            logits, state, weights = self.decode(tokens[:, None], encoded, state)
            log_probs = tf.nn.log_softmax(tf.cast(logits[:, 0], tf.float32) + never)
            return log_probs, state, weights[:, 0]

        return step


def masked_cross_entropy(labels, logits):
    """Per-sentence mean cross-entropy over real target tokens: (batch, time) -> (batch,)."""
    mask = tf.cast(translation.masks(labels), tf.float32)
    per_token = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels, tf.cast(logits, tf.float32))  # (batch, time)
    return tf.reduce_sum(per_token * mask, axis=1) / tf.maximum(tf.reduce_sum(mask, axis=1), 1.0)


def greedy(step, state, max_length, source_length):
    """Most likely token at each step -> (tokens (batch, max_length), attention (b, t, s))."""
    batch_size = tf.shape(tf.nest.flatten(state)[0])[0]
    tokens = tf.fill([batch_size], translation.BOS_ID)
    finished = tf.zeros([batch_size], tf.bool)
    outputs = tf.TensorArray(tf.int32, size=max_length)
    attention = tf.TensorArray(tf.float32, size=max_length,
                               element_shape=tf.TensorShape([None, None]))
    for time in tf.range(max_length):
        log_probs, state, weights = step(tokens, state)
        tokens = tf.argmax(log_probs, axis=-1, output_type=tf.int32)
        tokens = tf.where(finished, translation.PAD_ID, tokens)
        outputs = outputs.write(time, tokens)
        attention = attention.write(time, weights)
        finished |= tokens == translation.EOS_ID
        if tf.reduce_all(finished):
            break
    written = outputs.size()
    tokens = tf.transpose(outputs.stack())  # (batch, steps)
    weights = tf.transpose(attention.stack(), [1, 0, 2])  # (batch, steps, source)
    padding = max_length - written
    return (tf.pad(tokens, [[0, 0], [0, padding]]),
            tf.reshape(tf.pad(weights, [[0, 0], [0, padding], [0, 0]]),
                       [batch_size, max_length, source_length]))


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
    tokens = tf.fill([rows], translation.BOS_ID)
    finished = tf.zeros([batch_size, beam_width], tf.bool)
    lengths = tf.zeros([batch_size, beam_width], tf.int32)
    history = tf.zeros([batch_size, beam_width, max_length], tf.int32)
    attention = tf.zeros([batch_size, beam_width, max_length, source_length], tf.float32)
    positions = tf.range(max_length)
    for time in tf.range(max_length):
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
        pad_only = tf.one_hot(translation.PAD_ID, vocab, on_value=0.0,
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
        finished = tf.gather(finished, parents, batch_dims=1) | (words == translation.EOS_ID)
        at_time = (positions == time)[None, None, :]
        history = tf.where(at_time, words[:, :, None],
                           tf.gather(history, parents, batch_dims=1))
        weights = tf.gather(tf.reshape(weights, [batch_size, beam_width, -1]), parents,
                            batch_dims=1)
        attention = tf.where(at_time[:, :, :, None], weights[:, :, None, :],
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
                 target_orthography: translation.Orthography):
        super().__init__()
        self.model = model
        self.source_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(list(source_tokens)), tf.range(len(source_tokens), dtype=tf.int32)),
            default_value=translation.UNK_ID)
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
        tokens = translation.tokenize(tf.reshape(sentence, [1]))  # (1, None)
        tf.debugging.assert_positive(tf.size(tokens.flat_values),
                                     message="empty sentence: nothing to translate")
        return self.source_table.lookup(tokens).to_tensor()  # (1, source)

    def text(self, ids):
        """(max_length,) ids -> the written sentence, cut at EOS."""
        length = tf.reduce_min(tf.concat([tf.where(ids == translation.EOS_ID)[:, 0],
                                          [tf.size(ids, out_type=tf.int64)]], 0))
        return translation.detokenize_words(tf.gather(self.target_words, ids[:length]),
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


def make_decoder(model: Seq2Seq, beam_width: int, alpha: float, max_length: int):
    """A tf.function: source ids (batch, source) -> (tokens (batch, max_length), attention).

    Beam width 1 means greedy decoding. One trace serves every batch shape.
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
        batch = translation.pad([source_ids[index] for index in chunk])
        batch_tokens, batch_attention = decoder(tf.constant(batch))
        for row, index in enumerate(chunk):
            tokens[index] = batch_tokens[row].numpy()
            attention[index] = batch_attention[row, :, :len(source_ids[index])].numpy()
    return tokens, attention
