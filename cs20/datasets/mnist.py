"""MNIST-format data: MNIST itself, Fashion-MNIST, KMNIST, your own IDX files or TFRecords.

`load_splits(dataset=...)` returns NumPy arrays for train / validation / test (55k / 5k /
10k for MNIST, the validation images drawn from the training set with a fixed seed, as
the course did), and the class names. `dataset` is what the lectures' `--dataset` flag
says (`idx.DATASET_HELP`):

- a registered set (`mnist`, `fashion_mnist`, `kmnist`): its four .gz files are
  resolved by `sources` (checksums checked) and read through tensorflow-datasets,
  prepared offline from them, and each split decoded once per process;
- a folder of the user's own IDX files: read directly (`idx.load_folder`);
- a folder of TFRecord shards: the three splits written by `write_tfrecords`
  (`python -m cs20 data tfrecord mnist`), or one folder of images written by
  `python -m cs20 data tfrecord --images DIR`, decoded to 28x28 grey and split here.

`make_dataset` turns arrays into a tf.data pipeline. It shuffles *indices* and gathers
whole batches, which is faster than shuffling images and keeps the iterator's
checkpoint small (a shuffle buffer of 55,000 int64 instead of 55,000 images).

`write_tfrecords` converts the three splits to sharded TFRecords (lecture 8) and
`load_datasets(..., source="tfrecord")` trains from them, with the same batches as
from memory.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import pathlib

from cs20 import config
from cs20.datasets import idx, shuffling, sources, tfrecord_io, tfrecord_schema

import numpy as np
import tensorflow as tf

NUM_CLASSES = 10
IMAGE_SHAPE = (28, 28, 1)
SPLIT_NAMES = ("train", "validation", "test")
# Pixels as raw bytes (784 per digit, decoded with one decode_raw per batch), label as int64.
TFRECORD_SCHEMA = {"image": tfrecord_schema.Field("raw", IMAGE_SHAPE, "uint8"),
                   "label": tfrecord_schema.Field("int64")}
# The share of a folder of images (which has no test split of its own) held out for test.
IMAGES_TEST_FRACTION = 0.1


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
    class_names: tuple[str, ...] = idx.CLASS_NAMES["mnist"]
    source: str = "mnist"  # the --dataset it came from
    # sha256 over the sha256 of every file read: tells whether shards made earlier
    # came from the same data.
    fingerprint: str = ""

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def fingerprint(sha256s: list[str]) -> str:
    """One sha256 for a set of files, from theirs."""
    return hashlib.sha256(" ".join(sha256s).encode()).hexdigest()


def prepare(data_dir=None, dataset: str = "mnist"):
    """The tfds builder of a registered set, prepared once into the data cache from its
    local .gz files (resolved, checked and recorded by `sources`)."""
    import tensorflow_datasets as tfds  # deferred: slow to import, only these sets need it

    names = sources.idx_source_names(dataset).values()
    try:
        paths = [sources.resolve(name, data_dir) for name in names]
    except ValueError as error:  # a file that is not the registered one
        raise ValueError(f"{error}; to train on other MNIST-format files, pass their folder "
                         f"as --dataset") from None
    manual_dir = paths[0].parent
    if any(path.parent != manual_dir for path in paths):
        raise ValueError(f"the four {dataset} .gz files must be in one folder; found "
                         + ", ".join(str(path) for path in paths))
    tfds_dir = sources.cache_dir() / "tfds"
    # Two lectures started at once from a fresh checkout would both prepare the set into
    # the same folder; the second waits for the first and then finds it prepared.
    with sources.exclusive(tfds_dir / f".{dataset}.lock"):
        builder = tfds.builder(dataset, data_dir=str(tfds_dir))
        if not builder.is_prepared():
            print(f"Preparing {dataset} from {manual_dir} (once; about 15 s)")
            builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
                manual_dir=str(manual_dir), try_download_gcs=False))
    return builder


@functools.cache
def _read_split(prepared_dir: str, split: str) -> Split:
    """One split of a set tensorflow-datasets prepared in `prepared_dir`, as read-only
    arrays. Decoding its PNGs takes seconds, so a process does it once per split: a
    notebook run again in its kernel, or a second lecture in the same process, gets the
    same arrays back."""
    import tensorflow_datasets as tfds

    builder = tfds.builder_from_directory(prepared_dir)
    images, labels = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1,
                                                      as_supervised=True))
    read = Split(images, labels.astype(np.int64))
    for array in (read.images, read.labels):
        array.setflags(write=False)
    return read


def _hold_out(full: Split, size: int, seed: int) -> tuple[Split, Split]:
    """(rest, held out): `size` examples drawn with a fixed seed."""
    if not 0 < size < len(full):
        raise ValueError(f"cannot hold out {size:,} of {len(full):,} examples: there must be "
                         f"at least one left on each side")
    order = np.random.default_rng(seed).permutation(len(full))
    rest, held_out = order[size:], order[:size]
    return (Split(full.images[rest], full.labels[rest]),
            Split(full.images[held_out], full.labels[held_out]))


def _class_names(labels: np.ndarray, known: tuple[str, ...] | list | None) -> tuple[str, ...]:
    """The known names, or the label numbers 0 ... max label."""
    if known:
        return tuple(known)
    return tuple(str(label) for label in range(max(int(labels.max()) + 1, 2)))


def _check_splits(splits: Splits, where: str) -> Splits:
    """Every split holds images, with labels the class names cover: an empty test split
    would fail only after the whole training."""
    for name in SPLIT_NAMES:
        labels = getattr(splits, name).labels
        if not len(labels):
            raise ValueError(f"{where}: the {name} split holds no images; every split needs "
                             "at least one (the run ends on the test split)")
        if labels.min() < 0 or labels.max() >= splits.num_classes:
            raise ValueError(f"{where}: {name} labels run from {labels.min()} to "
                             f"{labels.max()}, outside 0 ... {splits.num_classes - 1}")
    return splits


def _images_to_grey_28(images) -> np.ndarray:
    """Decoded images of any size and 1, 3 or 4 channels -> (n, 28, 28, 1) uint8."""
    def convert(image):  # (height, width, channels) uint8
        image = tf.cast(image[..., :3] if image.shape[-1] == 4 else image, tf.float32)
        if image.shape[-1] == 3:
            image = tf.image.rgb_to_grayscale(image)
        resized = tf.image.resize(image, IMAGE_SHAPE[:2], antialias=True)  # (28, 28, 1)
        return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)

    return np.stack([convert(image).numpy() for image in images]) if images else \
        np.zeros((0,) + IMAGE_SHAPE, np.uint8)


def record_shards(shards: tfrecord_io.Shards, where: str) -> list[str]:
    """Prints and records the shards read (their sha256 checked against the sidecar)."""
    return [sources.record(path.name, path, where, sha256)["sha256"]
            for path, sha256 in zip(shards.paths, shards.sha256s, strict=True)]


def _load_tfrecords(folder: pathlib.Path, validation_size, split_seed: int,
                    skip_bad_shards: bool) -> Splits:
    """Splits from a folder of shards: MNIST's three splits, or one folder of images."""
    names = tfrecord_io.dataset_names(folder)
    if set(SPLIT_NAMES) <= set(names):
        loaded, sha256s = {}, []
        for name in SPLIT_NAMES:
            shards = tfrecord_io.open_shards(folder, name, expected_schema=TFRECORD_SCHEMA,
                                          skip_bad_shards=skip_bad_shards)
            sha256s += record_shards(shards, "--dataset")
            batch = next(iter(tfrecord_io.read(shards, batch_size=max(shards.num_records, 1))))
            loaded[name] = Split(batch["image"].numpy(), batch["label"].numpy())
        metadata = shards.metadata
        splits = Splits(**loaded, class_names=_class_names(
            loaded["train"].labels, metadata.get("class_names")
            or idx.CLASS_NAMES.get(metadata.get("source"))), fingerprint=fingerprint(sha256s),
            source=str(folder))
        return _check_splits(splits, str(folder))
    image_sets = [name for name in names
                  if set(tfrecord_schema.IMAGE_SCHEMA) <= set(tfrecord_io.load_sidecar(folder, name)["schema"])]
    if len(image_sets) != 1:
        raise ValueError(
            f"--dataset {folder} holds TFRecord datasets {', '.join(names)}: expected train, "
            f"validation and test (python -m cs20 data tfrecord mnist) or one folder of "
            f"images (python -m cs20 data tfrecord --images DIR)")
    shards = tfrecord_io.open_shards(folder, image_sets[0], skip_bad_shards=skip_bad_shards,
                                  expected_schema={"image": tfrecord_schema.IMAGE_SCHEMA["image"],
                                                   "label": tfrecord_schema.IMAGE_SCHEMA["label"]})
    sha256s = record_shards(shards, "--dataset")
    examples = list(tfrecord_io.read(shards))
    full = Split(_images_to_grey_28([example["image"] for example in examples]),
                 np.array([int(example["label"]) for example in examples], np.int64))
    print(f"{folder}: {len(full):,} images decoded to 28x28 grey")
    rest, test = _hold_out(full, max(1, round(len(full) * IMAGES_TEST_FRACTION)), split_seed)
    return _split_validation(rest, test, shards.metadata.get("labels"), sha256s,
                             validation_size, split_seed, str(folder))


def _split_validation(full_train: Split, test: Split, known_names, sha256s: list[str],
                      validation_size, split_seed: int, source: str) -> Splits:
    if validation_size is None:  # MNIST's 5,000, or a tenth of a smaller set
        validation_size = min(5000, max(1, len(full_train) // 10))
    train, validation = _hold_out(full_train, validation_size, split_seed)
    return _check_splits(Splits(train=train, validation=validation, test=test,
                                class_names=_class_names(full_train.labels, known_names),
                                fingerprint=fingerprint(sha256s), source=source), source)


def load_splits(data_dir=None, validation_size: int | None = None, split_seed: int = 0, *,
                dataset: str = "mnist", skip_bad_shards: bool = False) -> Splits:
    """Train / validation / test of `dataset` (see the module docstring); the validation
    images (5,000, or a tenth of a smaller training set) come from the training set."""
    if idx.is_registered(dataset):
        builder = prepare(data_dir, dataset)
        sha256s = [sources.get_source(name).sha256
                   for name in sources.idx_source_names(dataset).values()]
        prepared_dir = str(builder.data_dir)
        return _split_validation(_read_split(prepared_dir, "train"),
                                 _read_split(prepared_dir, "test"),
                                 idx.CLASS_NAMES[dataset], sha256s, validation_size, split_seed,
                                 dataset)
    if not pathlib.Path(dataset).exists() and "/" not in dataset:
        raise ValueError(f"unknown dataset {dataset!r}: use one of "
                         f"{', '.join(sources.IDX_DATASETS)}, or a folder of IDX files or of "
                         f"TFRecord shards")
    folder = sources.user_path(dataset, "--dataset", folder=True)
    if tfrecord_io.dataset_names(folder):
        return _load_tfrecords(folder, validation_size, split_seed, skip_bad_shards)
    (train_images, train_labels), (test_images, test_labels), sha256s = idx.load_folder(folder)
    return _split_validation(Split(train_images[..., None], train_labels),  # (n, 28, 28, 1)
                             Split(test_images[..., None], test_labels), None, sha256s,
                             validation_size, split_seed, str(folder))


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
    """Batches of (images, labels) from in-memory arrays, prefetched. Shuffled by
    position (`shuffling`): a checkpoint saves where the stream is, not a buffer. An
    endless stream (`repeat`) of batches larger than the split is refused."""
    if repeat:
        config.check_batch_size(batch_size, len(split))
    images = tf.constant(split.images)
    labels = tf.constant(split.labels)
    indices = shuffling.index_batches(len(split), batch_size, shuffle=shuffle, seed=seed,
                                      repeat=repeat, drop_remainder=drop_remainder)
    batches = indices.map(
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
        written[name] = tfrecord_io.write(
            records, directory, name, TFRECORD_SCHEMA, num_shards=num_shards,
            compression=compression,
            metadata={"source": splits.source, "split": name, "fingerprint": splits.fingerprint,
                      "class_names": list(splits.class_names)})
    return written


def tfrecords_differ(directory, splits: Splits, num_shards: int,
                     compression: str | None = None) -> str | None:
    """Why the shards in `directory` are not `splits` written with these settings (no
    sidecar, other settings, other data), or None if they are. Shard checksums are
    checked when the shards are opened."""
    for name in SPLIT_NAMES:
        if not tfrecord_io.sidecar_path(directory, name).is_file():
            return f"there is no {name}.json"
        sidecar = tfrecord_io.load_sidecar(directory, name)
        if (len(sidecar["shards"]), sidecar["compression"]) != (num_shards,
                                                               (compression or "").upper()):
            return (f"{name} has {len(sidecar['shards'])} shard(s) with compression "
                    f"{sidecar['compression'] or 'none'}")
        metadata = sidecar.get("metadata", {})
        made_from = metadata.get("fingerprint")
        if made_from != splits.fingerprint:
            return (f"{name} was made from other data "
                    f"({metadata.get('source', 'unknown')})")
    return None


def make_tfrecord_dataset(directory, name: str, batch_size: int, *, shuffle: bool = False,
                          seed: int = 0, repeat: bool = False, flatten: bool = False,
                          one_hot: bool = False, drop_remainder: bool = False,
                          **read_options) -> tuple[tf.data.Dataset, int]:
    """(batches of (images, labels) read from the split's TFRecords, number of examples).

    The batches are the same as `make_dataset`'s (same dtypes, shapes, scaling); unshuffled
    they are also in the same order. `read_options` go to `tfrecord_io.open_shards` (verify,
    skip_bad_shards) and `tfrecord_io.read` (parse, cache, shuffle_buffer, deterministic).
    """
    open_options = {key: read_options.pop(key) for key in ("verify", "skip_bad_shards")
                    if key in read_options}
    shards = tfrecord_io.open_shards(directory, name, expected_schema=TFRECORD_SCHEMA,
                                  **open_options)
    if open_options.get("verify", True):
        record_shards(shards, "TFRecord shards")
    if repeat:
        config.check_batch_size(batch_size, shards.num_records)
    examples = tfrecord_io.read(shards, batch_size=batch_size, shuffle=shuffle, seed=seed,
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
                  eval_batch_size: int = 1000, skip_bad_shards: bool = False) -> Pipelines:
    """Train / validation / test pipelines from memory or from TFRecords in `tfrecord_dir`
    (written by `write_tfrecords` or `python -m cs20 data tfrecord mnist`); every shard's
    sha256 is checked first (`skip_bad_shards`: leave out those that fail)."""
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
                                              seed=seed, repeat=True, flatten=flatten,
                                              skip_bad_shards=skip_bad_shards)
    validation, _ = make_tfrecord_dataset(tfrecord_dir, "validation", eval_batch_size,
                                          flatten=flatten, skip_bad_shards=skip_bad_shards)
    test, _ = make_tfrecord_dataset(tfrecord_dir, "test", eval_batch_size, flatten=flatten,
                                    skip_bad_shards=skip_bad_shards)
    return Pipelines(train=train, validation=validation, test=test, train_size=train_size)
