"""MNIST through tensorflow-datasets, prepared offline from the four original .gz files.

`load_splits` returns NumPy arrays for train / validation / test (55k / 5k / 10k, the
validation images drawn from the training set with a fixed seed, as the course did).
`make_dataset` turns arrays into a tf.data pipeline. It shuffles *indices* and gathers
whole batches, which is faster than shuffling images and keeps the iterator's
checkpoint small (a shuffle buffer of 55,000 int64 instead of 55,000 images).

`write_tfrecords` converts the three splits to sharded TFRecords (lecture 8) and
`load_datasets(..., source="tfrecord")` trains from them, with the same batches as
from memory.
"""

from __future__ import annotations

import dataclasses

from cs20.datasets import sources, tfrecord

import numpy as np
import tensorflow as tf

NUM_CLASSES = 10
IMAGE_SHAPE = (28, 28, 1)
SPLIT_NAMES = ("train", "validation", "test")
# Pixels as raw bytes (784 per digit, decoded with one decode_raw per batch), label as int64.
TFRECORD_SCHEMA = {"image": tfrecord.Field("raw", IMAGE_SHAPE, "uint8"),
                   "label": tfrecord.Field("int64")}
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


def write_tfrecords(splits: Splits, directory, *, num_shards: int = 4,
                    compression: str | None = None, names=SPLIT_NAMES) -> dict:
    """Writes the splits `names` as `<split>-0000i-of-0000N` shards + `<split>.json`;
    returns {split name: sidecar}."""
    written = {}
    for name in names:
        split = getattr(splits, name)
        records = ({"image": image, "label": label}
                   for image, label in zip(split.images, split.labels, strict=True))
        written[name] = tfrecord.write(records, directory, name, TFRECORD_SCHEMA,
                                       num_shards=num_shards, compression=compression,
                                       metadata={"source": "mnist", "split": name})
    return written


def has_tfrecords(directory, num_shards: int, compression: str | None = None) -> bool:
    """True if `directory` holds all three splits written with these settings."""
    for name in SPLIT_NAMES:
        path = tfrecord.sidecar_path(directory, name)
        if not path.is_file():
            return False
        sidecar = tfrecord.load_sidecar(directory, name)
        if (len(sidecar["shards"]), sidecar["compression"]) != (num_shards,
                                                               (compression or "").upper()):
            return False
    return True


def make_tfrecord_dataset(directory, name: str, batch_size: int, *, shuffle: bool = False,
                          seed: int = 0, repeat: bool = False, flatten: bool = False,
                          one_hot: bool = False, drop_remainder: bool = False,
                          **read_options) -> tuple[tf.data.Dataset, int]:
    """(batches of (images, labels) read from the split's TFRecords, number of examples).

    The batches are the same as `make_dataset`'s (same dtypes, shapes, scaling); unshuffled
    they are also in the same order. `read_options` go to `tfrecord.open_shards` (verify,
    skip_bad_shards) and `tfrecord.read` (parse, cache, shuffle_buffer, deterministic).
    """
    open_options = {key: read_options.pop(key) for key in ("verify", "skip_bad_shards")
                    if key in read_options}
    shards = tfrecord.open_shards(directory, name, expected_schema=TFRECORD_SCHEMA,
                                  **open_options)
    examples = tfrecord.read(shards, batch_size=batch_size, shuffle=shuffle, seed=seed,
                             repeat=repeat, drop_remainder=drop_remainder, **read_options)
    batches = examples.map(
        lambda batch: preprocess(batch["image"], batch["label"], flatten=flatten,
                                 one_hot=one_hot),
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return batches.prefetch(tf.data.AUTOTUNE), shards.num_records


@dataclasses.dataclass(frozen=True)
class Pipelines:
    train: tf.data.Dataset  # shuffled, repeated
    validation: tf.data.Dataset
    test: tf.data.Dataset
    train_size: int


def load_datasets(batch_size: int, *, source: str = "memory", data_dir=None,
                  tfrecord_dir=None, seed: int = 0, flatten: bool = False,
                  eval_batch_size: int = 1000) -> Pipelines:
    """Train / validation / test pipelines from memory or from TFRecords in `tfrecord_dir`
    (written by `write_tfrecords` or `python -m cs20 data tfrecord mnist`)."""
    if source == "memory":
        splits = load_splits(data_dir)
        return Pipelines(
            train=make_dataset(splits.train, batch_size, shuffle=True, seed=seed, repeat=True,
                               flatten=flatten),
            validation=make_dataset(splits.validation, eval_batch_size, flatten=flatten),
            test=make_dataset(splits.test, eval_batch_size, flatten=flatten),
            train_size=len(splits.train))
    if source != "tfrecord":
        raise ValueError(f"unknown MNIST source {source!r}: use memory or tfrecord")
    if not tfrecord_dir:
        raise ValueError("reading MNIST from TFRecords needs their folder (tfrecord_dir)")
    train, train_size = make_tfrecord_dataset(tfrecord_dir, "train", batch_size, shuffle=True,
                                              seed=seed, repeat=True, flatten=flatten)
    validation, _ = make_tfrecord_dataset(tfrecord_dir, "validation", eval_batch_size,
                                          flatten=flatten)
    test, _ = make_tfrecord_dataset(tfrecord_dir, "test", eval_batch_size, flatten=flatten)
    return Pipelines(train=train, validation=validation, test=test, train_size=train_size)
