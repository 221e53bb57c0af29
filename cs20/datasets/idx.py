"""MNIST-format datasets: the registered ones, and folders of the user's own IDX files.

The IDX format (LeCun's, used by MNIST, Fashion-MNIST and Kuzushiji-MNIST) is a tiny
header (two zero bytes, a type code, the number of dimensions, each dimension as a
big-endian int32) followed by the raw array. A folder of the user's own files holds the
four files under MNIST's names, gzipped or not; their sha256 values are recorded, not
checked against anything, since the data is the user's.

This module imports no TensorFlow: the lectures' flags are declared from it.
"""

from __future__ import annotations

import dataclasses
import gzip
import pathlib

from cs20 import config
from cs20.datasets import sources

import numpy as np

CLASS_NAMES = {
    "mnist": tuple(str(digit) for digit in range(10)),
    "fashion_mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                      "Shirt", "Sneaker", "Bag", "Ankle boot"),
    # Kuzushiji-MNIST: one cursive Hiragana character per row of the syllabary.
    "kmnist": ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
}
assert set(CLASS_NAMES) == set(sources.IDX_DATASETS)

# The four files of a folder, by their MNIST names (".gz" optional).
FILE_STEMS = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
              "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}
IMAGE_SIZE = (28, 28)
_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

DATASET_HELP = (f"What to train on: a registered MNIST-format set ({', '.join(sources.IDX_DATASETS)}; "
                "its four .gz files come from --data-dir, $CS20_DATA_DIR or data/, "
                "checksums checked), a folder of your own IDX files (train-images-idx3-ubyte, "
                "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, "
                "each .gz or not; 28x28 images), or a folder of TFRecord shards made by "
                "`python -m cs20 data tfrecord mnist` or `... tfrecord --images DIR`.")


@dataclasses.dataclass(frozen=True)
class DatasetFlags:
    """The flags of the lectures that train on MNIST-format data (3b, 7, 8a, 10)."""

    dataset: str = config.option("mnist", DATASET_HELP)
    skip_bad_shards: bool = config.option(False, "With TFRecord shards: leave out shards that "
                                                 "fail their sha256 (a warning names each) "
                                                 "instead of stopping.", changeable=True)


def is_registered(dataset: str) -> bool:
    return dataset in sources.IDX_DATASETS


def read(path: pathlib.Path) -> np.ndarray:
    """One IDX file (gzipped or not) -> its array; a malformed file is a one-line error."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as stream:
            content = stream.read()
    except (OSError, EOFError) as error:  # gzip.BadGzipFile is an OSError
        raise ValueError(f"{path} cannot be read: {error}") from None
    if len(content) < 4 or content[:2] != b"\0\0" or content[2] not in _DTYPES:
        raise ValueError(f"{path} is not an IDX file (it should start with two zero bytes "
                         f"and a type code)")
    num_dimensions = content[3]
    header_size = 4 + 4 * num_dimensions
    shape = tuple(int(size) for size in np.frombuffer(content[4:header_size], ">u4"))
    dtype = np.dtype(_DTYPES[content[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(content) - header_size != expected:
        raise ValueError(f"{path}: the header says {shape} ({expected:,} bytes of data), the "
                         f"file holds {len(content) - header_size:,} (truncated?)")
    return np.frombuffer(content, dtype, offset=header_size).reshape(shape)


def write(path: pathlib.Path, array: np.ndarray) -> pathlib.Path:
    """An unsigned-byte array -> an IDX file (gzipped if the name ends in .gz)."""
    array = np.asarray(array, np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    opener = gzip.open if pathlib.Path(path).suffix == ".gz" else open
    with opener(path, "wb") as stream:
        stream.write(header + array.tobytes())
    return pathlib.Path(path)


def find_files(folder: pathlib.Path, flag: str = "--dataset") -> dict[str, pathlib.Path]:
    """{"train_images": path, ...} of the four files in a folder; the first one missing
    is a one-line error naming it."""
    found = {}
    for part, stem in FILE_STEMS.items():
        candidates = [folder / f"{stem}.gz", folder / stem]
        existing = [path for path in candidates if path.is_file()]
        if not existing:
            raise FileNotFoundError(
                f"{flag} {folder}: {stem}.gz (or {stem}) is missing; a folder of IDX files "
                f"needs {', '.join(FILE_STEMS.values())}")
        found[part] = existing[0]
    return found


def check_pair(images: np.ndarray, labels: np.ndarray, images_path, labels_path) -> None:
    """Images (n, 28, 28) of bytes with n labels, or a one-line error naming the file."""
    if images.ndim != 3 or images.shape[1:] != IMAGE_SIZE or images.dtype != np.uint8:
        raise ValueError(f"{images_path} holds {images.dtype} images of shape {images.shape}; "
                         f"these lectures take (n, 28, 28) unsigned bytes")
    if labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(f"{labels_path} holds {labels.shape} labels for {len(images):,} "
                         f"images in {images_path.name}")


def load_folder(folder: pathlib.Path, flag: str = "--dataset"):
    """((train images, labels), (test images, labels), the files' sha256 values) from a
    folder of IDX files, each file printed and recorded with its sha256."""
    paths = find_files(folder, flag)
    arrays, sha256s = {}, []
    for part, path in paths.items():
        sha256s.append(sources.record(path.name, path, flag)["sha256"])
        arrays[part] = read(path)
    for split in ("train", "test"):
        check_pair(arrays[f"{split}_images"], arrays[f"{split}_labels"],
                   paths[f"{split}_images"], paths[f"{split}_labels"])
    return ((arrays["train_images"], arrays["train_labels"].astype(np.int64)),
            (arrays["test_images"], arrays["test_labels"].astype(np.int64)), sha256s)
