"""Lecture 9's GAN: network shapes, the gradient penalty, the step, the lecture (resume,
stopped early without the test FID, conditional grid, its notebook under mixed precision
with WGAN-GP, mirrored = default)."""

import dataclasses
import json
import math

from cs20 import training
from cs20.datasets import mnist
from lectures.l09_gan import fid
from lectures.l09_gan import model as gan  # the networks, the penalty and the train step
from lectures.l09_gan.config import Config

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import (
    assert_mirrored_matches_default,
    checkpoint_variables,
    event_files,
    execute_notebook,
    lecture_main,
    read_results,
)

main = lecture_main("l09_gan")


def test_generator_and_discriminator_shapes():
    z = tf.random.normal((3, 16))
    labels = tf.constant([0, 4, 9])
    images = gan.build_generator(16, width=8)(z)
    assert images.shape == (3, 28, 28, 1)
    assert float(tf.reduce_max(tf.abs(images))) <= 1.0  # tanh
    assert gan.build_discriminator(width=8)(images).shape == (3,)
    conditional = gan.build_generator(16, num_classes=10, width=8)([z, labels])
    assert conditional.shape == (3, 28, 28, 1)
    assert gan.build_discriminator(num_classes=10, width=8)([conditional, labels]).shape == (3,)


def test_gradient_penalty_of_a_linear_critic_is_its_known_norm():
    # critic(x) = <w, x> has gradient w everywhere: penalty (|w| - 1)^2 = (3 - 1)^2.
    weights = tf.random.normal((1, 28, 28, 1), seed=1)
    weights = 3.0 * weights / tf.norm(weights)
    critic = lambda x: tf.reduce_sum(weights * x, axis=[1, 2, 3])  # noqa: E731
    real, fake = tf.random.normal((4, 28, 28, 1)), tf.random.normal((4, 28, 28, 1))
    mix = tf.random.uniform((4, 1, 1, 1))
    np.testing.assert_allclose(gan.gradient_penalty(critic, real, fake, mix), [4.0] * 4,
                               rtol=1e-5)
    unit = lambda x: critic(x) / 3.0  # noqa: E731  a 1-Lipschitz critic costs nothing
    np.testing.assert_allclose(gan.gradient_penalty(unit, real, fake, mix), [0.0] * 4,
                               atol=1e-5)


@pytest.mark.parametrize("loss, d_steps", [("non-saturating", 1), ("wgan-gp", 2)])
def test_one_step_updates_both_networks(loss, d_steps):
    cfg = Config(loss=loss, d_steps=d_steps, batch_size=4, latent_dim=8, width=4)
    generator, discriminator = gan.build_generator(8, width=4), gan.build_discriminator(width=4)
    optimizers = keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3)
    # Every weight moves, but the critic's output bias: WGAN's loss gap does not depend on it.
    variables = generator.trainable_variables + [
        v for v in discriminator.trainable_variables if "kernel" in v.path]
    before = [v.numpy().copy() for v in variables]
    step = training.compile_step(tf.distribute.get_strategy(), gan.make_train_step(
        generator, discriminator, *optimizers, cfg))
    batch = {"images": tf.random.uniform((4, d_steps, 28, 28, 1), -1, 1),
             "labels": tf.zeros((4, d_steps), tf.int32), "z": tf.random.normal((4, d_steps + 1, 8)),
             "fake_labels": tf.zeros((4, d_steps + 1), tf.int32),
             "mix": tf.random.uniform((4, d_steps, 1, 1, 1))}
    logs = step(iter(tf.data.Dataset.from_tensors(batch).repeat()), tf.constant(1))
    expected = {"d_loss", "g_loss", "real_accuracy", "fake_accuracy"}
    assert set(logs) == expected | ({"gradient_penalty"} if loss == "wgan-gp" else set())
    assert all(math.isfinite(float(value)) for value in logs.values())
    assert all(not np.array_equal(old, new.numpy()) for old, new in zip(before, variables, strict=True))
    assert int(optimizers[1].iterations) == d_steps and int(optimizers[0].iterations) == 1


def test_conditional_grid_has_one_row_per_digit():
    z, labels, columns = gan.grid_inputs(Config(conditional=True),
                                             np.random.default_rng(0))
    assert columns == 10 and z.shape == (100, 64)
    np.testing.assert_array_equal(labels.reshape(10, 10), np.arange(10)[:, None].repeat(10, 1))
    np.testing.assert_array_equal(z.reshape(10, 10, 64), np.tile(z[:10], (10, 1, 1)))


TINY = ["--batch-size", "16", "--width", "4", "--latent-dim", "8", "--summary-every", "2",
        "--eval-every", "2", "--checkpoint-every", "2"]


def with_test_digits(splits: mnist.Splits, count: int) -> mnist.Splits:
    test = mnist.Split(splits.test.images[:count], splits.test.labels[:count])
    return dataclasses.replace(splits, test=test)


def test_smoke_run_stopped_early_then_finished_with_fid(tmp_path, data_dir, capsys, monkeypatch):
    # A classifier of 20 steps in a temporary cache stands in for the real one, and 1,000
    # test digits for the 10,000 (each of the run's three passes over them took ~10 s).
    monkeypatch.setattr(fid, "CLASSIFIER_STEPS", 20)
    monkeypatch.setattr(fid, "default_cache_directory", lambda: tmp_path / "fid")
    load_splits = mnist.load_splits
    monkeypatch.setattr(mnist, "load_splits",
                        lambda *args, **kwargs: with_test_digits(load_splits(*args, **kwargs),
                                                                 1000))
    run_dir = tmp_path / "run"
    flags = ["--num-steps", "2", "--run-dir", str(run_dir), "--data-dir", str(data_dir),
             "--conditional", "--fid-samples", "200", *TINY]
    # A budget shorter than one step: stopped after step 1 with its evaluation, but the
    # test FID waits for the last step.
    main([*flags, "--max-seconds", "1e-6"])
    output = capsys.readouterr().out
    assert "Worked example" in output and "generator(z) (1, 28, 28, 1)" in output
    assert "Stopped early: the test FID will run when the run finishes." in output
    stopped = read_results(run_dir)
    assert stopped["steps"] == 1 and 0 < stopped["eval/fid"] < 1e4
    assert not [name for name in stopped if name.startswith("test/")]
    assert json.loads((run_dir / "run.json").read_text())["status"] == "stopped"

    main([*flags, "--max-seconds", "0", "--quiet"])
    output = capsys.readouterr().out
    assert "at step 1" in output and "Worked example" not in output
    assert "Stopped early" not in output
    results = read_results(run_dir)
    assert results["steps"] == 2 and event_files(run_dir)
    assert 0 < results["test/fid"] < 1e4 and 1 <= results["test/modes_covered"] <= 10
    assert 0 < results["eval/fid"] < 1e4
    assert 0 <= results["eval/label_entropy"] <= math.log(10) + 1e-6
    for picture in ("samples.png", "interpolation.png"):
        assert (run_dir / picture).stat().st_size > 0
    # Both networks (reached through their optimizers), both optimizers, G's batch-norm state.
    keys = list(checkpoint_variables(run_dir))
    for prefix, count in (("optimizer/_trainable_variables/", 8),
                          ("d_optimizer/_trainable_variables/", 6), ("model_state/", 4)):
        assert sum(key.startswith(prefix) for key in keys) == count, prefix


def test_notebook_trains_wgan_gp_under_mixed_precision(tmp_path, data_dir):
    # The notebook in a kernel of its own: the mixed-precision policy stays there.
    results, output = execute_notebook(
        "l09_gan", tmp_path, num_steps=2, loss="wgan-gp", d_steps=2, mixed_precision=True,
        fid_samples=0, data_dir=str(data_dir), batch_size=16, width=4, latent_dim=8,
        summary_every=2, eval_every=2, checkpoint_every=2)
    assert results["steps"] == 2 and math.isfinite(results["train/gradient_penalty"])
    assert "Worked example (untrained networks)" in output and "Pictures: " in output
    for picture in ("samples.png", "interpolation.png"):
        assert (tmp_path / "notebook_run" / picture).stat().st_size > 0


def test_bad_flags_are_one_line_errors(capsys):
    for flags, message in ((["--d-steps", "0"], "--d-steps must be at least 1"),
                           (["--beta1", "1"], "--beta1 must be in [0, 1)"),
                           (["--loss", "hinge"], "invalid choice")):
        with pytest.raises(SystemExit) as exit_info:
            main(flags)
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err


def test_mirrored_on_two_logical_cpus_matches_default_strategy(tmp_path, data_dir):
    # The generator's batch norm is synchronized and the noise comes with the data, so two
    # replicas compute the default strategy's step up to summation order: measured, every
    # variable within 2e-4 of how far it moved in steps 2-3 (the weights 4.4e-4, at
    # Adam's 2e-4 a step). A step less, or other noise, would be off by about that move.
    assert_mirrored_matches_default(
        "l09_gan", tmp_path, "--num-steps", "3", "--deterministic", "--fid-samples", "0",
        "--quiet", "--data-dir", str(data_dir), *TINY, "--checkpoint-every", "1", rtol=0.0,
        atol=1e-7, atol_of_movement=1e-2)
