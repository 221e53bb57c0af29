"""Lecture 7's ConvNet: shapes, dropout, its train step, a run of the recipe with the step
it is given, the lecture's outputs and resume on a slice of MNIST, and the scale flags
(mirrored on 2 logical CPUs equals the default strategy)."""

import dataclasses

from cs20 import classification, runtime
from cs20.datasets import idx, mnist, sources
from lectures.l07_convnet import model as lecture  # the ConvNet's layers and its train step
from lectures.l07_convnet.config import Config

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import (
    assert_mirrored_matches_default,
    event_files,
    execute_notebook,
    lecture_main,
    read_results,
)

main = lecture_main("l07_convnet")


def test_shapes_and_parameter_count():
    model = lecture.build_convnet()
    # conv1 5*5*1*32+32, conv2 5*5*32*64+64, fc 7*7*64*1024+1024, logits 1024*10+10
    assert model.count_params() == 832 + 51_264 + 3_212_288 + 10_250 == 3_274_634
    assert model.get_layer("pool2").output.shape == (None, 7, 7, 64)
    assert model(np.zeros((3, 28, 28, 1), np.float32)).shape == (3, 10)


def test_dropout_only_while_training():
    model = lecture.build_convnet(dropout_rate=0.5)
    images = np.random.default_rng(0).uniform(size=(4, 28, 28, 1)).astype(np.float32)
    np.testing.assert_array_equal(model(images, training=False), model(images, training=False))
    assert not np.allclose(model(images, training=True), model(images, training=True))


def test_train_step_drops_units_and_averages_over_the_global_batch():
    images = np.random.default_rng(0).uniform(size=(4, 28, 28, 1)).astype(np.float32)
    labels = tf.constant([0, 1, 2, 3], tf.int64)
    for rate in (0.0, 0.5):
        model = lecture.build_convnet(dropout_rate=rate)
        before = [weight.numpy().copy() for weight in model.trainable_weights]
        # A learning rate of 0: the weights stay, so the step's loss can be compared with
        # evaluation's. As one replica of 2: averaged over a global batch of 8.
        step = tf.function(lecture.make_train_step(model, keras.optimizers.SGD(0.0), 8))
        logs = [step((images, labels)) for _ in range(2)]
        logits = model(images, training=False)
        expected = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
        right = np.sum(np.argmax(logits, axis=-1) == labels.numpy())
        if rate == 0.0:  # no dropout: exactly evaluation's loss and accuracy, halved
            np.testing.assert_allclose(logs[0]["loss"], np.sum(expected) / 8, rtol=1e-5)
            assert float(logs[0]["accuracy"]) == right / 8
        else:  # training=True: units dropped, a new draw each step
            # (an untrained model's losses move little: 8e-4 apart once, so not 1e-3)
            assert not np.isclose(logs[0]["loss"], np.sum(expected) / 8, rtol=1e-5)
            assert not np.isclose(logs[0]["loss"], logs[1]["loss"], rtol=1e-5)
        for old, new in zip(before, model.trainable_weights, strict=True):
            np.testing.assert_array_equal(old, new.numpy())


def test_worked_example_leaves_the_model_and_its_random_state_alone(capsys):
    model = lecture.build_convnet()
    before = [variable.numpy().copy() for variable in model.variables]  # dropout's seed too
    digit = np.random.default_rng(0).uniform(size=(1, 28, 28, 1)).astype(np.float32)
    lecture.print_worked_example(model, digit, "7", seed=0)
    for old, new in zip(before, model.variables, strict=True):
        np.testing.assert_array_equal(old, new.numpy())  # --quiet cannot change the run
    assert "of the active units zeroed, the rest x1.33" in capsys.readouterr().out


def test_bad_dropout_rate_is_refused():
    with pytest.raises(ValueError, match="dropout rate"):
        lecture.build_convnet(dropout_rate=1.0)


def test_train_and_evaluate_trains_with_the_step_it_is_given(tmp_path, tiny_mnist):
    cfg = dataclasses.replace(Config(), num_epochs=2, batch_size=64,
                              run_dir=str(tmp_path / "run"))
    run = runtime.start("l07_convnet", cfg)
    splits = mnist.load_splits(dataset=str(tiny_mnist))  # 270 / 30 / 100 digits, 3 classes
    made = []

    def make_train_step(model, optimizer, global_batch_size):
        made.append(global_batch_size)
        return lecture.make_train_step(model, optimizer, global_batch_size)

    _, results = classification.train_and_evaluate(
        run, cfg, lambda: lecture.build_convnet(splits.num_classes),
        make_train_step=make_train_step,
        train_data=mnist.make_dataset(splits.train, 64, shuffle=True, repeat=True),
        validation_data=mnist.make_dataset(splits.validation, 30),
        test_data=mnist.make_dataset(splits.test, 50), steps_per_epoch=5)
    assert made == [64] and results["steps"] == 10
    assert np.isfinite(results["train/loss"]) and 0.0 <= results["eval/accuracy"] <= 1.0
    assert 0.0 <= results["test/accuracy"] <= 1.0
    assert (tmp_path / "run" / "checkpoints" / "ckpt-10.index").is_file()


@pytest.fixture
def mnist_slice(tmp_path, data_dir):
    """The first 1,100 training and 500 test digits of MNIST as a folder of IDX files, for
    --dataset: real digits (so beating chance means something) that evaluate in no time.
    The lecture holds out a tenth of them (110) for validation."""
    names = sources.idx_source_names("mnist")  # {"train_images": "mnist_train_images", ...}
    folder = tmp_path / "mnist_slice"
    folder.mkdir()
    for part, stem in idx.FILE_STEMS.items():
        count = 1100 if part.startswith("train") else 500
        idx.write(folder / f"{stem}.gz",
                  idx.read(sources.resolve(names[part], data_dir))[:count])
    return folder


def test_notebook_then_script_resumes_beats_chance_and_writes_its_artefacts(
        tmp_path, mnist_slice, capsys):
    _, output = execute_notebook("l07_convnet", tmp_path, tensorboard=True, num_steps=20,
                                 summary_every=10, eval_every=20, batch_size=64,
                                 dataset=str(mnist_slice))
    # The worked example: one digit's shape after every layer, and dropout's two modes.
    assert "Worked example: one test digit" in output
    for line in ("conv1    Conv2D        (1, 28, 28, 32)", "pool2    MaxPooling2D  (1, 7, 7, 64)",
                 "fc       Dense         (1, 1024)        3,212,288 parameters",
                 "logits   Dense         (1, 10)"):
        assert line in output, line
    assert "dropout  training=True: " in output and "training=False: unchanged" in output
    run_dir = tmp_path / "notebook_run"
    main(["--num-steps", "40", "--run-dir", str(run_dir), "--quiet"])
    output = capsys.readouterr().out
    assert "Resumed from" in output and "Worked example" not in output
    results = read_results(run_dir)
    assert results["steps"] == 40
    assert results["test/accuracy"] > 0.7  # chance is 0.1
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
    try:
        results = main(["--num-steps", "20", "--eval-every", "20", "--mixed-precision",
                                "--jit-compile", "--run-dir", str(tmp_path / "run"),
                                "--dataset", str(tiny_mnist), "--quiet"])
    finally:
        keras.mixed_precision.set_global_policy("float32")  # process-wide: leave it clean
    assert results["steps"] == 20 and results["test/accuracy"] > 0.6  # 3 classes: chance 1/3
