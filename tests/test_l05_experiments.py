"""Lecture 5b: variable sharing, randomness across processes, autodiff, checkpoint round trip."""

from conftest import event_files, load_lecture, read_results


def test_golden_values_and_smoke_run(tmp_path):
    lecture = load_lecture("l05_experiments")
    assert lecture.autodiff() == {"dy/dx": 24.0, "dz/dx": 768.0, "dz/dy": 32.0,
                                  "d2z/dx2": 1920.0, "d(c^2)/dc watched": 6.0,
                                  "d(c^2)/dx unconnected is None": True}
    assert lecture.variable_sharing() == {"shared_model_variables": 4,
                                          "fresh_function_variables": 8}
    first, again = lecture.random_numbers(5), lecture.random_numbers(5)
    assert first == again and first["stateful_op"][0] != first["stateful_op"][1]

    run_dir = tmp_path / "run"
    lecture.main(["--run-dir", str(run_dir)])
    results = read_results(run_dir)
    assert results["random/same_in_new_process"] is True
    assert results["checkpoint/weights_equal"] is True
    assert results["checkpoint/restored_step"] == 5
    assert event_files(run_dir)
