"""Lecture 8b: neural style transfer, where the only variable trained is an image.

Gatys et al. (2015), as in the course's assignment 2. A frozen ImageNet ConvNet turns
pictures into feature maps (cs20/models/style_transfer.py: VGG-19 if its weights are at hand,
else SqueezeNet v1.1; the picture is mirrored 16 pixels past its edges so that the edge
pixels are optimised like the rest). The lesson:

1. the Gram matrix of a layer's feature maps: which channels fire together, positions
   summed away. That is what "style" means here;
2. three losses: content (a deep layer's maps against the photo's), style (five layers' Gram
   matrices against the painting's), total variation (neighbours kept close, --tv-weight);
3. the image as the only variable and its step: Adam moves the pixels, clipped to
   [0, 255]. The image and Adam's moments are checkpointed, so a run resumes.

Defaults for any pair of pictures. The course's losses are sums that grow with the
pictures (a bright painting's Gram matrices are 100 times a dark photo's), so its fixed
weights balanced them for its own pair only; elsewhere the style wiped the photo out or
never showed. Here each loss is a share of its own size (the content loss of the photo's
features, each style layer's of its Gram matrix, the total variation of the photo's own),
so --content-weight 1, --style-weight 10 and --tv-weight 0.1 mean the same for every pair.
The image starts from the photo, not the course's noise (which washed out its outlines),
recoloured to the style's mean colour and colour covariance (--colours style): outlines
kept, colours already the style's, so the style loss only adds the texture. Measured
on 12 pairs by benchmarks/style_transfer.py --pairs (docs/style_transfer_pairs.json).

    python lectures/l08_style_transfer.py
    python lectures/l08_style_transfer.py --content PATH --style images/guernica.jpg
    tensorboard --logdir runs/l08_style_transfer

It first prints each style layer's Gram matrix shape and the losses at step 0. Look at
content_style_result.png (photo | painting | result), the `generated` images in TensorBoard,
and in results.json final/high_frequency_ratio (the result's grain over the photo's),
final/border_step_ratio (edge rows against the interior, about 1 when no edge stands out),
final/edge_correlation (the photo's outlines kept: 1, lost: 0) and final/colour_movement
(the colours moved from the photo's to the style's: 0 none, 1 all the way).
Figures: the README's Lectures table, row "8b style transfer".
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

from cs20 import checkpoints, cli, config, runtime, summaries, training
from cs20.datasets import images
from cs20.models import style_transfer

import keras
import tensorflow as tf

LECTURE = "l08_style_transfer"
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
        1.0, "Weight of the content loss, a share of the photo's features: higher keeps "
             "more of the photo's outlines.")
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
                 "recoloured to the style's mean colour and spread, outlines kept) or "
                 "content (the photo's own, as the course: the style loss alone must move "
                 "them).", choices=("style", "content"))
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


# 1. Style as Gram matrices.

def gram_matrix(features: tf.Tensor) -> tf.Tensor:
    """(1, height, width, channels) -> (channels, channels): F^T F with F = (positions, channels)."""
    channels = tf.shape(features)[-1]
    flat = tf.reshape(features, (-1, channels))  # (height * width, channels)
    return tf.matmul(flat, flat, transpose_a=True)


# 2. The three losses.

def content_loss(generated: tf.Tensor, content: tf.Tensor) -> tf.Tensor:
    """The course's content loss: sum of squared differences / (4 * number of values)."""
    size = tf.cast(tf.size(content), generated.dtype)
    return tf.reduce_sum(tf.square(generated - content)) / (4.0 * size)


def style_loss(generated_features, style_grams, layer_weights) -> tf.Tensor:
    """Sum over layers of weight * E_l, E_l = sum (G - A)^2 / (4 N^2 M^2) with N channels
    and M positions (Gatys eq. 4); features (1, h, w, c) each, grams (c, c) each."""
    total = 0.0
    for features, style_gram, weight in zip(generated_features, style_grams, layer_weights,
                                            strict=True):
        shape = tf.cast(tf.shape(features), features.dtype)  # (1, h, w, c)
        positions, channels = shape[1] * shape[2], shape[3]
        squared_error = tf.reduce_sum(tf.square(gram_matrix(features) - style_gram))
        total += weight * squared_error / (4.0 * channels ** 2 * positions ** 2)
    return total


def total_variation_loss(images: tf.Tensor) -> tf.Tensor:
    """Sum of absolute differences between vertical and horizontal neighbours, per pixel.

    Absolute differences cost a sharp edge no more than a gentle ramp of the same height,
    so edges stay while the grain goes. The picture is taken as mirrored past its edges:
    an edge pixel's one difference to the inside counts twice, as a pixel inside has two
    neighbours along each axis (counted once, the edge rows stood out as a grainy line).
    """
    vertical = tf.abs(images[:, 1:, :, :] - images[:, :-1, :, :])  # (batch, height - 1, width, c)
    horizontal = tf.abs(images[:, :, 1:, :] - images[:, :, :-1, :])  # (batch, height, width - 1, c)
    edges = (tf.reduce_sum(vertical[:, :1]) + tf.reduce_sum(vertical[:, -1:])
             + tf.reduce_sum(horizontal[:, :, :1]) + tf.reduce_sum(horizontal[:, :, -1:]))
    num_pixels = tf.cast(tf.reduce_prod(tf.shape(images)[:3]), images.dtype)
    return (tf.reduce_sum(vertical) + tf.reduce_sum(horizontal) + edges) / num_pixels


class Goal(NamedTuple):
    """What the image is pulled towards, and each loss's scale (see `targets`)."""
    content_features: tf.Tensor  # (1, h, w, c)
    style_grams: tuple  # one (c, c) Gram matrix per style layer
    content_scale: tf.Tensor  # the content loss of features all zero
    style_scales: tuple  # per style layer, its loss for features all zero
    total_variation_scale: tf.Tensor  # the content picture's own total variation


def targets(extractor: keras.Model, content_image: tf.Tensor, style_image: tf.Tensor) -> Goal:
    """The content's features, the style's Gram matrices and the losses' scales; the
    pictures are (height, width, 3) RGB in [0, 255].

    The course's losses are sums whose size depends on the pictures (a bright painting's
    Gram matrices are 100 times a dark photo's), so fixed weights balanced them for one
    pair only. Divided by its scale, each loss is a share: the content loss of the
    photo's features' energy, each style layer's of its target Gram matrix's, the total
    variation of the photo's own. A weight then means the same for every pair.
    """
    content_features = extractor(content_image[tf.newaxis])[0]
    style_features = extractor(style_image[tf.newaxis])[1:]
    style_grams = tuple(gram_matrix(features) for features in style_features)
    return Goal(content_features, style_grams,
                content_loss(tf.zeros_like(content_features), content_features),
                tuple(style_loss([tf.zeros_like(features)], [gram], (1.0,))
                      for features, gram in zip(style_features, style_grams, strict=True)),
                # At least one grey level: a flat photo has none.
                tf.maximum(total_variation_loss(content_image[tf.newaxis]), 1.0))


def content_target(colours: str, content_image: tf.Tensor, style_image: tf.Tensor) -> tf.Tensor:
    """The photo the content loss holds the image to, and the image starts from:
    (height, width, 3). colours "style": recoloured to the style's mean colour and colour
    covariance (style_transfer.matched_colours); "content": the photo as it is."""
    if colours == "content":
        return content_image
    return tf.constant(style_transfer.matched_colours(content_image, style_image))


@dataclasses.dataclass(frozen=True)
class LossWeights:
    content: float
    style: float
    total_variation: float


def losses(extractor: keras.Model, image: tf.Tensor, goal: Goal, layers: style_transfer.Layers,
           weights: LossWeights) -> dict:
    """The three weighted terms and their sum for an image (1, h, w, 3) in [0, 255], each
    loss divided by its scale; the style layers' weights are shares summing to 1."""
    features = extractor(image)  # [content maps, style maps...]
    total_style_weight = sum(layers.style_weights)
    layer_weights = [weight / (total_style_weight * scale)
                     for weight, scale in zip(layers.style_weights, goal.style_scales,
                                              strict=True)]
    terms = {"content_loss": weights.content * content_loss(features[0], goal.content_features)
             / goal.content_scale,
             "style_loss": weights.style * style_loss(features[1:], goal.style_grams,
                                                      layer_weights),
             "tv_loss": weights.total_variation * total_variation_loss(image)
             / goal.total_variation_scale}
    return {"loss": terms["content_loss"] + terms["style_loss"] + terms["tv_loss"], **terms}


# 3. The image is the only variable; its step.

def generated_image(initial: tf.Tensor) -> keras.Model:
    """The only variable: the pixels, (1, height, width, 3) RGB in [0, 255], held by an
    otherwise empty Keras model so that the shared checkpoint code saves them."""
    image = keras.Model(name="generated_image")
    image.pixels = image.add_weight(shape=initial.shape, initializer="zeros", name="pixels")
    image.pixels.assign(initial)
    return image


def make_train_step(image: keras.Model, optimizer, loss_terms):
    """One Adam update of the pixels, then clipped; `loss_terms(pixels)` returns a dict
    with the "loss" to minimise (and its terms). Returns the terms before the update."""

    def train_step(_batch=None):  # no data: training.train calls it with iterator=None
        with tf.GradientTape() as tape:
            terms = loss_terms(image.pixels)
            # Only a LossScaleOptimizer (mixed float16) scales; others return the loss as is.
            scaled = optimizer.scale_loss(terms["loss"])
        gradients = tape.gradient(scaled, [image.pixels])  # [(1, height, width, 3)]
        optimizer.apply(gradients, [image.pixels])
        image.pixels.assign(style_transfer.clip(image.pixels))
        return terms

    return train_step


def print_worked_example(extractor, goal, layers, start, first: dict) -> None:
    """The shapes behind the losses, and the losses of the first image."""
    features = extractor(start)
    print(f"Worked example: content layer {layers.content} {tuple(features[0].shape)}")
    for name, maps, gram in zip(layers.style, features[1:], goal.style_grams, strict=True):
        print(f"  style layer {name:<14} {tuple(maps.shape)} -> Gram matrix {tuple(gram.shape)}")
    print("  losses at step 0 (weighted): " + ", ".join(
        f"{name} {float(value):,.1f}" for name, value in first.items()))


def checked_picture(name_or_path: str, flag: str, data_dir) -> tuple:
    """(path, (height, width)) of a picture whose header says it can be decoded and is
    large enough to carry a content or a style; one-line errors otherwise."""
    path = images.locate(name_or_path, data_dir, flag)
    height, width = images.dimensions(path)  # from the header: nothing decoded yet
    images.check_decodable(path, height, width)
    if min(height, width) < MIN_SIDE:
        raise ValueError(f"{flag} {path} is {height}x{width}: a picture needs at least "
                         f"{MIN_SIDE} pixels a side")
    return path, (height, width)


def read_pictures(cfg: Config) -> tuple[tf.Tensor, tf.Tensor]:
    """(content, style), (height, width, 3) each in [0, 255]: the content scaled to
    --image-size, the style scaled and cropped to the content's shape."""
    content_path, (height, width) = checked_picture(cfg.content, "--content", cfg.data_dir)
    style_path, _ = checked_picture(cfg.style, "--style", cfg.data_dir)
    scaled = images.longer_side_size(height, width, cfg.image_size)
    if min(scaled) < MIN_SIDE:
        raise ValueError(
            f"--content {content_path} is {height}x{width}, so {scaled[0]}x{scaled[1]} at "
            f"--image-size {cfg.image_size}: under the {MIN_SIDE} pixels a side the network "
            f"needs; crop it or give --image-size "
            f"{-(-MIN_SIDE * max(height, width) // min(height, width))} or more")
    content_image = images.resize_longer_side(images.load(content_path), cfg.image_size)
    return content_image, images.fit(images.load(style_path), *content_image.shape[:2])


def main(argv=None) -> dict:
    cfg = config.parse(Config, argv, __doc__, prog=LECTURE)
    # Read (and checked) before the run starts: a bad picture leaves nothing behind.
    content_image, style_image = read_pictures(cfg)
    run = runtime.start(LECTURE, cfg)

    # The frozen feature network and the targets it gives for the two pictures.
    backbone_name, reason = style_transfer.choose_backbone(cfg.backbone, cfg.weights)
    print(f"Backbone: {backbone_name} ({reason})")
    layers = style_transfer.BACKBONE_LAYERS[backbone_name]
    backbone = style_transfer.build_backbone(backbone_name, cfg.weights or "default",
                                             cfg.pooling, cfg.data_dir)
    extractor = style_transfer.feature_extractor(backbone, layers)
    # The photo as the image should look before the style's texture: in the style's
    # colours by default, so that the style loss need not repaint every pixel.
    photo = content_target(cfg.colours, content_image, style_image)
    goal = targets(extractor, photo, style_image)
    weights = LossWeights(cfg.content_weight, cfg.style_weight, cfg.tv_weight)

    def loss_terms(pixels):
        return losses(extractor, pixels, goal, layers, weights)

    # The image is the model: its pixels and Adam's moments are all a checkpoint holds.
    start = style_transfer.initial_image(photo, cfg.noise_ratio, cfg.seed)
    first = loss_terms(start)
    if not cfg.quiet:
        print_worked_example(extractor, goal, layers, start, first)
    with run.strategy.scope():
        image = generated_image(start)
        optimizer = training.with_loss_scaling(keras.optimizers.Adam(cfg.learning_rate))
        optimizer.build([image.pixels])
        step = tf.Variable(0, dtype=tf.int64, name="global_step", trainable=False)
    checkpoint = checkpoints.make(step, image, optimizer)
    step_fn = training.compile_step(run.strategy, make_train_step(image, optimizer, loss_terms),
                                    jit_compile=cfg.jit_compile)

    def save_image(current: int) -> None:
        images.save_png(image.pixels[0], run.path(f"step_{current:05d}.png"))
        summaries.images(run.writer, "generated", image.pixels / 255.0, current)

    results = training.train(run, step_fn=step_fn, iterator=None, checkpoint=checkpoint,
                             step=step, on_summary=save_image,
                             schedule=training.make_schedule(cfg, steps_per_epoch=cfg.num_steps))

    # How far the loss fell, from the first image to the last.
    last = loss_terms(image.pixels)
    results.update({f"final/{name}": value for name, value in training.to_floats(last).items()})
    results.update({"initial/loss": float(first["loss"]), "backbone": backbone_name,
                    "final/loss_reduction": float(first["loss"] / last["loss"])})
    # Grain (the result's high-frequency energy over the photo's) and edge lines.
    final = image.pixels[0].numpy()  # (height, width, 3)
    results["final/high_frequency_ratio"] = style_transfer.high_frequency_ratio(final,
                                                                                content_image)
    results["final/border_step_ratio"] = max(style_transfer.border_steps(final).values())
    # Whether it is a transfer: the photo's outlines kept, its colours moved to the style's.
    results["final/edge_correlation"] = style_transfer.edge_correlation(final, content_image)
    results["final/colour_movement"] = style_transfer.colour_movement(final, content_image,
                                                                      style_image)

    images.save_png(image.pixels[0], run.path("final.png"))
    # Full resolution, side by side, to judge by eye: content | style | result.
    images.save_png(tf.concat([content_image, style_image, image.pixels[0]], axis=1),
                    run.path("content_style_result.png"))
    print(f"Result: {run.path('final.png')} and {run.path('content_style_result.png')}")
    return run.finish(results, steps=int(step.numpy()))


if __name__ == "__main__":
    cli.guard(main)
