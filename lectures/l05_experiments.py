"""Lecture 5b: managing experiments: variable sharing, randomness, autodiff, checkpoints.

The course's 05_variable_sharing.py and 05_randomization.py in TensorFlow 2 terms:

1. Variable sharing. TF 1 shared weights with `tf.variable_scope(reuse=True)`. In TF 2 a
   variable belongs to the object that made it: calling one Keras layer on two inputs
   shares its weights, two layers do not. The course's `two_hidden_layers` function
   that makes its variables inside would create a new set at every call.
2. Randomness. The global seed (`tf.random.set_seed`) and an operation's own seed
   together fix a stateful op's sequence; `tf.random.Generator` carries its state in a
   variable (so it can be checkpointed); stateless ops (`tf.random.stateless_*`) depend
   on their seed argument only. A second Python process prints the same numbers.
3. Autodiff with tf.GradientTape: the course's 24.0 (d(2x^3)/dx at 2) and [768, 32]
   (z = 3 + y^2 with y = 2x^3), a second derivative with nested tapes (1,920),
   `watch` for constants, and None for a source the target does not depend on.
4. A checkpoint of a small model and its optimizer, saved, restored into a fresh copy,
   and compared.

    python lectures/l05_experiments.py

Our run on 2 CPU cores: about 10 s; every check passes (the results are the counts,
gradients and equalities above).
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import subprocess
import sys

from cs20 import checkpoints, cli, config, runtime, summaries

import keras
import numpy as np
import tensorflow as tf

# Run in a fresh interpreter: the same seeds must give the same numbers in any process.
RANDOM_NUMBERS_SCRIPT = """
import json, sys
import tensorflow as tf
sys.path.insert(0, {root!r})
from l05_experiments import random_numbers
print(json.dumps(random_numbers({seed})))
"""


@dataclasses.dataclass(frozen=True)
class Config(config.RunConfig):
    pass


def two_hidden_layers_fresh(inputs):
    """The course's pitfall: variables made inside the function, so every call makes new ones."""
    hidden = keras.layers.Dense(50)(inputs)
    return keras.layers.Dense(10)(hidden)


def variable_sharing() -> dict:
    """Variable counts: one model called twice, versus the function above called twice."""
    first_inputs = tf.random.stateless_normal([200, 100], seed=[0, 1])
    second_inputs = tf.random.stateless_normal([200, 100], seed=[0, 2])
    shared = keras.Sequential([keras.layers.Dense(50), keras.layers.Dense(10)])
    shared_outputs = [shared(first_inputs), shared(second_inputs)]

    created = []

    def count_creations(next_creator, **kwargs):
        created.append(kwargs.get("name"))
        return next_creator(**kwargs)

    with tf.variable_creator_scope(count_creations):
        fresh_outputs = [two_hidden_layers_fresh(first_inputs),
                         two_hidden_layers_fresh(second_inputs)]
    assert shared_outputs[0].shape == fresh_outputs[1].shape == (200, 10)
    return {"shared_model_variables": len(shared.weights), "fresh_function_variables":
            len(created)}


def random_numbers(seed: int) -> dict:
    """The same draws each way; a fresh process must print exactly these."""
    tf.random.set_seed(seed)
    # Global + op seed: the op's sequence is fixed; a second call continues it.
    stateful = [tf.random.uniform([2], seed=7).numpy().tolist() for _ in range(2)]
    # A Generator's state is a variable: it can be saved in a checkpoint and restored.
    generator = tf.random.Generator.from_seed(seed)
    from_generator = generator.normal([3]).numpy().tolist()
    stateless = tf.random.stateless_uniform([3], seed=[seed, 1]).numpy().tolist()
    return {"stateful_op": stateful, "generator": from_generator, "stateless": stateless}


def random_numbers_in_new_process(seed: int) -> dict:
    script = RANDOM_NUMBERS_SCRIPT.format(root=str(pathlib.Path(__file__).parent), seed=seed)
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                               timeout=120, check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def autodiff() -> dict:
    """The course's gradients, a second derivative, `watch`, and an unconnected source."""
    x = tf.Variable(2.0)
    with tf.GradientTape() as outer:
        with tf.GradientTape(persistent=True) as inner:
            y = 2.0 * x**3
            z = 3.0 + y**2  # = 3 + 4 x^6
        first = inner.gradient(z, x)  # 24 x^5 = 768 at 2
    results = {"dy/dx": inner.gradient(y, x), "dz/dx": first,
               "dz/dy": inner.gradient(z, y),  # 2y = 32
               "d2z/dx2": outer.gradient(first, x)}  # 120 x^4 = 1920
    constant = tf.constant(3.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(constant)  # constants are not watched unless asked
        square = constant**2
    results["d(c^2)/dc watched"] = tape.gradient(square, constant)
    results["d(c^2)/dx unconnected is None"] = tape.gradient(square, x) is None
    return {name: value if isinstance(value, bool) else float(value)
            for name, value in results.items()}


def checkpoint_round_trip(directory) -> dict:
    """Trains a small model 5 steps, saves, restores into a fresh model, compares."""

    def build():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        optimizer = keras.optimizers.Adam(0.1)
        optimizer.build(model.trainable_variables)
        return model, optimizer, tf.Variable(0, dtype=tf.int64)

    model, optimizer, step = build()
    inputs = tf.random.stateless_normal([8, 4], seed=[1, 1])  # (8, 4)
    for _ in range(5):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(inputs)))
        optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        step.assign_add(1)
    manager = checkpoints.restore_or_initialize(checkpoints.make(step, model, optimizer),
                                                directory, step)
    path = manager.save(checkpoint_number=int(step.numpy()))

    fresh_model, fresh_optimizer, fresh_step = build()
    checkpoints.restore_or_initialize(checkpoints.make(fresh_step, fresh_model, fresh_optimizer),
                                      directory, fresh_step)
    same = all(np.array_equal(a, b) for a, b in zip(model.get_weights(),
                                                     fresh_model.get_weights(), strict=True))
    return {"saved": path, "restored_step": int(fresh_step.numpy()), "weights_equal": same,
            "optimizer_iterations": int(fresh_optimizer.iterations.numpy())}


def main(argv=None) -> dict:
    cfg = config.parse(Config, argv, __doc__, prog="l05_experiments")
    run = runtime.start("l05_experiments", cfg)

    counts = variable_sharing()
    print(f"1. One Keras model called on two inputs: {counts['shared_model_variables']} "
          f"variables (shared). The function that makes its layers inside, called twice: "
          f"{counts['fresh_function_variables']} variables.")

    here = random_numbers(cfg.seed)
    there = random_numbers_in_new_process(cfg.seed)
    print(f"2. Random numbers with seed {cfg.seed}: {json.dumps(here)}")
    print(f"   the same in a new process: {here == there}")

    gradients = autodiff()
    print("3. Gradients: " + ", ".join(f"{name} = {value}" for name, value in gradients.items()))

    round_trip = checkpoint_round_trip(run.checkpoint_dir)
    print(f"4. Checkpoint {round_trip['saved']}: restored at step {round_trip['restored_step']}, "
          f"weights equal: {round_trip['weights_equal']}")

    summaries.text(run.writer, "experiments/random_numbers", f"`{json.dumps(here)}`", step=0)
    results = {f"variables/{name}": value for name, value in counts.items()}
    results["random/same_in_new_process"] = here == there
    results.update({f"gradients/{name}": value for name, value in gradients.items()})
    results["checkpoint/weights_equal"] = round_trip["weights_equal"]
    results["checkpoint/restored_step"] = round_trip["restored_step"]
    return run.finish(results)


if __name__ == "__main__":
    cli.guard(main)
