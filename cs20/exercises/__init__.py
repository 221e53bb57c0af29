"""Exercises with an autograder: `python -m cs20 check EXERCISE [FILE]`.

The starters live in `exercises/` (one file per exercise set, functions left for the
student), the reference solutions in `exercises/solutions/` (same names). Each exercise
has a checks module here of the same name (`cs20.exercises.e01_ops`, ...) whose `PROBLEMS`
list the grader (`cs20.exercises.grading`) runs one by one, the student's code in a child
process (`cs20.exercises.sandbox`).

This module only finds files: listing the exercises must not load TensorFlow.
"""

from __future__ import annotations

import pathlib

EXERCISES_DIR = pathlib.Path(__file__).resolve().parents[2] / "exercises"
SOLUTIONS_DIR = EXERCISES_DIR / "solutions"


def exercise_paths() -> dict[str, pathlib.Path]:
    """{"e01_ops": exercises/e01_ops.py, ...}: the starters, in order."""
    return {path.stem: path for path in sorted(EXERCISES_DIR.glob("e[0-9][0-9]_*.py"))}


def resolve_name(name: str) -> str:
    """"e01", "e01_ops" or "e01_ops.py" -> "e01_ops"; an unknown name is a ValueError."""
    names = list(exercise_paths())
    stem = name.removesuffix(".py")
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
    path = (SOLUTIONS_DIR / f"{name}.py" if solution
            else pathlib.Path(file) if file else exercise_paths()[name])
    if not path.is_file():
        raise FileNotFoundError(f"no file {path}: give the path of your copy of "
                                f"exercises/{name}.py")
    return path
