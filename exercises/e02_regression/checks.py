"""Checks of exercise 2 (exercises/e02_regression/exercise.py): the student's model has the
right inputs and outputs, fits the weight budget, and beats lecture 3b's test accuracy
when trained by the library's loop exactly as lecture 3b trains its own model.

The training is real: MNIST, the student's settings, the test split at the end, at most
`MAX_EPOCHS` epochs and `MAX_SECONDS` of training. With `quick` (the test suite) it is
`QUICK_STEPS` steps against `QUICK_ACCURACY`.
"""

from __future__ import annotations

import tempfile
import time

from cs20.exercises.grading import Context, Mismatch, Problem, describe

import numpy as np
import tensorflow as tf

MAX_WEIGHTS = 100_000
# About lecture 3b's test accuracy (docs/results.md).
TARGET_ACCURACY = 0.926
MAX_EPOCHS = 10
MAX_SECONDS = 300.0
# The test suite's budget: enough steps for the reference solution to pass a lower bar.
QUICK_STEPS = 150
QUICK_ACCURACY = 0.85
NUM_CLASSES = 10


def model_facts(build_model, num_classes: int, pixels):
    """On the student's side: what `build_model(num_classes)` built, its logits for
    `pixels` and its weight count ({"type": ...} alone when it is not a keras.Model)."""
    import keras

    model = build_model(num_classes)
    if not isinstance(model, keras.Model):
        return {"type": type(model).__name__}
    return {"type": "Model", "logits": model(pixels), "weights": model.count_params()}


def built(context: Context, num_classes: int = NUM_CLASSES) -> dict:
    pixels = tf.constant(context.rng.uniform(size=(5, 784)), tf.float32)  # (5, 784)
    facts = context.on_student_side(model_facts, context.student_function("build_model"),
                                    num_classes, pixels)
    if facts["type"] != "Model":
        raise Mismatch(f"build_model returned {facts['type']}, expected a keras.Model")
    return facts


def check_build_model(context: Context) -> None:
    for num_classes in (NUM_CLASSES, 3):
        logits = built(context, num_classes)["logits"]
        if np.shape(logits) != (5, num_classes):
            raise Mismatch(f"build_model({num_classes}) on a batch of 5: expected logits of "
                           f"shape (5, {num_classes}), got {describe(logits)}")
        if not tf.as_dtype(logits.dtype).is_floating:
            raise Mismatch(f"build_model({num_classes}): expected float logits, got dtype "
                           f"{tf.as_dtype(logits.dtype).name}")


def check_weight_budget(context: Context) -> str:
    count = built(context)["weights"]
    if not isinstance(count, int) or count > MAX_WEIGHTS:
        raise Mismatch(f"the model has {count:,} weights; expected at most {MAX_WEIGHTS:,}")
    return f"{count:,} weights"


def training_settings(context: Context) -> dict:
    """The student's LEARNING_RATE, NUM_EPOCHS and BATCH_SIZE, checked."""
    settings = {name: context.student_value(name.upper())
                for name in ("learning_rate", "num_epochs", "batch_size")}
    for name, value in settings.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise Mismatch(f"{name.upper()} must be a positive number, got {value!r}")
    for name in ("num_epochs", "batch_size"):
        if not isinstance(settings[name], int):
            raise Mismatch(f"{name.upper()} must be a whole number, got {settings[name]!r}")
    if settings["num_epochs"] > MAX_EPOCHS:
        raise Mismatch(f"NUM_EPOCHS is {settings['num_epochs']}; at most {MAX_EPOCHS} "
                       "(the check must finish in a few minutes)")
    return settings


def test_digits(part: str) -> np.ndarray:
    """MNIST's test "images" (10000, 28, 28) or "labels" (10000,) as the registered IDX
    file holds them: the order in which the student's side predicts and this side
    compares."""
    from cs20 import config
    from cs20.datasets import idx, sources

    name = sources.idx_source_names("mnist")[f"test_{part}"]
    return idx.read(sources.resolve(name, config.EpochTrainConfig().data_dir))


def train_like_lecture_3b(build_model, settings: dict, num_steps: int = 0) -> dict:
    """On the student's side: trains build_model(10) with lecture 3b's recipe in a
    scratch run directory; returns the steps it ran and the predicted class of each
    test digit (`test_digits`; the checker compares them with the labels).

    The one place that depends on the lecture's machinery: `config.EpochTrainConfig`,
    `runtime.start`, `mnist.load_splits` / `make_dataset` / `preprocess`,
    `classification.train_and_evaluate`.
    """
    from cs20 import classification, config, runtime
    from cs20.datasets import mnist

    with tempfile.TemporaryDirectory(prefix="cs20-e02-") as run_dir:
        cfg = config.EpochTrainConfig(run_dir=run_dir, quiet=True, num_steps=num_steps,
                                      max_seconds=MAX_SECONDS, **settings)
        run = runtime.start("e02_regression", cfg)
        try:
            splits = mnist.load_splits(cfg.data_dir)
            train_data = mnist.make_dataset(splits.train, cfg.batch_size, shuffle=True,
                                            seed=cfg.seed, repeat=True, flatten=True)
            validation_data = mnist.make_dataset(splits.validation, 1000, flatten=True)
            test_data = mnist.make_dataset(splits.test, 1000, flatten=True)
            steps_per_epoch = -(-len(splits.train) // cfg.batch_size)
            model, results = classification.train_and_evaluate(
                run, cfg, lambda: build_model(splits.num_classes), train_data=train_data,
                validation_data=validation_data, test_data=test_data,
                steps_per_epoch=steps_per_epoch)
        finally:
            run.writer.close()
            runtime.release_lock(run.directory)
    images = tf.data.Dataset.from_tensor_slices(test_digits("images")).batch(1000)
    predictions = [tf.argmax(model(mnist.preprocess(batch, None, flatten=True)[0],
                                   training=False), axis=-1)
                   for batch in images]  # (1000,) each
    return {"steps": results["steps"], "predictions": tf.concat(predictions, axis=0)}


def check_training(context: Context) -> str:
    settings = training_settings(context)
    built(context)  # a model that cannot be built fails here, before any data is read
    started = time.perf_counter()
    trained = context.on_student_side(train_like_lecture_3b,
                                      context.student_function("build_model"), settings,
                                      num_steps=QUICK_STEPS if context.quick else 0)
    seconds = time.perf_counter() - started
    labels = test_digits("labels")
    predictions = np.asarray(trained["predictions"])
    if predictions.shape != labels.shape:
        raise Mismatch(f"expected a prediction for each of the {len(labels):,} test digits, "
                       f"got {describe(predictions)}")
    accuracy = float(np.mean(predictions == labels))
    target = QUICK_ACCURACY if context.quick else TARGET_ACCURACY
    summary = f"test accuracy {accuracy:.4f} after {trained['steps']:,} steps ({seconds:.0f} s)"
    if not accuracy > target:
        raise Mismatch(f"{summary}; expected more than {target}")
    return summary


PROBLEMS = [
    Problem("build_model", check_build_model),
    Problem("weight budget", check_weight_budget),
    # Training stops after MAX_SECONDS; the rest is TensorFlow's start, MNIST and the test.
    Problem("training", check_training, seconds=MAX_SECONDS + 180.0),
]
