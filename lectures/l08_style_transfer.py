"""Lecture 8b: neural style transfer, where the only variable trained is an image.

Gatys et al. (2015), as in the course's assignment 2: a frozen ImageNet ConvNet turns
pictures into feature maps; the generated image keeps the content picture's maps at one
deep layer (content loss) and takes on the Gram matrices, i.e. which channels fire
together, of the style picture at five layers (style loss). Adam changes the pixels,
which are clipped to [0, 255] after every step. The course used VGG-19 from a 535 MB
MatConvNet file; here VGG-19 comes from keras.applications when its weights are
available, otherwise SqueezeNet v1.1 (3 MB, in the shared data) takes its place, and the
run says which. The image and Adam's moments are checkpointed, so a run resumes.

Two additions to the course: a total-variation term (--tv-weight 30; the course's was 0)
that smooths the pixel-to-pixel grain Adam leaves, as absolute differences, which cost a
sharp edge no more than a gentle ramp of the same height; and the picture mirrored 16
pixels past its edges before the backbone, so that the edge rows and columns are
optimised like the rest (SqueezeNet's unpadded first convolution skipped the last row and
column of an even size, which kept their starting noise: a lighter line). results.json
reports both: final/high_frequency_ratio (the result's mean squared Laplacian over the
photo's) and final/border_step_ratio (an edge row's step to its neighbour over the
interior's; about 1 when no edge stands out).

    python lectures/l08_style_transfer.py
    python lectures/l08_style_transfer.py --content PATH --style images/guernica.jpg
    tensorboard --logdir runs/l08_style_transfer

Our run on 2 CPU cores (grace_hopper + starry_night, SqueezeNet, 512 px, 500 steps): the
portrait painted in Starry Night's brush strokes and blues (content_style_result.png),
high-frequency energy 2.06x the photo's (the painting's own: 2.34x; 5.66x without the
total-variation term), edge steps at most 1.03x the interior's (2.25 at the bottom row
before the mirror), style loss 163 (91 without the term). 47 s in all before these
changes on a quiet machine; 339 s on the busy shared one we measured them on.
"""

from __future__ import annotations

import dataclasses

from cs20 import checkpoints, cli, config, runtime, summaries, training
from cs20.datasets import images
from cs20.models import style_transfer

import keras
import tensorflow as tf

LECTURE = "l08_style_transfer"


@dataclasses.dataclass(frozen=True)
class Config(config.TrainConfig):
    content: str = config.option("grace_hopper", "Content picture: a path or a registered "
                                                 "image name.")
    style: str = config.option("starry_night", "Style picture: a path or a registered name.")
    image_size: int = config.option(512, "Longer side of the generated image, in pixels.")
    num_steps: int = config.option(500, "Adam steps on the image.")
    batch_size: int = config.option(1, "Unused: style transfer optimises one image.")
    learning_rate: float = config.option(2.0, "Adam learning rate, in pixel values (0-255).")
    content_weight: float = config.option(0.01, "Weight of the content loss (course: 0.01).")
    style_weight: float = config.option(1.0, "Weight of the style loss (course: 1).")
    tv_weight: float = config.option(30.0, "Weight of the total-variation loss: smooths the "
                                           "pixel grain away (0: off, as the course).")
    backbone: str = config.option("auto", "Feature network (auto: VGG-19 if its weights are "
                                          "available, else SqueezeNet).",
                                  choices=("auto", "vgg19", "squeezenet"))
    weights: str = config.option("", "Local .h5 weights for --backbone (default: ImageNet).")
    pooling: str = config.option("average", "Pooling in the backbone (the course: average).",
                                 choices=("average", "max"))
    noise_ratio: float = config.option(0.6, "Share of noise in the first image (0: start "
                                            "from the content picture).")
    checkpoint_every: int = config.option(100, "Save a checkpoint every N steps.")
    summary_every: int = config.option(50, "Log the losses and save the image every N steps.")

    def __post_init__(self):
        super().__post_init__()
        if self.strategy != "default":
            raise ValueError(f"--strategy {self.strategy} has nothing to split: style transfer "
                             "optimises one image, not batches of a dataset; use --strategy "
                             "default")
        if not 0.0 <= self.noise_ratio <= 1.0:
            raise ValueError(f"--noise-ratio must be between 0 and 1, got {self.noise_ratio}")
        if self.image_size < 32:
            raise ValueError(f"--image-size must be at least 32 pixels, got {self.image_size}")


def main(argv=None) -> dict:
    cfg = config.parse(Config, argv, __doc__, prog=LECTURE)
    run = runtime.start(LECTURE, cfg)

    # The pictures: content scaled to --image-size, style cropped to the content's shape.
    content_image = images.resize_longer_side(
        images.load(images.locate(cfg.content, cfg.data_dir)), cfg.image_size)
    height, width = content_image.shape[:2]
    style_image = images.fit(images.load(images.locate(cfg.style, cfg.data_dir)), height, width)

    # The frozen feature network and the targets it gives for the two pictures.
    backbone_name, reason = style_transfer.choose_backbone(cfg.backbone, cfg.weights)
    print(f"Backbone: {backbone_name} ({reason})")
    layers = style_transfer.BACKBONE_LAYERS[backbone_name]
    backbone = style_transfer.build_backbone(backbone_name, cfg.weights or "default",
                                             cfg.pooling, cfg.data_dir)
    extractor = style_transfer.feature_extractor(backbone, layers)
    goal = style_transfer.targets(extractor, content_image, style_image)
    weights = style_transfer.LossWeights(cfg.content_weight, cfg.style_weight, cfg.tv_weight)

    # The image is the model: its pixels and Adam's moments are all a checkpoint holds.
    start = style_transfer.initial_image(content_image, cfg.noise_ratio, cfg.seed)
    with run.strategy.scope():
        image = style_transfer.GeneratedImage(start)
        optimizer = training.with_loss_scaling(keras.optimizers.Adam(cfg.learning_rate))
        optimizer.build([image.pixels])
        step = tf.Variable(0, dtype=tf.int64, name="global_step", trainable=False)
    checkpoint = checkpoints.make(step, image, optimizer)
    step_fn = training.compile_step(
        run.strategy, style_transfer.make_step(extractor, image, optimizer, goal, layers, weights),
        jit_compile=cfg.jit_compile)

    def save_image(current: int) -> None:
        images.save_png(image.pixels[0], run.path(f"step_{current:05d}.png"))
        summaries.images(run.writer, "generated", image.pixels / 255.0, current)

    results = training.train(run, step_fn=step_fn, iterator=None,
                             checkpoint=checkpoint, step=step,
                             schedule=training.make_schedule(cfg, steps_per_epoch=cfg.num_steps),
                             on_summary=save_image)

    # How far the loss fell, from the first image to the last.
    first = style_transfer.losses(extractor, start, goal, layers, weights)
    last = style_transfer.losses(extractor, image.pixels, goal, layers, weights)
    results.update({f"final/{name}": value for name, value in training.to_floats(last).items()})
    results["initial/loss"] = float(first["loss"])
    results["final/loss_reduction"] = float(first["loss"] / last["loss"])
    results["backbone"] = backbone_name
    # Grain (the result's high-frequency energy over the photo's) and edge lines (an edge
    # row's step to its neighbour over the interior's; about 1 when there is none).
    final = image.pixels[0].numpy()  # (height, width, 3)
    results["final/high_frequency_ratio"] = (style_transfer.high_frequency_energy(final)
                                             / style_transfer.high_frequency_energy(content_image))
    results["final/border_step_ratio"] = max(style_transfer.border_steps(final).values())

    images.save_png(image.pixels[0], run.path("final.png"))
    # Full resolution, side by side, to judge by eye: content | style | result.
    images.save_png(tf.concat([content_image, style_image, image.pixels[0]], axis=1),
                    run.path("content_style_result.png"))
    print(f"Result: {run.path('final.png')} and {run.path('content_style_result.png')}")
    return run.finish(results, steps=int(step.numpy()))


if __name__ == "__main__":
    cli.guard(main)
