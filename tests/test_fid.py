"""FID on MNIST (lectures/l09_gan/fid.py): closed forms, the label statistics, the cached
classifier with its checksum."""

import json
import math

from cs20.datasets import mnist
from lectures.l09_gan import fid

import numpy as np
import pytest


def test_golden_values_of_gaussians():
    # 1-d: (m1 - m2)^2 + (s1 - s2)^2.
    assert fid.frechet_distance((np.array([1.0]), np.array([[4.0]])),
                                (np.array([3.0]), np.array([[9.0]]))) == pytest.approx(4.0 + 1.0)
    # N(0, I) vs N(mu, C): |mu|^2 + tr(I) + tr(C) - 2 sum sqrt(eigenvalues of C).
    rotation = np.array([[0.6, -0.8], [0.8, 0.6]])
    covariance = rotation @ np.diag([4.0, 0.25]) @ rotation.T  # eigenvalues 4 and 1/4
    expected = 2.0 + 2.0 + 4.25 - 2.0 * (2.0 + 0.5)
    assert fid.frechet_distance((np.zeros(2), np.eye(2)),
                                (np.array([1.0, 1.0]), covariance)) == pytest.approx(expected)
    # Two covariances that do not commute: tr sqrt(C_a C_b) from the eigenvalues of C_a C_b.
    covariance_a = np.array([[2.0, 0.5], [0.5, 1.0]])
    trace_root = np.sum(np.sqrt(np.linalg.eigvals(covariance_a @ covariance).real))
    expected = np.trace(covariance_a) + np.trace(covariance) - 2 * trace_root
    assert fid.frechet_distance((np.zeros(2), covariance_a), (np.zeros(2), covariance)) == \
        pytest.approx(expected, rel=1e-9)


def test_a_set_against_itself_is_zero_and_the_distance_grows_with_a_shift():
    features = np.random.default_rng(0).normal(size=(300, 40))
    same = fid.statistics(features)
    assert fid.frechet_distance(same, same) == pytest.approx(0.0, abs=1e-8)
    # Fewer samples than dimensions: a singular covariance, still 0 and never negative.
    few = fid.statistics(features[:20])
    assert 0.0 <= fid.frechet_distance(few, few) < 1e-8
    shifted = fid.statistics(features + 0.5)  # same covariance, mean moved by 0.5 per axis
    assert fid.frechet_distance(same, shifted) == pytest.approx(40 * 0.25, rel=1e-6)
    with pytest.raises(ValueError, match="at least 2"):
        fid.statistics(features[:1])


def test_label_statistics():
    uniform = fid.label_statistics(np.arange(1000) % 10, 10)
    assert uniform == {"label_entropy": pytest.approx(math.log(10)), "modes_covered": 10}
    assert fid.label_statistics(np.full(50, 3), 10) == {"label_entropy": 0.0, "modes_covered": 1}
    # A digit with 0.5% of the samples is not counted as generated (MODE_SHARE is 1%).
    rare = np.array([7] * 995 + [1] * 5)
    assert fid.label_statistics(rare, 10)["modes_covered"] == 1


def tiny_splits():
    rng = np.random.default_rng(0)

    def split(count):
        return mnist.Split(rng.integers(0, 256, (count, 28, 28, 1), dtype=np.uint8),
                           rng.integers(0, 10, count))

    return mnist.Splits(train=split(64), validation=split(8), test=split(32),
                        fingerprint="tiny")


def test_classifier_is_cached_with_its_checksum_and_retrained_when_damaged(tmp_path, capsys,
                                                                          monkeypatch):
    # Training itself runs in test_gan's lecture run; here an untrained net stands in.
    trained = []
    monkeypatch.setattr(fid, "train_classifier", lambda splits, steps: trained.append(steps)
                        or fid.float32_classifier(splits.num_classes))
    splits = tiny_splits()
    network = fid.feature_network(splits, tmp_path, steps=2)
    assert "not trained yet" in capsys.readouterr().out and trained == [2]
    features, predictions = network(splits.test.images / 255.0)
    assert features.shape == (32, 1024) and predictions.shape == (32,)
    path = fid.cache_path(splits, 2, tmp_path)
    assert json.loads(path.with_suffix(".json").read_text())["steps"] == 2

    again = fid.feature_network(splits, tmp_path, steps=2)
    assert "sha256" in capsys.readouterr().out and trained == [2]
    np.testing.assert_allclose(again(splits.test.images / 255.0)[0], features, rtol=1e-5)

    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")  # damaged in place
    fid.feature_network(splits, tmp_path, steps=2)
    assert "damaged" in capsys.readouterr().out and trained == [2, 2]


def test_report_scores_the_generated_digits_in_chunks(monkeypatch, capsys):
    import tensorflow as tf

    scored = []

    class FakeScorer:
        def __init__(self, splits):
            pass

        def __call__(self, images):
            scored.append(images.shape)
            return {"fid": 1.5, "label_entropy": 2.0, "modes_covered": 10}

    monkeypatch.setattr(fid, "Scorer", FakeScorer)
    monkeypatch.setattr(fid.mnist, "load_splits", lambda data_dir, dataset: None)
    requested = []

    def generate(count):
        requested.append(count)
        return np.zeros((count, 28, 28, 1), np.float32)

    run = type("Run", (), {"writer": tf.summary.create_noop_writer()})()
    metrics = fid.report(run, generate, step=3, num_samples=2500)
    assert requested == [1000, 1000, 500] and scored == [(2500, 28, 28, 1)]
    assert metrics == {"test/fid": 1.5, "test/label_entropy": 2.0, "test/modes_covered": 10}
    assert "test/fid 1.5" in capsys.readouterr().out
