"""Loads a student's exercise file, runs each problem's checks, and reports in words.

A problem is a named check: `check(context)` calls the student's function on the
docstring's example (golden values written down) and on hidden random inputs compared
with the reference solution's answers, and tests properties (no retracing, masked
positions exactly 0, the loss going down). It raises `Mismatch` with the first
difference in words: what was expected and what came back (value, shape or dtype).

Nothing the student's code does ends the run: a file that does not load (a syntax
error) fails every problem with the same one-line reason, and an exception inside one
problem (NotImplementedError included) fails that problem only, naming the line of the
student's file it came from.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import pathlib
import sys
import traceback
import types
import warnings
from collections.abc import Callable

from cs20.exercises import SOLUTIONS_DIR

import numpy as np
import tensorflow as tf


class Mismatch(Exception):
    """A check's finding, in words: expected this, got that."""


@dataclasses.dataclass(frozen=True)
class Context:
    """What a check works with: both modules, a seeded source of hidden inputs, and how
    much training the check may do (`quick`: a tiny budget, for the test suite)."""

    student: types.ModuleType
    reference: types.ModuleType
    rng: np.random.Generator
    quick: bool = False

    def student_function(self, name: str) -> Callable:
        function = getattr(self.student, name, None)
        if not callable(function):
            raise Mismatch(f"the file defines no function {name}")
        return function

    def reference_function(self, name: str) -> Callable:
        return getattr(self.reference, name)


@dataclasses.dataclass(frozen=True)
class Problem:
    name: str  # what the student writes (a function name, or a short label)
    check: Callable[[Context], str | None]  # raises Mismatch; may return a detail


@dataclasses.dataclass(frozen=True)
class Outcome:
    problem: str
    passed: bool
    detail: str


# ----------------------------------------------------------------------------- comparing

def describe(value) -> str:
    """A short description of a value for messages: numbers in full, arrays by shape."""
    if value is None:
        return "None"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    array = np.asarray(value)
    if array.size <= 6:
        return f"{np.array2string(array, precision=5, separator=', ')} ({array.dtype})"
    return f"a {array.dtype} array of shape {array.shape}"


def dtype_name(value) -> str:
    dtype = getattr(value, "dtype", None)
    return tf.as_dtype(dtype).name if dtype is not None else type(value).__name__


def to_array(what: str, value) -> np.ndarray:
    if value is None:
        raise Mismatch(f"{what}: got None (did the function forget to return?)")
    if isinstance(value, tf.data.Dataset):
        raise Mismatch(f"{what}: got a tf.data.Dataset, expected a tensor")
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as error:
        raise Mismatch(f"{what}: expected a tensor, got {type(value).__name__} "
                       f"({error})") from None


def expect_close(what: str, got, expected, *, rtol: float = 1e-5,
                 atol: float = 1e-6) -> None:
    """Same structure, shape, dtype and values within the tolerances.

    Tuples are compared element by element; a message names the first difference.
    """
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            raise Mismatch(f"{what}: expected a tuple of {len(expected)}, got {describe(got)}")
        for index, (got_item, expected_item) in enumerate(zip(got, expected, strict=True)):
            expect_close(f"{what}[{index}]", got_item, expected_item, rtol=rtol, atol=atol)
        return
    got_array, expected_array = to_array(what, got), np.asarray(expected)
    if got_array.shape != expected_array.shape:
        raise Mismatch(f"{what}: expected shape {expected_array.shape}, "
                       f"got shape {got_array.shape}")
    if dtype_name(got) != dtype_name(expected):
        raise Mismatch(f"{what}: expected dtype {dtype_name(expected)}, got {dtype_name(got)}")
    if expected_array.dtype == bool or expected_array.dtype.kind in "iu":
        wrong = got_array != expected_array
    else:
        wrong = ~np.isclose(got_array, expected_array, rtol=rtol, atol=atol)
    if np.any(wrong):
        first = tuple(int(i) for i in np.argwhere(wrong)[0])
        where = f" at index {list(first)}" if first else ""
        count = f" ({int(wrong.sum())} of {wrong.size} values differ)" if wrong.size > 1 else ""
        raise Mismatch(f"{what}: expected {expected_array[first].item()}{where}, got "
                       f"{got_array[first].item()}{count}")


def expect_same(context: Context, name: str, *arguments, label: str = "", **tolerances):
    """The student's `name(*arguments)` against the reference solution's."""
    got = context.student_function(name)(*arguments)
    expected = context.reference_function(name)(*arguments)
    shown = label or ", ".join(describe(argument) for argument in arguments)
    expect_close(f"{name}({shown})", got, expected, **tolerances)


def expect_decrease(summary: str, before: float, after: float, fraction: float) -> str:
    """A training check: the loss is finite and fell by at least `fraction`; returns
    `summary` (the figures in words) for the passed line."""
    if not (np.isfinite(before) and np.isfinite(after)):
        raise Mismatch(f"{summary}: expected finite losses")
    if not after < (1.0 - fraction) * before:
        raise Mismatch(f"{summary}: expected the loss to fall by at least {fraction:.0%}")
    return summary


# ----------------------------------------------------------------------------- running

def load_file(path: pathlib.Path, module_name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    # AutoGraph and dataclasses look a function's module up in sys.modules.
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def load_error(error: BaseException, path: pathlib.Path) -> str:
    """Why a file does not load, in one line."""
    if isinstance(error, SyntaxError):
        return f"{path.name} does not load: SyntaxError at line {error.lineno}: {error.msg}"
    return f"{path.name} does not load: {exception_line(error, path)}"


def exception_line(error: BaseException, path: pathlib.Path) -> str:
    """`raised ValueError: message (line 12 of e01_ops.py)`; the line is the last one of
    the student's file on the traceback."""
    if isinstance(error, NotImplementedError):
        return "not done yet (raises NotImplementedError)"
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    message = message if len(message) <= 200 else message[:197] + "..."
    frames = [frame for frame in traceback.extract_tb(error.__traceback__)
              if pathlib.Path(frame.filename).resolve() == path.resolve()]
    where = f" (line {frames[-1].lineno} of {path.name})" if frames else ""
    return f"raised {type(error).__name__}: {message}{where}"


def run_problems(problems: list[Problem], student_path: pathlib.Path,
                 reference: types.ModuleType, *, quick: bool = False, seed: int = 0):
    """Yields one Outcome per problem, in order, whatever the student's code does."""
    try:
        student = load_file(student_path, f"cs20_student_{student_path.stem}")
    except (Exception, SystemExit) as error:  # the student's module may raise anything
        reason = load_error(error, student_path)
        for problem in problems:
            yield Outcome(problem.name, False, reason)
        return
    for index, problem in enumerate(problems):
        # Each problem gets its own seeded inputs: the same hidden cases on every run,
        # whichever problems came before.
        context = Context(student, reference, np.random.default_rng([seed, index]), quick)
        tf.random.set_seed(index)
        try:
            detail = problem.check(context)
        except Mismatch as mismatch:
            yield Outcome(problem.name, False, str(mismatch))
        except (Exception, SystemExit) as error:  # the student's code may raise anything
            yield Outcome(problem.name, False, exception_line(error, student_path))
        else:
            yield Outcome(problem.name, True, detail or "")


def check(name: str, path: pathlib.Path, *, quick: bool = False,
          printer=print) -> list[Outcome]:
    """Checks the file at `path` against the problems of exercise `name` (see
    `cs20.exercises.resolve_name` and `choose_file`), printing one line per problem and
    the score; `quick` gives training problems a tiny budget (the test suite's)."""
    reference = load_file(SOLUTIONS_DIR / f"{name}.py", f"cs20_solution_{name}")
    problems = importlib.import_module(f"cs20.exercises.{name}").PROBLEMS
    # TensorFlow's and Keras' own warnings (retracing, AutoGraph, layer building) would
    # bury the report; the checks say what matters in words.
    tf.get_logger().setLevel("ERROR")
    printer(f"{name}: checking {path}")
    outcomes = []
    width = max(len(problem.name) for problem in problems)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for number, outcome in enumerate(run_problems(problems, path, reference, quick=quick),
                                         1):
            verdict = "passed" if outcome.passed else "FAILED"
            detail = f": {outcome.detail}" if outcome.detail else ""
            printer(f"{number:>3}. {outcome.problem:<{width}}  {verdict}{detail}")
            outcomes.append(outcome)
    passed = sum(outcome.passed for outcome in outcomes)
    printer(f"score: {passed}/{len(outcomes)} problems passed")
    return outcomes
