"""Exercises with an autograder: `python -m cs20 check EXERCISE [FILE]`.

Each exercise is a folder, `exercises/eNN_topic/`: `exercise.py` is the starter the
student edits (functions left to write), `solution.py` the reference solution, and
`checks.py` (the package `exercises.eNN_topic.checks`) the list `PROBLEMS` the grader
(`cs20.exercises.grading`) runs one by one, the student's code in a child process
(`cs20.exercises.sandbox`). The checks are not part of cs20: they may use the lectures.

This module only finds files: listing the exercises must not load TensorFlow.
"""

from __future__ import annotations

import pathlib

EXERCISES_DIR = pathlib.Path(__file__).resolve().parents[2] / "exercises"


def exercise_paths() -> dict[str, pathlib.Path]:
    """{"e01_ops": exercises/e01_ops/exercise.py, ...}: the starters, in order."""
    return {path.parent.name: path
            for path in sorted(EXERCISES_DIR.glob("e[0-9][0-9]_*/exercise.py"))}


def solution_path(name: str) -> pathlib.Path:
    """exercises/<name>/solution.py: the reference solution."""
    return EXERCISES_DIR / name / "solution.py"


def checks_module(name: str) -> str:
    """The package that holds exercise `name`'s `PROBLEMS`: exercises.<name>.checks."""
    return f"exercises.{name}.checks"


def resolve_name(name: str) -> str:
    """"e01", "e01_ops", "e01_ops.py" or "e01_ops/" -> "e01_ops"; an unknown name is a
    ValueError."""
    names = list(exercise_paths())
    stem = name.rstrip("/").removesuffix(".py")
    matches = [known for known in names if known == stem or known.split("_")[0] == stem]
    if len(matches) != 1:
        raise ValueError(f"unknown exercise {name!r}: choose one of {', '.join(names)} "
                         "(see `python -m cs20 list`)")
    return matches[0]


def choose_file(name: str, file: str = "", solution: bool = False) -> pathlib.Path:
    """The file to check: FILE, the reference solution (`solution`) or the starter; a
    missing one (or both FILE and `solution`) is a one-line error."""
    if solution and file:
        raise ValueError("give a FILE or --solution, not both")
    path = (solution_path(name) if solution
            else pathlib.Path(file) if file else exercise_paths()[name])
    if not path.is_file():
        raise FileNotFoundError(f"no file {path}: give the path of your copy of "
                                f"exercises/{name}/exercise.py")
    return path
