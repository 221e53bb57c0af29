"""The exercises' grader (issue 18): every reference solution passes every check, every
untouched starter fails every problem (a check that cannot fail is caught), mistakes are
reported per problem in words, and `python -m cs20 check` answers with the right exit
code. e02 trains for a tiny budget here; its full check runs from the command line.
"""

from __future__ import annotations

import importlib
import pathlib
import subprocess
import sys

from cs20 import __main__ as cs20_cli
from cs20 import exercises

import pytest
from conftest import ROOT

FAST_EXERCISES = ("e01_ops", "e03_style", "e04_attention")


def grade(name: str, path: pathlib.Path, quick: bool = False):
    from cs20.exercises import grading

    return grading.check(name, path, quick=quick, printer=lambda line: None)


def run_cli(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cs20", *arguments], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)


def test_there_are_four_exercises_with_solutions():
    assert list(exercises.exercise_paths()) == ["e01_ops", "e02_regression", "e03_style",
                                                "e04_attention"]
    for name in exercises.exercise_paths():
        assert (exercises.SOLUTIONS_DIR / f"{name}.py").is_file()


@pytest.mark.parametrize("name", FAST_EXERCISES)
def test_reference_solution_passes_every_check(name, capsys):
    exit_code = cs20_cli.main(["check", name, "--solution"])
    output = capsys.readouterr().out
    assert "FAILED" not in output
    problems = len(importlib.import_module(f"cs20.exercises.{name}").PROBLEMS)
    assert f"score: {problems}/{problems} problems passed" in output
    assert exit_code == 0


def test_e02_reference_solution_passes_with_a_tiny_training_budget(data_dir):
    outcomes = grade("e02_regression", exercises.SOLUTIONS_DIR / "e02_regression.py",
                     quick=True)
    assert [outcome for outcome in outcomes if not outcome.passed] == []
    assert outcomes[1].detail == "95,410 weights"
    assert outcomes[2].detail.startswith("test accuracy ")


@pytest.mark.parametrize("name", list(exercises.exercise_paths()))
def test_untouched_starter_fails_every_problem(name):
    outcomes = grade(name, exercises.exercise_paths()[name])
    assert outcomes and not any(outcome.passed for outcome in outcomes)
    assert all("NotImplementedError" in outcome.detail for outcome in outcomes)


def write_e01_with(tmp_path: pathlib.Path, replacements: str) -> pathlib.Path:
    """The reference solution of e01 with some functions redefined (later wins)."""
    path = tmp_path / "e01_mine.py"
    solution = (exercises.SOLUTIONS_DIR / "e01_ops.py").read_text()
    path.write_text(solution + "\n\n" + replacements)
    return path


WRONG_ANSWERS = '''
import sys


def add_or_subtract(x, y):
    if x > y:  # a Python `if`: fine eagerly, an error in a graph without AutoGraph
        return x + y
    return x - y


def values_above(x, threshold):
    positions = tf.where(x > threshold)  # (k, 1): one dimension too many
    return positions, tf.gather(x, positions)


def range_diagonal(n):
    return tf.linalg.diag(tf.range(1.0, tf.cast(n, tf.float32) + 1.0))  # float32, not int32


def determinant(matrix):
    raise ValueError("boom")


def equal_elements(x, y):
    sys.exit(3)  # ends this problem, not the grader


def unique_in_order(x):
    return tf.sort(tf.unique(x)[0])  # sorted, not in order of appearance


def make_row_norms():
    @tf.function  # no input signature: a new trace per batch size
    def row_norms(rows):
        return tf.norm(rows, axis=1)

    return row_norms
'''


def test_mistakes_are_reported_per_problem_in_words(tmp_path, capsys):
    path = write_e01_with(tmp_path, WRONG_ANSWERS)
    assert cs20_cli.main(["check", "e01", str(path)]) == 1
    lines = {line.split(".", 1)[1].split()[0]: line for line in capsys.readouterr().out
             .splitlines() if line[:4].strip().rstrip(".").isdigit()}
    assert "without AutoGraph" in lines["add_or_subtract"]
    assert "expected shape (2,), got shape (2, 1)" in lines["values_above"]
    assert "expected dtype int32, got float32" in lines["range_diagonal"]
    line_number = path.read_text().splitlines().index('    raise ValueError("boom")') + 1
    assert f"raised ValueError: boom (line {line_number} of e01_mine.py)" in lines["determinant"]
    assert "raised SystemExit: 3" in lines["equal_elements"]
    assert "expected 5 at index [0], got 0" in lines["unique_in_order"]
    assert "traced again for batch sizes [1, 5, 8, 13, 64]" in lines["make_row_norms"]
    failed = {"add_or_subtract", "values_above", "range_diagonal", "determinant",
              "equal_elements", "unique_in_order", "make_row_norms"}
    for name, line in lines.items():
        assert ("FAILED" in line) == (name in failed), line


def test_a_file_that_does_not_load_fails_each_problem_with_the_reason(tmp_path, capsys):
    path = write_e01_with(tmp_path, "def broken(:\n    pass\n")
    assert cs20_cli.main(["check", "e01_ops.py", str(path)]) == 1
    output = capsys.readouterr().out
    line_number = len(path.read_text().splitlines()) - 1
    assert output.count(f"FAILED: e01_mine.py does not load: SyntaxError at line "
                        f"{line_number}") == 11
    assert "score: 0/11 problems passed" in output


def test_cli_exit_codes_and_one_line_errors(tmp_path):
    unknown = run_cli("check", "e99")
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("error: unknown exercise 'e99'")
    assert len(unknown.stderr.splitlines()) == 1
    missing = run_cli("check", "e01", str(tmp_path / "nothing.py"))
    assert missing.returncode == 2 and "no file" in missing.stderr
    both = run_cli("check", "e01", str(tmp_path / "nothing.py"), "--solution")
    assert both.returncode == 2 and "not both" in both.stderr
    helped = run_cli("check", "--help")
    assert helped.returncode == 0 and "--solution" in helped.stdout
    listed = run_cli("list")
    assert listed.returncode == 0
    assert all(name in listed.stdout for name in exercises.exercise_paths())


def test_e03_reference_solution_matches_lecture_8b_losses():
    """The golden values come from our reference solution; lecture 8b's losses must agree
    with it (cross-check of two independent writings)."""
    from cs20 import cli
    from cs20.exercises import grading

    import numpy as np
    import tensorflow as tf

    reference = grading.load_file(exercises.SOLUTIONS_DIR / "e03_style.py", "e03_reference")
    lesson = cli.load_lecture("l08_style_transfer")
    rng = np.random.default_rng(0)
    features = tf.constant(rng.uniform(size=(1, 6, 5, 8)), tf.float32)
    other = tf.constant(rng.uniform(size=(1, 6, 5, 8)), tf.float32)
    images = tf.constant(rng.uniform(0, 255, size=(2, 7, 9, 3)), tf.float32)
    pairs = [(reference.gram_matrix(features), lesson.gram_matrix(features)),
             (reference.content_loss(features, other), lesson.content_loss(features, other)),
             (reference.style_loss([features], [reference.gram_matrix(other)], [2.0]),
              lesson.style_loss([features], [lesson.gram_matrix(other)], [2.0])),
             (reference.total_variation_loss(images), lesson.total_variation_loss(images))]
    for ours, library in pairs:
        np.testing.assert_allclose(ours, library, rtol=1e-5)
