"""Runs do what was asked: config.json is the truth on resume, finished runs stay
finished, one process per run directory, and one-line errors for broken run folders."""

import importlib
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

from cs20 import checkpoints, cli, config, runtime

import pytest
import tensorflow as tf
import tiny_training
from conftest import event_files


def train_tiny(run_dir, *flags):
    tiny_training.main(["--run-dir", str(run_dir), *flags])


def snapshot(directory):
    """{relative path: (size, mtime)} of every file, to check a run was not touched."""
    return {str(path.relative_to(directory)): (path.stat().st_size, path.stat().st_mtime_ns)
            for path in directory.rglob("*") if path.is_file()}


def test_run_dir_alone_resumes_with_the_saved_settings(tmp_path):
    run_dir = tmp_path / "run"
    train_tiny(run_dir, "--num-steps", "4", "--dropout", "0.5", "--max-seconds", "1e-6")
    resumed = config.parse(tiny_training.Config, ["--run-dir", str(run_dir)], prog="tiny")
    assert (resumed.dropout, resumed.num_steps, resumed.max_seconds) == (0.5, 4, 1e-6)


def test_a_contradicting_flag_is_refused_before_anything_is_written(tmp_path, capsys):
    run_dir = tmp_path / "run"
    train_tiny(run_dir, "--num-steps", "2", "--dropout", "0.5", "--max-seconds", "1e-6")
    before = snapshot(run_dir)
    with pytest.raises(SystemExit) as exit_info:
        config.parse(tiny_training.Config, ["--run-dir", str(run_dir), "--dropout", "0.3",
                                            "--batch-size", "8"], prog="tiny")
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "--dropout 0.3 (the run has 0.5)" in error and "--batch-size 8 (the run has 16)" in error
    assert snapshot(run_dir) == before


def test_changeable_settings_are_allowed_and_recorded(tmp_path):
    run_dir = tmp_path / "run"
    train_tiny(run_dir, "--num-steps", "2")
    train_tiny(run_dir, "--num-steps", "4", "--learning-rate", "0.01")
    saved = json.loads((run_dir / "config.json").read_text())
    assert (saved["num_steps"], saved["learning_rate"]) == (4, 0.01)
    history = json.loads((run_dir / "run.json").read_text())["history"]
    assert history[-1]["changes"] == {"num_steps": [2, 4], "learning_rate": [0.001, 0.01]}


def test_a_new_learning_rate_on_resume_is_honoured(tmp_path, capsys):
    run_dir = tmp_path / "run"
    train_tiny(run_dir, "--num-steps", "2", "--learning-rate", "0.1")
    train_tiny(run_dir, "--num-steps", "4", "--learning-rate", "0.01")
    assert "Learning rate 0.01 (from the flags; the checkpoint had 0.1)" in capsys.readouterr().out
    reader = tf.train.load_checkpoint(str(run_dir / "checkpoints"))
    rate_keys = [key for key in reader.get_variable_to_shape_map() if "learning_rate" in key]
    assert rate_keys and all(abs(reader.get_tensor(key) - 0.01) < 1e-9 for key in rate_keys)


def test_a_finished_run_prints_its_results_and_changes_nothing(tmp_path, capsys):
    run_dir = tmp_path / "run"
    train_tiny(run_dir, "--num-steps", "2")
    before, events = snapshot(run_dir), len(event_files(run_dir))
    with pytest.raises(runtime.RunFinished):
        train_tiny(run_dir)
    assert "has finished" in capsys.readouterr().out
    assert snapshot(run_dir) == before and len(event_files(run_dir)) == events
    train_tiny(run_dir, "--num-steps", "4")  # asking for more steps extends it
    assert json.loads((run_dir / "results.json").read_text())["steps"] == 4


def test_results_are_never_replaced_by_a_shorter_run(tmp_path):
    run_dir = tmp_path / "run"
    train_tiny(run_dir, "--num-steps", "4")
    # Without its checkpoints the run starts over (with them, fewer steps are refused:
    # test_user_data.py).
    shutil.rmtree(run_dir / "checkpoints")
    run = runtime.start("tiny", config.parse(tiny_training.Config,
                                             ["--run-dir", str(run_dir), "--num-steps", "2"]))
    run.finish({"train/loss": 1.0}, steps=2)
    assert json.loads((run_dir / "results.json").read_text())["steps"] == 4
    assert (run_dir / "results-step2.json").exists()


def test_a_run_that_fails_before_its_first_step_leaves_no_folder(tmp_path):
    run_dir = tmp_path / "runs" / "new"

    def failing_main(argv):
        runtime.start("tiny", config.parse(tiny_training.Config, argv))
        raise FileNotFoundError("no such data file")

    with pytest.raises(SystemExit) as exit_info:
        cli.guard(failing_main, ["--run-dir", str(run_dir)])
    assert exit_info.value.code == 2 and not run_dir.exists()


def test_a_second_process_on_the_same_run_dir_is_refused(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (run_dir / ".lock").write_text(json.dumps(
            {"pid": sleeper.pid, "host": os.uname().nodename, "since": "now"}))
        with pytest.raises(ValueError, match=f"in use by process {sleeper.pid}"):
            runtime.start("tiny", config.parse(tiny_training.Config, ["--run-dir", str(run_dir)]))
    finally:
        sleeper.kill()
        sleeper.wait()
    # The holder is gone (killed): its stale lock is taken over.
    run = runtime.start("tiny", config.parse(tiny_training.Config, ["--run-dir", str(run_dir)]))
    assert json.loads((run_dir / ".lock").read_text())["pid"] == os.getpid()
    run.finish({}, steps=0)
    assert not (run_dir / ".lock").exists()


def test_two_processes_racing_for_one_run_dir(tmp_path):
    """Two real lecture processes started together: exactly one trains, the other says
    the folder is in use (exit 2, one line). The winner's run is too long to finish
    before the loser is refused (a loser that came after a finished run would find it
    finished and exit 0); it is stopped with SIGTERM once it trains."""
    command = [sys.executable, tiny_training.__file__, "--run-dir", str(tmp_path / "run"),
               "--num-steps", "100000000", "--summary-every", "100000000"]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
                 for _ in range(2)]
    try:
        refused = first_to_exit(processes, timeout=240)
        (winner,) = (process for process in processes if process is not refused)
        _, refusal = refused.communicate()
        assert refused.returncode == 2, refusal[-1500:]
        assert f"is in use by process {winner.pid} " in refusal
        assert refusal.count("\n") == 1 and "Traceback" not in refusal
        # Stopped once it has started training: it saves and names its resume command.
        assert any(line.startswith("No checkpoint in") for line in winner.stdout)
        winner.send_signal(signal.SIGTERM)
        _, stopped = winner.communicate(timeout=120)
        assert winner.returncode == 128 + signal.SIGTERM, stopped[-1500:]
        assert "Resume with: " in stopped
    finally:
        for process in processes:
            process.kill()
            process.communicate()


def first_to_exit(processes, timeout: float):
    """The first of `processes` to exit (an AssertionError after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                return process
        time.sleep(0.1)
    raise AssertionError(f"neither process exited within {timeout} s")


def test_run_dir_of_another_lecture_or_a_file_is_a_one_line_error(tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text("{}")
    (other / "run.json").write_text(json.dumps({"lecture": "l07_convnet"}))
    with pytest.raises(ValueError, match="is a run of l07_convnet, not tiny"):
        config.resume_values(tiny_training.Config, other, {}, lecture="tiny")
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        config.resume_values(tiny_training.Config, a_file, {}, lecture="tiny")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        runtime.start("tiny", tiny_training.Config(run_dir=str(a_file)))


def test_an_unwritable_run_dir_is_a_one_line_error(tmp_path, monkeypatch):
    # Permission bits do not stop root (CI runs as root), so the refusal is simulated.
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(ValueError, match="cannot write to --run-dir .*Permission denied"):
        runtime.acquire_lock(tmp_path)


def test_nan_for_a_float_flag_is_refused(capsys):
    with pytest.raises(SystemExit):
        config.parse(tiny_training.Config, ["--learning-rate", "nan"], prog="tiny")
    assert "--learning-rate must be a finite number" in capsys.readouterr().err


def test_a_truncated_latest_checkpoint_falls_back_to_the_one_before(tmp_path, capsys):
    run_dir = tmp_path / "run"
    train_tiny(run_dir, "--num-steps", "4", "--checkpoint-every", "2")
    (data_file,) = (run_dir / "checkpoints").glob("ckpt-4.data-*")
    data_file.write_bytes(data_file.read_bytes()[:40])
    (run_dir / "checkpoints" / "ckpt-9_temp").mkdir()  # a save killed half-way
    train_tiny(run_dir, "--num-steps", "6", "--checkpoint-every", "2")
    out = capsys.readouterr().out
    assert "ckpt-4 cannot be read" in out and "at step 2" in out
    assert "a checkpoint save that did not complete" in out
    assert not (run_dir / "checkpoints" / "ckpt-9_temp").exists()
    assert json.loads((run_dir / "results.json").read_text())["steps"] == 6


def test_disk_full_while_saving_is_a_one_line_error_that_keeps_the_last_checkpoint(tmp_path):
    step = tf.Variable(0, dtype=tf.int64)
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(step=step), str(tmp_path), 3)
    manager.save(checkpoint_number=1)

    def full_disk(**kwargs):
        (tmp_path / "ckpt-2_temp").mkdir()
        raise tf.errors.ResourceExhaustedError(None, None, "No space left on device")

    manager.save = full_disk
    with pytest.raises(ValueError, match="No space left on device.*ckpt-1\\) is kept"):
        checkpoints.save(manager, 2)
    assert not (tmp_path / "ckpt-2_temp").exists()


def test_ctrl_c_outside_the_loop_is_one_line_exit_130(capsys):
    def interrupted_main(argv):
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as exit_info:
        cli.guard(interrupted_main)
    assert exit_info.value.code == 130
    assert "Interrupted (Ctrl-C)" in capsys.readouterr().err


@pytest.mark.parametrize("lecture, defining, changed", [
    ("l11_char_rnn", {"corpus": "my_corpus.txt", "hidden_sizes": "64"}, {"max_seconds": 60.0}),
    ("l12_translation", {"num_steps": 300, "units": 32}, {}),
    ("l07_convnet", {"dataset": "fashion_mnist", "dropout": 0.5}, {"num_epochs": 2}),
])
def test_the_printed_resume_command_keeps_the_run_s_settings(tmp_path, lecture, defining, changed):
    """The cases of the issue: `--run-dir DIR` alone resumed char-RNN on the default
    corpus and translation with the default 4,000 steps."""
    settings = importlib.import_module(f"lectures.{lecture}.config")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    saved = {**config.to_dict(settings.Config()), **defining, **changed, "run_dir": str(run_dir)}
    (run_dir / "config.json").write_text(json.dumps(saved))
    (run_dir / "run.json").write_text(json.dumps({"lecture": lecture, "status": "stopped"}))
    resumed = config.parse(settings.Config, ["--run-dir", str(run_dir)], prog=lecture)
    for name, value in {**defining, **changed}.items():
        assert getattr(resumed, name) == value, name


def test_the_printed_resume_command_works_from_the_directory_it_is_printed_in(
        tmp_path, monkeypatch):
    lectures = pathlib.Path(__file__).resolve().parents[1] / "lectures"
    elsewhere = tmp_path / "my_project"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    run = runtime.Run(lecture="l05_word2vec", config=None, directory=elsewhere / "runs" / "w2v",
                      strategy=None, writer=None)
    monkeypatch.setattr(sys, "argv", [str(lectures / "l05_word2vec" / "__main__.py")])
    assert run.resume_command() == ("python -m lectures.l05_word2vec "
                                    "--run-dir runs/w2v")  # the run directory from here
    monkeypatch.chdir(lectures.parent)
    assert run.resume_command() == ("python -m lectures.l05_word2vec --run-dir "
                                    f"{elsewhere / 'runs' / 'w2v'}")
    monkeypatch.setattr(sys, "argv", [str(lectures.parent / "cs20" / "__main__.py")])
    assert run.resume_command().startswith("python -m lectures.l05_word2vec --run-dir /")


def test_fresh_restarts_a_finished_run(tmp_path, capsys):
    run_dir = tmp_path / "run"
    train_tiny(run_dir, "--num-steps", "2")
    capsys.readouterr()
    train_tiny(run_dir, "--num-steps", "2", "--fresh", "--dropout", "0.5")
    assert "No checkpoint" in capsys.readouterr().out  # starting from step 0, not resuming
    assert json.loads((run_dir / "config.json").read_text())["dropout"] == 0.5
    assert json.loads((run_dir / "run.json").read_text())["status"] == "finished"
