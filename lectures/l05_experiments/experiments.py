"""Lecture 5b's experiments, the course's 05_variable_sharing.py and 05_randomization.py in
TensorFlow 2 terms:

1. `variable_sharing`: a variable belongs to the object that made it. Calling one Keras
   model on two inputs shares its weights; the course's `two_hidden_layers` function, which
   makes its layers inside, creates a new set at every call (`two_hidden_layers_fresh`);
2. `random_numbers`: the global seed and an operation's own seed fix a stateful op's
   sequence, `tf.random.Generator` keeps its state in a variable, stateless ops depend on
   their seed argument only; `random_numbers_in_new_process` draws them again in a
   second Python process;
3. `autodiff`: tf.GradientTape's first and second derivatives, `watch`, and None for a
   source the target does not depend on;
4. `checkpoint_round_trip`: a small model and its optimizer saved, restored into a fresh
   copy, and compared.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

from cs20 import checkpoints

import keras
import numpy as np
import tensorflow as tf

# Run in a fresh interpreter: the same seeds must give the same numbers in any process.
RANDOM_NUMBERS_SCRIPT = """
import json, sys
import tensorflow as tf
sys.path.insert(0, {root!r})
from lectures.l05_experiments.experiments import random_numbers
print(json.dumps(random_numbers({seed})))
"""


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
    root = pathlib.Path(__file__).resolve().parents[2]  # where the lectures package is
    script = RANDOM_NUMBERS_SCRIPT.format(root=str(root), seed=seed)
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
