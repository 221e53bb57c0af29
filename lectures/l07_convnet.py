"""Lecture 7: a ConvNet on MNIST, trained with the shared loop, evaluated every epoch.

Read it in this order:
1. `build_convnet`: two convolution + max-pool blocks learn local stroke detectors; a
   dense layer of 1,024 units with dropout combines them into digits (the shape after
   each layer in the comments);
2. `make_train_step`: the model is called with training=True under a `tf.GradientTape`,
   the softmax cross-entropy is averaged over the global batch, Adam makes one update;
   evaluation (cs20/classification.py `make_eval_step`) calls it with training=False;
3. `print_worked_example`: before training (--quiet: not), one test digit through the
   layers, each output's shape and parameter count, and what dropout does to it.

The `training` flag is where dropout lives: it drops units only while training. The
course's low-level version also dropped units when it measured test accuracy (a noisy,
pessimistic figure), and its tf.layers version never dropped any (it did not pass
`training` to the layer). Adam's learning rate decays to 0 along a cosine, which gets
further in far fewer epochs than the course's 25-30.

    python lectures/l07_convnet.py
    python lectures/l07_convnet.py --dataset fashion_mnist   # or a folder of IDX files or shards
    tensorboard --logdir runs/l07_convnet

Look at train/loss, eval/accuracy and test/accuracy (fractions, not the course's counts of
correct digits), a histogram of every weight, the misclassified test digits with their
predicted and true labels and the confusion matrix (TensorBoard, and PNGs in the run
directory). Our figures: README, Lectures table, row "6-7 ConvNet".
"""

from __future__ import annotations

import dataclasses

from cs20 import classification, cli, config, plots, runtime, summaries
from cs20.datasets import idx, mnist

import keras
import numpy as np
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class Config(config.EpochTrainConfig, idx.DatasetFlags):
    num_epochs: int = config.option(8, "Passes over the 55,000 training digits.")
    dropout: float = config.option(0.25, "Dropout rate after the dense layer "
                                         "(the course's keep_prob 0.75).")
    max_misclassified: int = config.option(32, "Misclassified test digits to show.",
                                           changeable=True)


# --- The lesson: the ConvNet's layers, its train step, one digit through it ---

def build_convnet(num_classes: int = 10, dropout_rate: float = 0.25,
                  image_shape: tuple = (28, 28, 1)) -> keras.Model:
    """The course's ConvNet in Keras layers: 3,274,634 parameters for 10 classes, 98% of
    them in `fc` (7 * 7 * 64 * 1024 weights). The course's keep_prob 0.75 is a dropout
    rate of 0.25."""
    if not 0.0 <= dropout_rate < 1.0:
        raise ValueError(f"dropout rate must be in [0, 1), got {dropout_rate}")
    inputs = keras.Input(shape=image_shape, name="images")  # (batch, 28, 28, 1)
    hidden = keras.layers.Conv2D(32, 5, padding="same", activation="relu",
                                 name="conv1")(inputs)  # (batch, 28, 28, 32)
    hidden = keras.layers.MaxPooling2D(2, name="pool1")(hidden)  # (batch, 14, 14, 32)
    hidden = keras.layers.Conv2D(64, 5, padding="same", activation="relu",
                                 name="conv2")(hidden)  # (batch, 14, 14, 64)
    hidden = keras.layers.MaxPooling2D(2, name="pool2")(hidden)  # (batch, 7, 7, 64)
    hidden = keras.layers.Flatten(name="flatten")(hidden)  # (batch, 3136)
    hidden = keras.layers.Dense(1024, activation="relu", name="fc")(hidden)  # (batch, 1024)
    # Active only when the model is called with training=True (the train step below).
    hidden = keras.layers.Dropout(dropout_rate, name="dropout")(hidden)
    # The logits stay float32 under a mixed-precision policy: the softmax and its
    # cross-entropy lose too much in float16/bfloat16.
    logits = keras.layers.Dense(num_classes, name="logits", dtype="float32")(hidden)
    return keras.Model(inputs, logits, name="convnet")  # (batch, classes)


def make_train_step(model: keras.Model, optimizer: keras.optimizers.Optimizer,
                    global_batch_size: int):
    """Per replica: (images, labels) -> one update on the softmax cross-entropy averaged
    over the global batch; returns that loss and the fraction of digits right."""

    def train_step(batch):
        images, labels = batch  # (batch, 28, 28, 1) in [0, 1], (batch,) class ids
        with tf.GradientTape() as tape:
            # training=True: the dropout layer zeroes each of fc's 1,024 units with
            # probability `rate` and multiplies the others by 1 / (1 - rate), a new draw
            # every step; evaluation calls the model with training=False and keeps them all.
            logits = model(images, training=True)  # (batch, classes), float32
            per_digit = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)
            # Over the global batch: summing the replicas' losses gives the batch mean.
            loss = tf.nn.compute_average_loss(per_digit, global_batch_size=global_batch_size)
            scaled_loss = optimizer.scale_loss(loss)  # unchanged unless mixed_float16
        gradients = tape.gradient(scaled_loss, model.trainable_variables)
        optimizer.apply(gradients, model.trainable_variables)
        # The thinned network's answers: train/accuracy runs a little below eval/accuracy.
        right = tf.cast(tf.argmax(logits, axis=-1) == labels, tf.float32)  # (batch,)
        return {"loss": loss, "accuracy": tf.reduce_sum(right) / global_batch_size}

    return train_step


def print_worked_example(model: keras.Model, digit, label: str, seed: int) -> None:
    """One digit through the ConvNet's layers, and what dropout does to it."""
    print(f"Worked example: one test digit ({label}) through the ConvNet, layer by layer")
    hidden = digit  # (1, 28, 28, 1)
    print(f"  {'images':<22} {tuple(hidden.shape)}")
    for layer in model.layers[1:]:  # layers[0] is the input
        if isinstance(layer, keras.layers.Dropout):
            # What the layer does with training=True (the train step), drawn without
            # touching the model's own random state; with training=False it passes all.
            dropped = tf.nn.experimental.stateless_dropout(hidden, layer.rate, seed=[seed, 0])
            active = tf.cast(hidden != 0, tf.float32)  # the ReLU has zeroed the others
            zeroed = (tf.reduce_sum(active * tf.cast(dropped == 0, tf.float32))
                      / tf.maximum(tf.reduce_sum(active), 1.0))
            print(f"  {layer.name:<8} training=True: {float(zeroed):.0%} of the active units "
                  f"zeroed, the rest x{1 / (1 - layer.rate):.2f}; training=False: unchanged")
            continue
        hidden = layer(hidden, training=False)
        print(f"  {layer.name:<8} {type(layer).__name__:<13} {str(tuple(hidden.shape)):<16} "
              f"{layer.count_params():>9,} parameters")


def misclassified(images, labels, predictions, limit: int, class_names):
    """The first `limit` wrong predictions: ((n, 28, 28) images, "predicted / true" titles)."""
    wrong = np.flatnonzero(predictions != labels)[:limit]
    titles = [f"{class_names[predictions[index]]} (true {class_names[labels[index]]})"
              for index in wrong]
    return images[wrong, :, :, 0], titles


def main(argv=None) -> dict:
    cfg = config.parse(Config, argv, __doc__, prog="l07_convnet")
    run = runtime.start("l07_convnet", cfg)

    # Data: 55k train / 5k validation / 10k test (for MNIST; --dataset chooses another
    # set), (batch, 28, 28, 1) in [0, 1].
    splits = mnist.load_splits(cfg.data_dir, dataset=cfg.dataset,
                               skip_bad_shards=cfg.skip_bad_shards)
    train_data = mnist.make_dataset(splits.train, cfg.batch_size, shuffle=True, seed=cfg.seed,
                                    repeat=True)
    validation_data = mnist.make_dataset(splits.validation, 1000)
    test_data = mnist.make_dataset(splits.test, 1000)
    steps_per_epoch = -(-len(splits.train) // cfg.batch_size)

    def log_weights(model, step):
        summaries.histograms(run.writer, model.trainable_variables, step, prefix="weights/")

    def build_model():
        model = build_convnet(num_classes=splits.num_classes, dropout_rate=cfg.dropout)
        if not cfg.quiet:
            digit, label = mnist.preprocess(splits.test.images[:1], splits.test.labels[:1])
            print_worked_example(model, digit, splits.class_names[int(label[0])], cfg.seed)
        return model

    model, results = classification.train_and_evaluate(
        run, cfg, build_model, make_train_step=make_train_step, train_data=train_data,
        validation_data=validation_data, test_data=test_data, steps_per_epoch=steps_per_epoch,
        on_summary=log_weights)

    # Where the model still goes wrong: the digits themselves, and which classes it mixes up.
    labels, predictions = classification.predict(classification.make_eval_step(model), test_data)
    step = results["steps"]
    images, titles = misclassified(splits.test.images, labels, predictions,
                                   cfg.max_misclassified, splits.class_names)
    if len(images):
        plots.image_grid(images, titles, run.path("misclassified.png"), columns=8,
                         title=f"{int(np.sum(predictions != labels))} misclassified test images "
                               "(first shown): predicted (true)")
        summaries.png_file(run.writer, "test/misclassified", run.path("misclassified.png"), step)
    matrix = np.zeros((splits.num_classes, splits.num_classes), np.int64)  # (true, predicted)
    np.add.at(matrix, (labels, predictions), 1)
    plots.confusion_matrix(matrix, run.path("confusion_matrix.png"),
                           title=f"Test confusion matrix (accuracy {results['test/accuracy']:.4f})",
                           class_names=list(splits.class_names))
    summaries.png_file(run.writer, "test/confusion_matrix", run.path("confusion_matrix.png"), step)
    print(f"Misclassified images and confusion matrix: {run.path('misclassified.png')}, "
          f"{run.path('confusion_matrix.png')}")
    return run.finish(results)


if __name__ == "__main__":
    cli.guard(main)
