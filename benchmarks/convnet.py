"""Lecture 7's ConvNet: our loop versus Keras model.fit, the input pipeline versus the
model, and the FLOP/s of a training step versus a large matmul, as JSON.

    CS20_DATA_DIR=../shared/data python benchmarks/convnet.py [--epochs 2] [--steps-per-epoch N]
        [--validation-digits N] [--tiny]

1. The same model (lecture 7's `build_convnet`), optimizer (Adam 1e-3), batch (128) and
   tf.data pipeline trained for `--epochs` epochs by our loop (`training.train` with
   lecture 7's step) and by `model.fit`. Both evaluate on the 5,000 validation
   digits (or --validation-digits) and save a checkpoint of model + optimizer at the end of every epoch; fit does
   it with a callback saving the same kind of `tf.train.Checkpoint`. The first epoch
   holds tracing and is not timed: `epoch_seconds` is the mean of the later epochs.
   `training_steps_per_second` leaves out evaluation and checkpoints on both sides.
   Neither side uses XLA (fit's "auto" would; on CPU it is slower for this model).
2. The pipeline alone: records/s pulled through `mnist.make_dataset` with no model,
   versus the records/s the training step consumes.
3. FLOP/s: the multiply-adds of a training step (forward, plus two passes backward
   except the input gradient of the first layer) over its measured time, as a fraction
   of the FLOP/s of a float32 matmul of `--matmul-size` squared matrices.
"""

from __future__ import annotations

import os
import platform
import tempfile
import time

from cs20 import checkpoints, classification, config, runtime, training
from cs20.datasets import mnist
from lectures.l07_convnet import model as l07_convnet  # the ConvNet and its step

import keras
import numpy as np
import options
import tensorflow as tf

BATCH_SIZE = 128
LEARNING_RATE = 1e-3


def layer_flops(layer) -> int:
    """Forward FLOPs per example (2 per multiply-add) of a Conv2D or Dense layer, else 0."""
    if isinstance(layer, keras.layers.Conv2D):
        _, height, width, channels = layer.output.shape
        kernel_height, kernel_width, in_channels, _ = layer.kernel.shape
        return 2 * height * width * channels * kernel_height * kernel_width * in_channels
    if isinstance(layer, keras.layers.Dense):
        return 2 * int(np.prod(layer.kernel.shape))
    return 0


def training_flops_per_example(model: keras.Model) -> int:
    """Forward + backward: the backward pass costs two forwards (gradients of weights and
    of inputs), except the first layer, whose input gradient nobody needs."""
    flops = [layer_flops(layer) for layer in model.layers if layer_flops(layer)]
    return 3 * sum(flops) - flops[0]


def matmul_flops_per_second(size: int, repeats: int = 10) -> float:
    """float32 matmul FLOP/s. One call per product: inside one tf.function, identical
    products would be computed once (common-subexpression elimination)."""
    generator = tf.random.Generator.from_seed(0)
    left, right = generator.normal((size, size)), generator.normal((size, size))
    matmul = tf.function(tf.linalg.matmul)
    matmul(left, right).numpy()  # warm-up
    started = time.perf_counter()
    for _ in range(repeats):
        product = matmul(left, right)
    product.numpy()
    return repeats * 2 * size**3 / (time.perf_counter() - started)


def pipeline_records_per_second(dataset: tf.data.Dataset, num_batches: int) -> float:
    iterator = iter(dataset)
    next(iterator)  # the first batch starts the pipeline's threads
    started = time.perf_counter()
    records = sum(int(tf.shape(labels)[0]) for _, labels in
                  (next(iterator) for _ in range(num_batches)))
    return records / (time.perf_counter() - started)


def time_our_loop(splits, num_epochs: int, steps_per_epoch: int, run_dir: str) -> dict:
    cfg = config.TrainConfig(run_dir=run_dir, fresh=True, batch_size=BATCH_SIZE)
    run = runtime.start("benchmark_convnet", cfg)
    model = l07_convnet.build_convnet()
    optimizer = keras.optimizers.Adam(LEARNING_RATE)
    optimizer.build(model.trainable_variables)
    step = tf.Variable(0, dtype=tf.int64, trainable=False)
    iterator = iter(mnist.make_dataset(splits.train, BATCH_SIZE, shuffle=True, repeat=True))
    checkpoint = checkpoints.make(step, model, optimizer, iterator)
    train_step = training.compile_step(
        run.strategy, l07_convnet.make_train_step(model, optimizer, BATCH_SIZE))
    evaluate = classification.make_evaluate(classification.make_eval_step(model))
    validation_data = mnist.make_dataset(splits.validation, 1000)
    epoch_seconds, rates = [], []
    for epoch in range(1, num_epochs + 1):
        # One call per epoch so that each epoch is timed alone; a call resumes from the
        # checkpoint the previous one saved (a restore our side pays for, fit does not).
        schedule = training.Schedule(num_steps=epoch * steps_per_epoch,
                                     eval_every=steps_per_epoch,
                                     checkpoint_every=steps_per_epoch, summary_every=100)
        started = time.perf_counter()
        results = training.train(
            run, step_fn=train_step, iterator=iterator, checkpoint=checkpoint, step=step,
            schedule=schedule,
            evaluate=lambda: evaluate(validation_data))
        epoch_seconds.append(time.perf_counter() - started)
        rates.append(results["train/steps_per_second"])
    return {"epoch_seconds": float(np.mean(epoch_seconds[1:])),
            "training_steps_per_second": float(np.mean(rates[1:])),
            "eval/accuracy": results["eval/accuracy"]}


class _EpochClock(keras.callbacks.Callback):
    """Times fit's epochs, its validation passes and checkpoints made by `manager`."""

    def __init__(self, manager: tf.train.CheckpointManager):
        super().__init__()
        self.manager = manager
        self.epoch_seconds, self.side_seconds = [], []

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_started = time.perf_counter()
        self.side_seconds.append(0.0)

    def on_test_begin(self, logs=None):
        self.test_started = time.perf_counter()

    def on_test_end(self, logs=None):
        self.side_seconds[-1] += time.perf_counter() - self.test_started

    def on_epoch_end(self, epoch, logs=None):
        saving_started = time.perf_counter()
        self.manager.save()
        now = time.perf_counter()
        self.side_seconds[-1] += now - saving_started
        self.epoch_seconds.append(now - self.epoch_started)


def time_keras_fit(splits, num_epochs: int, steps_per_epoch: int, run_dir: str) -> dict:
    model = l07_convnet.build_convnet()
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], jit_compile=False)
    model.optimizer.build(model.trainable_variables)
    checkpoint = checkpoints.make(model.optimizer.iterations, model, model.optimizer)
    clock = _EpochClock(tf.train.CheckpointManager(checkpoint, run_dir, max_to_keep=3))
    history = model.fit(
        mnist.make_dataset(splits.train, BATCH_SIZE, shuffle=True, repeat=True),
        epochs=num_epochs, steps_per_epoch=steps_per_epoch,
        validation_data=mnist.make_dataset(splits.validation, 1000), callbacks=[clock],
        verbose=0)
    training_seconds = [total - side for total, side in
                        zip(clock.epoch_seconds[1:], clock.side_seconds[1:], strict=True)]
    return {"epoch_seconds": float(np.mean(clock.epoch_seconds[1:])),
            "training_steps_per_second": steps_per_epoch / float(np.mean(training_seconds)),
            "eval/accuracy": float(history.history["val_accuracy"][-1])}


def rounded(figures: dict, digits: int = 3) -> dict:
    return {name: round(value, digits) for name, value in figures.items()}


def main(argv=None) -> None:
    parser = options.Parser(__doc__, tiny={"steps_per_epoch": 3, "validation_digits": 500,
                                           "pipeline_batches": 5, "matmul_size": 64})
    parser.add_argument("--epochs", type=int, default=2,
                        help="epochs per side (the first is a warm-up; at least 2)")
    parser.add_argument("--pipeline-batches", type=int, default=2000,
                        help="batches pulled through the pipeline alone")
    parser.add_argument("--matmul-size", type=int, default=2048, help="matmul side")
    parser.add_argument("--validation-digits", type=int, default=0,
                        help="evaluate on the first N validation digits only (0: all 5,000)")
    parser.add_argument("--steps-per-epoch", type=int, default=0,
                        help="training steps an epoch (0: one pass over the training digits)")
    arguments = parser.parse_args(argv)
    if arguments.epochs < 2:
        parser.error("--epochs must be at least 2: the first epoch is a warm-up")
    options.print_json(measure, arguments)


def measure(arguments) -> dict:
    splits = options.first_digits(mnist.load_splits(), "validation", arguments.validation_digits)
    steps_per_epoch = arguments.steps_per_epoch or -(-len(splits.train) // BATCH_SIZE)
    with tempfile.TemporaryDirectory() as scratch:
        ours = time_our_loop(splits, arguments.epochs, steps_per_epoch, f"{scratch}/ours")
        fit = time_keras_fit(splits, arguments.epochs, steps_per_epoch, f"{scratch}/fit")
    pipeline = pipeline_records_per_second(
        mnist.make_dataset(splits.train, BATCH_SIZE, shuffle=True, repeat=True),
        arguments.pipeline_batches)
    consumed = ours["training_steps_per_second"] * BATCH_SIZE
    step_flops = training_flops_per_example(l07_convnet.build_convnet()) * BATCH_SIZE
    achieved = step_flops * ours["training_steps_per_second"]
    peak = matmul_flops_per_second(arguments.matmul_size)
    return {
        "machine": {"cpus": os.cpu_count(),
                    "processor": platform.processor() or platform.machine(),
                    "gpus": len(tf.config.list_physical_devices("GPU")),
                    "tensorflow": tf.__version__},
        "steps_per_epoch": steps_per_epoch,
        "our_loop": rounded(ours),
        "keras_fit": rounded(fit),
        # Above 1: our loop is faster.
        "fit_over_ours_epoch_seconds": round(fit["epoch_seconds"] / ours["epoch_seconds"], 3),
        "ours_over_fit_training_steps_per_second": round(
            ours["training_steps_per_second"] / fit["training_steps_per_second"], 3),
        "pipeline_records_per_second": round(pipeline),
        "model_records_per_second": round(consumed),
        "pipeline_over_model": round(pipeline / consumed, 1),
        "training_gflop_per_step": round(step_flops / 1e9, 3),
        "training_gflop_per_second": round(achieved / 1e9, 2),
        "matmul_gflop_per_second": round(peak / 1e9, 2),
        "fraction_of_matmul_flops": round(achieved / peak, 3),
    }


if __name__ == "__main__":
    main()
