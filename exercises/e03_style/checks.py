"""Checks of exercise 3 (exercises/e03_style/exercise.py): the style-transfer losses
against the docstrings' golden values and the reference solution on hidden random
feature maps, then a few steps of lecture 8b's optimisation driven by the student's
functions."""

from __future__ import annotations

from cs20.exercises.grading import (
    Context,
    Problem,
    expect_close,
    expect_decrease,
    expect_same,
)

import keras
import numpy as np
import tensorflow as tf

LOSS_NAMES = ("gram_matrix", "content_loss", "style_loss", "total_variation_loss")
# The optimisation check: this many Adam steps on pictures of this size must lower the
# loss by at least this fraction (the reference solution's: about a third).
STEPS = 10
IMAGE_SIZE = 40
MIN_DECREASE = 0.1


def features(context: Context, height: int, width: int, channels: int) -> tf.Tensor:
    """Hidden feature maps (1, height, width, channels), ReLU-like (non-negative)."""
    values = np.maximum(context.rng.normal(size=(1, height, width, channels)), 0.0)
    return tf.constant(values, tf.float32)


EXAMPLE_FEATURES = tf.reshape(tf.range(12.0), (1, 2, 2, 3))


def check_gram_matrix(context: Context) -> None:
    student = context.student_function("gram_matrix")
    expect_close("gram_matrix(the example)", student(EXAMPLE_FEATURES),
                 tf.constant([[126.0, 144.0, 162.0], [144.0, 166.0, 188.0],
                              [162.0, 188.0, 214.0]]))
    for shape in ((3, 5, 4), (7, 2, 16)):
        expect_same(context, "gram_matrix", features(context, *shape), rtol=1e-5, atol=1e-4)


def check_content_loss(context: Context) -> None:
    student = context.student_function("content_loss")
    expect_close("content_loss(ones, zeros)",
                 student(tf.ones((1, 2, 2, 1)), tf.zeros((1, 2, 2, 1))), tf.constant(0.25))
    for shape in ((4, 6, 8), (9, 3, 2)):
        expect_same(context, "content_loss", features(context, *shape),
                    features(context, *shape), rtol=1e-5)


def check_style_loss(context: Context) -> None:
    student = context.student_function("style_loss")
    expect_close("style_loss(the example)",
                 student([EXAMPLE_FEATURES], [tf.zeros((3, 3))], [1.0]), tf.constant(440.757),
                 rtol=1e-5)
    gram = context.reference_function("gram_matrix")
    shapes = ((8, 6, 4), (4, 3, 8), (2, 2, 16))  # halving resolution, more channels
    generated = [features(context, *shape) for shape in shapes]
    style_grams = [gram(features(context, *shape)) for shape in shapes]
    expect_same(context, "style_loss", generated, style_grams, [0.5, 1.0, 3.0], rtol=1e-4,
                label="three hidden layers, weights [0.5, 1.0, 3.0]")


def check_total_variation_loss(context: Context) -> None:
    student = context.student_function("total_variation_loss")
    expect_close("total_variation_loss(range(9) as 3x3)",
                 student(tf.reshape(tf.range(9.0), (1, 3, 3, 1))), tf.constant(48.0 / 9.0))
    for shape in ((1, 5, 7, 3), (2, 4, 3, 3)):
        images = tf.constant(context.rng.uniform(0, 255, shape), tf.float32)
        expect_same(context, "total_variation_loss", images, rtol=1e-5)


def optimise_with_lecture_8b(functions: dict, num_steps: int,
                             seed: int = 0) -> tuple[float, float]:
    """On the student's side: (loss before, loss after) `num_steps` Adam steps of lecture
    8b's style transfer with the loss `functions` ({name in LOSS_NAMES: function}), on
    small random pictures and a SqueezeNet of random weights (what matters here is that
    the losses drive the pixels, not the picture).

    The one place that depends on lecture 8b: its model's `LossFunctions`, which its
    `targets` and `losses` take as an argument (the student's go in there), `LossWeights`,
    `initial_image`, `generated_image` and `make_train_step`; its backbone's `squeezenet`,
    `SQUEEZENET_LAYERS` and `feature_extractor`.
    """
    from lectures.l08_style_transfer import backbone, model

    keras.utils.set_random_seed(seed)
    students = model.LossFunctions(**functions)
    layers = backbone.SQUEEZENET_LAYERS
    extractor = backbone.feature_extractor(backbone.squeezenet(None), layers)
    pictures = tf.random.stateless_uniform((2, IMAGE_SIZE, IMAGE_SIZE, 3), (seed, 1),
                                           0.0, 255.0)  # content, style
    goal = model.targets(extractor, pictures[0], pictures[1], students)
    weights = model.LossWeights(content=0.01, style=1.0, total_variation=30.0)
    start = model.initial_image(pictures[0], noise_ratio=0.6, seed=seed)
    image = model.generated_image(start)

    def loss_terms(pixels):
        return model.losses(extractor, pixels, goal, layers, weights, students)

    step = tf.function(model.make_train_step(image, keras.optimizers.Adam(2.0), loss_terms))
    for _ in range(num_steps):
        step()
    before, after = (loss_terms(pixels)["loss"] for pixels in (start, image.pixels))
    return float(before), float(after)


def check_style_transfer(context: Context) -> str:
    functions = {name: context.student_function(name) for name in LOSS_NAMES}
    before, after = context.on_student_side(optimise_with_lecture_8b, functions, STEPS)
    return expect_decrease(
        f"loss {before:.4g} -> {after:.4g} in {STEPS} steps of lecture 8b's optimisation",
        before, after, MIN_DECREASE)


PROBLEMS = [
    Problem("gram_matrix", check_gram_matrix),
    Problem("content_loss", check_content_loss),
    Problem("style_loss", check_style_loss),
    Problem("total_variation_loss", check_total_variation_loss),
    Problem("style transfer", check_style_transfer, seconds=180.0),
]
