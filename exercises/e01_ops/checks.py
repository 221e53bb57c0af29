"""Checks of exercise 1 (exercises/e01_ops/exercise.py): each docstring example, hidden random
inputs against the reference solution, and the properties the task asks for (running in
a graph without AutoGraph, no retracing, a real tf.data.Dataset)."""

from __future__ import annotations

from cs20.exercises.grading import Context, Mismatch, Problem, expect_close, expect_same
from cs20.exercises.sandbox import Remote, StudentDataset, StudentError

import numpy as np
import tensorflow as tf


def scalars(context: Context, count: int, ties: bool = True) -> list[tuple[tf.Tensor, tf.Tensor]]:
    """Hidden (x, y) float32 pairs, with x == y among them when `ties`."""
    pairs = context.rng.normal(size=(count, 2)).astype(np.float32)
    if ties:
        pairs[0, 1] = pairs[0, 0]
    return [(tf.constant(x), tf.constant(y)) for x, y in pairs]


def call_without_autograph(function, *arguments):
    """On the student's side: `function(*arguments)` traced into a graph without
    AutoGraph, where a Python `if` on a tensor is an error."""
    return tf.function(function, autograph=False)(*arguments)


def expect_runs_without_autograph(context: Context, name: str, *arguments, hint: str) -> None:
    """The student's `name` gives the reference's answer in a graph without AutoGraph (a
    Python `if` on a tensor only works eagerly, or with AutoGraph rewriting it)."""
    try:
        got = context.on_student_side(call_without_autograph, context.student_function(name),
                                      *arguments)
    except StudentError as error:
        if error.type_name not in ("TypeError", "OperatorNotAllowedInGraphError"):
            raise
        raise Mismatch(f"{name} does not run in a graph without AutoGraph ({error.type_name}"
                       f": a Python `if` on a tensor?); {hint}") from None
    expect_close(f"{name} in a graph without AutoGraph", got,
                 context.reference_function(name)(*arguments), rtol=1e-4)


def check_add_or_subtract(context: Context) -> None:
    student = context.student_function("add_or_subtract")
    expect_close("add_or_subtract(3.0, 1.0)", student(tf.constant(3.0), tf.constant(1.0)),
                 tf.constant(4.0))
    expect_close("add_or_subtract(1.0, 3.0)", student(tf.constant(1.0), tf.constant(3.0)),
                 tf.constant(-2.0))
    for x, y in scalars(context, 6):
        expect_same(context, "add_or_subtract", x, y)
    expect_runs_without_autograph(context, "add_or_subtract", tf.constant(1.0),
                                  tf.constant(2.0), hint="choose with tf.cond")


def check_compare_three_ways(context: Context) -> None:
    student = context.student_function("compare_three_ways")
    for (x, y), expected in (((1.0, 2.0), 3.0), ((2.0, 1.0), 1.0), ((2.0, 2.0), 0.0)):
        expect_close(f"compare_three_ways({x}, {y})", student(tf.constant(x), tf.constant(y)),
                     tf.constant(expected))
    for x, y in scalars(context, 6):
        expect_same(context, "compare_three_ways", x, y)
    expect_runs_without_autograph(context, "compare_three_ways", tf.constant(1.0),
                                  tf.constant(2.0), hint="choose with tf.case")


def check_equal_elements(context: Context) -> None:
    student = context.student_function("equal_elements")
    x = tf.constant([[0, -2, -1], [0, 1, 2]])
    expect_close("equal_elements(the example)", student(x, tf.zeros_like(x)),
                 tf.constant([[True, False, False], [True, False, False]]))
    for shape in ((7,), (3, 4), (2, 3, 2)):
        x = tf.constant(context.rng.integers(-2, 3, shape), tf.int32)
        y = tf.constant(context.rng.integers(-2, 3, shape), tf.int32)
        expect_same(context, "equal_elements", x, y)


def check_values_above(context: Context) -> None:
    student = context.student_function("values_above")
    expect_close("values_above([29.0, 31.5, 30.0, 44.0], 30.0)",
                 student(tf.constant([29.0, 31.5, 30.0, 44.0]), tf.constant(30.0)),
                 (tf.constant([1, 3], tf.int64), tf.constant([31.5, 44.0])))
    for size, threshold in ((20, 0.5), (9, -1.0), (5, 10.0)):  # the last: nothing above
        x = tf.constant(context.rng.normal(size=size).astype(np.float32))
        expect_same(context, "values_above", x, tf.constant(threshold))


def check_range_diagonal(context: Context) -> None:
    student = context.student_function("range_diagonal")
    expect_close("range_diagonal(3)", student(tf.constant(3)),
                 tf.constant([[1, 0, 0], [0, 2, 0], [0, 0, 3]]))
    for n in (1, 5, int(context.rng.integers(6, 12))):
        expect_same(context, "range_diagonal", tf.constant(n))


def check_determinant(context: Context) -> None:
    student = context.student_function("determinant")
    expect_close("determinant([[2.0, 1.0], [4.0, 3.0]])",
                 student(tf.constant([[2.0, 1.0], [4.0, 3.0]])), tf.constant(2.0), rtol=1e-5)
    for n in (3, 10):
        matrix = tf.constant(context.rng.normal(size=(n, n)).astype(np.float32))
        expect_same(context, "determinant", matrix, rtol=1e-3)


def check_unique_in_order(context: Context) -> None:
    student = context.student_function("unique_in_order")
    example = tf.constant([5, 2, 3, 5, 10, 6, 2, 3, 4, 2, 1, 1, 0, 9])
    expect_close("unique_in_order(the example)", student(example),
                 tf.constant([5, 2, 3, 10, 6, 4, 1, 0, 9]))
    for size in (1, 12, 40):
        x = tf.constant(context.rng.integers(0, 15, size), tf.int64)
        expect_same(context, "unique_in_order", x)


def check_mean_sign_loss(context: Context) -> None:
    student = context.student_function("mean_sign_loss")
    x, y = tf.constant([1.0, 2.0]), tf.constant([2.0, 4.0])
    expect_close("mean_sign_loss([1, 2], [2, 4])", student(x, y), tf.constant(2.5))
    expect_close("mean_sign_loss([2, 4], [1, 2])", student(y, x), tf.constant(3.0))
    # A mean of exactly 0 is not below 0: the sum of |d|, not the mean of d squared.
    expect_close("mean_sign_loss([1, -1, 2], [0, 0, 2])",
                 student(tf.constant([1.0, -1.0, 2.0]), tf.constant([0.0, 0.0, 2.0])),
                 tf.constant(2.0))
    for size in (5, 300, 300):
        x = tf.constant(context.rng.normal(size=size).astype(np.float32))
        y = tf.constant(context.rng.normal(size=size).astype(np.float32))
        expect_same(context, "mean_sign_loss", x, y, rtol=1e-4)
    expect_runs_without_autograph(context, "mean_sign_loss", x, y, hint="choose with tf.cond")


def tracing_count(function) -> int | None:
    """On the student's side: how many times a tf.function traced (None: not one)."""
    counter = getattr(function, "experimental_get_tracing_count", None)
    return counter() if callable(counter) else None


def check_make_row_norms(context: Context) -> str:
    row_norms = context.student_function("make_row_norms")()

    def traces() -> int:
        count = context.on_student_side(tracing_count, row_norms) \
            if isinstance(row_norms, Remote) else None
        if not isinstance(count, int):
            kind = row_norms.type_name if isinstance(row_norms, Remote) else \
                type(row_norms).__name__
            raise Mismatch(f"make_row_norms() returned {kind}, expected a tf.function "
                           "(decorate the inner function with @tf.function)")
        return count

    traces()
    expect_close("make_row_norms()([[3, 4], [0, 1]])",
                 row_norms(tf.constant([[3.0, 4.0], [0.0, 1.0]])), tf.constant([5.0, 1.0]))
    features = int(context.rng.integers(3, 9))
    reference = context.reference_function("make_row_norms")()
    retraced = []
    for batch_size in (2, 3, 1, 5, 8, 13, 64):
        rows = tf.constant(context.rng.normal(size=(batch_size, features)).astype(np.float32))
        before = traces()
        expect_close(f"row norms of a ({batch_size}, {features}) batch", row_norms(rows),
                     reference(rows))
        if batch_size not in (2, 3) and traces() > before:
            retraced.append(batch_size)
    if retraced:
        raise Mismatch(f"traced again for batch sizes {retraced} after batches of 2 and 3 "
                       f"({traces()} traces in all); "
                       "expected no new trace (give an input_signature with None)")
    return f"{traces()} trace(s) for 7 batch sizes"


def check_linear_gradients(context: Context) -> None:
    student = context.student_function("linear_gradients")
    got = student(tf.Variable([1.0, 2.0]), tf.Variable(0.5),
                  tf.constant([[1.0, 1.0], [2.0, 0.0]]), tf.constant([3.0, 1.0]))
    expect_close("linear_gradients(the example)", got,
                 (tf.constant([3.5, 0.5]), tf.constant(2.0)))
    for batch_size, features in ((4, 3), (32, 10)):
        arguments = (tf.Variable(context.rng.normal(size=features).astype(np.float32)),
                     tf.Variable(np.float32(context.rng.normal())),
                     tf.constant(context.rng.normal(size=(batch_size, features)), tf.float32),
                     tf.constant(context.rng.normal(size=batch_size), tf.float32))
        expect_same(context, "linear_gradients", *arguments, rtol=1e-4, atol=1e-5,
                    label=f"a batch of {batch_size} x {features}")


def batches_of(name: str, dataset) -> list:
    """The batches of the reference's tf.data.Dataset or of the student's."""
    if isinstance(dataset, tf.data.Dataset):
        return list(dataset)
    if not isinstance(dataset, StudentDataset):
        kind = dataset.type_name if isinstance(dataset, Remote) else type(dataset).__name__
        raise Mismatch(f"{name} returned {kind}, expected a tf.data.Dataset")
    if dataset.cut:
        raise Mismatch(f"{name}: expected a finite dataset, got more than "
                       f"{len(dataset.elements)} batches")
    return dataset.elements


def check_even_squares(context: Context) -> None:
    student = context.student_function("even_squares")
    reference = context.reference_function("even_squares")
    cases = [([1, 2, 3, 4, 6, 7, 8], 2)]
    cases += [(list(context.rng.integers(-50, 50, size)), batch_size)
              for size, batch_size in ((25, 4), (16, 3), (3, 5))]
    cases.append(([2, 4, 6, 8], 2))  # the evens fill the batches exactly
    for numbers, batch_size in cases:
        name = f"even_squares({numbers if len(numbers) < 8 else 'hidden numbers'}, {batch_size})"
        numbers = tf.constant(numbers, tf.int64)
        got = batches_of(name, student(numbers, batch_size))
        expected = batches_of(name, reference(numbers, batch_size))
        if len(got) != len(expected):
            raise Mismatch(f"{name}: expected {len(expected)} batches, got {len(got)}")
        for index, (got_batch, expected_batch) in enumerate(zip(got, expected, strict=True)):
            expect_close(f"{name}, batch {index}", got_batch, expected_batch)


PROBLEMS = [
    Problem("add_or_subtract", check_add_or_subtract),
    Problem("compare_three_ways", check_compare_three_ways),
    Problem("equal_elements", check_equal_elements),
    Problem("values_above", check_values_above),
    Problem("range_diagonal", check_range_diagonal),
    Problem("determinant", check_determinant),
    Problem("unique_in_order", check_unique_in_order),
    Problem("mean_sign_loss", check_mean_sign_loss),
    Problem("make_row_norms", check_make_row_norms),
    Problem("linear_gradients", check_linear_gradients),
    Problem("even_squares", check_even_squares),
]
