"""The exercises' grader (issues 18 and 28): every reference solution passes every check,
every untouched starter fails every problem, at least two plausible wrong answers to
every problem fail it, mistakes are reported per problem in words, and the student's
code cannot change the score, end the checker or hang it.

Most tests run the checks in this process (`in_process=True`: the same checks and
conversions as the child process, no time limit); the attacks, e02's real training
and the command line go through the child process.
"""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys
import time

from cs20 import __main__ as cs20_cli
from cs20 import exercises

import pytest
from conftest import ROOT

FAST_EXERCISES = ("e01_ops", "e03_style", "e04_attention")


def grade(name: str, path: pathlib.Path, **options):
    from cs20.exercises import grading

    lines = []
    outcomes = grading.check(name, path, printer=lines.append, **options)
    return outcomes, lines


def grade_here(name: str, path: pathlib.Path, **options):
    return grade(name, path, in_process=True, **options)[0]


def run_cli(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cs20", *arguments], capture_output=True,
                          text=True, timeout=300, cwd=ROOT)


def solution_with(tmp_path: pathlib.Path, name: str, replacements: str,
                  file_name: str = "mine.py") -> pathlib.Path:
    """The reference solution of `name` with some definitions replaced (later wins)."""
    path = tmp_path / file_name
    solution = exercises.solution_path(name).read_text()
    path.write_text(solution + "\n\n" + replacements)
    return path


def by_problem(lines: list[str]) -> dict[str, str]:
    """{problem: its line} from the printed report."""
    return {line.split(".", 1)[1].split()[0]: line for line in lines
            if line[:4].strip().rstrip(".").isdigit()}


def test_there_are_four_exercises_with_solutions():
    assert list(exercises.exercise_paths()) == ["e01_ops", "e02_regression", "e03_style",
                                                "e04_attention"]
    for name, path in exercises.exercise_paths().items():
        # One folder per exercise: its starter, its solution and its checks (a package).
        assert path == exercises.EXERCISES_DIR / name / "exercise.py"
        assert exercises.solution_path(name).is_file()
        assert (path.parent / "checks.py").is_file() and (path.parent / "__init__.py").is_file()


@pytest.mark.parametrize("name", FAST_EXERCISES)
def test_reference_solution_passes_every_check(name):
    outcomes = grade_here(name, exercises.solution_path(name))
    assert [outcome for outcome in outcomes if not outcome.passed] == []


def test_e02_real_grading_path_passes_the_reference_solution(data_dir, capsys):
    """The command a student runs: a child process trains the reference solution for its
    5 epochs on MNIST (at most 300 s) and this process finds the accuracy above 0.926."""
    started = time.perf_counter()
    exit_code = cs20_cli.main(["check", "e02", "--solution"])
    output = capsys.readouterr().out
    assert exit_code == 0, output
    assert "weight budget  passed: 95,410 weights" in output
    accuracy, steps, seconds = re.search(
        r"training       passed: test accuracy (\d\.\d+) after ([\d,]+) steps \((\d+) s\)",
        output).groups()
    assert float(accuracy) > 0.926 and int(seconds) <= 300
    assert int(steps.replace(",", "")) == 5 * 430  # 5 epochs of 55,000 digits in 128s
    assert "score: 3/3 problems passed" in output
    print(f"e02 graded in {time.perf_counter() - started:.0f} s")


@pytest.mark.parametrize("name", list(exercises.exercise_paths()))
def test_untouched_starter_fails_every_problem(name):
    outcomes = grade_here(name, exercises.exercise_paths()[name])
    assert outcomes and not any(outcome.passed for outcome in outcomes)
    assert all("NotImplementedError" in outcome.detail for outcome in outcomes)


# Plausible wrong answers that run: each must fail its problem (exercise, problem, what
# is wrong, the code that replaces the reference's).
WRONG_ANSWERS = [
    ("e01_ops", "add_or_subtract", "a Python if", """
def add_or_subtract(x, y):
    if x > y:
        return x + y
    return x - y
"""),
    ("e01_ops", "add_or_subtract", ">= for >", """
def add_or_subtract(x, y):
    return tf.cond(x >= y, lambda: x + y, lambda: x - y)
"""),
    ("e01_ops", "compare_three_ways", "a Python if", """
def compare_three_ways(x, y):
    if x < y:
        return x + y
    if x > y:
        return x - y
    return tf.zeros_like(x)
"""),
    ("e01_ops", "compare_three_ways", "a tie counted as less", """
def compare_three_ways(x, y):
    return tf.case([(tf.less_equal(x, y), lambda: x + y), (tf.greater(x, y), lambda: x - y)],
                   default=lambda: tf.zeros_like(x))
"""),
    ("e01_ops", "equal_elements", "int32, not bool", """
def equal_elements(x, y):
    return tf.cast(tf.equal(x, y), tf.int32)
"""),
    ("e01_ops", "equal_elements", "y ignored", """
def equal_elements(x, y):
    return tf.equal(x, tf.zeros_like(x))
"""),
    ("e01_ops", "values_above", "(k, 1) positions", """
def values_above(x, threshold):
    positions = tf.where(x > threshold)
    return positions, tf.gather_nd(x, positions)
"""),
    ("e01_ops", "values_above", ">= for >", """
def values_above(x, threshold):
    positions = tf.where(x >= threshold)[:, 0]
    return positions, tf.gather(x, positions)
"""),
    ("e01_ops", "values_above", "int32 positions", """
def values_above(x, threshold):
    positions = tf.cast(tf.where(x > threshold)[:, 0], tf.int32)
    return positions, tf.gather(x, positions)
"""),
    ("e01_ops", "range_diagonal", "off by one", """
def range_diagonal(n):
    return tf.linalg.diag(tf.range(n))
"""),
    ("e01_ops", "range_diagonal", "float32, not int32", """
def range_diagonal(n):
    return tf.linalg.diag(tf.range(1.0, tf.cast(n, tf.float32) + 1.0))
"""),
    ("e01_ops", "determinant", "the diagonal's product", """
def determinant(matrix):
    return tf.reduce_prod(tf.linalg.diag_part(matrix))
"""),
    ("e01_ops", "determinant", "float64", """
def determinant(matrix):
    return tf.linalg.det(tf.cast(matrix, tf.float64))
"""),
    ("e01_ops", "unique_in_order", "sorted", """
def unique_in_order(x):
    return tf.sort(tf.unique(x)[0])
"""),
    ("e01_ops", "unique_in_order", "the indices", """
def unique_in_order(x):
    return tf.unique(x)[1]
"""),
    ("e01_ops", "mean_sign_loss", "<= 0 for < 0", """
def mean_sign_loss(x, y):
    difference = x - y
    return tf.cond(tf.reduce_mean(difference) <= 0,
                   lambda: tf.reduce_mean(tf.square(difference)),
                   lambda: tf.reduce_sum(tf.abs(difference)))
"""),
    ("e01_ops", "mean_sign_loss", "the mean of |d| for the sum", """
def mean_sign_loss(x, y):
    difference = x - y
    return tf.cond(tf.reduce_mean(difference) < 0,
                   lambda: tf.reduce_mean(tf.square(difference)),
                   lambda: tf.reduce_mean(tf.abs(difference)))
"""),
    ("e01_ops", "make_row_norms", "no input signature", """
def make_row_norms():
    @tf.function
    def row_norms(rows):
        return tf.norm(rows, axis=1)

    return row_norms
"""),
    ("e01_ops", "make_row_norms", "the wrong axis", """
def make_row_norms():
    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32)])
    def row_norms(rows):
        return tf.norm(rows, axis=0)

    return row_norms
"""),
    ("e01_ops", "make_row_norms", "not a tf.function", """
def make_row_norms():
    def row_norms(rows):
        return tf.norm(rows, axis=1)

    return row_norms
"""),
    ("e01_ops", "linear_gradients", "a summed loss", """
def linear_gradients(weights, bias, inputs, targets):
    with tf.GradientTape() as tape:
        predictions = tf.linalg.matvec(inputs, weights) + bias
        loss = tf.reduce_sum(tf.square(predictions - targets))
    return tuple(tape.gradient(loss, [weights, bias]))
"""),
    ("e01_ops", "linear_gradients", "the bias left out", """
def linear_gradients(weights, bias, inputs, targets):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(tf.linalg.matvec(inputs, weights) - targets))
    return tuple(tape.gradient(loss, [weights, bias]))
"""),
    ("e01_ops", "even_squares", "the odd numbers", """
def even_squares(numbers, batch_size):
    return (tf.data.Dataset.from_tensor_slices(numbers)
            .filter(lambda number: number % 2 == 1)
            .map(lambda number: number * number)
            .batch(batch_size))
"""),
    ("e01_ops", "even_squares", "the last batch dropped", """
def even_squares(numbers, batch_size):
    return (tf.data.Dataset.from_tensor_slices(numbers)
            .filter(lambda number: number % 2 == 0)
            .map(lambda number: number * number)
            .batch(batch_size, drop_remainder=True))
"""),
    ("e01_ops", "even_squares", "endless", """
def even_squares(numbers, batch_size):
    return (tf.data.Dataset.from_tensor_slices(numbers)
            .filter(lambda number: number % 2 == 0)
            .map(lambda number: number * number)
            .batch(batch_size).repeat())
"""),
    ("e02_regression", "build_model", "always 10 classes", """
def build_model(num_classes: int = 10):
    inputs = keras.Input(shape=(784,))
    hidden = keras.layers.Dense(HIDDEN_UNITS, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(10)(hidden))
"""),
    ("e02_regression", "build_model", "28 x 28 pictures in", """
def build_model(num_classes: int = 10):
    inputs = keras.Input(shape=(28, 28))
    hidden = keras.layers.Dense(HIDDEN_UNITS, activation="relu")(keras.layers.Flatten()(inputs))
    return keras.Model(inputs, keras.layers.Dense(num_classes)(hidden))
"""),
    ("e02_regression", "weight budget", "128 hidden units", "HIDDEN_UNITS = 128\n"),
    ("e02_regression", "weight budget", "a second hidden layer", """
def build_model(num_classes: int = 10):
    inputs = keras.Input(shape=(784,))
    hidden = keras.layers.Dense(HIDDEN_UNITS, activation="relu")(inputs)
    hidden = keras.layers.Dense(100, activation="relu")(hidden)
    return keras.Model(inputs, keras.layers.Dense(num_classes)(hidden))
"""),
    ("e02_regression", "training", "20 epochs", "NUM_EPOCHS = 20\n"),
    ("e02_regression", "training", "a diverging learning rate", "LEARNING_RATE = 1000.0\n"),
    ("e03_style", "gram_matrix", "transposed", """
def gram_matrix(features):
    flat = tf.reshape(features, (-1, tf.shape(features)[-1]))
    return tf.matmul(flat, flat, transpose_b=True)
"""),
    ("e03_style", "gram_matrix", "channels-first reshape", """
def gram_matrix(features):
    flat = tf.reshape(features, (tf.shape(features)[-1], -1))
    return tf.matmul(flat, flat, transpose_b=True)
"""),
    ("e03_style", "content_loss", "no 4", """
def content_loss(generated, content):
    return tf.reduce_sum(tf.square(generated - content)) / tf.cast(tf.size(content), tf.float32)
"""),
    ("e03_style", "content_loss", "not per value", """
def content_loss(generated, content):
    return tf.reduce_sum(tf.square(generated - content)) / 4.0
"""),
    ("e03_style", "style_loss", "the layer weights ignored", """
def style_loss(generated_features, style_grams, layer_weights):
    return sum(_reference_style_loss([features], [gram], [1.0])
               for features, gram in zip(generated_features, style_grams))
"""),
    ("e03_style", "style_loss", "M not squared", """
def style_loss(generated_features, style_grams, layer_weights):
    total = tf.constant(0.0)
    for features, style_gram, weight in zip(generated_features, style_grams, layer_weights):
        shape = tf.shape(features)
        channels = tf.cast(shape[3], tf.float32)
        positions = tf.cast(shape[1] * shape[2], tf.float32)
        difference = gram_matrix(features) - style_gram
        total += weight * tf.reduce_sum(tf.square(difference)) / (
            4.0 * channels ** 2 * positions)
    return total
"""),
    ("e03_style", "total_variation_loss", "no mirrored edges", """
def total_variation_loss(images):
    vertical = tf.abs(images[:, 1:] - images[:, :-1])
    horizontal = tf.abs(images[:, :, 1:] - images[:, :, :-1])
    num_pixels = tf.cast(tf.reduce_prod(tf.shape(images)[:3]), tf.float32)
    return (tf.reduce_sum(vertical) + tf.reduce_sum(horizontal)) / num_pixels
"""),
    ("e03_style", "total_variation_loss", "per value, not per pixel", """
def total_variation_loss(images):
    return _reference_total_variation_loss(images) / tf.cast(tf.shape(images)[3], tf.float32)
"""),
    ("e03_style", "style transfer", "a Gram matrix through numpy", """
def gram_matrix(features):
    flat = features.numpy().reshape(-1, features.shape[-1])
    return tf.constant(flat.T @ flat)
"""),
    ("e03_style", "style transfer", "a content loss through float()", """
def content_loss(generated, content):
    return tf.constant(float(_reference_content_loss(generated, content)))
"""),
    ("e04_attention", "additive_scores", "the kernel transposed", """
def additive_scores(queries, keys, query_kernel, energy_kernel):
    return _reference_additive_scores(queries, keys, tf.transpose(query_kernel), energy_kernel)
"""),
    ("e04_attention", "additive_scores", "v inside the tanh", """
def additive_scores(queries, keys, query_kernel, energy_kernel):
    projected = tf.matmul(queries, query_kernel)
    hidden = projected[:, :, None, :] + keys[:, None, :, :]
    return tf.tanh(tf.einsum("btsu,u->bts", hidden, energy_kernel))
"""),
    ("e04_attention", "multiplicative_scores", "keys first", """
def multiplicative_scores(queries, keys):
    return tf.matmul(keys, queries, transpose_b=True)
"""),
    ("e04_attention", "multiplicative_scores", "scaled by sqrt(units)", """
def multiplicative_scores(queries, keys):
    scale = tf.sqrt(tf.cast(tf.shape(keys)[-1], tf.float32))
    return tf.matmul(queries, keys, transpose_b=True) / scale
"""),
    ("e04_attention", "masked_attention", "no mask", """
def masked_attention(scores, values, source_mask):
    weights = tf.nn.softmax(scores, axis=-1)
    return tf.matmul(weights, values), weights
"""),
    ("e04_attention", "masked_attention", "softmax over the target", """
def masked_attention(scores, values, source_mask):
    mask = source_mask[:, None, :]
    weights = tf.nn.softmax(tf.where(mask, scores, VERY_NEGATIVE), axis=1)
    weights = tf.where(mask, weights, 0.0)
    return tf.matmul(weights, values), weights
"""),
    ("e04_attention", "masked_attention", "zeroed after the softmax", """
def masked_attention(scores, values, source_mask):
    weights = tf.nn.softmax(scores, axis=-1) * tf.cast(source_mask[:, None, :], tf.float32)
    return tf.matmul(weights, values), weights
"""),
    ("e04_attention", "in lecture 12's model", "a mask through numpy", """
def masked_attention(scores, values, source_mask):
    mask = tf.constant(source_mask.numpy())[:, None, :]
    weights = tf.nn.softmax(tf.where(mask, scores, VERY_NEGATIVE), axis=-1)
    weights = tf.where(mask, weights, 0.0)
    return tf.matmul(weights, values), weights
"""),
    ("e04_attention", "in lecture 12's model", "numpy's tanh", """
def additive_scores(queries, keys, query_kernel, energy_kernel):
    projected = tf.matmul(queries, query_kernel)
    hidden = np.tanh(projected[:, :, None, :] + keys[:, None, :, :])
    return tf.einsum("btsu,u->bts", tf.constant(hidden), energy_kernel)
""".replace("np.tanh", "__import__('numpy').tanh")),
]


def keeping_reference(name: str, source: str) -> str:
    """`source` preceded by `_reference_NAME = NAME` for each reference function it
    calls by that name: a wrong answer may build on the right one."""
    called = sorted(set(re.findall(r"_reference_(\w+)\(", source)))
    return "".join(f"_reference_{function} = {function}\n" for function in called) + source


@pytest.mark.parametrize(("name", "problem", "mistake", "source"), WRONG_ANSWERS,
                         ids=[f"{name[:3]}-{problem}-{mistake}"
                              for name, problem, mistake, _ in WRONG_ANSWERS])
def test_a_plausible_wrong_answer_fails_its_problem(name, problem, mistake, source, tmp_path,
                                                    request):
    if name == "e02_regression":
        request.getfixturevalue("data_dir")  # the training problem reads MNIST
    path = solution_with(tmp_path, name, keeping_reference(name, source))
    [outcome] = grade_here(name, path, only=(problem,), quick=True)
    assert not outcome.passed, f"{mistake}: {outcome.detail}"
    assert not outcome.detail.startswith("the check could not read"), outcome.detail


def test_every_problem_has_two_wrong_answers():
    import importlib

    for name in exercises.exercise_paths():
        for problem in importlib.import_module(exercises.checks_module(name)).PROBLEMS:
            mistakes = [mistake for exercise, checked, mistake, _ in WRONG_ANSWERS
                        if (exercise, checked) == (name, problem.name)]
            assert len(mistakes) >= 2, (name, problem.name)


def test_mistakes_are_reported_per_problem_in_words(tmp_path):
    path = solution_with(tmp_path, "e01_ops", '''
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
''', "e01_mine.py")
    _, lines = grade("e01_ops", path, in_process=True)
    lines = by_problem(lines)
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


def test_a_file_that_does_not_load_fails_each_problem_with_the_reason(tmp_path):
    path = solution_with(tmp_path, "e01_ops", "def broken(:\n    pass\n", "e01_mine.py")
    _, lines = grade("e01_ops", path, in_process=True)
    line_number = len(path.read_text().splitlines()) - 1
    assert sum(f"FAILED: e01_mine.py does not load: SyntaxError at line {line_number}" in line
               for line in lines) == 11
    assert lines[-1] == "score: 0/11 problems passed"


# ----------------------------------------------------------------------------- attacks
# Each goes through the child process, as `python -m cs20 check` does.

def test_exiting_while_loading_fails_every_problem_and_the_command(tmp_path):
    solution = exercises.solution_path("e01_ops").read_text()
    path = tmp_path / "e01_mine.py"
    path.write_text(solution.replace("import tensorflow as tf\n",
                                     "import tensorflow as tf\nimport os\nos._exit(0)\n"))
    checked = run_cli("check", "e01", str(path))
    assert checked.returncode == 1
    assert checked.stdout.count("FAILED: e01_mine.py does not load: your code ended the "
                                "process it ran in (exit code 0)") == 11
    assert checked.stdout.endswith("score: 0/11 problems passed\n")


def test_the_students_file_cannot_rewrite_the_problems(tmp_path, capsys):
    path = tmp_path / "e01_mine.py"
    path.write_text(exercises.exercise_paths()["e01_ops"].read_text() + '''
import sys

import exercises.e01_ops.checks  # noqa: F401
from cs20.exercises import grading

sys.modules["exercises.e01_ops.checks"].PROBLEMS[:] = [
    grading.Problem(problem.name, lambda context: None)
    for problem in sys.modules["exercises.e01_ops.checks"].PROBLEMS]
''')
    assert cs20_cli.main(["check", "e01", str(path)]) == 1
    output = capsys.readouterr().out
    assert output.count("FAILED: not done yet (raises NotImplementedError)") == 11
    assert output.endswith("score: 0/11 problems passed\n")


def test_a_file_that_hangs_while_loading_times_out(tmp_path):
    path = solution_with(tmp_path, "e01_ops", "import time\ntime.sleep(3600)\n", "e01_mine.py")
    outcomes, lines = grade("e01_ops", path, seconds=5)
    assert [outcome.detail for outcome in outcomes] == [
        "e01_mine.py does not load: it took more than 5 s"] * 11
    assert lines[-1] == "score: 0/11 problems passed"


def test_a_hang_an_interrupt_or_an_exit_fails_only_its_problem(tmp_path):
    path = solution_with(tmp_path, "e01_ops", '''
def add_or_subtract(x, y):
    raise KeyboardInterrupt


def equal_elements(x, y):
    while True:
        pass


def values_above(x, threshold):
    import os

    os._exit(0)
''', "e01_mine.py")
    outcomes, lines = grade("e01_ops", path, seconds=10, only=(
        "add_or_subtract", "compare_three_ways", "equal_elements", "values_above"))
    line_number = path.read_text().splitlines().index("    raise KeyboardInterrupt") + 1
    assert [(outcome.problem, outcome.passed, outcome.detail) for outcome in outcomes] == [
        ("add_or_subtract", False,
         f"raised KeyboardInterrupt (line {line_number} of e01_mine.py)"),
        ("compare_three_ways", True, ""),
        ("equal_elements", False, "timed out after 10 s (an endless loop? a sleep?)"),
        # A fresh process after the hang: this one exits, and the score still comes.
        ("values_above", False, "your code ended the process it ran in (exit code 0)"),
    ]
    assert lines[-1] == "score: 1/4 problems passed"


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
    from cs20.exercises import sandbox

    import numpy as np
    import tensorflow as tf

    reference = sandbox.load_file(exercises.solution_path("e03_style"), "e03_reference")
    from lectures.l08_style_transfer import model as lesson
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
