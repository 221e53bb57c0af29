"""MNIST through tensorflow-datasets, prepared offline from the four original .gz files.

`load_splits` returns NumPy arrays for train / validation / test (55k / 5k / 10k, the
validation images drawn from the training set with a fixed seed, as the course did).
`make_dataset` turns arrays into a tf.data pipeline. It shuffles *indices* and gathers
whole batches, which is faster than shuffling images and keeps the iterator's
checkpoint small (a shuffle buffer of 55,000 int64 instead of 55,000 images).
"""

from __future__ import annotations

import dataclasses

from cs20.datasets import sources

import numpy as np
import tensorflow as tf

NUM_CLASSES = 10
IMAGE_SHAPE = (28, 28, 1)
_FILES = ("mnist_train_images", "mnist_train_labels", "mnist_test_images", "mnist_test_labels")


@dataclasses.dataclass(frozen=True)
class Split:
    images: np.ndarray  # (n, 28, 28, 1) uint8
    labels: np.ndarray  # (n,) int64

    def __len__(self):
        return len(self.labels)


@dataclasses.dataclass(frozen=True)
class Splits:
    train: Split
    validation: Split
    test: Split


def prepare(data_dir=None):
    """The tfds builder, prepared once into the data cache from the local .gz files."""
    import tensorflow_datasets as tfds  # deferred: slow to import, only MNIST needs it

    paths = [sources.resolve(name, data_dir) for name in _FILES]
    manual_dir = paths[0].parent
    if any(path.parent != manual_dir for path in paths):
        raise ValueError("the four MNIST .gz files must be in one folder; found "
                         + ", ".join(str(path) for path in paths))
    builder = tfds.builder("mnist", data_dir=str(sources.cache_dir() / "tfds"))
    if not builder.is_prepared():
        print(f"Preparing MNIST from {manual_dir} (once; about 15 s)")
        builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
            manual_dir=str(manual_dir), try_download_gcs=False))
    return builder


def _read_split(builder, split: str) -> Split:
    import tensorflow_datasets as tfds

    images, labels = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1,
                                                      as_supervised=True))
    return Split(images, labels.astype(np.int64))


def load_splits(data_dir=None, validation_size: int = 5000, split_seed: int = 0) -> Splits:
    builder = prepare(data_dir)
    full_train = _read_split(builder, "train")
    if not 0 < validation_size < len(full_train):
        raise ValueError(f"validation_size must be between 1 and {len(full_train) - 1}")
    order = np.random.default_rng(split_seed).permutation(len(full_train))
    train_index, validation_index = order[validation_size:], order[:validation_size]
    return Splits(train=Split(full_train.images[train_index], full_train.labels[train_index]),
                  validation=Split(full_train.images[validation_index],
                                   full_train.labels[validation_index]),
                  test=_read_split(builder, "test"))


def preprocess(images, labels, flatten: bool = False, one_hot: bool = False):
    """uint8 (batch, 28, 28, 1) -> float32 in [0, 1], optionally (batch, 784); labels
    -> int64 (batch,) or one-hot float32 (batch, 10)."""
    images = tf.cast(images, tf.float32) / 255.0
    if flatten:
        images = tf.reshape(images, (-1, 28 * 28))  # (batch, 784)
    if one_hot:
        labels = tf.one_hot(labels, NUM_CLASSES)  # (batch, 10)
    return images, labels


def make_dataset(split: Split, batch_size: int, *, shuffle: bool = False, seed: int = 0,
                 repeat: bool = False, flatten: bool = False, one_hot: bool = False,
                 drop_remainder: bool = False) -> tf.data.Dataset:
    """Batches of (images, labels) from in-memory arrays, prefetched."""
    images = tf.constant(split.images)
    labels = tf.constant(split.labels)
    indices = tf.data.Dataset.range(len(split))
    if shuffle:
        indices = indices.shuffle(len(split), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        indices = indices.repeat()
    batches = indices.batch(batch_size, drop_remainder=drop_remainder)
    batches = batches.map(
        lambda index: preprocess(tf.gather(images, index), tf.gather(labels, index),
                              flatten=flatten, one_hot=one_hot),
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return batches.prefetch(tf.data.AUTOTUNE)
