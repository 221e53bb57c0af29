"""Lecture 10's VAE: the math against hand-computed values, the model, the lecture."""

import functools
import json
import math
import re

from cs20 import training
from lectures.l10_vae import data, evaluation
from lectures.l10_vae import model as lecture  # the networks, the ELBO and the train step

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

main = lecture_main("l10_vae")


def synthetic_digits(count=32, seed=0):
    """Binary (count, 28, 28, 1) images: a few fixed blobs, so there is something to learn."""
    rng = np.random.default_rng(seed)
    prototypes = (rng.random((4, 28, 28, 1)) < 0.2).astype(np.float32)
    return prototypes[rng.integers(0, 4, count)]


# --- Math ---

def test_gaussian_kl_matches_hand_computed_value():
    mean = tf.constant([[1.0, 0.0]])
    log_variance = tf.constant([[0.0, math.log(2.0)]])
    # 0.5 * [(1 + 1 - 1 - 0) + (2 + 0 - 1 - log 2)]
    expected = 0.5 * (1.0 + 1.0 - math.log(2.0))
    np.testing.assert_allclose(lecture.gaussian_kl(mean, log_variance).numpy(), [expected],
                               rtol=1e-6)
    assert lecture.gaussian_kl(tf.zeros((3, 5)), tf.zeros((3, 5))).numpy().tolist() == [0, 0, 0]


def test_reparameterise_is_mean_plus_standard_deviation_times_noise():
    z = lecture.reparameterise(tf.constant([[1.0, -1.0]]), tf.constant([[math.log(4.0), 0.0]]),
                               tf.constant([[0.5, 2.0]]))
    np.testing.assert_allclose(z.numpy(), [[1.0 + 2.0 * 0.5, -1.0 + 2.0]], rtol=1e-6)


def test_bernoulli_log_likelihood_and_gaussian_density_golden_values():
    images = tf.constant([[[[1.0], [0.0]]]])  # (1, 1, 2, 1)
    logits = tf.constant([[[[2.0], [-1.0]]]])
    expected = math.log(1 / (1 + math.exp(-2.0))) + math.log(1 - 1 / (1 + math.exp(1.0)))
    np.testing.assert_allclose(lecture.bernoulli_log_likelihood(images, logits).numpy(),
                               [expected], rtol=1e-6)
    density = evaluation.gaussian_log_density(tf.zeros((1, 2)), 0.0, 0.0)
    np.testing.assert_allclose(density.numpy(), [-math.log(2 * math.pi)], rtol=1e-6)


def test_importance_weighted_bound_is_log_mean_exp():
    log_weights = tf.constant([[0.0, -1.0], [math.log(3.0), -1.0]])  # (k=2, batch=2)
    np.testing.assert_allclose(evaluation.importance_weighted_bound(log_weights).numpy(),
                               [math.log(2.0), -1.0], rtol=1e-6)


def test_binarization_is_a_fixed_threshold_at_half():
    grey = np.array([0, 127, 128, 255], np.uint8)
    assert data.binarize(grey).tolist() == [0, 0, 255, 255]


# --- Model ---

def test_shapes_and_per_example_terms():
    model = lecture.build_vae(4)
    images = tf.constant(synthetic_digits(3))
    mean, log_variance = model.encode(images)
    assert mean.shape == log_variance.shape == (3, 4)
    assert model.decoder(mean).shape == (3, 28, 28, 1)
    terms = lecture.elbo_terms(model, images, tf.zeros((3, 4)))
    for values in terms.values():
        assert values.shape == (3,) and np.all(np.isfinite(values.numpy()))
    np.testing.assert_allclose(terms["elbo"], terms["reconstruction"] - terms["kl"], rtol=1e-6)
    assert np.all(terms["kl"].numpy() >= 0) and np.all(terms["elbo"].numpy() < 0)


def test_in_graph_evaluation_equals_the_per_batch_sums():
    model = lecture.build_vae(4)
    images = synthetic_digits(10)
    noise = np.random.default_rng(0).normal(size=(10, 4)).astype(np.float32)
    dataset = tf.data.Dataset.from_tensor_slices((images, noise)).batch(4)  # 4 + 4 + 2
    expected = {"elbo": 0.0, "reconstruction": 0.0, "kl": 0.0}
    for batch_images, batch_noise in dataset:
        for name, values in lecture.elbo_terms(model, batch_images, batch_noise).items():
            expected[name] += float(tf.reduce_sum(values)) / 10
    evaluated = evaluation.make_evaluate(functools.partial(lecture.elbo_terms, model))(dataset)
    # abs: the KL of an untrained encoder is about 0.01 nats, and its float32 sums in and
    # out of the graph differ by up to ~1e-8 (a relative 1.6e-6 was seen).
    assert evaluated == pytest.approx(expected, rel=1e-6, abs=1e-5)


def test_reparameterisation_lets_the_reconstruction_gradient_reach_the_encoder():
    model = lecture.build_vae(2)
    images = tf.constant(synthetic_digits(8))
    noise = tf.random.stateless_normal((8, 2), seed=(1, 2))
    with tf.GradientTape() as tape:
        reconstruction = tf.reduce_sum(lecture.elbo_terms(model, images, noise)["reconstruction"])
    # The reconstruction depends on the encoder only through z = mean + std * noise, so
    # these gradients exist only thanks to the reparameterisation.
    gradients = tape.gradient(reconstruction, model.encoder.trainable_variables)
    assert all(gradient is not None for gradient in gradients)
    log_variance_kernel = model.encoder.get_layer("log_variance").kernel
    index = [v.path for v in model.encoder.trainable_variables].index(log_variance_kernel.path)
    assert float(tf.reduce_max(tf.abs(gradients[index]))) > 0


def test_shared_loop_step_lowers_the_loss():
    keras.utils.set_random_seed(0)
    model = lecture.build_vae(2)
    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(model.trainable_variables)
    step = training.compile_step(tf.distribute.get_strategy(),
                                 lecture.make_train_step(model, optimizer, global_batch_size=32))
    batch = (tf.constant(synthetic_digits(32)), tf.zeros((32, 2)))
    batches = iter(tf.data.Dataset.from_tensors(batch).repeat())
    losses = [float(step(batches, 1)["loss"]) for _ in range(30)]
    assert losses[-1] < 0.9 * losses[0]


def test_importance_weighted_bound_is_at_least_the_elbo():
    keras.utils.set_random_seed(0)
    model = lecture.build_vae(2)
    images = tf.constant(synthetic_digits(16))
    # The ELBO's expectation over z, from many single-sample estimates.
    elbo = np.mean([lecture.elbo_terms(model, images,
                                       tf.random.stateless_normal((16, 2), seed=(3, i)))
                    ["elbo"].numpy() for i in range(100)])
    iwae = evaluation.importance_weighted_log_likelihood(model, images.numpy(), num_samples=100,
                                                  seed=4)
    assert iwae >= elbo


def test_noise_pipeline_is_seeded_per_batch():
    batches = tf.data.Dataset.from_tensor_slices((np.zeros((6, 28, 28, 1)), np.zeros(6)))
    noisy = data.with_noise(batches.batch(2), latent_dim=3, seed=7)
    first = [noise.numpy() for _, noise in noisy]
    second = [noise.numpy() for _, noise in noisy]
    assert first[0].shape == (2, 3) and len(first) == 3
    np.testing.assert_array_equal(np.stack(first), np.stack(second))
    assert not np.allclose(first[0], first[1])


def test_samples_and_manifold_are_probability_images():
    model = lecture.build_vae(2)
    samples = evaluation.prior_samples(model, 5, seed=0)
    grid = evaluation.manifold(model, size=4)
    assert samples.shape == (5, 28, 28) and grid.shape == (4, 4, 28, 28)
    assert grid.min() >= 0 and grid.max() <= 1
    coordinates = evaluation.manifold_coordinates(5)
    np.testing.assert_allclose(coordinates, -coordinates[::-1], atol=1e-6)
    with pytest.raises(ValueError, match="latent-dim 2"):
        evaluation.manifold(lecture.build_vae(3))


# --- Lecture ---

TINY = ["--iwae-samples", "4", "--iwae-digits", "40", "--summary-every", "2",
        "--fid-samples", "0"]


def test_smoke_run_stopped_early_then_finished_with_fid(tmp_path, data_dir, capsys,
                                                       monkeypatch):
    from lectures.l09_gan import fid

    # FID itself is tested in test_fid.py and, end to end, in test_gan.py (scoring the
    # 10,000 test digits takes a minute); here: what lecture 10 hands it.
    handed = {}

    def report(run, generate, *, num_samples, **_):
        handed["samples"], handed["num_samples"] = generate(7), num_samples
        return {"test/fid": 1.5}

    monkeypatch.setattr(fid, "report", report)
    run_dir = tmp_path / "run"
    flags = ["--num-steps", "4", "--run-dir", str(run_dir), "--data-dir", str(data_dir), *TINY,
             "--fid-samples", "200"]
    # A budget shorter than one step: stopped after step 1 with its validation ELBO; the
    # test set's figures wait for the last step.
    main([*flags, "--max-seconds", "1e-6"])
    output = capsys.readouterr().out
    assert ("Stopped early: the test set's ELBO, importance-weighted bound, FID and latent "
            "scatter will run when the run finishes.") in output
    stopped = read_results(run_dir)
    assert stopped["steps"] == 1 and math.isfinite(stopped["eval/elbo"])
    assert not [name for name in stopped if name.startswith("test/")] and not handed
    assert json.loads((run_dir / "run.json").read_text())["status"] == "stopped"
    assert not (run_dir / "latent_scatter.png").exists()
    # The worked example: the first test digit's Gaussian and z, and the ELBO's terms.
    example = output[output.index("Worked example"):].splitlines()[:6]
    assert re.search(r"a test image \(class \d\) through the untrained encoder \(latent 2\)",
                     example[0])
    assert [line.split()[0] for line in example[1:]] == ["mean", "standard", "noise", "z",
                                                          "ELBO"]
    assert example[1].count(".") == 2 == example[4].count(".")  # 2-d latent: two numbers

    main([*flags, "--max-seconds", "0", "--quiet"])
    output = capsys.readouterr().out
    assert "at step 1" in output and "Worked example" not in output
    results = read_results(run_dir)
    assert results["steps"] == 4 and results["test/fid"] == 1.5
    assert math.isfinite(results["eval/elbo"])
    assert handed["num_samples"] == 200 and handed["samples"].shape == (7, 28, 28, 1)
    assert handed["samples"].min() >= 0.0 and handed["samples"].max() <= 1.0
    for name in ("train/loss", "eval/elbo", "test/elbo", "test/iwae_log_likelihood"):
        assert math.isfinite(results[name])
    assert results["test/elbo"] == pytest.approx(
        results["test/reconstruction"] - results["test/kl"], abs=1e-3)
    assert event_files(run_dir) and (run_dir / "checkpoints" / "checkpoint").is_file()
    for picture in ("reconstructions", "prior_samples", "manifold", "latent_scatter"):
        assert (run_dir / f"{picture}.png").stat().st_size > 0


def test_bad_flags_are_one_line_errors(capsys):
    for flags, message in ((["--latent-dim", "0"], "--latent-dim must be at least 1"),
                           (["--iwae-digits", "20000"], "--iwae-digits must be at most")):
        with pytest.raises(SystemExit) as exit_info:
            main(flags)
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err


def test_notebook_trains_with_xla_and_mixed_precision(tmp_path, tiny_mnist):
    # The notebook in a kernel of its own: the mixed-precision policy stays there.
    results, output = execute_notebook(
        "l10_vae", tmp_path, num_steps=3, latent_dim=4, jit_compile=True, mixed_precision=True,
        dataset=str(tiny_mnist), iwae_samples=4, iwae_digits=40, summary_every=2,
        fid_samples=0)
    assert results["steps"] == 3 and math.isfinite(results["test/elbo"])
    assert "through the untrained encoder (latent 4)" in output and "Pictures: " in output
    run_dir = tmp_path / "notebook_run"
    assert (run_dir / "reconstructions.png").stat().st_size > 0
    assert not (run_dir / "manifold.png").exists()  # only drawn for a 2-d latent


def test_mirrored_on_two_logical_cpus_matches_default_strategy(tmp_path, tiny_mnist):
    # Not bit-identical: two half-batch gradient sums plus an all-reduce round differently
    # from one sum. Measured: every variable within 3e-4 of how far it moved in steps 3-4
    # (the weights about 6e-4). Different noise per replica, a wrong loss scaling or a
    # step less would be off by about that move.
    assert_mirrored_matches_default(
        "l10_vae", tmp_path, "--num-steps", "4", "--batch-size", "32", "--latent-dim", "4",
        "--deterministic", "--dataset", str(tiny_mnist), *TINY, "--checkpoint-every", "1",
        rtol=0.0, atol=1e-7, atol_of_movement=1e-2)
