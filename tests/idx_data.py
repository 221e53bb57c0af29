"""Small synthetic MNIST-format data for tests: IDX folders and folders of labelled images.

Each class brightens its own horizontal band of the picture over uniform noise, so a
model learns it in a few steps and a test can check it beat chance.
"""

from __future__ import annotations

import pathlib

from cs20.datasets import idx

import numpy as np

SPLIT_SIZES = {"train": 300, "t10k": 100}


def banded_images(labels: np.ndarray, num_classes: int, rng, size=(28, 28)) -> np.ndarray:
    """(n, height, width) uint8: noise in 0..59 with class c's band raised by 150."""
    images = rng.integers(0, 60, (len(labels), *size)).astype(np.uint8)
    band = size[0] // num_classes
    for label in range(num_classes):
        images[labels == label, label * band:(label + 1) * band] += 150
    return images


def write_idx_folder(folder: pathlib.Path, *, num_classes: int = 3, seed: int = 0,
                     leave_out: str | None = None, gzip: bool = True) -> pathlib.Path:
    """The four MNIST-named IDX files of a 300 / 100 image set (`leave_out`: a file stem
    not to write)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    suffix = ".gz" if gzip else ""
    for split, count in SPLIT_SIZES.items():
        labels = rng.integers(0, num_classes, count).astype(np.uint8)
        for stem, array in ((f"{split}-images-idx3-ubyte", banded_images(labels, num_classes, rng)),
                            (f"{split}-labels-idx1-ubyte", labels)):
            if stem != leave_out:
                idx.write(folder / f"{stem}{suffix}", array)
    return folder


def write_image_folder(folder: pathlib.Path, labels=("circle", "square", "stripe"),
                       per_label: int = 20, seed: int = 0) -> pathlib.Path:
    """One sub-folder of PNG files per label, of varying sizes, RGB and grey."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    for label_index, label in enumerate(labels):
        (folder / label).mkdir(parents=True, exist_ok=True)
        for number in range(per_label):
            size = (int(rng.integers(20, 40)), int(rng.integers(20, 40)))
            grey = banded_images(np.array([label_index]), len(labels), rng, size)[0]
            pixels = np.repeat(grey[..., None], 3 if number % 2 else 1, axis=-1)
            (folder / label / f"{number}.png").write_bytes(tf.io.encode_png(pixels).numpy())
    return folder
