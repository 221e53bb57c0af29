"""Lectures 1-2's demonstrations that tests check: how integer division rounds (part 2 of
the lesson), and lazy loading, a graph that grows on every call (part 7)."""

from __future__ import annotations

import logging

import tensorflow as tf


def show(title: str, value) -> None:
    """Prints a tensor's value (eager tensors print their NumPy value)."""
    shown = value.numpy().tolist() if hasattr(value, "numpy") else value
    print(f"  {title:<44} {shown}")


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
