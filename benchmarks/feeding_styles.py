"""Lecture 3's feeding styles and lecture 3b's eager vs tf.function step rates, as JSON.

    CS20_DATA_DIR=../shared/data python benchmarks/feeding_styles.py [--epochs 100] [--steps 400]
        [--tiny]

1. Linear regression on birth_life_2010.txt (squared loss, learning rate 0.001): seconds
   and updates/s for one sample per call, tf.data inside a graph, and vectorised
   (full-batch updates, as many as the per-sample styles make).
2. MNIST logistic regression (batch 128): train steps/s run eagerly versus compiled with
   tf.function (and with XLA), on the same batches.
"""

from __future__ import annotations

import os
import platform
import time

from cs20 import classification
from cs20.datasets import mnist
from lectures.l03_linear_regression import data as birth_life
from lectures.l03_linear_regression import model as linear
from lectures.l03_logistic_regression import model as logistic

import keras
import options
import tensorflow as tf


def time_feeding_styles(num_epochs: int) -> dict:
    data = birth_life.load()
    x, y = data.birth_rate, data.life_expectancy
    styles = {
        "one_sample_per_call": lambda model: linear.train_one_sample_per_call(
            model, x, y, linear.squared_loss, 0.001, num_epochs),
        "tf_data": lambda model: linear.train_tf_data(
            model, birth_life.dataset(data), linear.squared_loss, 0.001, num_epochs),
        "vectorised": lambda model: linear.train_vectorised(
            model, x, y, linear.squared_loss, 0.001, num_epochs),
    }
    figures = {}
    for name, train in styles.items():
        model = linear.LinearModel()
        started = time.perf_counter()
        losses = train(model)
        seconds = time.perf_counter() - started
        figures[name] = {"seconds": round(seconds, 3),
                         # Every style makes num_epochs * 190 updates; vectorised ones
                         # use all 190 samples in each.
                         "updates_per_second": round(num_epochs * len(x) / seconds),
                         "w": round(float(model.w.numpy()), 4),
                         "b": round(float(model.b.numpy()), 4), "final_loss": round(losses[-1], 4)}
    return figures


def time_logistic_steps(num_steps: int) -> dict:
    splits = mnist.load_splits()
    batches = list(mnist.make_dataset(splits.train, 128, flatten=True, drop_remainder=True)
                   .take(num_steps))
    figures = {}
    for mode in ("eager", "tf_function", "tf_function_xla"):
        model = logistic.build()
        optimizer = keras.optimizers.Adam(0.01)
        step = classification.make_train_step(model, optimizer, 128)
        if mode != "eager":
            step = tf.function(step, jit_compile=mode.endswith("xla"))
        step(batches[0])  # warm-up: tracing and compilation are not steps
        started = time.perf_counter()
        for batch in batches:
            logs = step(batch)
        float(logs["loss"])  # wait for the last step to finish
        figures[mode] = {"steps_per_second": round(len(batches) / (time.perf_counter() - started), 1)}
    figures["speedup_tf_function_over_eager"] = round(
        figures["tf_function"]["steps_per_second"] / figures["eager"]["steps_per_second"], 2)
    return figures


def main(argv=None) -> None:
    parser = options.Parser(__doc__, tiny={"epochs": 1, "steps": 5})
    parser.add_argument("--epochs", type=int, default=100, help="linear regression epochs")
    parser.add_argument("--steps", type=int, default=400, help="logistic regression steps")
    options.print_json(measure, parser.parse_args(argv))


def measure(arguments) -> dict:
    return {
        "machine": {"cpus": os.cpu_count(),
                    "processor": platform.processor() or platform.machine(),
                    "gpus": len(tf.config.list_physical_devices("GPU")),
                    "tensorflow": tf.__version__},
        "linear_regression_feeding_styles": time_feeding_styles(arguments.epochs),
        "logistic_regression_steps": time_logistic_steps(arguments.steps),
    }


if __name__ == "__main__":
    main()
