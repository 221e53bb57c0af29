"""The classifier step of lectures 3b and 8a, and the evaluation and recipe of every
MNIST classifier lecture (3b, 7, 8a) and of exercise e02.

`make_train_step` is logistic regression's train step (lectures 3b and 8a train the same
model, and e02 grades a student's Keras classifier with it), so it takes any Keras
classifier: logits of any dtype (cast to float32) and the weight penalties of a model
that has them (`model.losses`). Lecture 7 writes its own step for its ConvNet and passes
it to `train_and_evaluate` (docs/design.md, "Where a train step lives").

A train step is written per replica: the loss is averaged over the *global* batch with
`tf.nn.compute_average_loss`, so `training.compile_step` can sum it across replicas.
Evaluation sums loss, correct answers and count over a whole dataset in one compiled call.
`train_and_evaluate` is the whole recipe the MNIST lectures share: build under the
strategy's scope, restore or initialise, train with evaluation on the validation split,
then test once at the end.
"""

from __future__ import annotations

from cs20 import checkpoints, training

import keras
import numpy as np
import tensorflow as tf


def _cross_entropy(model: keras.Model, images, labels, *, training: bool):
    """-> (per-example softmax cross-entropy (batch,), float32 logits (batch, classes))."""
    logits = tf.cast(model(images, training=training), tf.float32)
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits), logits


def _number_correct(logits, labels):
    """-> (number of right answers, predicted classes (batch,))."""
    predictions = tf.argmax(logits, axis=-1)
    return tf.reduce_sum(tf.cast(tf.equal(predictions, labels), tf.float32)), predictions


def make_train_step(model: keras.Model, optimizer: keras.optimizers.Optimizer,
                    global_batch_size: int):
    """A per-replica train step: batch (images, labels) -> {"loss", "accuracy"}."""

    def train_step(batch):
        images, labels = batch
        with tf.GradientTape() as tape:
            per_example, logits = _cross_entropy(model, images, labels, training=True)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch_size)
            if model.losses:  # weight penalties, summed over replicas like the loss
                loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
            scaled_loss = optimizer.scale_loss(loss)  # unchanged unless mixed_float16
        gradients = tape.gradient(scaled_loss, model.trainable_variables)
        optimizer.apply(gradients, model.trainable_variables)
        correct, _ = _number_correct(logits, labels)
        return {"loss": loss, "accuracy": correct / global_batch_size}

    return train_step


def make_eval_step(model: keras.Model):
    """batch -> (summed loss, number correct, count, predictions) with dropout etc. off."""

    @tf.function
    def eval_step(images, labels):
        per_example, logits = _cross_entropy(model, images, labels, training=False)
        correct, predictions = _number_correct(logits, labels)
        return tf.reduce_sum(per_example), correct, tf.size(labels), predictions

    return eval_step


def make_evaluate(eval_step):
    """-> `evaluate(dataset)`: mean loss and accuracy (a fraction) over a finite dataset,
    summed on the device in one compiled call (`training.compile_totals`)."""
    totals = training.compile_totals(
        lambda batch: dict(zip(("loss", "correct", "count"), eval_step(*batch)[:3],
                               strict=True)),
        ("loss", "correct", "count"))

    def evaluate(dataset: tf.data.Dataset) -> dict:
        sums = training.to_floats(totals(dataset))
        if not sums["count"]:
            raise ValueError("the evaluation dataset is empty")
        return {"loss": sums["loss"] / sums["count"],
                "accuracy": sums["correct"] / sums["count"]}

    return evaluate


def predict(eval_step, dataset: tf.data.Dataset):
    """(all labels, all predictions) over a finite dataset, as NumPy arrays."""
    labels_list, predictions_list = [], []
    for images, labels in dataset:
        *_, predictions = eval_step(images, labels)
        labels_list.append(labels.numpy())
        predictions_list.append(predictions.numpy())
    return np.concatenate(labels_list), np.concatenate(predictions_list)


def train_and_evaluate(run, cfg, build_model, *, make_train_step=make_train_step,
                       train_data: tf.data.Dataset, validation_data: tf.data.Dataset,
                       test_data: tf.data.Dataset, steps_per_epoch: int, on_summary=None):
    """Trains `build_model()` with Adam on repeated `train_data`; returns (model, results).

    `make_train_step(model, optimizer, global_batch_size)` makes the per-replica step
    (lecture 7 passes its own; by default the classifier step above). `cfg` supplies
    learning_rate, decay, batch_size (global), jit_compile and the step/epoch counts. `on_summary(model, step)` runs at every summary step. The results
    hold the last train/eval metrics and `test/accuracy`, `test/loss`.
    """
    schedule = training.make_schedule(cfg, steps_per_epoch)
    # Model and optimizer are created inside the strategy's scope so that their
    # variables are mirrored when --strategy asks for several devices.
    with run.strategy.scope():
        model = build_model()
        optimizer = training.with_loss_scaling(keras.optimizers.Adam(
            training.learning_rate(cfg.learning_rate, cfg.decay, schedule.num_steps)))
        optimizer.build(model.trainable_variables)
        step = tf.Variable(0, dtype=tf.int64, name="global_step", trainable=False)
    iterator = training.distribute(run, train_data)
    checkpoint = checkpoints.make(step, model, optimizer, iterator)

    train_step = training.compile_step(
        run.strategy, make_train_step(model, optimizer, cfg.batch_size),
        jit_compile=cfg.jit_compile)
    evaluate = make_evaluate(make_eval_step(model))
    results = training.train(
        run, step_fn=train_step, iterator=iterator, checkpoint=checkpoint, step=step,
        schedule=schedule, evaluate=lambda: evaluate(validation_data),
        on_summary=None if on_summary is None else lambda current: on_summary(model, current))

    test = evaluate(test_data)
    with run.writer.as_default(step=int(step.numpy())):
        tf.summary.scalar("test/accuracy", test["accuracy"])
        tf.summary.scalar("test/loss", test["loss"])
    results.update({"test/accuracy": test["accuracy"], "test/loss": test["loss"],
                    "steps": int(step.numpy())})
    return model, results
