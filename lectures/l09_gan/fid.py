"""Fréchet distance on MNIST classifier features ("FID on MNIST"): one scale for any model
that draws digits, with or without a likelihood (lecture 9's GAN, lecture 10's VAE).

Heusel et al. (2017) score a generator by fitting a Gaussian to features of its samples
and one to features of real images, and taking the Fréchet (2-Wasserstein) distance

    FID = |mean_a - mean_b|^2 + tr(C_a) + tr(C_b) - 2 tr((C_a C_b)^(1/2)).

The features here are the 1,024 units of lecture 7's ConvNet's penultimate layer (after
ReLU, no dropout), as in the MNIST experiments of the GAN literature, not Inception's.
The ConvNet is trained once (CLASSIFIER_STEPS steps, about a minute on 2 CPU cores) and
cached with its sha256 in the data cache (`data/fid/`); a missing or damaged file is
trained again, with a message. The same classifier's labels of the samples say whether
every digit is generated: the entropy of their distribution (ln 10 = 2.303 nats when
uniform) and the mode coverage, the number of digits that get at least MODE_SHARE of
the samples.

`tr((C_a C_b)^(1/2))` is computed without scipy and without the non-symmetric product:
it equals the trace of the root of the symmetric positive semi-definite matrix
C_a^(1/2) C_b C_a^(1/2), whose eigenvalues are real and are clipped at 0 against
rounding, so the result is real and stable even for singular covariances.
"""

from __future__ import annotations

import hashlib
import json
import pathlib

from cs20 import summaries, training
from cs20.datasets import mnist, sources
from lectures.l07_convnet import model as convnet  # the ConvNet and its train step

import keras
import numpy as np
import tensorflow as tf

CLASSIFIER_STEPS = 860  # two epochs of 128 digits: 99% test accuracy on MNIST
CLASSIFIER_BATCH = 128
CLASSIFIER_LEARNING_RATE = 1e-3
CLASSIFIER_SEED = 0
FEATURE_LAYER = "fc"
MODE_SHARE = 0.01  # a digit counts as generated with at least 1% of the samples
NUM_SAMPLES = 10000  # as many as the MNIST test digits


# --- The distance, on NumPy arrays (tested against closed forms). ---

def statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, d) features -> (mean (d,), covariance (d, d)), float64."""
    features = np.asarray(features, np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"need at least 2 feature vectors (n, d), got shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def symmetric_sqrt(matrix: np.ndarray) -> np.ndarray:
    """The positive semi-definite square root of a symmetric PSD matrix, by eigh."""
    eigenvalues, eigenvectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T


def frechet_distance(statistics_a, statistics_b) -> float:
    """The Fréchet distance between the Gaussians N(mean_a, C_a) and N(mean_b, C_b)."""
    mean_a, covariance_a = statistics_a
    mean_b, covariance_b = statistics_b
    root_a = symmetric_sqrt(covariance_a)
    product = root_a @ covariance_b @ root_a  # symmetric PSD, same eigenvalues as C_a C_b
    eigenvalues = np.linalg.eigvalsh((product + product.T) / 2)
    trace_root = np.sum(np.sqrt(np.clip(eigenvalues, 0.0, None)))
    distance = (np.sum(np.square(mean_a - mean_b)) + np.trace(covariance_a)
                + np.trace(covariance_b) - 2.0 * trace_root)
    return float(max(distance, 0.0))


def label_statistics(predictions: np.ndarray, num_classes: int) -> dict:
    """(n,) predicted classes -> entropy of their distribution (nats) and mode coverage."""
    shares = np.bincount(predictions, minlength=num_classes) / len(predictions)  # (classes,)
    present = shares[shares > 0]
    return {"label_entropy": float(np.sum(present * np.log(1.0 / present))),
            "modes_covered": int(np.sum(shares >= MODE_SHARE))}


# --- The feature network: lecture 7's ConvNet, trained once and cached. ---

class FeatureNetwork:
    """A trained classifier; `__call__(images)` gives its penultimate features and its
    predicted classes for (n, 28, 28, 1) images in [0, 1]."""

    def __init__(self, classifier: keras.Model):
        self.classifier = classifier
        self.num_classes = classifier.output.shape[-1]
        both = keras.Model(classifier.input, [classifier.get_layer(FEATURE_LAYER).output,
                                              classifier.output])
        self.features_and_logits = tf.function(lambda images: both(images, training=False))

    def __call__(self, images: np.ndarray, batch_size: int = 1000):
        features, predictions = [], []
        for start in range(0, len(images), batch_size):
            batch = tf.constant(images[start:start + batch_size], tf.float32)
            batch_features, logits = self.features_and_logits(batch)
            features.append(batch_features.numpy())  # (batch, 1024)
            predictions.append(np.argmax(logits.numpy(), axis=-1))  # (batch,)
        return np.concatenate(features), np.concatenate(predictions)


def float32_classifier(num_classes: int) -> keras.Model:
    """The ConvNet in float32 whatever the run's policy: one scale for every run."""
    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        return convnet.build_convnet(num_classes=num_classes, dropout_rate=0.25)
    finally:
        keras.mixed_precision.set_global_policy(policy)


def train_classifier(splits: mnist.Splits, steps: int) -> keras.Model:
    """Lecture 7's recipe for `steps` steps on one device (Adam, cosine decay)."""
    keras.utils.set_random_seed(CLASSIFIER_SEED)
    with tf.distribute.get_strategy().scope():  # the default one, whatever the run uses
        model = float32_classifier(splits.num_classes)
        optimizer = keras.optimizers.Adam(training.learning_rate(
            CLASSIFIER_LEARNING_RATE, "cosine", steps))
        run_steps = training.compile_step(tf.distribute.get_strategy(),
                                          convnet.make_train_step(model, optimizer,
                                                                  CLASSIFIER_BATCH))
    batches = iter(mnist.make_dataset(splits.train, CLASSIFIER_BATCH, shuffle=True,
                                      seed=CLASSIFIER_SEED, repeat=True))
    for done in range(0, steps, 100):
        logs = run_steps(batches, tf.constant(min(100, steps - done)))
        print(f"  FID classifier step {min(done + 100, steps)}/{steps}: "
              f"loss {float(logs['loss']):.4f}", flush=True)
    return model


def default_cache_directory() -> pathlib.Path:
    return sources.cache_dir() / "fid"


def cache_path(splits: mnist.Splits, steps: int, directory: pathlib.Path) -> pathlib.Path:
    """One file per training data (its fingerprint) and recipe."""
    recipe = f"{splits.fingerprint}-{steps}-{CLASSIFIER_BATCH}-{CLASSIFIER_LEARNING_RATE}" \
             f"-{CLASSIFIER_SEED}"
    key = hashlib.sha256(recipe.encode()).hexdigest()[:16]
    return directory / f"convnet-{key}.weights.h5"


def feature_network(splits: mnist.Splits, cache_directory: pathlib.Path | None = None,
                    steps: int | None = None) -> FeatureNetwork:
    """The cached classifier of `splits`' training digits, trained first if it is missing
    or its sha256 does not match."""
    steps = steps or CLASSIFIER_STEPS
    path = cache_path(splits, steps, pathlib.Path(cache_directory or default_cache_directory()))
    checksum_path = path.with_suffix(".json")
    model = float32_classifier(splits.num_classes)
    saved = _read_json(checksum_path)
    if saved and path.is_file() and sources.sha256_of(path) == saved.get("sha256"):
        model.load_weights(path)
        print(f"FID features: {path} (sha256 {saved['sha256'][:12]}..., test accuracy "
              f"{saved['test_accuracy']:.4f})")
        return FeatureNetwork(model)
    reason = "damaged (sha256 differs)" if path.is_file() else "not trained yet"
    print(f"FID features: the ConvNet classifier at {path} is {reason}; training it now "
          f"({steps} steps, about a minute on 2 CPU cores) ...", flush=True)
    model = train_classifier(splits, steps)
    network = FeatureNetwork(model)
    _, predictions = network(splits.test.images / 255.0)
    accuracy = float(np.mean(predictions == splits.test.labels))
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save_weights(path)
    checksum_path.write_text(json.dumps({"sha256": sources.sha256_of(path),
                                         "test_accuracy": accuracy, "steps": steps}) + "\n")
    print(f"FID features: test accuracy {accuracy:.4f}; cached in {path}")
    return network


def _read_json(path: pathlib.Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


# --- Scoring samples against the test digits. ---

class Scorer:
    """`scorer(images)` -> FID against `splits`' test digits, label entropy, modes covered."""

    def __init__(self, splits: mnist.Splits, cache_directory: pathlib.Path | None = None):
        self.network = feature_network(splits, cache_directory)
        features, _ = self.network(splits.test.images / 255.0)
        self.reference = statistics(features)

    def __call__(self, images: np.ndarray) -> dict:
        features, predictions = self.network(images)
        return {"fid": frechet_distance(statistics(features), self.reference),
                **label_statistics(predictions, self.network.num_classes)}


def report(run, generate, *, step: int, data_dir=None, dataset: str = "mnist",
           num_samples: int = NUM_SAMPLES, chunk: int = 1000) -> dict:
    """Scores `num_samples` digits of `generate(count)` ((count, 28, 28, 1) pixels in
    [0, 1], called with at most `chunk` at a time) against the test digits of `dataset`;
    logs and returns `test/fid`, `test/label_entropy`, `test/modes_covered`."""
    scorer = Scorer(mnist.load_splits(data_dir, dataset=dataset))
    images = np.concatenate([generate(min(chunk, num_samples - start))
                             for start in range(0, num_samples, chunk)])
    metrics = {f"test/{name}": value for name, value in scorer(images).items()}
    summaries.scalars(run.writer, metrics, step)
    print("FID on the test digits: " + "  ".join(f"{name} {value:.4g}"
                                                  for name, value in metrics.items()))
    return metrics
