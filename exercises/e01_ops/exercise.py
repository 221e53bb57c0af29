"""Exercise 1: TensorFlow ops, control flow in graphs, tf.function, GradientTape, tf.data.

Fill in each function below (replace `raise NotImplementedError`), then check your work:

    python -m cs20 check e01                       # this file
    python -m cs20 check e01 my_copy_of_e01.py     # or a copy of it

Each problem is checked on the example in its docstring and on hidden random inputs, so
returning the example's answer is not enough. Inputs are tensors; return tensors of the
dtype the docstring states. Lectures 1-2 (ops), 3 (tf.cond) and 4 (eager, GradientTape)
cover what you need; the hints name the functions to look up.
"""

from __future__ import annotations

import tensorflow as tf  # noqa: F401 (your answers use it)


def add_or_subtract(x, y):
    """x + y when x > y, else x - y. x, y: float32 scalars -> float32 scalar.

    It must also work inside a graph without AutoGraph (tf.function(autograph=False)),
    where a Python `if` on a tensor is an error: choose between the two branches with a
    TensorFlow op. Example: add_or_subtract(3.0, 1.0) == 4.0; (1.0, 3.0) -> -2.0.

    Hint: tf.cond(predicate, true_fn, false_fn).
    """
    raise NotImplementedError


def compare_three_ways(x, y):
    """x + y when x < y, x - y when x > y, and 0.0 when they are equal.

    x, y: float32 scalars -> float32 scalar; works without AutoGraph, as above.
    Example: compare_three_ways(1.0, 2.0) == 3.0; (2.0, 1.0) -> 1.0; (2.0, 2.0) -> 0.0.

    Hint: tf.case([(predicate, function), ...], default=function), tf.less, tf.greater.
    """
    raise NotImplementedError


def equal_elements(x, y):
    """Where x and y hold the same value: a bool tensor of their (equal) shape.

    Example: x = [[0, -2, -1], [0, 1, 2]], y = zeros of the same shape
    -> [[True, False, False], [True, False, False]].

    Hint: tf.equal (tf.zeros_like makes the example's y).
    """
    raise NotImplementedError


def values_above(x, threshold):
    """The positions (int64, shape (k,)) and values (x's dtype, shape (k,)) of the
    elements of the 1-D tensor x greater than the scalar threshold, in order.

    Example: values_above([29.0, 31.5, 30.0, 44.0], 30.0) -> ([1, 3], [31.5, 44.0]).
    When no element is greater, both have shape (0,).

    Hint: tf.where(condition) gives the positions as a (k, 1) tensor; tf.gather(x, ...).
    """
    raise NotImplementedError


def range_diagonal(n):
    """The (n, n) int32 matrix with 1, 2, ..., n on its diagonal and 0 elsewhere.

    Example: range_diagonal(3) -> [[1, 0, 0], [0, 2, 0], [0, 0, 3]].

    Hint: tf.range(start, limit), tf.linalg.diag.
    """
    raise NotImplementedError


def determinant(matrix):
    """The determinant of a float32 (n, n) matrix: a float32 scalar.

    Example: determinant([[2.0, 1.0], [4.0, 3.0]]) == 2.0.

    Hint: tf.linalg (no loops: TensorFlow has it).
    """
    raise NotImplementedError


def unique_in_order(x):
    """The distinct values of the 1-D tensor x in the order they first appear (x's dtype).

    Example: [5, 2, 3, 5, 10, 6, 2, 3, 4, 2, 1, 1, 0, 9] -> [5, 2, 3, 10, 6, 4, 1, 0, 9].
    (Sorted is wrong: 10 comes before 6 because it appears first.)

    Hint: tf.unique returns two tensors; which one do you need?
    """
    raise NotImplementedError


def mean_sign_loss(x, y):
    """With d = x - y (two float32 vectors of the same length) and m = mean(d):
    the mean of d squared when m < 0, otherwise the sum of |d|. A float32 scalar.

    Works without AutoGraph, as `add_or_subtract`. Example: x = [1.0, 2.0],
    y = [2.0, 4.0]: d = [-1, -2], m = -1.5 < 0 -> (1 + 4) / 2 = 2.5; x and y swapped:
    m = 1.5 -> 1 + 2 = 3.0.

    Hint: tf.reduce_mean, tf.cond, tf.square, tf.abs, tf.reduce_sum.
    """
    raise NotImplementedError


def make_row_norms():
    """A tf.function: (batch, features) float32 -> (batch,) float32, each row's
    Euclidean length, for any number of features, that is traced once for every batch
    size (the number of features stays the same from call to call).

    A tf.function traces its Python code again for each new input shape; tracing is slow,
    so a function called on batches of many sizes should be traced for all of them at
    once. The check calls it with batch sizes 2, 3, then 1, 5, 8, 13, 64 and counts the
    traces: none may happen after the first two calls.
    Example: make_row_norms()([[3.0, 4.0], [0.0, 1.0]]) -> [5.0, 1.0].

    Hint: @tf.function(input_signature=[tf.TensorSpec(...)]) with None for the batch
    size (or reduce_retracing=True); tf.norm(..., axis=...).
    """
    raise NotImplementedError


def linear_gradients(weights, bias, inputs, targets):
    """Gradients of the mean squared error of a linear model, with tf.GradientTape.

    weights: tf.Variable (features,), bias: tf.Variable scalar, inputs: (batch, features),
    targets: (batch,), all float32. The loss is mean((inputs @ weights + bias - targets)^2).
    Returns (d loss / d weights (features,), d loss / d bias (scalar)).
    Example: weights [1.0, 2.0], bias 0.5, inputs [[1.0, 1.0], [2.0, 0.0]],
    targets [3.0, 1.0]: errors [0.5, 1.5] -> ([3.5, 0.5], 2.0).

    Hint: tf.GradientTape() as tape, tape.gradient(loss, [weights, bias]),
    tf.linalg.matvec.
    """
    raise NotImplementedError


def even_squares(numbers, batch_size):
    """A tf.data.Dataset of the squares of the even numbers among `numbers` (a 1-D int64
    tensor), in order, in batches of `batch_size` (the last batch may be smaller).

    Example: even_squares([1, 2, 3, 4, 6, 7, 8], 2) yields [4, 16], [36, 64].

    Hint: tf.data.Dataset.from_tensor_slices, .filter, .map, .batch; x % 2 == 0.
    """
    raise NotImplementedError
