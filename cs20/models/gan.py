"""Lecture 9's DCGAN networks (Radford et al. 2016), sized for 28x28 digits on a CPU.

The generator turns a latent z ~ N(0, I) into a digit with pixels in [-1, 1]:

    z (batch, latent) -> dense 7*7*2w -> BN -> ReLU -> (batch, 7, 7, 2w)
      -> transposed conv 4x4 stride 2 -> BN -> ReLU -> (batch, 14, 14, w)
      -> transposed conv 4x4 stride 2 -> tanh -> (batch, 28, 28, 1)

The discriminator is the mirror image, strided convolutions with leaky ReLUs and no
batch norm (a WGAN-GP critic's gradient penalty is per example, which batch norm would
break), ending in one logit per digit:

    image (batch, 28, 28, 1) -> conv 4x4 stride 2 -> LReLU -> (batch, 14, 14, w)
      -> conv 4x4 stride 2 -> LReLU -> (batch, 7, 7, 2w) -> dense -> logit (batch,)

With `num_classes` both take a digit label too (a conditional GAN, Mirza & Osindero
2014): the generator reads z next to the label's one-hot vector, the discriminator reads
the image with the one-hot vector broadcast as extra channels, so it can reject a good
"3" offered as a "7".

The generator's batch norm is synchronized across replicas, so a mirrored run normalises
over the global batch exactly as one device does.
"""

from __future__ import annotations

import keras

IMAGE_SHAPE = (28, 28, 1)


def one_hot(labels, num_classes: int):
    """(batch,) int labels -> (batch, classes) one-hot floats."""
    return keras.layers.CategoryEncoding(num_classes, output_mode="one_hot",
                                         name="one_hot")(labels)


def build_generator(latent_dim: int = 64, num_classes: int = 0, width: int = 64) -> keras.Model:
    """z (batch, latent) [and labels (batch,)] -> images (batch, 28, 28, 1) in [-1, 1]."""
    z = keras.Input((latent_dim,), name="z")
    inputs, hidden = z, z
    if num_classes:
        labels = keras.Input((), dtype="int32", name="labels")
        inputs = [z, labels]
        hidden = keras.layers.Concatenate(name="z_and_label")(
            [z, one_hot(labels, num_classes)])  # (batch, latent + classes)
    hidden = keras.layers.Dense(7 * 7 * 2 * width, use_bias=False, name="dense")(hidden)
    hidden = keras.layers.BatchNormalization(synchronized=True, name="bn0")(hidden)
    hidden = keras.layers.ReLU(name="relu0")(hidden)
    hidden = keras.layers.Reshape((7, 7, 2 * width), name="reshape")(hidden)  # (b, 7, 7, 2w)
    hidden = keras.layers.Conv2DTranspose(width, 4, strides=2, padding="same", use_bias=False,
                                          name="deconv1")(hidden)  # (batch, 14, 14, w)
    hidden = keras.layers.BatchNormalization(synchronized=True, name="bn1")(hidden)
    hidden = keras.layers.ReLU(name="relu1")(hidden)
    # float32 output under mixed precision: the pixels go into the discriminator and FID.
    images = keras.layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="tanh",
                                          dtype="float32", name="deconv2")(hidden)
    return keras.Model(inputs, images, name="generator")  # (batch, 28, 28, 1)


def build_discriminator(num_classes: int = 0, width: int = 64) -> keras.Model:
    """images (batch, 28, 28, 1) in [-1, 1] [and labels (batch,)] -> logits (batch,)."""
    images = keras.Input(IMAGE_SHAPE, name="images")
    inputs, hidden = images, images
    if num_classes:
        labels = keras.Input((), dtype="int32", name="labels")
        inputs = [images, labels]
        label_maps = keras.layers.Reshape((1, 1, num_classes), name="label_pixel")(
            one_hot(labels, num_classes))  # (batch, 1, 1, classes)
        label_maps = keras.layers.UpSampling2D(IMAGE_SHAPE[:2], name="label_maps")(label_maps)
        hidden = keras.layers.Concatenate(name="image_and_label")(
            [images, label_maps])  # (batch, 28, 28, 1 + classes)
    hidden = keras.layers.Conv2D(width, 4, strides=2, padding="same", name="conv1")(hidden)
    hidden = keras.layers.LeakyReLU(0.2, name="lrelu1")(hidden)  # (batch, 14, 14, w)
    hidden = keras.layers.Conv2D(2 * width, 4, strides=2, padding="same", name="conv2")(hidden)
    hidden = keras.layers.LeakyReLU(0.2, name="lrelu2")(hidden)  # (batch, 7, 7, 2w)
    hidden = keras.layers.Flatten(name="flatten")(hidden)  # (batch, 7 * 7 * 2w)
    logits = keras.layers.Dense(1, dtype="float32", name="logit")(hidden)  # (batch, 1)
    logits = keras.layers.Reshape((), dtype="float32", name="squeeze")(logits)  # (batch,)
    return keras.Model(inputs, logits, name="discriminator")
