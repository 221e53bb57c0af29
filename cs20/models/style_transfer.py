"""Neural style transfer's plumbing: the frozen feature network, the first image, and
the measures of the result. The lesson (Gram matrices, the three losses, the image as the
only variable and its step) is in lectures/l08_style_transfer.py.

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
import numpy as np
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
# The same idea on SqueezeNet: one layer per resolution (1/2 .. 1/16 of the input) for
# style, and a 1/8-resolution layer for content, as block4_conv2 is in VGG-19.
SQUEEZENET_LAYERS = Layers(content="fire5_concat",
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


def high_frequency_energy(image) -> float:
    """Mean squared 4-neighbour Laplacian of (height, width, 3) pixels in [0, 255].

    Grain (pixel-to-pixel noise) is where the Laplacian is large; divide by the content
    picture's to compare an output with the photo it came from.
    """
    pixels = np.asarray(image, np.float64)
    laplacian = (4.0 * pixels[1:-1, 1:-1] - pixels[:-2, 1:-1] - pixels[2:, 1:-1]
                 - pixels[1:-1, :-2] - pixels[1:-1, 2:])  # (height - 2, width - 2, 3)
    return float(np.mean(laplacian ** 2))


def high_frequency_ratio(result, content) -> float:
    """The result's grain over the content photo's; a flat photo (no grain at all) counts
    as one squared grey level, so that the ratio stays finite and is the result's own."""
    return high_frequency_energy(result) / max(high_frequency_energy(content), 1.0)


def border_steps(image) -> dict:
    """{"top", "bottom", "left", "right"}: how far each edge row (column) is from its
    neighbour, as a multiple of the mean step between neighbouring interior rows (columns).

    About 1 where the edge looks like the rest of the picture; a line along an edge (a
    row of different brightness) shows as a ratio well above 1.
    """
    pixels = np.asarray(image, np.float64)

    def first_and_last(rows):  # rows: (count, length, 3), stepping along the first axis
        steps = np.abs(np.diff(rows, axis=0)).mean(axis=(1, 2))  # (count - 1,)
        interior = steps[1:-1].mean()
        return float(steps[0] / interior), float(steps[-1] / interior)

    top, bottom = first_and_last(pixels)
    left, right = first_and_last(pixels.transpose(1, 0, 2))
    return {"top": top, "bottom": bottom, "left": left, "right": right}


def grey(image) -> np.ndarray:
    """(height, width, 3) RGB -> (height, width) luma (ITU-R 601 weights, summing to 1)."""
    return np.asarray(image, np.float64) @ np.array([0.299, 0.587, 0.114])


def edge_map(image, block: int = 4) -> np.ndarray:
    """Sobel gradient magnitude of the grey picture, averaged over block x block squares:
    (height, width, 3) -> ((height - 2) // block, (width - 2) // block)."""
    pixels = grey(image)

    def smoothed_difference(rows):  # rows (h, w): [1 2 1] across, difference along
        across = rows[:, :-2] + 2.0 * rows[:, 1:-1] + rows[:, 2:]  # (h, w - 2)
        return across[2:] - across[:-2]  # (h - 2, w - 2)

    magnitude = np.hypot(smoothed_difference(pixels), smoothed_difference(pixels.T).T)
    rows, columns = (size // block * block for size in magnitude.shape)
    return magnitude[:rows, :columns].reshape(
        rows // block, block, columns // block, block).mean(axis=(1, 3))


def edge_correlation(result, content) -> float:
    """Pearson correlation of the result's and the content's edge maps: about 1 when the
    content's outlines are where they were, about 0 when they are gone. Both pictures
    (height, width, 3) of the same size."""
    return float(np.corrcoef(edge_map(result).ravel(), edge_map(content).ravel())[0, 1])


def colour_histogram(image, bins: int = 8) -> np.ndarray:
    """(height, width, 3) in [0, 255] -> (bins^3,) share of the pixels in each RGB cube."""
    cells = np.clip(np.asarray(image, np.float64) * bins / 256.0, 0, bins - 1).astype(int)
    index = (cells[..., 0] * bins + cells[..., 1]) * bins + cells[..., 2]
    return np.bincount(index.ravel(), minlength=bins ** 3) / index.size


def colour_movement(result, content, style) -> float:
    """How far the colours moved from the content's towards the style's: 1 - d(result,
    style) / d(content, style), d the L1 distance between 8x8x8-bin RGB histograms.
    0 where the result has the content's colours, 1 where it has the style's."""
    def distance(first, second):
        return np.abs(colour_histogram(first) - colour_histogram(second)).sum()

    return float(1.0 - distance(result, style) / distance(content, style))


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


def initial_image(content_image: tf.Tensor, noise_ratio: float, seed: int) -> tf.Tensor:
    """The course's start: noise_ratio of uniform(-20, 20) noise around the mean pixel,
    the rest the content image. noise_ratio 0 starts from the content image itself."""
    noise = tf.random.stateless_uniform(tf.shape(content_image), (seed, 0), -20.0, 20.0)
    mean_rgb = tf.constant(MEAN_PIXEL_BGR[::-1])
    mixed = noise_ratio * (mean_rgb + noise) + (1.0 - noise_ratio) * content_image
    return clip(mixed[tf.newaxis])  # (1, height, width, 3)


def clip(images: tf.Tensor) -> tf.Tensor:
    """Keeps pixels in the valid range after each update."""
    return tf.clip_by_value(images, 0.0, 255.0)
