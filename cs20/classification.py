"""train_step / eval_step for classifiers (logistic regression, ConvNet), strategy-ready.

The train step is written per replica: the loss is averaged over the *global* batch with
`tf.nn.compute_average_loss`, so `training.compile_step` can sum it across replicas.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


def make_train_step(model: keras.Model, optimizer: keras.optimizers.Optimizer,
                    global_batch_size: int):
    """A per-replica train step: batch (images, labels) -> {"loss", "accuracy"}."""

    def train_step(batch):
        images, labels = batch
        with tf.GradientTape() as tape:
            logits = tf.cast(model(images, training=True), tf.float32)  # (batch, classes)
            per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch_size)
            if model.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(gradients, model.trainable_variables)
        correct = tf.cast(tf.equal(tf.argmax(logits, axis=-1), labels), tf.float32)
        accuracy = tf.reduce_sum(correct) / global_batch_size
        return {"loss": loss, "accuracy": accuracy}

    return train_step


def make_eval_step(model: keras.Model):
    """batch -> (summed loss, number correct, count, predictions) with dropout etc. off."""

    @tf.function
    def eval_step(images, labels):
        logits = tf.cast(model(images, training=False), tf.float32)
        per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
        predictions = tf.argmax(logits, axis=-1)
        correct = tf.reduce_sum(tf.cast(tf.equal(predictions, labels), tf.float32))
        return tf.reduce_sum(per_example), correct, tf.size(labels), predictions

    return eval_step


def evaluate(eval_step, dataset: tf.data.Dataset) -> dict:
    """Mean loss and accuracy (a fraction) over a finite dataset."""
    total_loss = total_correct = count = 0.0
    for images, labels in dataset:
        loss, correct, size, _ = eval_step(images, labels)
        total_loss += float(loss)
        total_correct += float(correct)
        count += int(size)
    return {"loss": total_loss / count, "accuracy": total_correct / count}


def predict(eval_step, dataset: tf.data.Dataset):
    """(all labels, all predictions) over a finite dataset, as NumPy arrays."""
    labels_list, predictions_list = [], []
    for images, labels in dataset:
        *_, predictions = eval_step(images, labels)
        labels_list.append(labels.numpy())
        predictions_list.append(predictions.numpy())
    return np.concatenate(labels_list), np.concatenate(predictions_list)
