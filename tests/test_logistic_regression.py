"""Lecture 3b smoke run on real MNIST (its notebook, top to bottom): few steps, real code path."""

import keras
from conftest import event_files, execute_notebook, lecture_main, read_results

main = lecture_main("l03_logistic_regression")


def test_notebook_writes_events_checkpoint_and_results(tmp_path, data_dir):
    results, output = execute_notebook("l03_logistic_regression", tmp_path, num_steps=60,
                                       summary_every=20, data_dir=str(data_dir))
    run_dir = tmp_path / "notebook_run"
    assert results["steps"] == 60
    assert 0.5 < results["test/accuracy"] <= 1.0  # 60 Adam steps already beat chance (0.1) by far
    assert f"Weights per class: {run_dir / 'weights.png'}" in output
    assert event_files(run_dir)
    assert (run_dir / "checkpoints" / "checkpoint").is_file()
    assert (run_dir / "config.json").is_file()
    assert (run_dir / "weights.png").stat().st_size > 0


def test_xla_and_mixed_precision_flags_train(tmp_path, tiny_mnist):
    run_dir = tmp_path / "fast"
    main(["--num-steps", "40", "--jit-compile", "--mixed-precision", "--run-dir", str(run_dir),
          "--dataset", str(tiny_mnist)])
    results = read_results(run_dir)
    assert results["steps"] == 40 and results["test/accuracy"] > 0.6  # 3 classes: chance 1/3
    # The policy is process-wide: the next run without the flag must be back to float32.
    main(["--num-steps", "1", "--run-dir", str(tmp_path / "plain"), "--dataset", str(tiny_mnist)])
    assert keras.mixed_precision.global_policy().name == "float32"
