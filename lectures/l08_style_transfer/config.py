"""Lecture 8b's settings (each one a flag: python -m lectures.l08_style_transfer --help)."""

from __future__ import annotations

import dataclasses

from cs20 import config

# The smallest side a picture may have, as --image-size: smaller, SqueezeNet's unpadded
# layers run out of rows, and a picture upscaled from a few pixels has nothing to transfer.
MIN_SIDE = 32


@dataclasses.dataclass(frozen=True)
class Config(config.TrainConfig):
    content: str = config.option("grace_hopper", "Content picture: a path or a registered name.")
    style: str = config.option("starry_night", "Style picture: a path or a registered name.")
    image_size: int = config.option(512, "Longer side of the generated image, in pixels.")
    num_steps: int = config.option(500, "Adam steps on the image.")
    batch_size: int = config.option(1, "Unused: style transfer optimises one image.")
    learning_rate: float = config.option(2.0, "Adam learning rate, in pixel values (0-255).")
    content_weight: float = config.option(
        4.0, "Weight of the content loss, a share of the photo's features: higher keeps "
             "more of the photo's outlines (and fewer of the style's strokes).")
    style_weight: float = config.option(
        10.0, "Weight of the style loss, a share of the style's Gram matrices: higher "
              "paints more of the style's texture (and colours) over the photo's outlines.")
    tv_weight: float = config.option(
        0.1, "Weight of the total-variation loss, a share of the photo's own: higher "
             "smooths the pixel grain away, and then fine detail (0: off, as the course).")
    backbone: str = config.option("auto", "Feature network (auto: VGG-19 if its weights are "
                                          "available, else SqueezeNet).",
                                  choices=("auto", "vgg19", "squeezenet"))
    weights: str = config.option("", "Local .h5 weights for --backbone (default: ImageNet).")
    pooling: str = config.option("average", "Pooling in the backbone (the course: average).",
                                 choices=("average", "max"))
    colours: str = config.option(
        "style", "Colours of the first image and of the content target: style (the photo "
                 "given the style's palette, as far as its outlines survive it) or content "
                 "(the photo's own, as the course: the style loss alone must move them).",
        choices=("style", "content"))
    noise_ratio: float = config.option(0.0, "Share of noise in the first image (0: start "
                                            "from the content picture; the course: 0.6).")
    checkpoint_every: int = config.option(100, "Save a checkpoint every N steps.")
    summary_every: int = config.option(50, "Log the losses and save the image every N steps.")

    def __post_init__(self):
        super().__post_init__()
        if self.strategy != "default":
            raise ValueError(f"--strategy {self.strategy} has nothing to split: style transfer "
                             "optimises one image, not batches; use --strategy default")
        if not 0.0 <= self.noise_ratio <= 1.0:
            raise ValueError(f"--noise-ratio must be between 0 and 1, got {self.noise_ratio}")
        if self.image_size < MIN_SIDE:
            raise ValueError(f"--image-size must be at least {MIN_SIDE} pixels, "
                             f"got {self.image_size}")
