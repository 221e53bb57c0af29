"""The shared loop: resume after SIGINT and SIGKILL, deterministic equivalence, NaN stop."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
from conftest import ROOT, run_cluster

TINY = str(ROOT / "tests" / "tiny_training.py")


def run_tiny(run_dir, *flags):
    return subprocess.run([sys.executable, TINY, "--run-dir", str(run_dir), "--deterministic",
                           *flags], capture_output=True, text=True, timeout=180)


def weights(run_dir):
    with np.load(run_dir / "weights.npz") as archive:
        return [archive[name] for name in sorted(archive.files)]


def test_interrupted_and_resumed_run_equals_uninterrupted(tmp_path):
    straight = run_tiny(tmp_path / "straight", "--num-steps", "20")
    assert straight.returncode == 0, straight.stderr[-2000:]

    interrupted = run_tiny(tmp_path / "resumed", "--num-steps", "20", "--interrupt-at", "7")
    assert interrupted.returncode == 128 + signal.SIGINT, interrupted.stderr[-2000:]
    assert "SIGINT at step 7: checkpoint saved" in interrupted.stderr
    assert "Resume with: python lectures/tiny.py --run-dir" in interrupted.stderr
    assert not (tmp_path / "resumed" / "results.json").exists()

    resumed = run_tiny(tmp_path / "resumed", "--num-steps", "20")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Resumed from" in resumed.stdout and "at step 7" in resumed.stdout
    for expected, actual in zip(weights(tmp_path / "straight"), weights(tmp_path / "resumed"),
                                strict=True):
        np.testing.assert_array_equal(expected, actual)


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    completed = run_tiny(tmp_path / "nan", "--num-steps", "20", "--nan-at", "5")
    assert completed.returncode == 1
    assert "loss became nan at step 5" in completed.stderr
    assert "Traceback" not in completed.stderr
    state = (tmp_path / "nan" / "checkpoints" / "checkpoint").read_text()
    assert 'model_checkpoint_path: "ckpt-4"' in state


def test_max_seconds_stops_with_a_checkpoint_and_the_same_command_goes_on(tmp_path):
    # A budget shorter than one step: the run stops right after its first step.
    stopped = run_tiny(tmp_path / "run", "--num-steps", "20", "--max-seconds", "1e-6")
    assert stopped.returncode == 0, stopped.stderr[-2000:]
    assert "--max-seconds 1e-06 reached at step 1 of 20" in stopped.stdout
    assert 'model_checkpoint_path: "ckpt-1"' in (
        tmp_path / "run" / "checkpoints" / "checkpoint").read_text()
    # config.json keeps --max-seconds for the printed resume command; 0 lifts the limit.
    finished = run_tiny(tmp_path / "run", "--num-steps", "20", "--max-seconds", "0")
    assert finished.returncode == 0 and "at step 1" in finished.stdout
    assert "ckpt-20" in (tmp_path / "run" / "checkpoints" / "checkpoint").read_text()


def test_fresh_starts_over(tmp_path):
    assert run_tiny(tmp_path / "run", "--num-steps", "4").returncode == 0
    again = run_tiny(tmp_path / "run", "--num-steps", "6", "--fresh")
    assert again.returncode == 0
    assert "starting from step 0" in again.stdout


def test_lecture_killed_with_sigkill_resumes_and_finishes(tmp_path, data_dir):
    run_dir = tmp_path / "killed"
    command = [sys.executable, str(ROOT / "lectures" / "l03_logistic_regression.py"),
               "--run-dir", str(run_dir), "--num-steps", "2000", "--checkpoint-every", "100",
               "--data-dir", str(data_dir)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint_state = run_dir / "checkpoints" / "checkpoint"
    deadline = time.monotonic() + 120
    while not checkpoint_state.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert checkpoint_state.exists(), "no checkpoint was written before the kill"
    assert not (run_dir / "results.json").exists()

    resumed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Resumed from" in resumed.stdout
    results = json.loads((run_dir / "results.json").read_text())
    assert results["steps"] == 2000 and results["test/accuracy"] > 0.85


def test_mirrored_on_two_logical_cpus_matches_default_strategy(tmp_path):
    default = run_tiny(tmp_path / "default", "--num-steps", "10", "--dropout", "0")
    mirrored = run_tiny(tmp_path / "mirrored", "--num-steps", "10", "--dropout", "0",
                        "--strategy", "mirrored", "--logical-devices", "2")
    assert default.returncode == 0 and mirrored.returncode == 0, mirrored.stderr[-2000:]
    assert "replicas in sync: 2" in mirrored.stdout
    for expected, actual in zip(weights(tmp_path / "default"), weights(tmp_path / "mirrored"),
                                strict=True):
        np.testing.assert_allclose(expected, actual, rtol=1e-5, atol=1e-6)


def test_multi_worker_cluster_trains_agrees_and_resumes_from_chief(tmp_path):
    run_dir = tmp_path / "cluster"
    flags = ["--dropout", "0", "--batch-size", "16"]
    first = run_cluster(TINY, run_dir, *flags, "--num-steps", "6")
    assert all("replicas in sync: 2" in stdout for stdout in first)
    chief_weights = weights(run_dir)
    worker_files = list(run_dir.glob("weights-*.npz"))
    assert len(worker_files) == 1
    with np.load(worker_files[0]) as archive:
        for expected, name in zip(chief_weights, sorted(archive.files), strict=True):
            np.testing.assert_allclose(archive[name], expected, rtol=1e-6)
    assert tf_checkpoint_steps(run_dir) == [2, 4, 6]

    second = run_cluster(TINY, run_dir, *flags, "--num-steps", "8")
    assert all("at step 6" in stdout and "Resumed from" in stdout for stdout in second)
    assert tf_checkpoint_steps(run_dir)[-1] == 8


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
