"""TFRecord schemas: which features a record has, and how values become a
`tf.train.Example` and come back.

A *schema* maps each feature name to a `Field`. `encode` turns a dict of NumPy values into
a `tf.train.Example` (errors name the feature); `feature_spec` is the `tf.io.parse_example`
spec of the same schema and `decode` turns parsed features back into arrays, so writer and
reader cannot drift apart. The sharded files are tfrecord_io.py's; lecture 8a builds one
Example by hand first, with `tf.train.Feature`s.
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np
import tensorflow as tf

KINDS = ("int64", "float", "bytes", "raw", "image")


@dataclasses.dataclass(frozen=True)
class Field:
    """One feature of a record.

    kind:  "int64", "float" or "bytes": a list of values of that type;
           "raw": a NumPy array of `dtype` stored as its bytes (decoded with one
           `tf.io.decode_raw` per batch: the fast way to store fixed-size pixels);
           "image": an encoded PNG/JPEG file, stored byte for byte.
    shape: the value's shape, () for a scalar; None for a variable-length list
           (int64, float, bytes) or an image whose size varies from record to record.
    """

    kind: str
    shape: tuple[int, ...] | None = ()
    dtype: str = "uint8"  # raw only

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown feature kind {self.kind!r}: use one of {', '.join(KINDS)}")
        if self.shape is None and self.kind == "raw":
            raise ValueError("a raw feature needs a fixed shape")
        if self.shape is not None:
            object.__setattr__(self, "shape", tuple(int(size) for size in self.shape))

    def __str__(self) -> str:
        shape = "variable length" if self.shape is None else f"shape {self.shape}"
        return f"{self.dtype} {self.kind}, {shape}" if self.kind == "raw" else f"{self.kind}, {shape}"

    def to_json(self) -> dict:
        return {"kind": self.kind, "shape": None if self.shape is None else list(self.shape),
                "dtype": self.dtype}

    @classmethod
    def from_json(cls, value: dict) -> Field:
        shape = value["shape"]
        return cls(value["kind"], None if shape is None else tuple(shape), value["dtype"])


# Feature helpers: tf.train.Feature from a list of values of one type.

def bytes_feature(values) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))


def int64_feature(values) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=values))


def float_feature(values) -> tf.train.Feature:
    return tf.train.Feature(float_list=tf.train.FloatList(value=values))


def _as_bytes(value) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def _check_shape(name: str, field: Field, array: np.ndarray) -> None:
    if field.shape is not None and array.shape != field.shape:
        raise ValueError(f"feature {name!r}: expected shape {field.shape}, got {array.shape}")


def encode_feature(name: str, field: Field, value) -> tf.train.Feature:
    """One value -> tf.train.Feature, checked against its field (errors name the feature)."""
    if field.kind in ("image", "bytes") and isinstance(value, (bytes, str)):
        if field.kind == "bytes" and field.shape not in ((), None):
            raise ValueError(f"feature {name!r}: expected shape {field.shape}, got one string")
        return bytes_feature([_as_bytes(value)])
    if field.kind == "image":
        raise ValueError(f"feature {name!r}: an image feature takes the encoded file's bytes, "
                         f"got {type(value).__name__}")
    array = np.asarray(value)
    if field.kind == "bytes":
        _check_shape(name, field, array)
        return bytes_feature([_as_bytes(item) for item in array.ravel().tolist()])
    _check_shape(name, field, array)
    if field.kind == "raw":
        if array.dtype != np.dtype(field.dtype):
            raise ValueError(f"feature {name!r}: expected dtype {field.dtype}, got {array.dtype}")
        return bytes_feature([array.tobytes()])
    if field.kind == "int64":
        # An empty list is float64 to NumPy, but fits an int64 feature as well.
        if array.size and not (np.issubdtype(array.dtype, np.integer) or array.dtype == bool):
            raise ValueError(f"feature {name!r}: expected integers, got {array.dtype}")
        return int64_feature(array.ravel().tolist())
    if not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"feature {name!r}: expected numbers, got {array.dtype}")
    return float_feature(array.ravel().tolist())


def encode(schema: dict[str, Field], values: dict) -> tf.train.Example:
    """A dict of values (one per schema feature) -> tf.train.Example."""
    missing = [name for name in schema if name not in values]
    extra = [name for name in values if name not in schema]
    if missing or extra:
        problem = f"missing feature {missing[0]!r}" if missing else f"unknown feature {extra[0]!r}"
        raise ValueError(f"{problem}; the schema has {', '.join(schema)}")
    return tf.train.Example(features=tf.train.Features(feature={
        name: encode_feature(name, field, values[name]) for name, field in schema.items()}))


def feature_spec(schema: dict[str, Field]) -> dict:
    """The `tf.io.parse_example` spec of a schema (raw and image features parse as bytes)."""
    dtypes = {"int64": tf.int64, "float": tf.float32, "bytes": tf.string, "raw": tf.string,
              "image": tf.string}
    spec = {}
    for name, field in schema.items():
        dtype = dtypes[field.kind]
        if field.kind in ("raw", "image"):
            spec[name] = tf.io.FixedLenFeature([], tf.string)
        elif field.shape is None:
            spec[name] = tf.io.RaggedFeature(dtype)
        else:
            spec[name] = tf.io.FixedLenFeature(field.shape, dtype)
    return spec


def decode(schema: dict[str, Field], parsed: dict, batched: bool, decode_images: bool = True):
    """Parsed features -> arrays: raw bytes -> (batch?,) + shape of dtype, images -> uint8."""
    decoded = dict(parsed)
    for name, field in schema.items():
        if field.kind == "raw":
            values = tf.io.decode_raw(parsed[name], tf.dtypes.as_dtype(field.dtype))
            leading = (-1,) if batched else ()
            decoded[name] = tf.reshape(values, leading + field.shape)  # (batch,) + shape
        elif field.kind == "image" and decode_images:
            decoded[name] = _decode_images(name, field, parsed[name], batched)
    return decoded


def _decode_images(name: str, field: Field, encoded, batched: bool):
    if not batched:
        return tf.io.decode_image(encoded, expand_animations=False)  # (height, width, channels)
    if field.shape is None or len(field.shape) != 3:
        raise ValueError(f"feature {name!r} holds images of varying size, which cannot be "
                         f"batched: read with batch_size=None or decode_images=False")
    channels = field.shape[-1]
    return tf.map_fn(
        lambda one: tf.ensure_shape(tf.io.decode_image(one, channels, expand_animations=False),
                                    field.shape),
        encoded, fn_output_signature=tf.TensorSpec(field.shape, tf.uint8))


def check_schema(found: dict[str, Field], expected: dict[str, Field], where: str) -> None:
    """A ValueError naming the first feature whose kind, shape or dtype differ."""
    for name, field in expected.items():
        if name not in found:
            raise ValueError(f"{where} has no feature {name!r} (it has {', '.join(found)})")
        if found[name] != field:
            raise ValueError(f"feature {name!r} in {where} is {found[name]}, expected {field}")


IMAGE_SCHEMA = {"image": Field("image", None), "label": Field("int64"),
                "shape": Field("int64", (3,)), "filename": Field("bytes")}

def decoded_shape(path: pathlib.Path) -> tuple[int, int, int] | None:
    """(height, width, channels) of an image file, or None when it does not decode (not an
    image, or truncated): decoding it whole is the only way to know."""
    try:
        return tuple(tf.io.decode_image(path.read_bytes(), expand_animations=False).shape)
    except tf.errors.InvalidArgumentError:
        return None


def image_record(path: pathlib.Path, label: int, shape: tuple[int, int, int]) -> dict:
    """The course's example record: the encoded image, its label and its shape."""
    return {"image": path.read_bytes(), "label": label, "shape": np.asarray(shape, np.int64),
            "filename": path.name}
