"""Lecture 7's ConvNet: shapes, dropout, a one-epoch run, the lecture's outputs, resume,
and the scale flags (mirrored on 2 logical CPUs equals the default strategy)."""

import dataclasses

from cs20 import classification, runtime
from cs20.datasets import mnist
from cs20.models import convnet

import keras
import numpy as np
import pytest
from conftest import (
    assert_mirrored_matches_default,
    event_files,
    load_lecture,
    read_results,
)


def test_shapes_and_parameter_count():
    model = convnet.build()
    # conv1 5*5*1*32+32, conv2 5*5*32*64+64, fc 7*7*64*1024+1024, logits 1024*10+10
    assert model.count_params() == 832 + 51_264 + 3_212_288 + 10_250 == 3_274_634
    assert model.get_layer("pool2").output.shape == (None, 7, 7, 64)
    assert model(np.zeros((3, 28, 28, 1), np.float32)).shape == (3, 10)


def test_dropout_only_while_training():
    model = convnet.build(dropout_rate=0.5)
    images = np.random.default_rng(0).uniform(size=(4, 28, 28, 1)).astype(np.float32)
    np.testing.assert_array_equal(model(images, training=False), model(images, training=False))
    assert not np.allclose(model(images, training=True), model(images, training=True))


def test_worked_example_leaves_the_model_and_its_random_state_alone(capsys):
    model = convnet.build()
    before = [variable.numpy().copy() for variable in model.variables]  # dropout's seed too
    digit = np.random.default_rng(0).uniform(size=(1, 28, 28, 1)).astype(np.float32)
    load_lecture("l07_convnet").print_worked_example(model, digit, "7", seed=0)
    for old, new in zip(before, model.variables, strict=True):
        np.testing.assert_array_equal(old, new.numpy())  # --quiet cannot change the run
    assert "of the active units zeroed, the rest x1.33" in capsys.readouterr().out


def test_bad_dropout_rate_is_refused():
    with pytest.raises(ValueError, match="dropout rate"):
        convnet.build(dropout_rate=1.0)


def small_split(split, size):
    return mnist.Split(split.images[:size], split.labels[:size])


def test_one_epoch_on_a_small_slice(tmp_path, data_dir):
    lecture = load_lecture("l07_convnet")
    cfg = dataclasses.replace(lecture.Config(), num_epochs=1, batch_size=64,
                              run_dir=str(tmp_path / "run"), data_dir=str(data_dir))
    run = runtime.start("l07_convnet", cfg)
    splits = mnist.load_splits(data_dir)
    train = small_split(splits.train, 640)  # 10 steps of 64
    _, results = classification.train_and_evaluate(
        run, cfg, convnet.build,
        train_data=mnist.make_dataset(train, 64, shuffle=True, repeat=True),
        validation_data=mnist.make_dataset(small_split(splits.validation, 500), 250),
        test_data=mnist.make_dataset(small_split(splits.test, 500), 250), steps_per_epoch=10)
    assert results["steps"] == 10
    assert np.isfinite(results["train/loss"]) and 0.0 <= results["eval/accuracy"] <= 1.0
    assert (tmp_path / "run" / "checkpoints" / "ckpt-10.index").is_file()


def test_lecture_resumes_beats_chance_and_writes_its_artefacts(tmp_path, data_dir, capsys):
    lecture = load_lecture("l07_convnet")
    run_dir = tmp_path / "run"
    flags = ["--summary-every", "10", "--eval-every", "20", "--batch-size", "64",
             "--run-dir", str(run_dir), "--data-dir", str(data_dir)]
    lecture.main(["--num-steps", "20", *flags])
    output = capsys.readouterr().out
    # The worked example: one digit's shape after every layer, and dropout's two modes.
    assert "Worked example: one test digit" in output
    for line in ("conv1    Conv2D        (1, 28, 28, 32)", "pool2    MaxPooling2D  (1, 7, 7, 64)",
                 "fc       Dense         (1, 1024)        3,212,288 parameters",
                 "logits   Dense         (1, 10)"):
        assert line in output, line
    assert "dropout  training=True: " in output and "training=False: unchanged" in output
    lecture.main(["--num-steps", "40", *flags, "--quiet"])
    output = capsys.readouterr().out
    assert "Resumed from" in output and "Worked example" not in output
    results = read_results(run_dir)
    assert results["steps"] == 40
    assert results["test/accuracy"] > 0.6  # chance is 0.1
    assert np.isfinite(results["test/loss"])
    assert event_files(run_dir)
    assert (run_dir / "checkpoints" / "ckpt-40.index").is_file()
    for artefact in ("misclassified.png", "confusion_matrix.png", "config.json"):
        assert (run_dir / artefact).stat().st_size > 0


def test_mirrored_on_two_logical_cpus_matches_default(tmp_path, tiny_mnist):
    assert_mirrored_matches_default(
        "l07_convnet", tmp_path, "--num-steps", "3", "--batch-size", "32", "--dropout", "0",
        "--deterministic", "--dataset", str(tiny_mnist), rtol=1e-4, atol=1e-5)


def test_mixed_precision_and_xla_train(tmp_path, tiny_mnist):
    lecture = load_lecture("l07_convnet")
    try:
        results = lecture.main(["--num-steps", "20", "--eval-every", "20", "--mixed-precision",
                                "--jit-compile", "--run-dir", str(tmp_path / "run"),
                                "--dataset", str(tiny_mnist), "--quiet"])
    finally:
        keras.mixed_precision.set_global_policy("float32")  # process-wide: leave it clean
    assert results["steps"] == 20 and results["test/accuracy"] > 0.6  # 3 classes: chance 1/3
