"""Lecture 12's encoder-decoder with attention (the attention itself: attention.py;
decoding: decoding.py; the loss, teacher forcing and greedy decoding are written in
lectures/l12_translation.py).

The encoder is a GRU (optionally bidirectional) over the source. The decoder GRU reads
the target shifted right (teacher forcing) starting from the encoder's final state;
each of its outputs then attends over the encoder outputs, and the context vector and
the output are combined into an "attentional" vector that predicts the next word
(Luong's placement, as in TensorFlow's NMT tutorial: attention after the RNN, so the
whole target runs through one GRU call during training).
"""

from __future__ import annotations

from cs20.datasets import translation
from cs20.models.attention import NEGATIVE_INFINITY, Attention

import keras
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
        for greedy decoding and `decoding.beam_search`, over encoder results with n rows."""

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
