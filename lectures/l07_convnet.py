"""Lecture 7: a ConvNet on MNIST, trained with the shared loop, evaluated every epoch.

Two convolution + max-pool blocks learn local stroke detectors; a dense layer of 1024
units with dropout combines them into digits. The layers are cs20/models/convnet.py's
`build` (the benchmarks and the GAN's FID use the same network); before training, the
lecture pushes one test digit through them, layer by layer, and prints each output's
shape and parameter count. The train step is the classifier step every MNIST lecture
shares (cs20/classification.py `make_train_step`: the model called with training=True
under a `tf.GradientTape`, softmax cross-entropy over the global batch, Adam), and
evaluation calls the model with training=False.

That flag is where dropout lives: it drops units only while training, as the worked
example shows on the same digit. The course's low-level version also dropped units when
it measured test accuracy (a noisy, pessimistic figure), and its tf.layers version never
dropped any (it did not pass `training` to the layer). Adam's learning rate decays to 0
along a cosine, which gets further in far fewer epochs than the course's 25-30.

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
from cs20.models import convnet

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


def misclassified(images, labels, predictions, limit: int, class_names):
    """The first `limit` wrong predictions: ((n, 28, 28) images, "predicted / true" titles)."""
    wrong = np.flatnonzero(predictions != labels)[:limit]
    titles = [f"{class_names[predictions[index]]} (true {class_names[labels[index]]})"
              for index in wrong]
    return images[wrong, :, :, 0], titles


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
        model = convnet.build(num_classes=splits.num_classes, dropout_rate=cfg.dropout)
        if not cfg.quiet:
            digit, label = mnist.preprocess(splits.test.images[:1], splits.test.labels[:1])
            print_worked_example(model, digit, splits.class_names[int(label[0])], cfg.seed)
        return model

    model, results = classification.train_and_evaluate(
        run, cfg, build_model, train_data=train_data,
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
