"""Lecture 8b's two pictures, read and checked before a run starts (a bad picture leaves
nothing behind): the content scaled to --image-size, the style fitted to its shape."""

from __future__ import annotations

from cs20.datasets import images
from lectures.l08_style_transfer.config import MIN_SIDE, Config

import tensorflow as tf


def read_pictures(cfg: Config) -> tuple[tf.Tensor, tf.Tensor]:
    """(content, style), (height, width, 3) each in [0, 255]: the content scaled to
    --image-size, the style scaled and cropped to the content's shape."""
    content_path, (height, width) = images.checked(cfg.content, cfg.data_dir, "--content",
                                                   MIN_SIDE)
    style_path, _ = images.checked(cfg.style, cfg.data_dir, "--style", MIN_SIDE)
    scaled = images.longer_side_size(height, width, cfg.image_size)
    if min(scaled) < MIN_SIDE:
        raise ValueError(
            f"--content {content_path} is {height}x{width}, so {scaled[0]}x{scaled[1]} at "
            f"--image-size {cfg.image_size}: under the {MIN_SIDE} pixels a side the network "
            f"needs; crop it or give --image-size "
            f"{-(-MIN_SIDE * max(height, width) // min(height, width))} or more")
    content_image = images.resize_longer_side(images.load(content_path), cfg.image_size)
    return content_image, images.fit(images.load(style_path), *content_image.shape[:2])
