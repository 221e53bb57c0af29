"""Lecture 3b smoke run on real MNIST: few steps, real code path."""

import keras
from conftest import event_files, load_lecture, read_results


def test_smoke_run_writes_events_checkpoint_and_results(tmp_path, data_dir):
    lecture = load_lecture("l03_logistic_regression")
    run_dir = tmp_path / "run"
    lecture.main(["--num-steps", "60", "--summary-every", "20", "--run-dir", str(run_dir),
                  "--data-dir", str(data_dir)])
    results = read_results(run_dir)
    assert results["steps"] == 60
    assert 0.5 < results["test/accuracy"] <= 1.0  # 60 Adam steps already beat chance (0.1) by far
    assert event_files(run_dir)
    assert (run_dir / "checkpoints" / "checkpoint").is_file()
    assert (run_dir / "config.json").is_file()
    assert (run_dir / "weights.png").stat().st_size > 0


def test_xla_and_mixed_precision_flags_train(tmp_path, tiny_mnist):
    lecture = load_lecture("l03_logistic_regression")
    run_dir = tmp_path / "fast"
    lecture.main(["--num-steps", "40", "--jit-compile", "--mixed-precision", "--run-dir",
                  str(run_dir), "--dataset", str(tiny_mnist)])
    results = read_results(run_dir)
    assert results["steps"] == 40 and results["test/accuracy"] > 0.6  # 3 classes: chance 1/3
    # The policy is process-wide: the next run without the flag must be back to float32.
    lecture.main(["--num-steps", "1", "--run-dir", str(tmp_path / "plain"),
                  "--dataset", str(tiny_mnist)])
    assert keras.mixed_precision.global_policy().name == "float32"
