"""Lecture 8b's style-transfer step: seconds per step by backbone, image size and mode, as JSON.

    CS20_DATA_DIR=../shared/data python benchmarks/style_transfer.py [--steps 5]
                                                                     [--backbones squeezenet,vgg19]

For each backbone (SqueezeNet with its ImageNet weights; VGG-19 with random weights when its
ImageNet weights are not at hand, which costs exactly the same time per step), each image
size (the longer side, 256 and 512 pixels, grace_hopper.jpg with starry_night.jpg) and each
mode (eager, tf.function, tf.function with XLA), one Adam step of the image is run once to
warm up (tracing, compiling) and then timed over `--steps` steps.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

from cs20.datasets import images
from cs20.models import style_transfer

import keras
import tensorflow as tf

MODES = {"eager": None, "tf_function": False, "tf_function_xla": True}


def seconds_per_step(backbone_name: str, image_size: int, jit_compile: bool | None,
                     num_steps: int) -> float:
    """Mean seconds of one update of the image; jit_compile None runs the step eagerly."""
    content_image = images.resize_longer_side(images.load(images.locate("grace_hopper")),
                                              image_size)
    height, width = content_image.shape[:2]
    style_image = images.fit(images.load(images.locate("starry_night")), height, width)
    layers = style_transfer.BACKBONE_LAYERS[backbone_name]
    weights = "default" if backbone_name == "squeezenet" else None
    if backbone_name == "vgg19" and style_transfer.VGG19_CACHE_FILE.is_file():
        weights = "default"
    backbone = style_transfer.build_backbone(backbone_name, weights)
    extractor = style_transfer.feature_extractor(backbone, layers)
    goal = style_transfer.targets(extractor, content_image, style_image)
    image = style_transfer.GeneratedImage(style_transfer.initial_image(content_image, 0.6, 0))
    optimizer = keras.optimizers.Adam(1.0)
    optimizer.build([image.pixels])
    step = style_transfer.make_step(extractor, image, optimizer, goal, layers,
                                    style_transfer.LossWeights(0.01, 1.0, 0.0))
    if jit_compile is not None:
        step = tf.function(step, jit_compile=jit_compile)
    float(step()["loss"])  # warm-up: tracing and compiling are not timed
    started = time.perf_counter()
    for _ in range(num_steps):
        terms = step()
    float(terms["loss"])  # waits for the last step to finish
    return (time.perf_counter() - started) / num_steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per configuration")
    parser.add_argument("--backbones", default="squeezenet,vgg19",
                        help="comma-separated: squeezenet, vgg19")
    parser.add_argument("--sizes", default="256,512", help="comma-separated image sizes")
    arguments = parser.parse_args()
    backbones = arguments.backbones.split(",")
    unknown = [name for name in backbones if name not in style_transfer.BACKBONE_LAYERS]
    if unknown or arguments.steps < 1:
        parser.error(f"unknown backbone {', '.join(unknown)}" if unknown else "--steps must be >= 1")

    table = {}
    for backbone_name in backbones:
        for image_size in map(int, arguments.sizes.split(",")):
            row = {mode: round(seconds_per_step(backbone_name, image_size, jit, arguments.steps), 4)
                   for mode, jit in MODES.items()}
            row["tf_function_speedup_over_eager"] = round(row["eager"] / row["tf_function"], 2)
            table[f"{backbone_name}_{image_size}px"] = row
    print(json.dumps({"seconds_per_step": table,
                      "vgg19_weights": "imagenet" if style_transfer.VGG19_CACHE_FILE.is_file()
                      else "random (same cost per step; ImageNet weights not available here)",
                      "steps_timed": arguments.steps,
                      "machine": platform.processor() or platform.machine(),
                      "tensorflow": tf.__version__}, indent=2))


if __name__ == "__main__":
    main()
