"""Smoke runs of lectures 1-4 (tiny configs, real code path) and their golden values."""

import subprocess
import sys

from lectures.l02_ops import ops
from lectures.l03_linear_regression import model as linear

import tensorflow as tf
from conftest import ROOT, event_files, execute_notebook, read_results


def test_division_family_golden_values():
    values = ops.division_family(tf.constant([[0, 1], [2, 3], [-3, -4]]), tf.constant([2, 2]))
    as_list = {name: value.numpy().tolist() for name, value in values.items()
               if not isinstance(value, str)}
    assert as_list["numerator // denominator"] == [[0, 0], [1, 1], [-2, -2]]
    assert as_list["tf.math.floordiv"] == [[0, 0], [1, 1], [-2, -2]]
    assert as_list["tf.truncatediv"] == [[0, 0], [1, 1], [-1, -2]]
    assert as_list["tf.divide"] == [[0.0, 0.5], [1.0, 1.5], [-1.5, -2.0]]
    assert as_list["tf.truediv"] == as_list["tf.divide"]
    assert values["tf.realdiv"].startswith("error:")


def test_lazy_loading_counts_one_versus_ten():
    figures, _ = ops.lazy_loading(10)
    assert figures["lazy_loading/normal_add_ops"] == 1
    assert figures["lazy_loading/lazy_add_ops"] == 10
    assert figures["lazy_loading/lazy_traces"] == 10


def test_l02_ops_notebook(tmp_path):
    results, output = execute_notebook("l02_ops", tmp_path)
    assert results["graph/normal_ops"] > 0
    assert results["lazy_loading/lazy_add_ops"] == 10
    assert "floordiv rounds towards -inf" in output
    assert event_files(tmp_path / "notebook_run")


def test_l03_linear_regression_notebook(tmp_path, data_dir):
    results, output = execute_notebook("l03_linear_regression", tmp_path, num_epochs=2,
                                       data_dir=str(data_dir))
    run_dir = tmp_path / "notebook_run"
    assert "Closed-form least squares: w = -5.7188, b = 85.7135" in output
    # From w = b = 0 the mean squared error starts near mean(y^2) ~ 4900; two epochs cut it.
    assert results["squared/tf_data/loss"] < 2000
    assert results["squared/tf_data/w"] == results["squared/one_sample_per_call/w"]
    assert (run_dir / "fit.png").stat().st_size > 0 and (run_dir / "loss.png").is_file()
    # The saved line restores into a fresh model.
    restored = linear.LinearModel()
    tf.train.Checkpoint(tf_data=restored).restore(
        tf.train.latest_checkpoint(run_dir / "checkpoints")).expect_partial()
    assert abs(float(restored.w) - results["squared/tf_data/w"]) < 1e-5  # JSON rounds to 1e-6
    assert event_files(run_dir)


def test_l04_eager_notebook(tmp_path, data_dir):
    results, output = execute_notebook("l04_eager", tmp_path, num_epochs=1,
                                       data_dir=str(data_dir))
    run_dir = tmp_path / "notebook_run"
    assert "np.sum(...) = 54.0" in output
    assert results["gradients/d(x^2)/dx at 3"] == 6.0
    assert results["gradients/d(2x^3)/dx at 2"] == 24.0
    assert (results["gradients/dz/dx at 2"], results["gradients/dz/dy at 2"]) == (768.0, 32.0)
    # Eager and compiled steps are the same math: the same line.
    assert abs(results["huber/eager/w"] - results["huber/tf_function/w"]) < 1e-4
    assert (run_dir / "fit.png").is_file() and event_files(run_dir)
    assert (run_dir / "checkpoints" / "checkpoint").is_file()


def test_cli_lists_and_runs_lectures(tmp_path):
    listed = subprocess.run([sys.executable, "-m", "cs20", "list"], capture_output=True,
                            text=True, timeout=60, cwd=ROOT)
    assert listed.returncode == 0
    for name in ("l02_ops", "l03_linear_regression", "l03_logistic_regression", "l04_eager"):
        assert name in listed.stdout
    ran = subprocess.run([sys.executable, "-m", "cs20", "run", "l02_ops", "--num-calls", "3",
                          "--run-dir", str(tmp_path / "cli")], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert read_results(tmp_path / "cli")["lazy_loading/lazy_add_ops"] == 3
    unknown = subprocess.run([sys.executable, "-m", "cs20", "run", "l99_nothing"],
                             capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert unknown.returncode == 2 and "unknown lecture" in unknown.stderr


def test_cli_list_into_a_closed_pipe_is_quiet():
    """`python -m cs20 list | head -1`: the reader leaves early; no BrokenPipeError."""
    listing = subprocess.Popen([sys.executable, "-m", "cs20", "list"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, cwd=ROOT)
    listing.stdout.close()  # before the listing is written: every write meets a closed pipe
    stderr = listing.stderr.read().decode()
    assert listing.wait(timeout=60) == 0, stderr
    assert "BrokenPipeError" not in stderr
