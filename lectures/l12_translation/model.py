"""Lecture 12's model: an encoder-decoder with attention, its loss and its train step.

1. `Seq2Seq`: the encoder is a GRU (optionally bidirectional) over the source. The
   decoder GRU reads the target shifted right (teacher forcing) starting from the
   encoder's final state; each of its outputs then attends over the encoder outputs
   (attention.py), and the context vector and the output are combined into an
   "attentional" vector that predicts the next word (Luong's placement, as in
   TensorFlow's NMT tutorial: attention after the RNN, so the whole target runs through
   one GRU call during training);
2. `attention_of`: attention scores and context, step by step, for one sentence pair;
3. `masked_cross_entropy` and `make_train_step`: teacher forcing (the decoder reads the
   reference shifted by one) with a loss over real tokens only;
4. `print_worked_example`: one training pair with the decoder input shifted by one, as
   words and ids, and where the untrained attention looks.

Decoding the trained model, greedily or with beam search, is decoding.py.
"""

from __future__ import annotations

from cs20 import training
from lectures.l12_translation import data
from lectures.l12_translation.attention import NEGATIVE_INFINITY, Attention, attend

import keras
import numpy as np
import tensorflow as tf


class Seq2Seq(keras.Model):
    """Source ids (batch, source) + target ids (batch, target) -> logits (batch, target, vocab).

    `attention`: "additive", "multiplicative", or a layer with `attention.Attention`'s
    interface.
    """

    def __init__(self, source_vocabulary_size: int, target_vocabulary_size: int, *,
                 embedding_size: int = 128, units: int = 256, bidirectional: bool = True,
                 attention: str | keras.layers.Layer = "additive", dropout: float = 0.0,
                 **kwargs):
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
        # A score name, or a layer with Attention's interface (an exercise's, say).
        self.attention = (Attention(units, attention, name="attention")
                          if isinstance(attention, str) else attention)
        self.combine = keras.layers.Dense(units, activation="tanh", use_bias=False,
                                          name="attentional")
        self.dropout = keras.layers.Dropout(dropout)
        self.output_layer = keras.layers.Dense(target_vocabulary_size, name="logits")

    def encode(self, source, training=False):
        """-> (encoder outputs (batch, source, units'), keys, decoder state, source mask)."""
        source_mask = data.masks(source)  # (batch, source)
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
        for greedy decoding and `decoding.beam_search`, over encoder results with n rows."""

        # PAD and BOS are never the next word (PAD is masked out of the loss, so the model
        # never learnt to avoid it).
        never = tf.one_hot([data.PAD_ID, data.BOS_ID], self.target_vocabulary_size,
                           on_value=NEGATIVE_INFINITY, off_value=0.0)
        never = tf.reduce_sum(never, axis=0)  # (vocab,)

        def step(tokens, state):
            logits, state, weights = self.decode(tokens[:, None], encoded, state)
            log_probs = tf.nn.log_softmax(tf.cast(logits[:, 0], tf.float32) + never)
            return log_probs, state, weights[:, 0]

        return step


def attention_of(model: Seq2Seq, source, target_input):
    """Attention scores and context for source ids (batch, source) and decoder input ids
    (batch, target), step by step: what `model.decode` does inside."""
    outputs, keys, state, source_mask = model.encode(source)  # keys (batch, source, units)
    embedded = model.target_embedding(target_input)  # (batch, target, embedding)
    queries, _ = model.decoder_rnn(embedded, initial_state=state)  # (batch, target, units)
    scores = model.attention.score(queries, keys)  # (batch, target, source)
    # Weights: softmax over real source words; context: their weighted sum of outputs.
    context, weights = attend(scores, outputs, source_mask)
    return scores, weights, context  # ..., (batch, target, source), (batch, target, 2 units)


def masked_cross_entropy(labels, logits):
    """Per-sentence mean cross-entropy over real target tokens: (batch, time) -> (batch,)."""
    mask = tf.cast(data.masks(labels), tf.float32)  # (batch, time): 0 on padding
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


def print_worked_example(model, corpus: data.Corpus, source_ids, target_ids) -> None:
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
