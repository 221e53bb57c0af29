"""Lecture 8b's frozen feature network. The lesson (Gram matrices, the three losses, the
image as the only variable and its step) is in model.py, next to this file.

A pretrained ConvNet turns an image into feature maps at the layers the losses use.

Two backbones:
- VGG-19 with the course's layers (`keras.applications.VGG19`, ImageNet weights
  downloaded by Keras or read from a local `.h5`);
- SqueezeNet v1.1 (our definition; the ImageNet weights of keras-squeezenet, loaded by
  layer name after a sha256 check), because VGG-19's weights cannot be downloaded on
  every machine and SqueezeNet's 3 MB are in the shared data.

Images enter the backbone as float RGB in [0, 255]; `preprocess` turns them into what
both sets of weights were trained on (Caffe's convention: BGR minus the mean pixel).
"""

from __future__ import annotations

import dataclasses
import os
import pathlib

from cs20.datasets import sources

import h5py
import keras
import tensorflow as tf

# The ImageNet mean pixel in BGR order: the course subtracted it (in RGB) from its VGG input.
MEAN_PIXEL_BGR = (103.939, 116.779, 123.68)
# The course's style-layer weights: deeper layers (larger patterns) count more.
STYLE_LAYER_WEIGHTS = (0.5, 1.0, 1.5, 3.0, 4.0)
# Pixels mirrored around the picture before the backbone (see mirror_edges).
MIRRORED_PIXELS = 16
VGG19_CACHE_FILE = pathlib.Path(os.path.expanduser("~/.keras/models")) / \
    "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"


@dataclasses.dataclass(frozen=True)
class Layers:
    """Which feature maps a backbone contributes to the losses."""

    content: str
    style: tuple[str, ...]
    style_weights: tuple[float, ...] = STYLE_LAYER_WEIGHTS


# The course's choice: conv4_2 for content, conv1_1 .. conv5_1 for style.
VGG19_LAYERS = Layers(content="block4_conv2",
                      style=("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1",
                             "block5_conv1"))
# On SqueezeNet: one layer per resolution (1/2 .. 1/16 of the input) for style, and
# content at 1/4 resolution (fire3), finer than VGG-19's block4_conv2 (1/8). Measured on
# 12 pairs (benchmarks/style_transfer.py --pairs), content at 1/8 (fire5) held only the
# coarse shapes: a fine style (a night sky's stars, a brick wall) covered the photo's
# outlines, whose edge correlation fell to 0.22 (the cat in the Hubble deep field).
SQUEEZENET_LAYERS = Layers(content="fire3_concat",
                           style=("relu_conv1", "fire2_concat", "fire4_concat", "fire6_concat",
                                  "fire8_concat"))
BACKBONE_LAYERS = {"vgg19": VGG19_LAYERS, "squeezenet": SQUEEZENET_LAYERS}


def preprocess(images: tf.Tensor) -> tf.Tensor:
    """(batch, height, width, 3) RGB in [0, 255] -> BGR minus the ImageNet mean pixel."""
    return images[..., ::-1] - tf.constant(MEAN_PIXEL_BGR, images.dtype)


def _average_pooling_instead_of_max(layer):
    # The course offers average pooling: Gatys et al. found it gives smoother results.
    if isinstance(layer, keras.layers.MaxPooling2D):
        config = layer.get_config()
        return keras.layers.AveragePooling2D(pool_size=config["pool_size"],
                                             strides=config["strides"],
                                             padding=config["padding"], name=config["name"])
    return layer.__class__.from_config(layer.get_config())


def vgg19(weights: str | None = "imagenet", pooling: str = "max") -> keras.Model:
    """VGG-19's convolutional part. weights: "imagenet", a local .h5 path, or None (random).

    Offline, "imagenet" works only when Keras has the file cached in ~/.keras/models.
    """
    if weights == "imagenet" and not VGG19_CACHE_FILE.is_file() and os.environ.get("CS20_OFFLINE"):
        raise FileNotFoundError(f"VGG-19 ImageNet weights are not in {VGG19_CACHE_FILE} and "
                                "CS20_OFFLINE is set; pass --weights PATH or use squeezenet")
    try:
        model = keras.applications.VGG19(include_top=False, input_shape=(None, None, 3),
                                         weights=weights if weights in ("imagenet", None) else None)
    except Exception as error:  # Keras' download raises a bare Exception when offline
        raise FileNotFoundError(f"could not download the VGG-19 ImageNet weights ({error}); "
                                "pass --weights PATH or use squeezenet") from None
    if weights not in ("imagenet", None):
        model.load_weights(_existing(weights))
    if pooling == "average":
        pooled = keras.models.clone_model(model, clone_function=_average_pooling_instead_of_max)
        pooled.set_weights(model.get_weights())
        return pooled
    return model


def _existing(path) -> pathlib.Path:
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist")
    return path


def keras_layer_name(h5_name: str) -> str:
    """keras-squeezenet's `fire2/squeeze1x1` -> `fire2_squeeze1x1` (Keras 3 forbids '/')."""
    return h5_name.replace("/", "_")


def _fire(x, fire_id: int, squeeze: int, expand: int, pooling_layer=None):
    """A fire module: a 1x1 squeeze, then 1x1 and 3x3 expands side by side."""
    prefix = f"fire{fire_id}_"
    x = keras.layers.Conv2D(squeeze, 1, activation="relu", name=prefix + "squeeze1x1")(x)
    left = keras.layers.Conv2D(expand, 1, activation="relu", name=prefix + "expand1x1")(x)
    right = keras.layers.Conv2D(expand, 3, padding="same", activation="relu",
                                name=prefix + "expand3x3")(x)
    return keras.layers.Concatenate(name=prefix + "concat")([left, right])


def squeezenet(weights_path=None, pooling: str = "max") -> keras.Model:
    """SqueezeNet v1.1 without its classifier, laid out as keras-squeezenet's weights file.

    weights_path: the `.h5` file (checked against the registered sha256), or None (random).
    """
    pool = {"max": keras.layers.MaxPooling2D, "average": keras.layers.AveragePooling2D}[pooling]
    inputs = keras.Input((None, None, 3), name="input_1")  # (batch, height, width, BGR)
    x = keras.layers.Conv2D(64, 3, strides=2, name="conv1")(inputs)
    x = keras.layers.ReLU(name="relu_conv1")(x)
    x = pool(3, strides=2, name="pool1")(x)
    x = _fire(x, 2, squeeze=16, expand=64)
    x = _fire(x, 3, squeeze=16, expand=64)
    x = pool(3, strides=2, name="pool3")(x)
    x = _fire(x, 4, squeeze=32, expand=128)
    x = _fire(x, 5, squeeze=32, expand=128)
    x = pool(3, strides=2, name="pool5")(x)
    for fire_id, squeeze, expand in ((6, 48, 192), (7, 48, 192), (8, 64, 256), (9, 64, 256)):
        x = _fire(x, fire_id, squeeze, expand)
    model = keras.Model(inputs, x, name="squeezenet")
    if weights_path is not None:
        load_weights_by_name(model, weights_path)
    return model


def load_weights_by_name(model: keras.Model, path) -> None:
    """Copies each layer's kernel and bias from a Keras 2 `.h5` file, matched by name.

    The file's sha256 must be the registered one: a different file would load silently
    (same shapes) and give wrong features.
    """
    path = _existing(path)
    sources.verify(sources.get_source("squeezenet_notop"), path)
    with h5py.File(path, "r") as weights_file:
        loaded = set()
        for raw_name in weights_file.attrs["layer_names"]:
            group = weights_file[raw_name.decode()]
            names = [name.decode() for name in group.attrs["weight_names"]]
            if not names:
                continue  # activations, pooling and concatenations have no weights
            layer = model.get_layer(keras_layer_name(raw_name.decode()))
            # Each group lists its kernel then its bias, as Keras 2 saved them.
            layer.set_weights([group[name][()] for name in names])
            loaded.add(layer.name)
    missing = [layer.name for layer in model.layers if layer.weights and layer.name not in loaded]
    if missing:
        raise ValueError(f"{path} has no weights for layers {', '.join(missing)}")


def build_backbone(name: str, weights="default", pooling: str = "max",
                   data_dir=None) -> keras.Model:
    """The named backbone with its ImageNet weights ("default"), a file's, or None."""
    if name == "vgg19":
        return vgg19("imagenet" if weights == "default" else weights, pooling)
    if name == "squeezenet":
        if weights == "default":
            weights = sources.resolve("squeezenet_notop", data_dir)
        return squeezenet(weights, pooling)
    raise ValueError(f"unknown backbone {name!r}: use vgg19 or squeezenet")


def choose_backbone(requested: str, weights: str = "") -> tuple[str, str]:
    """("vgg19" or "squeezenet", why): VGG-19 when its ImageNet weights are at hand.

    "auto" never downloads: machines without the network would wait on it. Keras keeps
    the weights in ~/.keras/models once `--backbone vgg19` has downloaded them.
    """
    if requested != "auto":
        return requested, "asked for with --backbone"
    if weights:
        raise ValueError("--weights needs --backbone vgg19 or --backbone squeezenet "
                         "to say which network the file is for")
    if VGG19_CACHE_FILE.is_file():
        return "vgg19", f"its ImageNet weights are in {VGG19_CACHE_FILE}"
    return "squeezenet", (f"VGG-19's ImageNet weights are not in {VGG19_CACHE_FILE}; "
                          "--backbone vgg19 downloads them when online")


def mirror_edges(images: tf.Tensor) -> tf.Tensor:
    """(batch, height, width, 3) -> (batch, height + 32, width + 32, 3), edges mirrored.

    The backbone must see every pixel as it sees the middle of the picture. SqueezeNet's
    first convolution (3x3, stride 2, no padding) never covers the last row of an even
    height nor the last column of an even width, and its pooling layers (no padding
    either) drop the last rows and columns at each stage: those pixels got no gradient
    and kept their starting noise, a lighter line along two edges of the result, and
    the last rows got none from the content layer. `MIRRORED_PIXELS` of mirrored
    picture around the edge reach the 1/16-resolution layers, and put the backbone's
    own padding (zeros in VGG-19) outside the picture.
    """
    # A mirror cannot be wider than the picture minus its edge row (tiny pictures).
    width = tf.minimum(MIRRORED_PIXELS, tf.reduce_min(tf.shape(images)[1:3]) - 1)
    return tf.pad(images, [[0, 0], [width, width], [width, width], [0, 0]], mode="REFLECT")


def feature_extractor(backbone: keras.Model, layers: Layers) -> keras.Model:
    """RGB images in [0, 255] -> [content maps, style maps...], all float32.

    Casting to float32 keeps Gram matrices (sums over every position) out of float16's
    and bfloat16's short range under --mixed-precision.
    """
    names = (layers.content, *layers.style)
    backbone_outputs = keras.Model(backbone.input,
                                   [backbone.get_layer(name).output for name in names])
    backbone_outputs.trainable = False
    images = keras.Input((None, None, 3), name="rgb")  # (batch, height, width, 3)
    mirrored = keras.layers.Lambda(mirror_edges, name="mirror_edges")(images)
    features = backbone_outputs(keras.layers.Lambda(preprocess, name="preprocess")(mirrored))
    outputs = [keras.ops.cast(feature, "float32") for feature in features]
    return keras.Model(images, outputs, name=f"{backbone.name}_features")
