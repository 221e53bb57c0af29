"""Single pictures: read by registered name or path, resized, written back as PNG.

Images are float32 RGB in [0, 255], (height, width, 3). Grayscale files gain three equal
channels and an alpha channel is dropped, so every picture looks the same to a ConvNet.
"""

from __future__ import annotations

import pathlib

from cs20.datasets import sources

import keras
import numpy as np
import tensorflow as tf

# Decoding takes 15 bytes a pixel (uint8, then float32): larger files are refused.
MAX_DECODED_PIXELS = 100_000_000


def locate(name_or_path: str, data_dir=None, flag: str = "--image") -> pathlib.Path:
    """A registered image name (`starry_night`) or a file path -> an existing path,
    printed and recorded with its sha256 (`sources.files_used`); `flag` names the
    setting in errors."""
    if name_or_path in sources.REGISTRY:
        return sources.resolve(name_or_path, data_dir)
    if not pathlib.Path(name_or_path).exists():
        known = ", ".join(name for name, source in sources.REGISTRY.items()
                          if source.filename.startswith("images/"))
        raise FileNotFoundError(f"{flag} {name_or_path} does not exist (give a path or one "
                                f"of: {known})")
    return sources.user_file(name_or_path, flag)


def load(path) -> tf.Tensor:
    """An image file (JPEG, PNG, GIF, BMP) -> (height, width, 3) float32 in [0, 255]."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image {path} does not exist")
    try:
        image = tf.io.decode_image(tf.io.read_file(str(path)), channels=3,
                                   expand_animations=False)
    except tf.errors.InvalidArgumentError:
        raise ValueError(f"{path} is not an image TensorFlow can read "
                         f"(JPEG, PNG, GIF or BMP)") from None
    return tf.cast(image, tf.float32)


def dimensions(path) -> tuple[int, int]:
    """(height, width) from an image file's header, without decoding its pixels, so that
    a picture too large for memory can be refused before it is read."""
    from PIL import Image  # Pillow comes with matplotlib; it opens headers lazily

    try:
        with Image.open(path) as picture:
            width, height = picture.size
    except Image.DecompressionBombError as error:
        raise ValueError(f"{path} is too large to decode: {error}") from None
    except Image.UnidentifiedImageError:
        raise ValueError(f"{path} is not an image (JPEG, PNG, GIF or BMP)") from None
    return height, width


def check_decodable(path, height: int, width: int) -> None:
    """A one-line error for a picture too large to decode (its size read from the header)."""
    pixels = height * width
    if pixels > MAX_DECODED_PIXELS:
        raise ValueError(f"{path} is {height}x{width} ({pixels / 1e6:,.0f} megapixels): "
                         f"decoding it alone would take {pixels * 15 / 1e9:.1f} GB; scale it "
                         f"below {MAX_DECODED_PIXELS / 1e6:.0f} megapixels first")


def checked(name_or_path: str, data_dir=None, flag: str = "--image",
            min_side: int = 1) -> tuple[pathlib.Path, tuple[int, int]]:
    """(path, (height, width)) of a picture that can be read, checked before anything is
    decoded or written (the size comes from the file's header): one-line errors for a
    missing file, one that is not a picture, one too large to decode, and one with a side
    under `min_side` pixels; `flag` names the setting in them."""
    path = locate(name_or_path, data_dir, flag)
    height, width = dimensions(path)
    check_decodable(path, height, width)
    if min(height, width) < min_side:
        raise ValueError(f"{flag} {path} is {height}x{width}: a picture needs at least "
                         f"{min_side} pixels a side")
    return path, (height, width)


def longer_side_size(height: int, width: int, size: int) -> tuple[int, int]:
    """(height, width) scaled so that the longer side is `size`, keeping the aspect."""
    scale = size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize_longer_side(image: tf.Tensor, size: int) -> tf.Tensor:
    """Scales (height, width, 3) so that its longer side is `size`, keeping the aspect."""
    new_size = longer_side_size(image.shape[0], image.shape[1], size)
    return tf.image.resize(image, new_size, antialias=True)


def fit(image: tf.Tensor, height: int, width: int) -> tf.Tensor:
    """Scales and centre-crops (h, w, 3) to exactly (height, width, 3), as the course's
    ImageOps.fit: the style picture takes the content picture's shape without stretching."""
    return keras.ops.image.resize(image, (height, width), crop_to_aspect_ratio=True,
                                  antialias=True)


def to_uint8(image) -> np.ndarray:
    """(..., 3) float in [0, 255] -> uint8, rounding and clipping."""
    return np.clip(np.round(np.asarray(image)), 0, 255).astype(np.uint8)


def save_png(image, path) -> pathlib.Path:
    """(height, width, 3) float in [0, 255] -> a PNG file."""
    path = pathlib.Path(path)
    tf.io.write_file(str(path), tf.io.encode_png(to_uint8(image)))
    return path
