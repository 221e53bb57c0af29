"""Lecture 8b's lesson in code: style as Gram matrices, three losses, the image as the
only variable and its step (Gatys et al. 2015, the course's assignment 2).

1. `gram_matrix`: a layer's feature maps (1, h, w, c) -> (c, c), which channels fire
   together, positions summed away. That is what "style" means here;
2. three losses: `content_loss` (one layer's maps against the photo's), `style_loss`
   (five layers' Gram matrices against the painting's), `total_variation_loss`
   (neighbours kept close); `targets` measures each loss's own size from the pictures
   and `losses` divides by it, so that a weight means the same for every pair;
   `LOSS_FUNCTIONS` are the four functions `targets` and `losses` use unless given
   others (exercise e03's checks give a student's);
3. the image as the only variable (`generated_image`, started by `initial_image` from the
   photo in the style's colours, `recoloured`) and its step, `make_train_step`: Adam moves
   the pixels, clipped to [0, 255];
4. `print_worked_example`: each style layer's Gram matrix shape and the losses at step 0.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import NamedTuple

from lectures.l08_style_transfer import backbone, measures

import keras
import numpy as np
import tensorflow as tf

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


class LossFunctions(NamedTuple):
    """The four functions the losses are made of. `targets` and `losses` use this
    lecture's own (`LOSS_FUNCTIONS`) unless given others: exercise e03's checks run this
    lecture's optimisation on a student's."""
    gram_matrix: Callable
    content_loss: Callable
    style_loss: Callable
    total_variation_loss: Callable


LOSS_FUNCTIONS = LossFunctions(gram_matrix, content_loss, style_loss, total_variation_loss)


class Goal(NamedTuple):
    """What the image is pulled towards, and each loss's scale (see `targets`)."""
    content_features: tf.Tensor  # (1, h, w, c)
    style_grams: tuple  # one (c, c) Gram matrix per style layer
    content_scale: tf.Tensor  # the content loss of features all zero
    style_scales: tuple  # per style layer, its loss for features all zero
    total_variation_scale: tf.Tensor  # the content picture's own total variation


def targets(extractor: keras.Model, content_image: tf.Tensor, style_image: tf.Tensor,
            functions: LossFunctions = LOSS_FUNCTIONS) -> Goal:
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
    style_grams = tuple(functions.gram_matrix(features) for features in style_features)
    return Goal(content_features, style_grams,
                functions.content_loss(tf.zeros_like(content_features), content_features),
                tuple(functions.style_loss([tf.zeros_like(features)], [gram], (1.0,))
                      for features, gram in zip(style_features, style_grams, strict=True)),
                # At least one grey level: a flat photo has none.
                tf.maximum(functions.total_variation_loss(content_image[tf.newaxis]), 1.0))


@dataclasses.dataclass(frozen=True)
class LossWeights:
    content: float
    style: float
    total_variation: float


def losses(extractor: keras.Model, image: tf.Tensor, goal: Goal, layers: backbone.Layers,
           weights: LossWeights, functions: LossFunctions = LOSS_FUNCTIONS) -> dict:
    """The three weighted terms and their sum for an image (1, h, w, 3) in [0, 255], each
    loss divided by its scale; the style layers' weights are shares summing to 1."""
    features = extractor(image)  # [content maps, style maps...]
    total_style_weight = sum(layers.style_weights)
    layer_weights = [weight / (total_style_weight * scale)
                     for weight, scale in zip(layers.style_weights, goal.style_scales,
                                              strict=True)]
    terms = {"content_loss": weights.content
             * functions.content_loss(features[0], goal.content_features) / goal.content_scale,
             "style_loss": weights.style * functions.style_loss(features[1:], goal.style_grams,
                                                                layer_weights),
             "tv_loss": weights.total_variation * functions.total_variation_loss(image)
             / goal.total_variation_scale}
    return {"loss": terms["content_loss"] + terms["style_loss"] + terms["tv_loss"], **terms}


# 3. The image is the only variable: where it starts, and its step.

# How much of the photo's outlines the recoloured photo must keep (`recoloured`): the
# edge correlation of the two, 1 when every outline is where it was.
KEPT_OUTLINES = 0.8


def _matrix_power(covariance: np.ndarray, power: float) -> np.ndarray:
    """A symmetric positive semi-definite (3, 3) matrix to the power 1/2 or -1/2."""
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    return (eigenvectors * np.maximum(eigenvalues, 0.0) ** power) @ eigenvectors.T


def matched_colours(content, style) -> np.ndarray:
    """The content picture in the style's colours: (height, width, 3) in [0, 255].

    Each pixel x goes to A (x - mean_content) + mean_style, A = C_style^1/2 C_content^-1/2
    (C the 3x3 covariances of the pixels' RGB): the result has the style's mean colour and
    colour covariance, and keeps every outline the photo's own (an affine map of its
    colours; Gatys et al. 2016, "Preserving color in neural artistic style transfer", map
    the style to the photo this way; here the photo goes to the style).
    """
    pixels = np.asarray(content, np.float64).reshape(-1, 3)  # (positions, 3)
    style_pixels = np.asarray(style, np.float64).reshape(-1, 3)
    # One grey level squared more on the diagonal: a flat photo has no covariance to invert.
    content_covariance = np.cov(pixels.T) + np.eye(3)
    mapping = _matrix_power(np.cov(style_pixels.T), 0.5) @ _matrix_power(content_covariance,
                                                                          -0.5)
    moved = (pixels - pixels.mean(axis=0)) @ mapping.T + style_pixels.mean(axis=0)
    return np.clip(moved, 0.0, 255.0).reshape(np.shape(content)).astype(np.float32)


def by_rank(values: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(n,) values -> (n,): the k-th lowest value replaced by targets[k] (sorted), equal
    values all by their targets' mean, so that a flat patch of the photo stays flat."""
    order = np.argsort(values, kind="stable")
    _, first, counts = np.unique(values[order], return_index=True, return_counts=True)
    means = np.add.reduceat(targets, first) / counts  # one per distinct value
    result = np.empty_like(targets)
    result[order] = np.repeat(means, counts)
    return result


def transferred_colours(content, style, iterations: int = 10, seed: int = 0) -> np.ndarray:
    """The content picture in the style's colours: (height, width, 3) in [0, 255].

    Pitie et al.'s iterative distribution transfer (2007): turn the pixels' RGB values
    (of both pictures) by a random rotation, give each of the three turned axes the
    style's values by rank (the content's lowest pixel along it gets the style's lowest,
    and so on), turn back; repeat. Each pass keeps the order of the pixels along every
    axis, so neighbours stay distinct where they were; after ten the colour histogram is
    nearly the style's own, palette and all. Matching only the mean colour and the colour
    covariance (an affine map) turned a many-coloured pattern into one brown blur.
    """
    rng = np.random.default_rng(seed)
    pixels = np.asarray(content, np.float64).reshape(-1, 3)  # (positions, 3)
    style_pixels = np.asarray(style, np.float64).reshape(-1, 3)  # (style positions, 3)
    ranks = (np.arange(len(pixels)) + 0.5) / len(pixels)  # each pixel's quantile, by rank
    style_ranks = (np.arange(len(style_pixels)) + 0.5) / len(style_pixels)
    for _ in range(iterations):
        rotation, _ = np.linalg.qr(rng.normal(size=(3, 3)))  # (3, 3), orthonormal
        turned, style_turned = pixels @ rotation, style_pixels @ rotation
        for axis in range(3):
            turned[:, axis] = by_rank(turned[:, axis], np.interp(
                ranks, style_ranks, np.sort(style_turned[:, axis])))
        pixels = turned @ rotation.T
    return np.clip(pixels, 0.0, 255.0).reshape(np.shape(content)).astype(np.float32)


def content_target(colours: str, content_image: tf.Tensor, style_image: tf.Tensor) -> tf.Tensor:
    """The photo the content loss holds the image to, and the image starts from:
    (height, width, 3). colours "style": recoloured (`recoloured`); "content": the photo
    as it is."""
    if colours == "content":
        return content_image
    return tf.constant(recoloured(np.asarray(content_image), np.asarray(style_image)))


def recoloured(content: np.ndarray, style: np.ndarray) -> np.ndarray:
    """The photo in the style's colours, as far as its outlines allow: (height, width, 3).

    Along a path from the style's full palette (`transferred_colours`) through its mean
    colour and covariance (`matched_colours`) back to the photo itself, the first picture
    whose edge correlation with the photo is at least KEPT_OUTLINES. A painting's palette
    usually keeps them; a dark, sparse style (a night sky) would by rank turn most of a
    photo black, and even its mean and covariance clip the photo's dark half away, so
    there the photo keeps some of its own colours (the style loss darkens it further).
    """
    palette, moments = transferred_colours(content, style), matched_colours(content, style)
    path = [share * palette + (1.0 - share) * moments for share in np.linspace(1.0, 0.0, 11)]
    path += [share * moments + (1.0 - share) * content for share in np.linspace(0.9, 0.0, 10)]
    return next(picture for picture in path  # the last, the photo, keeps every outline
                if measures.edge_correlation(picture, content) >= KEPT_OUTLINES
                ).astype(np.float32)


def initial_image(content_image: tf.Tensor, noise_ratio: float, seed: int) -> tf.Tensor:
    """The course's start: noise_ratio of uniform(-20, 20) noise around the mean pixel,
    the rest the content image. noise_ratio 0 starts from the content image itself."""
    noise = tf.random.stateless_uniform(tf.shape(content_image), (seed, 0), -20.0, 20.0)
    mean_rgb = tf.constant(backbone.MEAN_PIXEL_BGR[::-1])
    mixed = noise_ratio * (mean_rgb + noise) + (1.0 - noise_ratio) * content_image
    return clip(mixed[tf.newaxis])  # (1, height, width, 3)


def clip(images: tf.Tensor) -> tf.Tensor:
    """Keeps pixels in the valid range after each update."""
    return tf.clip_by_value(images, 0.0, 255.0)


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
        image.pixels.assign(clip(image.pixels))
        return terms

    return train_step


# 4. The worked example.

def print_worked_example(extractor, goal, layers, start, first: dict) -> None:
    """The shapes behind the losses, and the losses of the first image."""
    features = extractor(start)
    print(f"Worked example: content layer {layers.content} {tuple(features[0].shape)}")
    for name, maps, gram in zip(layers.style, features[1:], goal.style_grams, strict=True):
        print(f"  style layer {name:<14} {tuple(maps.shape)} -> Gram matrix {tuple(gram.shape)}")
    print("  losses at step 0 (weighted): " + ", ".join(
        f"{name} {float(value):,.1f}" for name, value in first.items()))


