"""Lecture 7 (kernels): five 3x3 filters, applied with convolution ops.

Each kernel is a 3x3 NumPy array. `apply` convolves a batch of images with one of them:
`tf.nn.conv2d` for grayscale (a (3, 3, 1, 1) filter) and `tf.nn.depthwise_conv2d` for
colour (the same 3x3 kernel on each channel separately). The course's RGB filters were
(3, 3, 3, 3) with the same weights for every (input, output) channel pair, so each output
channel summed all three inputs: a grey, three times too bright picture, which is why its
author wrote that the kernels "seem to work with grayscale images, but not with rgb".
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

# The course's five kernels (examples/kernels.py). Blur and sharpen keep the brightness
# (their weights sum to 1); edge and Sobel respond only to changes (they sum to 0).
KERNELS: dict[str, np.ndarray] = {
    "blur": np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], np.float32) / 16,
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], np.float32),
    "edge": np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], np.float32),
    "top_sobel": np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], np.float32),
    "emboss": np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], np.float32),
}

# Lecture 7's peak memory per pixel of the picture it filters, measured: +0.30 GB at
# 1,000 x 1,000 and +1.26 GB at 2,000 x 2,000 (float copies, eleven filtered pictures,
# their TensorBoard batches, the grid plot); an 8,000 x 8,000 photo took over 14 GB.
BYTES_PER_PIXEL = 320


def memory_gigabytes(height: int, width: int) -> float:
    """About how much memory the lecture needs to filter a picture of this size."""
    return height * width * BYTES_PER_PIXEL / 1e9


def apply(images: tf.Tensor, kernel: np.ndarray, stride: int = 1) -> tf.Tensor:
    """(batch, height, width, channels) -> the same shape (SAME padding, stride 1).

    conv2d's filter is (kernel_h, kernel_w, in_channels, out_channels); the depthwise
    filter is (kernel_h, kernel_w, channels, 1): one 3x3 kernel per channel, no mixing.
    """
    images = tf.convert_to_tensor(images, tf.float32)
    channels = images.shape[-1]
    strides = [1, stride, stride, 1]
    if channels == 1:
        return tf.nn.conv2d(images, kernel[:, :, None, None], strides, padding="SAME")
    depthwise = np.repeat(kernel[:, :, None, None], channels, axis=2)  # (3, 3, channels, 1)
    return tf.nn.depthwise_conv2d(images, depthwise, strides, padding="SAME")


def filter_all(image: tf.Tensor, stride: int = 1) -> dict[str, np.ndarray]:
    """{"original": image, kernel name: filtered image clipped to [0, 1]} for one image."""
    batch = image[None]  # (1, height, width, channels)
    filtered = {"original": image.numpy()}
    for name, kernel in KERNELS.items():
        filtered[name] = np.clip(apply(batch, kernel, stride)[0].numpy(), 0.0, 1.0)
    return filtered
