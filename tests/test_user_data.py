"""Nothing a user owns is deleted or lost: --fresh clears only a run of this lecture and
only its own files, a failed start removes only the folders it made, a stop after
training keeps the run's metrics, and requests that cannot work are refused in one line
before anything is written."""

import json
import os
import shlex
import shutil
import signal
import sys

from cs20 import classification, cli, config, runtime
from cs20.datasets import idx, mnist

import numpy as np
import pytest
import tiny_training
from conftest import event_files, lecture_main, read_results
from idx_data import write_idx_folder
from run_state import directory_state


def train_tiny(run_dir, *flags):
    tiny_training.main(["--run-dir", str(run_dir), *flags])


def guarded(main, argv, capsys) -> tuple[int, str]:
    """(exit code, standard error) of `main(argv)` run the way a lecture's script runs it."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        cli.guard(main, argv)
    return exit_info.value.code, capsys.readouterr().err


# --- --fresh ---

def test_fresh_on_a_folder_holding_runs_is_refused_and_deletes_nothing(tmp_path, capsys):
    for name in ("first", "second"):
        train_tiny(tmp_path / "runs" / name, "--num-steps", "2")
    before = directory_state(tmp_path / "runs")
    code, error = guarded(tiny_training.main, ["--run-dir", str(tmp_path / "runs"), "--fresh"],
                          capsys)
    assert code == 2 and error.count("\n") == 1
    assert "not a cs20 run" in error and "nothing was deleted" in error
    assert directory_state(tmp_path / "runs") == before


def test_fresh_on_a_run_of_another_lecture_is_refused_and_deletes_nothing(tmp_path, capsys):
    run_dir = tmp_path / "char_rnn"
    train_tiny(run_dir, "--num-steps", "2")
    info = json.loads((run_dir / "run.json").read_text())
    (run_dir / "run.json").write_text(json.dumps({**info, "lecture": "l11_char_rnn"}))
    before = directory_state(run_dir)
    code, error = guarded(tiny_training.main, ["--run-dir", str(run_dir), "--fresh"], capsys)
    assert code == 2 and error.count("\n") == 1 and "is a run of l11_char_rnn" in error
    assert directory_state(run_dir) == before


def test_fresh_deletes_only_what_the_run_wrote(tmp_path):
    run_dir = tmp_path / "run"
    train_tiny(run_dir, "--num-steps", "2")
    (run_dir / "checkpoints" / "my_model.h5").write_bytes(b"the user's weights")
    (run_dir / "results_by_hand.json").write_text("the user's notes")
    inner = run_dir / "inner"  # another run kept inside this one
    train_tiny(inner, "--num-steps", "2")
    inner_before = directory_state(inner)
    old_events = set(event_files(run_dir)) - set(event_files(inner))

    train_tiny(run_dir, "--num-steps", "2", "--fresh")
    assert (run_dir / "checkpoints" / "my_model.h5").read_bytes() == b"the user's weights"
    assert (run_dir / "results_by_hand.json").read_text() == "the user's notes"
    assert directory_state(inner) == inner_before
    assert not old_events & set(event_files(run_dir))  # the run's own events went
    history = json.loads((run_dir / "run.json").read_text())["history"]
    assert len(history) == 1  # a new run, not the old one's history


# --- a run that fails at its start ---

def test_a_failed_start_removes_only_the_folders_it_created(tmp_path, capsys):
    def failing_main(argv):
        runtime.start("tiny", config.parse(tiny_training.Config, argv))
        raise FileNotFoundError("no such data file")

    (tmp_path / "exp").mkdir()  # mkdir -p exp && lecture --run-dir exp/a
    code, _ = guarded(failing_main, ["--run-dir", str(tmp_path / "exp" / "a")], capsys)
    assert code == 2 and (tmp_path / "exp").is_dir() and not (tmp_path / "exp" / "a").exists()
    code, _ = guarded(failing_main, ["--run-dir", str(tmp_path / "new" / "deeper" / "a")],
                      capsys)
    assert code == 2 and not (tmp_path / "new").exists()  # made for this run: removed
    assert sorted(path.name for path in tmp_path.iterdir()) == ["exp"]


# --- stopped after training: the metrics are kept ---

def test_sigterm_during_the_final_evaluation_resumes_with_complete_results(
        tmp_path, tiny_mnist, capsys, monkeypatch):
    main = lecture_main("l07_convnet")
    run_dir = tmp_path / "run"
    argv = ["--run-dir", str(run_dir), "--dataset", str(tiny_mnist), "--num-steps", "4",
            "--batch-size", "32", "--quiet"]
    predict = classification.predict

    def stopped_predict(*args):  # the test set's predictions, after training
        os.kill(os.getpid(), signal.SIGTERM)
        return predict(*args)

    monkeypatch.setattr(classification, "predict", stopped_predict)
    code, error = guarded(main, argv, capsys)
    assert code == 128 + signal.SIGTERM
    assert error.strip().count("\n") == 0 and "Resume with: " in error
    assert not (run_dir / "results.json").exists()

    monkeypatch.setattr(classification, "predict", predict)
    main(argv)
    results = read_results(run_dir)
    assert results["steps"] == 4 and results["test/accuracy"] >= 0
    for name in ("train/loss", "train/accuracy", "eval/accuracy", "eval/loss"):
        assert name in results, name


def test_sigterm_at_the_last_step_resumes_with_complete_results(tmp_path, capsys):
    run_dir = tmp_path / "run"
    code, error = guarded(tiny_training.main, [
        "--run-dir", str(run_dir), "--num-steps", "4", "--interrupt-at", "4",
        "--interrupt-signal", "SIGTERM"], capsys)
    assert code == 128 + signal.SIGTERM and "SIGTERM at step 4" in error
    train_tiny(run_dir, "--num-steps", "4")
    assert "train/loss" in read_results(run_dir)


def test_fewer_steps_than_a_run_has_trained_are_refused_and_change_nothing(tmp_path, capsys):
    run_dir = tmp_path / "run"
    train_tiny(run_dir, "--num-steps", "4")
    before = directory_state(run_dir)
    code, error = guarded(tiny_training.main, ["--run-dir", str(run_dir), "--num-steps", "2"],
                          capsys)
    assert code == 2 and error.count("\n") == 1
    assert "has trained 4 steps" in error and "--num-steps 2" in error
    assert directory_state(run_dir) == before


def test_fewer_epochs_than_a_run_has_trained_are_refused(tmp_path, capsys):
    epochs = ["--num-steps", "0", "--num-epochs"]  # tiny_training: 16 steps an epoch
    finished = tmp_path / "finished"
    train_tiny(finished, *epochs, "2")
    before = directory_state(finished)
    code, error = guarded(tiny_training.main, ["--run-dir", str(finished), *epochs, "1"], capsys)
    assert code == 2 and error.count("\n") == 1
    assert "has trained 2 epochs (32 steps), more than --num-epochs 1" in error
    assert directory_state(finished) == before
    # Stopped at step 20 of 32: only the loop knows that one epoch is 16 steps.
    stopped = tmp_path / "stopped"
    guarded(tiny_training.main, ["--run-dir", str(stopped), *epochs, "2", "--interrupt-at", "20",
                                 "--interrupt-signal", "SIGTERM"], capsys)
    saved_checkpoints = directory_state(stopped / "checkpoints")
    saved_settings = {name: (stopped / name).read_text() for name in ("config.json", "run.json")}
    code, error = guarded(tiny_training.main, ["--run-dir", str(stopped), *epochs, "1"], capsys)
    assert code == 2 and error.count("\n") == 1
    assert "has trained 20 steps, more than the 16" in error
    assert directory_state(stopped / "checkpoints") == saved_checkpoints
    # The refusal comes after start() rewrote them; it puts them back (num_epochs 2).
    assert {name: (stopped / name).read_text() for name in saved_settings} == saved_settings
    assert not (stopped / "results.json").exists()


# --- requests that cannot work ---

def test_a_batch_larger_than_the_training_data_is_refused_before_training(
        tmp_path, tiny_mnist, capsys):
    run_dir = tmp_path / "run"
    code, error = guarded(lecture_main("l07_convnet"), ["--run-dir", str(run_dir), "--dataset", str(tiny_mnist),
                                         "--batch-size", "1000000000", "--quiet"], capsys)
    assert code == 2 and error.count("\n") == 1
    assert "training batch of 1,000,000,000 is more than the 270 training examples" in error
    assert "lower --batch-size" in error
    assert not run_dir.exists()


def small_corpus(path, lecture: str):
    """A few hundred lines of text (lectures 5a, 11), or sentence pairs (lecture 12)."""
    rng = np.random.default_rng(0)
    words = [f"w{number}" for number in range(100)]
    lines = [" ".join(rng.choice(words, 6)) for _ in range(400)]
    if lecture == "l12_translation":
        lines = [f"{line}.\t{line[::-1]}." for line in lines]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("lecture, flags", [("l05_word2vec", ["--vocab-size", "90"]),
                                            ("l11_char_rnn", []), ("l12_translation", [])])
def test_a_batch_larger_than_the_corpus_is_refused_before_training(lecture, flags, tmp_path,
                                                                   capsys):
    corpus = small_corpus(tmp_path / "corpus.txt", lecture)
    code, error = guarded(lecture_main(lecture), [
        "--run-dir", str(tmp_path / "run"), "--corpus", str(corpus), "--batch-size",
        "1000000000", "--quiet", *flags], capsys)
    assert code == 2 and error.count("\n") == 1, error[-2000:]
    assert "training batch of 1,000,000,000 is more than the" in error
    assert not (tmp_path / "run").exists()


def test_an_idx_folder_without_test_images_is_refused_before_training(tmp_path):
    folder = write_idx_folder(tmp_path / "idx")
    idx.write(folder / "t10k-images-idx3-ubyte.gz", np.zeros((0, 28, 28), np.uint8))
    idx.write(folder / "t10k-labels-idx1-ubyte.gz", np.zeros((0,), np.uint8))
    with pytest.raises(ValueError, match="test split holds no images"):
        mnist.load_splits(dataset=str(folder))


def test_a_checkpoints_file_is_named_as_the_problem(tmp_path, capsys):
    run_dir = tmp_path / "run"
    train_tiny(run_dir, "--num-steps", "2", "--max-seconds", "1e-6")  # stopped at step 1
    shutil.rmtree(run_dir / "checkpoints")
    (run_dir / "checkpoints").write_text("not a folder")
    code, error = guarded(tiny_training.main, ["--run-dir", str(run_dir)], capsys)
    assert code == 2 and error.count("\n") == 1
    assert "is a file, not a folder" in error and "free some space" not in error
    assert (run_dir / "checkpoints").read_text() == "not a folder"


def test_the_resume_command_is_shell_quoted(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["-c"])  # not a script: python -m cs20 run
    run = runtime.Run(lecture="l07_convnet", config=None, directory=tmp_path / "my runs" / "a b",
                      strategy=None, writer=None)
    words = shlex.split(run.resume_command())
    assert words[-2:] == ["--run-dir", "my runs/a b"]
