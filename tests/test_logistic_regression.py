"""Lecture 3b smoke run on real MNIST: few steps, real code path."""

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
