"""Lecture 7: what a convolution does, with five hand-made 3x3 kernels.

Before a ConvNet learns its kernels, look at a few classic ones (cs20/kernels.py): blur,
sharpen, edge (a Laplacian), top Sobel (horizontal edges, lit from above) and emboss,
applied to `friday.jpg` (or any `--image PATH`) in grayscale with `tf.nn.conv2d` and in
colour with `tf.nn.depthwise_conv2d`, which filters each channel separately. The course
used (3, 3, 3, 3) RGB kernels that mixed the three channels into a grey picture; the
depthwise filter is the fix. It also convolved with stride 3, shrinking the picture
threefold; `--stride 1` (the default) keeps its size.

A picture whose longer side is over --max-size (1,024 pixels) is scaled down first, with a
message: filtering takes about 320 bytes a pixel (an 8,000 x 8,000 photo took over 14 GB).
Writes kernels.png in the run directory (row 1: grayscale, row 2: colour; the original
first, then each kernel) and the same images under TensorBoard's Images tab.

    python lectures/l07_kernels.py [--image PATH] [--max-size 1024]
    tensorboard --logdir runs/l07_kernels

Our run on 2 CPU cores: 6.5 s (start-up included; 1.3 s of it the run itself) for the
322x403 friday.jpg; mean grayscale brightness 0.4033 original, 0.4016 blurred, 0.0740
edge response (clipped to [0, 1]).
"""

from __future__ import annotations

import dataclasses

from cs20 import cli, config, kernels, plots, runtime, summaries
from cs20.datasets import images

import numpy as np
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class Config(config.RunConfig):
    image: str = config.option("", "Image file to filter (default: the course's friday.jpg).")
    stride: int = config.option(1, "Convolution stride (the course used 3).")
    max_size: int = config.option(1024, "Longer side in pixels above which the picture is "
                                        "scaled down before filtering (0: never; filtering "
                                        "takes about 320 bytes a pixel).")


def main(argv=None) -> dict:
    cfg = config.parse(Config, argv, __doc__, prog="l07_kernels")
    if cfg.stride < 1:
        raise ValueError(f"--stride must be at least 1, got {cfg.stride}")
    if cfg.max_size < 0:
        raise ValueError(f"--max-size must be 0 (never scale) or a size in pixels, "
                         f"got {cfg.max_size}")
    # Read (and checked) before any run directory is made: a bad --image leaves nothing behind.
    path = images.locate(cfg.image or "friday", cfg.data_dir)
    # The header tells the size before anything is decoded: a huge photo would fill memory.
    file_height, file_width = images.dimensions(path)
    images.check_decodable(path, file_height, file_width)
    image = images.load(path)  # (height, width, 3) in [0, 255]
    if cfg.max_size and max(file_height, file_width) > cfg.max_size:
        image = images.resize_longer_side(image, cfg.max_size)
        print(f"{path} is {file_height}x{file_width}: filtering it scaled down to "
              f"{image.shape[0]}x{image.shape[1]} (--max-size {cfg.max_size}); at full size "
              f"it would take about {kernels.memory_gigabytes(file_height, file_width):.1f} GB "
              f"of memory")
    image = image / 255.0  # in [0, 1]
    run = runtime.start("l07_kernels", cfg)
    print(f"Filtering {path} ({image.shape[0]}x{image.shape[1]})")

    gray = kernels.filter_all(tf.image.rgb_to_grayscale(image), cfg.stride)  # name -> (h, w, 1)
    colour = kernels.filter_all(image, cfg.stride)  # name -> (h, w, 3)
    names = list(gray)
    plots.image_grid([gray[name][:, :, 0] for name in names] + [colour[name] for name in names],
                     [f"{name} (gray)" for name in names] + [f"{name} (RGB)" for name in names],
                     run.path("kernels.png"), columns=len(names),
                     title=f"3x3 kernels, stride {cfg.stride}")
    # TensorBoard needs one shape per batch; the original is larger when the stride is > 1.
    for name in names:
        summaries.images(run.writer, f"kernels/{name}",
                         np.stack([np.repeat(gray[name], 3, axis=-1), colour[name]]), step=0)
    print(f"Filtered images: {run.path('kernels.png')}")
    results = {f"gray_mean/{name}": float(values.mean()) for name, values in gray.items()}
    results.update({"image/height": int(image.shape[0]), "image/width": int(image.shape[1]),
                    "image/file_height": file_height, "image/file_width": file_width})
    return run.finish(results)


if __name__ == "__main__":
    cli.guard(main)
