"""Runs each problem's checks against a student's exercise file, and reports in words.

A problem is a named check: `check(context)` calls the student's function on the
docstring's example (golden values written down) and on hidden random inputs compared
with the reference solution's answers, and tests properties (no retracing, masked
positions exactly 0, the loss going down). It raises `Mismatch` with the first
difference in words: what was expected and what came back (value, shape or dtype).

The student's code runs in a child process (`cs20.exercises.sandbox`), never here: this
process chooses the inputs, receives the outputs as arrays, runs the reference solution
and decides pass or fail, so nothing the student's file does reaches the score. Each
problem has a time limit. A file that does not load (a syntax error, an exit, a hang)
fails every problem with the same one-line reason; an exception, an exit or a hang
inside one problem fails that problem only, naming the line of the student's file it
came from, and the next problem gets a fresh child process.

What this process cannot compute without running the student's code is measured next to
it by the checker's helpers (`Context.on_student_side`): a tf.function's trace count, the
losses of lecture 8b's and 12's steps, e02's predictions on the test digits (whose
accuracy is computed here). A file written to tamper with those helpers in its own
process could fake these figures; every other answer is compared here.
"""

from __future__ import annotations

import dataclasses
import importlib
import pathlib
import time
import types
import warnings
from collections.abc import Callable

from cs20.exercises import checks_module, solution_path
from cs20.exercises.sandbox import (
    ChildEnded,
    ChildProcess,
    InProcess,
    MissingFunction,
    Remote,
    Sandbox,
    StudentDataset,
    StudentError,
    TimedOut,
    load_file,
)

import numpy as np

# Starting the child process (TensorFlow's import, on a busy machine), loading the
# student's file, and a problem that sets no limit of its own: at most this many seconds.
STARTUP_SECONDS = 300.0
LOAD_SECONDS = 60.0
PROBLEM_SECONDS = 60.0


class Mismatch(Exception):
    """A check's finding, in words: expected this, got that."""


@dataclasses.dataclass(frozen=True)
class Context:
    """What a check works with: the student's code (behind `sandbox`), the reference
    solution, a seeded source of hidden inputs, and how much training the check may do
    (`quick`: a tiny budget, for the test suite)."""

    sandbox: Sandbox
    reference: types.ModuleType
    rng: np.random.Generator
    quick: bool = False

    def student_function(self, name: str) -> Remote:
        """The student's function `name`: calling it sends tensors, gets arrays back."""
        try:
            return self.sandbox.function(name)
        except MissingFunction:
            raise Mismatch(f"the file defines no function {name}") from None

    def student_value(self, name: str):
        """The value of `name` in the student's file (None when it has none)."""
        return self.sandbox.value(name)

    def on_student_side(self, helper: Callable, *arguments, **keywords):
        """`helper(*arguments)` run next to the student's code: a function of an
        exercise's checks (`exercises.<name>.checks`) or of `cs20.exercises`, given the
        student's functions (`student_function`)."""
        return self.sandbox.run(helper, *arguments, **keywords)

    def reference_function(self, name: str) -> Callable:
        return getattr(self.reference, name)


@dataclasses.dataclass(frozen=True)
class Problem:
    name: str  # what the student writes (a function name, or a short label)
    check: Callable[[Context], str | None]  # raises Mismatch; may return a detail
    seconds: float = PROBLEM_SECONDS  # its time limit, the student's code included


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
    return dtype.name if dtype is not None else type(value).__name__  # numpy's or TensorFlow's


def to_array(what: str, value) -> np.ndarray:
    if value is None:
        raise Mismatch(f"{what}: got None (did the function forget to return?)")
    if isinstance(value, StudentDataset):
        raise Mismatch(f"{what}: got a tf.data.Dataset, expected a tensor")
    if isinstance(value, Remote):
        raise Mismatch(f"{what}: expected a tensor, got {value.type_name}")
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

class Student:
    """The student's file in a sandbox, loaded (again) when a problem needs it: after a
    problem timed out or ended the process, the next one gets a fresh one. A file that
    did not load fails every problem with the same `failed_load` reason."""

    def __init__(self, path: pathlib.Path, in_process: bool, load_seconds: float):
        self.path, self.in_process, self.load_seconds = path, in_process, load_seconds
        self.sandbox: Sandbox | None = None
        self.loaded = False
        self.failed_load = ""

    def spawn(self) -> None:
        """Starts the sandbox without waiting for it (a child loads TensorFlow meanwhile)."""
        if self.sandbox is None:
            self.sandbox = InProcess() if self.in_process else ChildProcess()

    def ready(self) -> Sandbox | None:
        if not self.loaded and not self.failed_load:
            self.failed_load = self.load()
        return self.sandbox if self.loaded else None

    def load(self) -> str:
        """Loads the file in a started sandbox; returns why it failed ("" when not)."""
        name = self.path.name
        try:
            self.spawn()
            self.sandbox.wait_until_started(STARTUP_SECONDS)
        except TimedOut:
            self.stop()
            return f"the process for {name} did not start in {STARTUP_SECONDS:g} s"
        except ChildEnded as ended:
            self.stop()
            return f"the process for {name} did not start: {ended}"
        self.sandbox.deadline = time.monotonic() + self.load_seconds
        try:
            self.sandbox.load(self.path, f"cs20_student_{self.path.stem}")
            self.loaded = True
            return ""
        except StudentError as error:
            reason = str(error)
        except TimedOut:
            reason = f"{name} does not load: it took more than {self.load_seconds:g} s"
        except ChildEnded as ended:
            reason = f"{name} does not load: {ended}"
        self.stop()
        return reason

    def stop(self) -> None:
        if self.sandbox is not None:
            self.sandbox.stop()
        self.sandbox, self.loaded = None, False


def run_problem(problem: Problem, context: Context, seed: int,
                seconds: float) -> tuple[Outcome, bool]:
    """One problem within `seconds`, whatever the student's code does; and whether its
    sandbox is lost (hung or gone)."""
    context.sandbox.deadline = time.monotonic() + seconds
    try:
        context.sandbox.begin(seed)
        detail = problem.check(context)
    except Mismatch as mismatch:
        return Outcome(problem.name, False, str(mismatch)), False
    except StudentError as error:
        return Outcome(problem.name, False, str(error)), False
    except TimedOut:
        return Outcome(problem.name, False, f"timed out after {seconds:g} s "
                                            "(an endless loop? a sleep?)"), True
    except ChildEnded as ended:
        return Outcome(problem.name, False, str(ended)), True
    except Exception as error:  # what came back was not what the check can read
        return Outcome(problem.name, False, f"the check could not read your answer "
                                            f"({type(error).__name__}: {error})"), False
    return Outcome(problem.name, True, detail or ""), False


def run_problems(problems: list[Problem], student: Student, reference: types.ModuleType,
                 *, quick: bool = False, seed: int = 0, seconds: float | None = None):
    """Yields one Outcome per problem, in order; `seconds` overrides each problem's limit."""
    import tensorflow as tf

    for index, problem in enumerate(problems):
        sandbox = student.ready()
        if sandbox is None:
            yield Outcome(problem.name, False, student.failed_load)
            continue
        # Each problem gets its own seeded inputs: the same hidden cases on every run,
        # whichever problems came before.
        context = Context(sandbox, reference, np.random.default_rng([seed, index]), quick)
        tf.random.set_seed(index)
        outcome, lost = run_problem(problem, context, index, seconds or problem.seconds)
        if lost:
            student.stop()  # the next problem starts a fresh one
        yield outcome


def check(name: str, path: pathlib.Path, *, quick: bool = False, printer=print,
          seconds: float | None = None, in_process: bool = False,
          only: tuple[str, ...] = ()) -> list[Outcome]:
    """Checks the file at `path` against the problems of exercise `name` (see
    `cs20.exercises.resolve_name` and `choose_file`), printing one line per problem and
    the score.

    For the test suite: `quick` gives training problems a tiny budget, `seconds` sets
    every time limit (loading included), `in_process` runs the student's code here
    (the same checks and conversions, no time limit), `only` names the problems to run.
    """
    student = Student(path, in_process, seconds or LOAD_SECONDS)
    try:
        student.spawn()  # the child loads TensorFlow while this process loads its own
        reference = load_file(solution_path(name), f"cs20_solution_{name}")
        problems = [problem for problem in importlib.import_module(
            checks_module(name)).PROBLEMS if not only or problem.name in only]
        import tensorflow as tf  # loaded by now (the checks use it)

        # TensorFlow's and Keras' own warnings (retracing, AutoGraph, layer building)
        # would bury the report; the checks say what matters in words.
        tf.get_logger().setLevel("ERROR")
        printer(f"{name}: checking {path}")
        outcomes = []
        width = max(len(problem.name) for problem in problems)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for number, outcome in enumerate(run_problems(
                    problems, student, reference, quick=quick, seconds=seconds), 1):
                verdict = "passed" if outcome.passed else "FAILED"
                detail = f": {outcome.detail}" if outcome.detail else ""
                printer(f"{number:>3}. {outcome.problem:<{width}}  {verdict}{detail}")
                outcomes.append(outcome)
    finally:
        student.stop()
    passed = sum(outcome.passed for outcome in outcomes)
    printer(f"score: {passed}/{len(outcomes)} problems passed")
    return outcomes
