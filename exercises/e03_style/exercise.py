"""Exercise 3: the losses of neural style transfer (lecture 8b, Gatys et al. 2015).

Style transfer changes the pixels of one image so that a frozen ConvNet sees in it the
content of a photo (the feature maps of one layer) and the style of a painting
(which channels fire together, at several layers: Gram matrices). Here you write the
losses; the check compares them with golden values, then runs lecture 8b's optimisation
with your functions on small pictures and checks that the loss goes down.

    python -m cs20 check e03                       # this file
    python -m cs20 check e03 my_copy_of_e03.py     # or a copy of it

Feature maps have shape (1, height, width, channels) (a batch of one picture); all
tensors are float32 and every loss returns a float32 scalar. Read the module docstrings
of lectures/l08_style_transfer/model.py and backbone.py first (their code holds the
lecture's answers: try on your own before you look).
"""

from __future__ import annotations

import tensorflow as tf  # noqa: F401 (your answers use it)


def gram_matrix(features):
    """(1, height, width, channels) -> (channels, channels): F^T F, where F holds the
    features as a (height * width, channels) matrix, one row per position. Entry (i, j)
    sums, over all positions, channel i times channel j: the positions are summed away
    and only which channels fire together remains.

    Example: tf.reshape(tf.range(12.0), (1, 2, 2, 3)) -> [[126, 144, 162],
    [144, 166, 188], [162, 188, 214]].

    Hint: tf.reshape(features, (-1, channels)), tf.matmul(..., transpose_a=True).
    """
    raise NotImplementedError


def content_loss(generated, content):
    """The sum of squared differences of two feature maps of the same shape, divided by
    4 times the number of values in them (the course's normalisation).

    Example: ones vs zeros of shape (1, 2, 2, 1) -> 4 / (4 * 4) = 0.25.

    Hint: tf.reduce_sum, tf.square, tf.size (cast it to float32).
    """
    raise NotImplementedError


def style_loss(generated_features, style_grams, layer_weights):
    """The weighted sum over layers l of E_l = sum((G_l - A_l)^2) / (4 N_l^2 M_l^2),
    Gatys et al.'s equation 4, with

    - generated_features: a list of feature maps (1, height_l, width_l, N_l), one per layer,
      of the image being generated; G_l is the Gram matrix of the l-th,
    - style_grams: a list of the style picture's Gram matrices A_l, (N_l, N_l) each,
    - layer_weights: a list of floats, one per layer,
    - N_l the number of channels and M_l = height_l * width_l the number of positions.

    Example: style_loss([tf.reshape(tf.range(12.0), (1, 2, 2, 3))], [tf.zeros((3, 3))],
    [1.0]) -> 253876 / (4 * 9 * 16) = 440.757.

    Hint: use your gram_matrix; tf.shape(features) gives height and width.
    """
    raise NotImplementedError


def total_variation_loss(images):
    """How much neighbouring pixels differ, per pixel: images (batch, height, width,
    channels) -> the sum of |differences| between vertical neighbours and between
    horizontal neighbours, divided by batch * height * width.

    The picture counts as mirrored past its edges, so that an edge pixel is smoothed as
    hard as one inside: the differences between the first two rows, between the last
    two rows, between the first two columns and between the last two columns each count
    twice. Example: tf.reshape(tf.range(9.0), (1, 3, 3, 1)): vertical steps 3 (6 of
    them), horizontal steps 1 (6), plus the edges' 9 + 9 + 3 + 3 -> 48 / 9 = 5.3333.

    Hint: images[:, 1:] - images[:, :-1] (rows), images[:, :, 1:] - images[:, :, :-1]
    (columns), tf.abs.
    """
    raise NotImplementedError
