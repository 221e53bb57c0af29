"""The shared loop: several steps per call, resume after SIGINT, SIGTERM and SIGKILL,
deterministic equivalence, NaN stop, in-graph evaluation."""

import json
import signal
import subprocess
import sys
import types

import numpy as np
import pytest
import tiny_training
from conftest import ROOT, checkpoint_variables, run_cluster, run_lecture_process, run_lecture_runs

TINY = str(ROOT / "tests" / "tiny_training.py")
# Calls of several steps: no summary or checkpoint forces a call to end before step 10.
LONG_CALLS = ("--summary-every", "10", "--checkpoint-every", "10")


def run_tiny(run_dir, *flags):
    return subprocess.run([sys.executable, TINY, "--run-dir", str(run_dir), "--deterministic",
                           *flags], capture_output=True, text=True, timeout=180)


def weights(run_dir):
    with np.load(run_dir / "weights.npz") as archive:
        return [archive[name] for name in sorted(archive.files)]


@pytest.fixture(scope="module")
def straight_weights(tmp_path_factory) -> list:
    """The weights of an uninterrupted --deterministic run of 20 steps, to compare with."""
    run_dir = tmp_path_factory.mktemp("straight")
    straight = run_tiny(run_dir, "--num-steps", "20", *LONG_CALLS)
    assert straight.returncode == 0, straight.stderr[-2000:]
    return weights(run_dir)


def assert_same_weights(expected: list, run_dir):
    for expected_weights, actual in zip(expected, weights(run_dir), strict=True):
        np.testing.assert_array_equal(expected_weights, actual)


def test_interrupt_in_the_middle_of_a_call_saves_at_its_end_and_resumes_exactly(
        tmp_path, straight_weights):
    # Calls of steps 1-4 and 5-8; the signal comes during step 7.
    interrupted = run_tiny(tmp_path / "resumed", "--num-steps", "20", *LONG_CALLS,
                           "--steps-per-call", "4", "--interrupt-at", "7")
    assert interrupted.returncode == 128 + signal.SIGINT, interrupted.stderr[-2000:]
    assert "SIGINT at step 8: checkpoint saved" in interrupted.stderr
    assert "Resume with: python tests/tiny_training.py --run-dir" in interrupted.stderr
    assert not (tmp_path / "resumed" / "results.json").exists()

    resumed = run_tiny(tmp_path / "resumed", "--num-steps", "20", *LONG_CALLS)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Resumed from" in resumed.stdout and "at step 8" in resumed.stdout
    assert_same_weights(straight_weights, tmp_path / "resumed")


def test_sigkill_in_the_middle_of_a_call_resumes_from_the_last_checkpoint_exactly(
        tmp_path, straight_weights):
    # Calls of steps 1-4, 5-8, 9-10 (checkpointed) and 11-14; killed during step 13.
    killed = run_tiny(tmp_path / "killed", "--num-steps", "20", *LONG_CALLS,
                      "--steps-per-call", "4", "--interrupt-at", "13",
                      "--interrupt-signal", "SIGKILL")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert not (tmp_path / "killed" / "results.json").exists()

    resumed = run_tiny(tmp_path / "killed", "--num-steps", "20", *LONG_CALLS,
                       "--interrupt-at", "0")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Resumed from" in resumed.stdout and "at step 10" in resumed.stdout
    assert json.loads((tmp_path / "killed" / "results.json").read_text())["steps"] == 20
    assert_same_weights(straight_weights, tmp_path / "killed")


def test_sigterm_during_the_last_call_saves_and_stops_with_the_resume_command(tmp_path):
    stopped = run_tiny(tmp_path / "run", "--num-steps", "6", "--interrupt-at", "6",
                       "--interrupt-signal", "SIGTERM")
    assert stopped.returncode == 128 + signal.SIGTERM, stopped.stderr[-2000:]
    assert "SIGTERM at step 6: checkpoint saved" in stopped.stderr
    assert "Resume with:" in stopped.stderr
    assert not (tmp_path / "run" / "results.json").exists()
    assert 'model_checkpoint_path: "ckpt-6"' in (
        tmp_path / "run" / "checkpoints" / "checkpoint").read_text()


def test_non_finite_loss_inside_a_call_stops_naming_its_steps_and_keeps_last_checkpoint(
        tmp_path, capsys):
    from cs20 import cli

    # Calls of steps 1-4 (checkpointed) and 5-8; the loss is NaN from step 6 on.
    with pytest.raises(SystemExit) as exit_info:
        cli.guard(tiny_training.main, [
            "--run-dir", str(tmp_path / "nan"), "--num-steps", "20", "--summary-every", "10",
            "--checkpoint-every", "4", "--steps-per-call", "8", "--nan-at", "6"])
    assert exit_info.value.code == 1
    error = capsys.readouterr().err
    assert "loss became nan in steps 5-8" in error
    assert "last good checkpoint: " in error and "ckpt-4" in error
    assert "Traceback" not in error
    state = (tmp_path / "nan" / "checkpoints" / "checkpoint").read_text()
    assert 'model_checkpoint_path: "ckpt-4"' in state


@pytest.mark.parametrize("value, message", [
    ("-1", "--steps-per-call must not be negative, got -1"),
    ("1.5", "argument --steps-per-call: invalid int value: '1.5'")])
def test_bad_steps_per_call_is_a_one_line_error(capsys, value, message):
    from cs20 import config

    with pytest.raises(SystemExit) as exit_info:
        config.parse(config.TrainConfig, ["--steps-per-call", value])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1


def test_calls_end_at_every_event_and_automatic_calls_last_about_call_seconds():
    from cs20 import training

    schedule = training.Schedule(num_steps=1000, eval_every=300, checkpoint_every=250,
                                 summary_every=100)
    assert training.steps_until_event(0, schedule, 1000) == 100
    assert training.steps_until_event(240, schedule, 1000) == 10
    assert training.steps_until_event(290, schedule, 7) == 7
    assert training.steps_until_event(995, schedule, 1000) == 5

    automatic = training._CallSizer(0, max_seconds=0.0)
    assert automatic.limit(0.0) == 1
    automatic.call_done(1, 5.0)  # the first call traces: its time says nothing
    assert automatic.limit(5.0) == 1
    automatic.call_done(1, 0.001)
    assert automatic.limit(5.0) == int(training.CALL_SECONDS / 0.001)
    timed = training._CallSizer(0, max_seconds=10.0)
    timed.call_done(1, 5.0)
    timed.call_done(1, 0.001)
    # No further than the --max-seconds check, and at least one step.
    assert 40 <= timed.limit(9.95) <= 50 and timed.limit(11.0) == 1
    assert training._CallSizer(32, max_seconds=0.0).limit(0.0) == 32
    with pytest.raises(ValueError, match="--steps-per-call must be 0"):
        training._CallSizer(-1, max_seconds=0.0)


def test_max_seconds_stops_with_a_checkpoint_and_the_same_command_goes_on(tmp_path, capsys):
    flags = ["--run-dir", str(tmp_path / "run"), "--num-steps", "20"]
    # A budget shorter than one step: the run stops right after its first step.
    tiny_training.main([*flags, "--max-seconds", "1e-6"])
    assert "--max-seconds 1e-06 reached at step 1 of 20" in capsys.readouterr().out
    assert 'model_checkpoint_path: "ckpt-1"' in (
        tmp_path / "run" / "checkpoints" / "checkpoint").read_text()
    # config.json keeps --max-seconds for the printed resume command; 0 lifts the limit.
    tiny_training.main([*flags, "--max-seconds", "0"])
    assert "at step 1" in capsys.readouterr().out
    assert "ckpt-20" in (tmp_path / "run" / "checkpoints" / "checkpoint").read_text()


def train_counting_evaluations(tmp_path, max_seconds: float, num_steps: int = 4,
                               eval_every: int = 3, loss: float = 1.0,
                               max_loss: float | None = None) -> list:
    """The loop on a step that does nothing; -> the steps where it evaluated."""
    from cs20 import training

    import tensorflow as tf

    step = tf.Variable(0, dtype=tf.int64)
    run = types.SimpleNamespace(
        config=types.SimpleNamespace(max_seconds=max_seconds, steps_per_call=1),
        strategy=tf.distribute.get_strategy(), writer=tf.summary.create_noop_writer(),
        checkpoint_dir=tmp_path / "checkpoints", checkpoint_write_dir=tmp_path / "checkpoints",
        complete=True, resume_command=lambda: "python resume")
    evaluated = []
    training.train(run, step_fn=lambda iterator, steps: {"loss": tf.constant(loss)},
                   iterator=None, checkpoint=tf.train.Checkpoint(step=step), step=step,
                   schedule=training.Schedule(num_steps, eval_every=eval_every, checkpoint_every=10,
                                              summary_every=1),
                   evaluate=lambda: evaluated.append(int(step.numpy())) or {"score": 1.0},
                   max_loss=max_loss)
    return evaluated


def test_max_seconds_stop_evaluates_once_and_saves(tmp_path, capsys):
    # A time-budgeted run's result is its evaluation (lecture 11 against an n-gram): at
    # the stop step (1 here, not a multiple of the evaluation interval), then saved.
    assert train_counting_evaluations(tmp_path / "stopped", max_seconds=1e-6) == [1]
    assert "reached at step 1 of 4; go on with:" in capsys.readouterr().out
    assert "ckpt-1" in (tmp_path / "stopped" / "checkpoints" / "checkpoint").read_text()
    assert train_counting_evaluations(tmp_path / "whole", max_seconds=0.0) == [3, 4]


def test_a_loss_above_max_loss_stops_the_run_as_divergence(tmp_path):
    from cs20 import training

    assert train_counting_evaluations(tmp_path / "fine", 0.0, loss=8.0, max_loss=8.3) == [3, 4]
    with pytest.raises(training.NonFiniteLoss,
                       match="loss rose to 9, above 8.3, at step 1; stopped without saving"):
        train_counting_evaluations(tmp_path / "diverged", 0.0, loss=9.0, max_loss=8.3)


def test_mirrored_on_two_logical_cpus_matches_default_strategy(tmp_path):
    # The default strategy in this process; --logical-devices needs a fresh one.
    tiny_training.main(["--run-dir", str(tmp_path / "default"), "--num-steps", "10",
                        "--dropout", "0"])
    mirrored = run_tiny(tmp_path / "mirrored", "--num-steps", "10", "--dropout", "0",
                        "--strategy", "mirrored", "--logical-devices", "2")
    assert mirrored.returncode == 0, mirrored.stderr[-2000:]
    assert "replicas in sync: 2" in mirrored.stdout
    # Adam's moments too: Adam's step hides a loss scaled by the number of replicas, its
    # moments do not.
    expected, actual = (checkpoint_variables(tmp_path / run) for run in ("default", "mirrored"))
    assert expected and expected.keys() == actual.keys()
    for key, value in expected.items():
        np.testing.assert_allclose(actual[key], value, rtol=1e-5, atol=1e-6, err_msg=key)
    # The mirrored run's checkpoint holds no data position: resumed on one device, it says
    # so and goes on. In a process of its own: the run is --deterministic (config.json),
    # and op determinism, once on, stays on for every later test of this process.
    resumed = run_tiny(tmp_path / "mirrored", "--num-steps", "12", "--strategy", "default",
                       "--logical-devices", "0")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "at step 10" in resumed.stdout
    assert "Data position not restored (the checkpoint holds none" in resumed.stdout


def test_a_resume_that_cannot_restore_the_data_position_says_so(tmp_path, capsys):
    from cs20 import checkpoints

    import keras
    import tensorflow as tf

    def resume(saved_iterator, iterator) -> tuple[str, int]:
        """Saves a checkpoint made with `saved_iterator` after 3 batches, restores it into
        one made with `iterator` -> (what the restore printed, the next batch)."""
        directory = tmp_path / str(len(list(tmp_path.iterdir())))
        model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        step = tf.Variable(3, dtype=tf.int64)
        for _ in range(3):
            next(saved_iterator)
        checkpoints.make(step, model, iterator=saved_iterator).save(str(directory / "ckpt"))
        checkpoints.restore_or_initialize(checkpoints.make(step, model, iterator=iterator),
                                          directory, step, iterator=iterator)
        return capsys.readouterr().out, int(next(iterator))

    data = tf.data.Dataset.range(10)
    output, batch = resume(iter(data), iter(data))
    assert "Resumed from" in output and "not restored" not in output and batch == 3
    # A distributed iterator is not a tf.data.Iterator: a plain Python one stands for it.
    output, batch = resume(iter(data), iter(range(10)))
    assert ("Data position not restored (this run's iterator is split across replicas "
            "(--strategy mirrored or multi_worker)") in output and batch == 0
    output, batch = resume(iter(range(10)), iter(data))
    assert "Data position not restored (the checkpoint holds none" in output and batch == 0


def test_multi_worker_cluster_stops_together_agrees_and_resumes_from_chief(tmp_path):
    run_dir = tmp_path / "cluster"
    flags = ["--dropout", "0", "--batch-size", "16", "--num-steps", "6"]
    # SIGTERM reaches the second worker alone (in step 3): both stop after the same call
    # and save, instead of the first waiting forever for the second's next all-reduce.
    stopped = run_cluster(TINY, run_dir, *flags, "--interrupt-at", "3", "--interrupt-signal",
                          "SIGTERM", "--interrupt-worker", "2", returncode=128 + 15)
    assert all("replicas in sync: 2" in stdout for stdout in stopped)
    assert tf_checkpoint_steps(run_dir) == [2, 3]  # calls of one step: --summary-every 1

    resumed = run_cluster(TINY, run_dir, *flags)
    assert all("at step 3" in stdout and "Resumed from" in stdout and
               "Data position not restored (this run's iterator is split" in stdout
               for stdout in resumed)
    chief_weights = weights(run_dir)
    worker_files = list(run_dir.glob("weights-*.npz"))
    assert len(worker_files) == 1
    with np.load(worker_files[0]) as archive:
        for expected, name in zip(chief_weights, sorted(archive.files), strict=True):
            np.testing.assert_allclose(archive[name], expected, rtol=1e-6)
    assert tf_checkpoint_steps(run_dir) == [3, 4, 6]  # the newest three are kept


def tf_checkpoint_steps(run_dir):
    return sorted(int(path.name.split("-")[1].split(".")[0])
                  for path in (run_dir / "checkpoints").glob("ckpt-*.index"))


def test_mixed_float16_wraps_the_optimizer_and_the_scaled_step_matches_float32():
    from cs20 import classification, training

    import keras
    import tensorflow as tf

    batch = (np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32),
             np.arange(8, dtype=np.int64) % 3)

    def sgd_update(initial_weights):
        """The weight change of one SGD step of the classification step, under the policy."""
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        model.set_weights(initial_weights)
        optimizer = training.with_loss_scaling(keras.optimizers.SGD(0.1))
        tf.function(classification.make_train_step(model, optimizer, global_batch_size=8))(batch)
        return optimizer, model.get_weights()[0] - initial_weights[0]

    initial = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)]).get_weights()
    plain, float32_change = sgd_update(initial)
    assert not isinstance(plain, keras.optimizers.LossScaleOptimizer)  # nothing to scale
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        scaled, float16_change = sgd_update(initial)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert isinstance(scaled, keras.optimizers.LossScaleOptimizer)
    # Scaled by 2**15 for the backward pass, unscaled before the update: the same step.
    assert np.abs(float32_change).max() > 1e-3
    np.testing.assert_allclose(float16_change, float32_change, rtol=2e-2, atol=1e-4)


def test_in_graph_evaluation_equals_the_per_batch_loop():
    from cs20 import classification

    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4)])
    features = np.random.default_rng(0).normal(size=(203, 6)).astype(np.float32)  # (203, 6)
    labels = np.random.default_rng(1).integers(0, 4, 203)  # (203,)
    dataset = tf.data.Dataset.from_tensor_slices((features, labels)).batch(50)  # last: 3
    eval_step = classification.make_eval_step(model)

    total_loss = total_correct = count = 0.0  # the loop with a host read per batch
    for images, batch_labels in dataset:
        loss, correct, size, _ = eval_step(images, batch_labels)
        total_loss += float(loss)
        total_correct += float(correct)
        count += int(size)
    in_graph = classification.make_evaluate(eval_step)(dataset)
    assert count == 203
    # float64 sums of the same float32 batch sums: the very same numbers.
    assert in_graph == {"loss": total_loss / count, "accuracy": total_correct / count}
    with pytest.raises(ValueError, match="evaluation dataset is empty"):
        classification.make_evaluate(eval_step)(dataset.take(0))


def tiny_corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(f"the cat {i} sat on the mat" for i in range(200)) + "\n")
    return path


# Small runs of a classifier and of a recurrent model (with dropout, whose random state
# lives in the graph), with a learning rate that does not depend on --num-steps (so that
# a run extended to 2N steps takes the steps of one run of 2N), and their halfway step.
LECTURE_FLAGS = {
    "l03_logistic_regression": lambda tmp_path, tiny_mnist: (
        "--num-steps", "30", "--batch-size", "32", "--eval-every", "10", "--decay", "constant",
        "--dataset", str(tiny_mnist)),
    "l11_char_rnn": lambda tmp_path, tiny_mnist: (
        "--num-steps", "12", "--hidden-sizes", "8,16", "--batch-size", "8", "--dropout", "0.1",
        "--eval-every", "12", "--length", "4", "--decay-rate", "1",
        "--corpus", str(tiny_corpus(tmp_path))),
}


@pytest.mark.parametrize("lecture", sorted(LECTURE_FLAGS))
def test_one_step_per_call_and_several_and_a_resumed_run_train_the_same_weights(
        lecture, tmp_path, tiny_mnist):
    flags = (*LECTURE_FLAGS[lecture](tmp_path, tiny_mnist), "--deterministic")
    num_steps = int(flags[flags.index("--num-steps") + 1])
    # A fixed 5 rather than the automatic size, which depends on the machine's load (a
    # busy machine gets calls of one step, and the test would compare K=1 with itself).
    # The run of calls of 5 stops halfway (in the process of the run of calls of 1), and a
    # second process resumes it from its checkpoint (the model, Adam, dropout's seed state
    # and the data iterator's position).
    def segment(steps_per_call: str, length: int) -> tuple[str, ...]:
        return ("--run-dir", str(tmp_path / steps_per_call), *flags, "--num-steps",
                str(length), "--steps-per-call", steps_per_call)

    first = run_lecture_runs(lecture, segment("1", num_steps), segment("5", num_steps // 2))
    assert first.returncode == 0, first.stderr[-2000:]
    resumed = run_lecture_process(lecture, *segment("5", num_steps))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"Resumed from {tmp_path / '5'}" in resumed.stdout
    runs = {name: json.loads((tmp_path / name / "results.json").read_text())
            for name in ("1", "5")}
    assert runs["1"]["train/steps_per_call"] == 1 and runs["5"]["train/steps_per_call"] > 2
    expected, actual = (checkpoint_variables(tmp_path / name) for name in ("1", "5"))
    assert expected and expected.keys() == actual.keys()
    for key, value in expected.items():
        np.testing.assert_array_equal(actual[key], value, err_msg=key)


def test_a_stateful_sampler_draws_one_stream_however_steps_are_split_into_calls():
    """word2vec's negative sampler is a stateful op: calls of one step and calls of three
    must draw the same sequence (a second copy of the step in the graph would replay it)."""
    from cs20 import training

    import tensorflow as tf

    def draws(steps_per_call: int) -> list[float]:
        tf.random.set_seed(1)

        def replica_step(_batch):
            ids, _, _ = tf.random.log_uniform_candidate_sampler(
                tf.zeros((1, 1), tf.int64), 1, 1, unique=True, range_max=1000, seed=7)
            return {"id": tf.cast(ids[0], tf.float32)}

        run_steps = training.compile_step(tf.distribute.get_strategy(), replica_step)
        # Each call returns the mean of its draws; times the call's size, their sum.
        return [float(run_steps(None, tf.constant(steps_per_call))["id"]) * steps_per_call
                for _ in range(6 // steps_per_call)]

    one_at_a_time = draws(1)
    assert len(set(one_at_a_time)) > 1
    assert draws(3) == pytest.approx([sum(one_at_a_time[:3]), sum(one_at_a_time[3:])])
