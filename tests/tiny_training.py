"""A tiny model trained by the shared loop, run as a subprocess by test_training.py.

    python tests/tiny_training.py --run-dir DIR --num-steps 20 [--interrupt-at 7] [--nan-at 5]

Separate processes keep --deterministic (a process-wide switch) out of the other tests,
and let the tests send real signals. The signal (SIGKILL too: a hard kill at a known
step) and the NaN come from inside the compiled step (the step the optimizer has just
taken decides), so they land in the middle of a call of several steps as they would in a
real run. The final weights are saved to
DIR/weights.npz.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal

from cs20 import cli

cli.load_tensorflow()  # as a lecture does: without the CUDA start-up lines (no GPU here)

from cs20 import checkpoints, config, runtime, training  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


@dataclasses.dataclass(frozen=True)
class Config(config.TrainConfig):
    num_steps: int = config.option(20, "Training steps.")
    batch_size: int = config.option(16, "Batch size.")
    checkpoint_every: int = config.option(2, "Checkpoint interval.")
    summary_every: int = config.option(1, "Summary interval.")
    # Changeable: a run killed at step N and resumed from before N must not be killed again.
    interrupt_at: int = config.option(0, "Send ourselves a signal during this step (0: never).",
                                      changeable=True)
    interrupt_signal: str = config.option("SIGINT", "The signal --interrupt-at sends.",
                                          choices=("SIGINT", "SIGTERM", "SIGKILL"))
    interrupt_worker: int = config.option(0, "Under multi_worker, only worker N (counted from "
                                             "1) gets the signal (0: every process).")
    nan_at: int = config.option(0, "Return a NaN loss from this step on (0: never).")
    dropout: float = config.option(0.2, "Dropout rate.")


def make_replica_step(cfg: Config, model: keras.Model, optimizer: keras.optimizers.Optimizer):
    signum = signal.Signals[cfg.interrupt_signal]

    task_index = json.loads(os.environ.get("TF_CONFIG", "{}")).get("task", {}).get("index", 0)
    targeted = cfg.interrupt_worker in (0, task_index + 1)

    def send_signal_at(step_number):
        if int(step_number) == cfg.interrupt_at and targeted:
            os.kill(os.getpid(), signum)
        return step_number

    def replica_step(batch):
        inputs, labels = batch
        with tf.GradientTape() as tape:
            per_example = tf.reduce_mean(tf.square(model(inputs, training=True) - labels), -1)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=cfg.batch_size)
        optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        step_number = optimizer.iterations  # the step just taken, counted from 1
        if cfg.interrupt_at:
            tf.py_function(send_signal_at, [step_number], tf.int64)
        if cfg.nan_at:
            loss = tf.where(step_number >= cfg.nan_at, float("nan"), loss)
        return {"loss": loss}

    return replica_step


def main(argv=None) -> None:
    cfg = config.parse(Config, argv)
    run = runtime.start("tiny", cfg)
    features = np.random.default_rng(0).normal(size=(256, 4)).astype(np.float32)  # (256, 4)
    targets = features @ np.array([[1.0], [-2.0], [0.5], [3.0]], np.float32)  # (256, 1)
    dataset = (tf.data.Dataset.from_tensor_slices((features, targets))
               .shuffle(256, seed=cfg.seed).repeat().batch(cfg.batch_size))
    with run.strategy.scope():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                                  keras.layers.Dropout(cfg.dropout), keras.layers.Dense(1)])
        optimizer = keras.optimizers.Adam(cfg.learning_rate)
        optimizer.build(model.trainable_variables)
        step = tf.Variable(0, dtype=tf.int64)
    iterator = training.distribute(run, dataset)
    checkpoint = checkpoints.make(step, model, optimizer, iterator)
    step_fn = training.compile_step(run.strategy, make_replica_step(cfg, model, optimizer))

    print(f"replicas in sync: {run.strategy.num_replicas_in_sync}")
    results = training.train(run, step_fn=step_fn, iterator=iterator, checkpoint=checkpoint,
                             step=step, schedule=training.make_schedule(cfg, 16))
    np.savez(run.path("weights.npz" if run.chief else f"weights-{os.getpid()}.npz"), *[variable.numpy() for variable in model.weights])
    run.finish(results, steps=int(step.numpy()))


if __name__ == "__main__":
    cli.guard(main)
