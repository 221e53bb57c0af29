"""Lecture 5b: variable sharing, randomness across processes, autodiff, checkpoint round trip."""

from lectures.l05_experiments import experiments

from conftest import event_files, execute_notebook


def test_golden_values_and_notebook_run(tmp_path):
    assert experiments.autodiff() == {"dy/dx": 24.0, "dz/dx": 768.0, "dz/dy": 32.0,
                                      "d2z/dx2": 1920.0, "d(c^2)/dc watched": 6.0,
                                      "d(c^2)/dx unconnected is None": True}
    assert experiments.variable_sharing() == {"shared_model_variables": 4,
                                              "fresh_function_variables": 8}
    first, again = experiments.random_numbers(5), experiments.random_numbers(5)
    assert first == again and first["stateful_op"][0] != first["stateful_op"][1]

    results, output = execute_notebook("l05_experiments", tmp_path)
    assert results["random/same_in_new_process"] is True
    assert results["checkpoint/weights_equal"] is True
    assert results["checkpoint/restored_step"] == 5
    assert "   the same in a new process: True" in output
    assert event_files(tmp_path / "notebook_run")
