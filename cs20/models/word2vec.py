"""Skip-gram word2vec with noise-contrastive estimation (the course's 04_word2vec.py).

The model holds three variables: the embedding matrix (vocab, embedding) that we keep,
and the NCE output weights (vocab, embedding) and biases (vocab,) that only serve the
loss. A step looks up the center words' rows, and `tf.nn.nce_loss` scores the true
context word against `num_sampled` words drawn from a log-uniform (Zipf) distribution,
so a step touches ~200 rows instead of all 50,000 (the gradients are IndexedSlices and
SGD updates only those rows).

The candidate sampler is drawn by the step *outside* the part XLA compiles (XLA has no
kernel for `LogUniformCandidateSampler`) and handed to the loss as `sampled_values`.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

EMBEDDING_INITS = ("course", "word2vec")
LOSSES = ("nce", "sampled_softmax")


class SkipGram(keras.Model):
    """Embeddings plus the NCE output layer. `model(center_ids)` returns the embeddings."""

    def __init__(self, vocab_size: int, embedding_size: int, embedding_init: str = "course",
                 seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if embedding_init not in EMBEDDING_INITS:
            raise ValueError(f"--embedding-init must be one of {', '.join(EMBEDDING_INITS)}, "
                             f"not {embedding_init!r}")
        self.vocab_size = vocab_size
        self.embedding_size = embedding_size
        # The course: uniform in [0, 1) (TF 1's random_uniform_initializer default), so all
        # vectors start in one corner. word2vec.c: uniform in +-0.5 / embedding_size.
        if embedding_init == "course":
            initializer = keras.initializers.RandomUniform(0.0, 1.0, seed=seed)
        else:
            limit = 0.5 / embedding_size
            initializer = keras.initializers.RandomUniform(-limit, limit, seed=seed)
        self.embedding = self.add_weight(shape=(vocab_size, embedding_size), name="embedding",
                                         initializer=initializer)
        self.nce_weights = self.add_weight(
            shape=(vocab_size, embedding_size), name="nce_weights",
            initializer=keras.initializers.TruncatedNormal(
                stddev=1.0 / math.sqrt(embedding_size),
                seed=None if seed is None else seed + 1))
        self.nce_biases = self.add_weight(shape=(vocab_size,), name="nce_biases",
                                          initializer="zeros")

    def call(self, center_ids):
        return tf.nn.embedding_lookup(self.embedding.value, center_ids)  # (batch, embedding)


def sample_candidates(contexts, num_sampled: int, vocab_size: int, seed: int | None = None):
    """The negatives for one batch: (sampled (num_sampled,), true_expected (batch, 1),
    sampled_expected (num_sampled,)), exactly what nce_loss would draw itself."""
    labels = tf.cast(contexts[:, None], tf.int64)  # (batch, 1)
    return tf.random.log_uniform_candidate_sampler(
        true_classes=labels, num_true=1, num_sampled=num_sampled, unique=True,
        range_max=vocab_size, seed=seed)


def per_example_loss(model: SkipGram, centers, contexts, sampled_values, loss: str = "nce"):
    """(batch,) NCE (or sampled-softmax) loss of each (center, context) pair."""
    with tf.name_scope("embed"):
        embedded = model(centers)  # (batch, embedding)
    labels = tf.cast(contexts[:, None], tf.int64)  # (batch, 1)
    loss_function = {"nce": tf.nn.nce_loss, "sampled_softmax": tf.nn.sampled_softmax_loss}[loss]
    # `.value` is the tf.Variable itself: gathering from it reads only the rows needed. A
    # Keras variable would first be read whole, and the sparse SGD update right after
    # would then have to copy the whole 50000 x 128 buffer (5x slower steps).
    return loss_function(weights=model.nce_weights.value, biases=model.nce_biases.value,
                         labels=labels,
                         inputs=embedded, num_sampled=int(sampled_values[0].shape[0]),
                         num_classes=model.vocab_size, sampled_values=sampled_values)


def make_train_step(model: SkipGram, optimizer: keras.optimizers.Optimizer,
                    global_batch_size: int, num_sampled: int, loss: str = "nce",
                    jit_compile: bool = False, sampler_seed: int | None = None):
    """A per-replica step: batch (centers, contexts) -> {"loss"}.

    Only the loss and its gradients are compiled with XLA; the sampler runs before, in
    plain TensorFlow, and the sparse SGD update after.
    The sampler has a fixed op seed, so every replica draws the same negatives as a
    single device would: one replica or two, the same steps give the same weights.
    """
    if loss not in LOSSES:
        raise ValueError(f"--loss must be one of {', '.join(LOSSES)}, not {loss!r}")

    def loss_and_gradients(centers, contexts, sampled_values):
        with tf.GradientTape() as tape:
            per_example = per_example_loss(model, centers, contexts, sampled_values, loss)
            batch_loss = tf.nn.compute_average_loss(per_example,
                                                    global_batch_size=global_batch_size)
        return batch_loss, tape.gradient(batch_loss, model.trainable_variables)

    if jit_compile:
        loss_and_gradients = tf.function(loss_and_gradients, jit_compile=True)

    def train_step(batch):
        centers, contexts = batch
        with tf.name_scope("loss"):
            sampled_values = sample_candidates(contexts, num_sampled, model.vocab_size,
                                               sampler_seed)
            batch_loss, gradients = loss_and_gradients(centers, contexts, sampled_values)
        # Outside the compiled function: under tf.distribute, applying gradients
        # all-reduces them across replicas, which a nested tf.function cannot do.
        with tf.name_scope("optimizer"):
            optimizer.apply(gradients, model.trainable_variables)
        return {"loss": batch_loss}

    return train_step


def normalized(embedding: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, so a dot product is a cosine similarity."""
    norms = np.linalg.norm(embedding, axis=1, keepdims=True)
    return embedding / np.maximum(norms, 1e-12)


def nearest_neighbours(unit_embedding: np.ndarray, query_ids, count: int = 8,
                       exclude_unk: bool = True) -> np.ndarray:
    """(queries, count) ids of the most cosine-similar words, the query itself left out."""
    similarity = unit_embedding[np.asarray(query_ids)] @ unit_embedding.T  # (queries, vocab)
    similarity[np.arange(len(query_ids)), query_ids] = -np.inf
    if exclude_unk:
        similarity[:, 0] = -np.inf
    return np.argsort(-similarity, axis=1)[:, :count]


def analogy(unit_embedding: np.ndarray, a_ids, b_ids, c_ids) -> np.ndarray:
    """a : b :: c : ?  -> (questions,) ids of argmax cos(x, b - a + c), with a, b, c and
    UNK (id 0) excluded: Mikolov's 3CosAdd, as word2vec's compute-accuracy and gensim."""
    a_ids, b_ids, c_ids = (np.asarray(ids) for ids in (a_ids, b_ids, c_ids))
    targets = unit_embedding[b_ids] - unit_embedding[a_ids] + unit_embedding[c_ids]
    similarity = targets @ unit_embedding.T  # (questions, vocab)
    rows = np.arange(len(a_ids))
    for ids in (a_ids, b_ids, c_ids, np.zeros_like(a_ids)):
        similarity[rows, ids] = -np.inf
    return np.argmax(similarity, axis=1)
