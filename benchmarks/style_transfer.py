"""Lecture 8b: seconds per step by backbone, image size and mode; grain and edge lines; JSON.

    CS20_DATA_DIR=../shared/data python benchmarks/style_transfer.py [--steps 5]
        [--backbones squeezenet,vgg19] [--tv-weights 0,0.1,1] [--quality-size 512]
        [--quality-steps N] [--tiny]

For each backbone (SqueezeNet with its ImageNet weights; VGG-19 with random weights when its
ImageNet weights are not at hand, which costs exactly the same time per step), each image
size (the longer side, 256 and 512 pixels, grace_hopper.jpg with starry_night.jpg) and each
mode (eager, tf.function, tf.function with XLA), one Adam step of the image is run once to
warm up (tracing, compiling) and then timed over `--steps` steps.

Quality: lecture 8b (python -m lectures.l08_style_transfer) run to the end (its own
process, default flags otherwise, --quality-steps for its --num-steps) for each
`--tv-weights` value at `--quality-size`, with the figures from its results.json:
`final/high_frequency_ratio`, the result's mean squared Laplacian over the content
photo's (grain; the style picture's own ratio is printed for reference), and
`final/border_step_ratio`, the largest step from an edge row or column to its neighbour
over the mean step between interior neighbours (about 1: no line along the edge).

Pairs (`--pairs`, instead of the above): the lecture at its defaults (and --quality-size,
--quality-steps) on each of PAIRS, content photos of people, a cat and a dog in the styles
of paintings and of photos (dark, bright, textured, flat, grey), reporting per pair
`final/edge_correlation` (the Pearson correlation of the result's and the photo's Sobel
edge maps, averaged over 4x4 blocks: the photo's outlines kept), `final/colour_movement`
(1 - d(result, style) / d(photo, style), d the L1 distance of 8x8x8-bin RGB histograms:
the colours moved to the style's), the grain and edge-line figures and the seconds; and,
with `--grid PATH`, one PNG of every pair: photo | style | result.
"""

from __future__ import annotations

import json
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

from cs20 import plots
from cs20.datasets import images
from lectures.l08_style_transfer import backbone, measures, model  # its network, losses, step

import keras
import options
import tensorflow as tf

MODES = {"eager": None, "tf_function": False, "tf_function_xla": True}
ROOT = pathlib.Path(__file__).resolve().parents[1]
QUALITY_FIGURES = ("final/high_frequency_ratio", "final/border_step_ratio", "final/style_loss",
                   "final/content_loss", "wall_seconds")


def pictures(image_size: int):
    """grace_hopper scaled to `image_size` and starry_night fitted to it, (h, w, 3) each."""
    content_image = images.resize_longer_side(images.load(images.locate("grace_hopper")),
                                              image_size)
    height, width = content_image.shape[:2]
    return content_image, images.fit(images.load(images.locate("starry_night")), height, width)


def quality(tv_weight: float, image_size: int, num_steps: int) -> dict:
    """A full lecture run with this total-variation weight (`num_steps` steps, 0: the
    lecture's): its grain and edge figures."""
    results, _ = lecture_run(["--tv-weight", str(tv_weight), "--image-size", str(image_size),
                              *(["--num-steps", str(num_steps)] if num_steps else [])])
    return results if "error" in results else {name: results[name] for name in QUALITY_FIGURES}


# What a transfer must reach on every pair (issue 29): the photo's outlines, the style's colours.
EDGE_TARGET, COLOUR_TARGET = 0.5, 0.3
# (content, style) files in the shared images folder: the shipped pair first.
PAIRS = (("grace_hopper.jpg", "starry_night.jpg"), ("astronaut.png", "guernica.jpg"),
         ("chelsea.png", "hubble_deep_field.jpg"), ("chelsea.png", "starry_night.jpg"),
         ("friday.jpg", "hubble_deep_field.jpg"), ("friday.jpg", "pattern.jpg"),
         ("deadpool.jpg", "harlequin.jpg"), ("astronaut.png", "brick.png"),
         ("grace_hopper.jpg", "gravel.png"), ("deadpool.jpg", "grass.png"),
         ("chelsea.png", "harlequin.jpg"), ("astronaut.png", "pattern.jpg"))
PAIR_FIGURES = ("final/edge_correlation", "final/colour_movement",
                "final/high_frequency_ratio", "final/border_step_ratio", "wall_seconds")


def lecture_run(flags: list[str]) -> tuple[dict, tf.Tensor | None]:
    """The lecture run to the end in its own process: (its results.json, or {"error": its
    last line}; its final.png (height, width, 3) or None)."""
    with tempfile.TemporaryDirectory() as scratch:
        completed = subprocess.run(
            [sys.executable, "-m", "lectures.l08_style_transfer", "--run-dir", scratch,
             "--quiet", *flags], capture_output=True, text=True, cwd=ROOT)
        if completed.returncode != 0:
            return {"error": completed.stderr.strip().splitlines()[-1]}, None
        return (json.loads((pathlib.Path(scratch) / "results.json").read_text()),
                images.load(pathlib.Path(scratch) / "final.png"))


def pair_benchmark(arguments) -> dict:
    """Every pair of PAIRS at the lecture's defaults: its figures, and the grid."""
    folder = images.locate("starry_night").parent  # the shared images
    size_flags = ["--image-size", str(arguments.quality_size),
                  *(["--num-steps", str(arguments.quality_steps)] if arguments.quality_steps
                    else [])]
    figures, grid, titles = {}, [], []
    for content, style in PAIRS:
        results, final = lecture_run(["--content", str(folder / content), "--style",
                                      str(folder / style), *size_flags])
        name = f"{pathlib.Path(content).stem}_in_{pathlib.Path(style).stem}"
        figures[name] = results if final is None else {
            figure: round(results[figure], 3) for figure in PAIR_FIGURES}
        if final is not None:
            height, width = final.shape[:2]
            style_image = images.fit(images.load(folder / style), height, width)
            grid += [images.to_uint8(images.resize_longer_side(images.load(folder / content),
                                                               max(height, width))),
                     images.to_uint8(style_image), images.to_uint8(final)]
            titles += [content, style, "edge {:.2f}, colour {:.2f}".format(
                results["final/edge_correlation"], results["final/colour_movement"])]
    measured = [row for row in figures.values() if "error" not in row]
    summary = {"pairs": len(PAIRS), "failed_runs": len(PAIRS) - len(measured),
               "lowest_edge_correlation": min(row["final/edge_correlation"] for row in measured),
               "lowest_colour_movement": min(row["final/colour_movement"] for row in measured),
               "pairs_on_target": sum(row["final/edge_correlation"] >= EDGE_TARGET
                                      and row["final/colour_movement"] >= COLOUR_TARGET
                                      for row in measured)} if measured else {}
    if arguments.grid and grid:
        plots.image_grid(grid, titles, pathlib.Path(arguments.grid), columns=3,
                         title="Lecture 8b at its defaults: photo | style | result")
    return {"pairs": figures, "summary": summary, "image_size": arguments.quality_size,
            "machine": platform.processor() or platform.machine(),
            "tensorflow": tf.__version__}


def seconds_per_step(backbone_name: str, image_size: int, jit_compile: bool | None,
                     num_steps: int) -> float:
    """Mean seconds of one update of the image; jit_compile None runs the step eagerly."""
    content_image, style_image = pictures(image_size)
    layers = backbone.BACKBONE_LAYERS[backbone_name]
    weights = "default" if backbone_name == "squeezenet" else None
    if backbone_name == "vgg19" and backbone.VGG19_CACHE_FILE.is_file():
        weights = "default"
    extractor = backbone.feature_extractor(backbone.build_backbone(backbone_name, weights),
                                           layers)
    goal = model.targets(extractor, content_image, style_image)
    image = model.generated_image(model.initial_image(content_image, 0.6, 0))
    optimizer = keras.optimizers.Adam(1.0)
    optimizer.build([image.pixels])
    weights = model.LossWeights(0.01, 1.0, 0.0)
    step = model.make_train_step(
        image, optimizer, lambda pixels: model.losses(extractor, pixels, goal, layers, weights))
    if jit_compile is not None:
        step = tf.function(step, jit_compile=jit_compile)
    float(step()["loss"])  # warm-up: tracing and compiling are not timed
    started = time.perf_counter()
    for _ in range(num_steps):
        terms = step()
    float(terms["loss"])  # waits for the last step to finish
    return (time.perf_counter() - started) / num_steps


def main(argv=None) -> None:
    parser = options.Parser(__doc__, tiny={"steps": 1, "backbones": "squeezenet", "sizes": "64",
                                           "tv_weights": "0", "quality_size": 64,
                                           "quality_steps": 2})
    parser.add_argument("--steps", type=int, default=5, help="timed steps per configuration")
    parser.add_argument("--backbones", default="squeezenet,vgg19",
                        help="comma-separated: squeezenet, vgg19")
    parser.add_argument("--sizes", default="256,512",
                        help="comma-separated image sizes for the timings (empty: none)")
    parser.add_argument("--tv-weights", default="0,0.1,1",
                        help="comma-separated total-variation weights for the quality runs "
                             "(empty: none)")
    parser.add_argument("--quality-size", type=int, default=512,
                        help="image size of the quality runs")
    parser.add_argument("--quality-steps", type=int, default=0,
                        help="steps of the quality runs (0: the lecture's)")
    parser.add_argument("--pairs", action="store_true",
                        help="instead: the lecture at its defaults on every pair of PAIRS")
    parser.add_argument("--grid", default="",
                        help="with --pairs: write photo | style | result of every pair here")
    arguments = parser.parse_args(argv)
    unknown = [name for name in arguments.backbones.split(",")
               if name not in backbone.BACKBONE_LAYERS]
    if unknown or arguments.steps < 1:
        parser.error(f"unknown backbone {', '.join(unknown)}" if unknown else "--steps must be >= 1")
    options.print_json(measure, arguments)


def measure(arguments) -> dict:
    if arguments.pairs:
        return pair_benchmark(arguments)
    table = {}
    for backbone_name in arguments.backbones.split(","):
        for image_size in [int(size) for size in arguments.sizes.split(",") if size]:
            row = {mode: round(seconds_per_step(backbone_name, image_size, jit, arguments.steps), 4)
                   for mode, jit in MODES.items()}
            row["tf_function_speedup_over_eager"] = round(row["eager"] / row["tf_function"], 2)
            table[f"{backbone_name}_{image_size}px"] = row
    content_image, style_image = pictures(arguments.quality_size)
    tv_weights = [float(weight) for weight in arguments.tv_weights.split(",") if weight]
    grain = {"style_picture_high_frequency_ratio": round(
                 measures.high_frequency_energy(style_image)
                 / measures.high_frequency_energy(content_image), 3),
             **{f"tv_weight_{weight:g}": quality(weight, arguments.quality_size,
                                                 arguments.quality_steps)
                for weight in tv_weights}}
    return {"seconds_per_step": table,
            f"quality_{arguments.quality_size}px": grain,
            "vgg19_weights": "imagenet" if backbone.VGG19_CACHE_FILE.is_file()
            else "random (same cost per step; ImageNet weights not available here)",
            "steps_timed": arguments.steps,
            "machine": platform.processor() or platform.machine(),
            "tensorflow": tf.__version__}


if __name__ == "__main__":
    main()
