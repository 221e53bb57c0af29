"""Lectures 1-2: TensorFlow's ops, variables, tf.function, and the lazy-loading pitfall.

The course's first lectures build graphs and run them in a Session. In TensorFlow 2 ops
run eagerly, and tf.function is what builds a graph. This script walks through:

1. constants and fills, linspace / range, random ops (seeded);
2. the division family on integers: `//`, divide, truediv, floordiv, truncatediv
   (they differ on negative numbers), and realdiv, which refuses integers;
3. add_n, multiply (element-wise) versus tensordot (a dot product);
4. dtypes and NumPy interop;
5. Variables: assign, assign_add, assign_sub;
6. tf.function with an input_signature: TF2's placeholder + feed_dict;
7. lazy loading: a function that builds its add op once, versus one that builds a new
   one on every call (10 calls: 1 add op versus 10, and TensorFlow's retracing warning);
   the graph of the well-behaved function goes to TensorBoard's Graphs tab.

    python lectures/l02_ops.py
    tensorboard --logdir runs/l02_ops

Our run on 2 CPU cores: 4 s (start-up included); add ops after 10 calls: 1 (built once)
versus 10 (lazy, 10 traces, TensorFlow's retracing warning twice).
"""

from __future__ import annotations

import dataclasses
import logging

from cs20 import cli, config, runtime, summaries

import numpy as np
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class Config(config.RunConfig):
    num_calls: int = config.option(10, "Calls in the lazy-loading demonstration.")


def show(title: str, value) -> None:
    """Prints a tensor's value (eager tensors print their NumPy value)."""
    shown = value.numpy().tolist() if hasattr(value, "numpy") else value
    print(f"  {title:<44} {shown}")


def constants_and_random(seed: int) -> None:
    print("Constants, fills and sequences:")
    show("tf.constant([[0, 1], [2, 3]])", tf.constant([[0, 1], [2, 3]]))
    show("tf.zeros([2, 3], tf.int32)", tf.zeros([2, 3], tf.int32))
    show("tf.ones_like([[0, 1], [2, 3]])", tf.ones_like([[0, 1], [2, 3]]))
    show("tf.fill([2, 3], 8)", tf.fill([2, 3], 8))
    show("tf.linspace(10.0, 13.0, 4)", tf.linspace(10.0, 13.0, 4))
    show("tf.range(3, 18, 3)", tf.range(3, 18, 3))
    print("Random ops (a generator seeded once gives the same numbers every run):")
    generator = tf.random.Generator.from_seed(seed)
    show("generator.normal([3])", generator.normal([3]))
    show("generator.truncated_normal([3])", generator.truncated_normal([3]))
    show("generator.uniform([3], 0, 10, tf.int32)", generator.uniform([3], 0, 10, tf.int32))
    show("tf.random.stateless_categorical", tf.random.stateless_categorical(
        tf.math.log([[0.5, 0.5]]), 5, seed=[seed, 0]))


def division_family(numerator, denominator) -> dict:
    """The ways to divide integers, and how they round."""
    results = {
        "numerator // denominator": numerator // denominator,
        "tf.divide": tf.divide(numerator, denominator),
        "tf.truediv": tf.truediv(numerator, denominator),
        "tf.math.floordiv": tf.math.floordiv(numerator, denominator),
        "tf.truncatediv": tf.truncatediv(numerator, denominator),
    }
    try:
        results["tf.realdiv"] = tf.realdiv(numerator, denominator)
    except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError) as error:
        results["tf.realdiv"] = f"error: {type(error).__name__} (no integer kernel)"
    return results


def arithmetic() -> None:
    numerator = tf.constant([[0, 1], [2, 3], [-3, -4]])  # (3, 2) int32
    denominator = tf.constant([2, 2])  # (2,) broadcast over rows
    print("Division of [[0, 1], [2, 3], [-3, -4]] by [2, 2]:")
    for name, value in division_family(numerator, denominator).items():
        show(name, value)
    print("  floordiv rounds towards -inf (-3 // 2 = -2), truncatediv towards 0 (-1).")
    a, b = tf.constant([10, 20]), tf.constant([2, 3])
    print("Sums and products:")
    show("tf.add_n([a, b, b])", tf.add_n([a, b, b]))
    show("tf.multiply(a, b)  (element-wise)", tf.multiply(a, b))
    show("tf.tensordot(a, b, 1)  (dot product)", tf.tensordot(a, b, 1))


def dtypes_and_numpy() -> None:
    print("dtypes and NumPy:")
    show("tf.int32.as_numpy_dtype == np.int32", tf.int32.as_numpy_dtype == np.int32)
    show("tf.ones([2, 2], np.float32).dtype", tf.ones([2, 2], np.float32).dtype.name)
    show("tf.constant(np.arange(3)).numpy()", tf.constant(np.arange(3)).numpy())
    show("tf.cast([1.7, -1.7], tf.int32)", tf.cast([1.7, -1.7], tf.int32))


def variables() -> dict:
    print("Variables keep state between calls:")
    weight = tf.Variable(10)
    weight.assign(100)
    show("weight.assign(100)", weight)
    weight.assign_add(10)
    show("weight.assign_add(10)", weight)
    weight.assign_sub(2)
    show("weight.assign_sub(2)", weight)
    doubled = tf.Variable(2)
    for _ in range(3):
        doubled.assign(2 * doubled)
    show("assign(2 * v) three times, from 2", doubled)
    return {"variables/weight": int(weight.numpy()), "variables/doubled": int(doubled.numpy())}


def placeholders() -> None:
    print("tf.function with an input_signature (TF2's placeholder + feed_dict):")

    # A 'placeholder' of shape [3]: one graph, fed any float32 vector of length 3.
    @tf.function(input_signature=[tf.TensorSpec(shape=[3], dtype=tf.float32)])
    def add_five(values):
        return values + tf.constant([5.0, 5.0, 5.0])

    show("add_five([1, 2, 3])", add_five(tf.constant([1.0, 2.0, 3.0])))
    show("add_five([10, 20, 30])", add_five(tf.constant([10.0, 20.0, 30.0])))
    try:
        add_five(tf.constant([1.0, 2.0]))
    except (TypeError, ValueError) as error:
        show("add_five([1, 2])", f"refused: {type(error).__name__}")


class _RetracingWarnings(logging.Handler):
    """Collects TensorFlow's 'triggered tf.function retracing' warnings."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        if "retracing" in record.getMessage():
            self.messages.append(record.getMessage())


def count_add_ops(graphs) -> int:
    return sum(op.type == "AddV2" for graph in graphs for op in graph.get_operations())


def lazy_loading(num_calls: int) -> tuple[dict, object]:
    """1 add op built once versus one add op per call.

    Python code inside a tf.function runs only while TensorFlow traces it into a graph.
    `normal` takes tensors, so it is traced once. `lazy` takes a Python float, and each
    new Python value means a new trace: a new graph with a new add op, every call, as the
    course's `tf.add` inside the training loop added a node to the graph every step.
    """
    normal_graphs, lazy_graphs = [], []

    @tf.function
    def normal(x, y):
        total = tf.add(x, y)
        normal_graphs.append(total.graph)  # runs at trace time only
        return total

    @tf.function
    def lazy(x, y):
        total = tf.add(x, y)
        lazy_graphs.append(total.graph)
        return total

    catcher = _RetracingWarnings()
    tf.get_logger().addHandler(catcher)
    try:
        for call in range(num_calls):
            normal(tf.constant(10.0), tf.constant(float(call)))
            lazy(tf.constant(10.0), float(call))  # a Python float: a new graph each time
    finally:
        tf.get_logger().removeHandler(catcher)
    figures = {
        "lazy_loading/normal_traces": normal.experimental_get_tracing_count(),
        "lazy_loading/normal_add_ops": count_add_ops(normal_graphs),
        "lazy_loading/lazy_traces": lazy.experimental_get_tracing_count(),
        "lazy_loading/lazy_add_ops": count_add_ops(lazy_graphs),
        "lazy_loading/retracing_warnings": len(catcher.messages),
    }
    print(f"Lazy loading, {num_calls} calls each:")
    for name, value in figures.items():
        show(name.split("/")[1], value)
    if catcher.messages:
        print(f"  TensorFlow warned: {catcher.messages[0].splitlines()[0][:150]}...")
    return figures, normal


def main(argv=None) -> dict:
    cfg = config.parse(Config, argv, __doc__, prog="l02_ops")
    run = runtime.start("l02_ops", cfg)
    constants_and_random(cfg.seed)
    arithmetic()
    dtypes_and_numpy()
    results = variables()
    placeholders()
    figures, normal = lazy_loading(cfg.num_calls)
    results.update(figures)
    node_count = summaries.trace_graph(run.writer, normal, tf.constant(1.0), tf.constant(2.0),
                                       name="normal_add")
    print(f"Graph of `normal` ({node_count} ops) written for TensorBoard's Graphs tab.")
    results["graph/normal_ops"] = node_count
    return run.finish(results)


if __name__ == "__main__":
    cli.guard(main)
