"""TFRecord files of `tf.train.Example`s: one schema for writing and reading, sharded and checked.

A *schema* maps each feature name to a `Field`. The writer encodes dicts of NumPy values
with it and the reader derives its `tf.io.parse_example` spec from the same schema, which
travels with the shards in a JSON sidecar, so writer and reader cannot drift apart.

    write(records, directory, "train", schema, num_shards=4, compression="GZIP")
    #   -> train-00000-of-00004 ... train-00003-of-00004 and train.json
    shards = open_shards(directory, "train")          # sidecar read, checksums verified
    batches = read(shards, batch_size=128, shuffle=True, seed=0)

Each shard is written under a temporary name (`.train-00000-of-00004.partial`) and renamed
when complete, and the sidecar is written last: an interrupted conversion never leaves a
dataset that looks complete. The sidecar's sha256 per shard catches a truncated or corrupt
shard before reading starts, with an error that names the file.

The reader batches serialized records first and parses whole batches with
`tf.io.parse_example`: one op call per batch instead of one per record, which is several
times faster (see `benchmarks/tfrecord.py`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import time
from collections.abc import Iterable

from cs20.datasets import sources

import numpy as np
import tensorflow as tf

KINDS = ("int64", "float", "bytes", "raw", "image")
COMPRESSIONS = ("", "GZIP", "ZLIB")
# Records go to the shards in blocks of this many, read back as blocks: handing each
# record on its own between the parallel reader's threads costs more than reading it.
BLOCK_RECORDS = 32


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


# Writing.

def shard_name(name: str, index: int, num_shards: int) -> str:
    return f"{name}-{index:05d}-of-{num_shards:05d}"


def sidecar_path(directory, name: str) -> pathlib.Path:
    return pathlib.Path(directory) / f"{name}.json"


def _check_compression(compression: str | None) -> str:
    compression = (compression or "").upper()
    if compression not in COMPRESSIONS:
        raise ValueError(f"unknown compression {compression!r}: use GZIP, ZLIB or none")
    return compression


def write(records: Iterable[dict], directory, name: str, schema: dict[str, Field], *,
          num_shards: int = 1, compression: str | None = None,
          metadata: dict | None = None) -> dict:
    """Writes `records` into `num_shards` shards, round-robin in blocks of BLOCK_RECORDS,
    plus the JSON sidecar; returns the sidecar's content.

    Reading the shards back one block from each in turn gives the original order; blocks
    rather than single records let the reader move whole blocks between its threads.
    """
    if num_shards < 1:
        raise ValueError(f"the number of shards must be at least 1, got {num_shards}")
    compression = _check_compression(compression)
    directory = pathlib.Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"{directory} is a file; TFRecord shards go into a folder: give a "
                         f"folder's name (it is created if missing)")
    directory.mkdir(parents=True, exist_ok=True)
    # A rewrite removes the old sidecar first: if it is interrupted there is no dataset
    # at all rather than an old sidecar describing a mix of old and new shards.
    sidecar_path(directory, name).unlink(missing_ok=True)
    finals = [directory / shard_name(name, index, num_shards) for index in range(num_shards)]
    temporaries = [path.with_name(f".{path.name}.partial") for path in finals]
    options = tf.io.TFRecordOptions(compression_type=compression)
    counts = [0] * num_shards
    writers = [tf.io.TFRecordWriter(str(path), options) for path in temporaries]
    try:
        for index, values in enumerate(records):
            shard = index // BLOCK_RECORDS % num_shards
            writers[shard].write(encode(schema, values).SerializeToString())
            counts[shard] += 1
        for writer in writers:
            writer.close()
    except BaseException:
        for writer, path in zip(writers, temporaries, strict=True):
            writer.close()
            path.unlink(missing_ok=True)
        raise
    shards = []
    for temporary, final, count in zip(temporaries, finals, counts, strict=True):
        shards.append({"file": final.name, "records": count, "bytes": temporary.stat().st_size,
                       "sha256": sources.sha256_of(temporary)})
        os.replace(temporary, final)
    content = {"name": name, "schema": {key: field.to_json() for key, field in schema.items()},
               "compression": compression, "num_records": sum(counts),
               "block_records": BLOCK_RECORDS, "shards": shards,
               "metadata": metadata or {}}
    _write_json_atomically(sidecar_path(directory, name), content)
    return content


def _write_json_atomically(path: pathlib.Path, content: dict) -> None:
    temporary = path.with_name(f".{path.name}.partial")
    temporary.write_text(json.dumps(content, indent=2) + "\n")
    os.replace(temporary, path)


# Reading.

@dataclasses.dataclass(frozen=True)
class Shards:
    """The readable shards of one dataset, as found by `open_shards`."""

    paths: tuple[pathlib.Path, ...]
    schema: dict[str, Field]
    compression: str
    num_records: int  # in the readable shards
    block_records: int
    skipped_files: tuple[pathlib.Path, ...] = ()
    skipped_records: int = 0
    metadata: dict = dataclasses.field(default_factory=dict)
    sha256s: tuple[str, ...] = ()  # of `paths`, from the sidecar (checked if verified)


SIDECAR_KEYS = ("schema", "compression", "num_records", "block_records", "shards")


def load_sidecar(directory, name: str) -> dict:
    """The sidecar's content; a missing or garbled one is a one-line error naming it."""
    path = sidecar_path(directory, name)
    if not path.is_file():
        raise FileNotFoundError(
            f"no TFRecord dataset {name!r} in {directory}: {path.name} is missing (it is "
            f"written last, so an interrupted conversion leaves none; convert again)")
    try:
        content = json.loads(path.read_text())
        missing = [key for key in SIDECAR_KEYS if key not in content]
        shards_ok = all({"file", "records", "bytes", "sha256"} <= set(entry)
                        for entry in content.get("shards", []))
        for field in content.get("schema", {}).values():
            Field.from_json(field)
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        # (JSONDecodeError and UnicodeDecodeError are ValueErrors.)
        raise ValueError(f"TFRecord sidecar {path} is garbled ({error}); convert again") from None
    if missing or not shards_ok:
        problem = f"has no {missing[0]!r}" if missing else "has a shard entry without file, " \
                                                            "records, bytes and sha256"
        raise ValueError(f"TFRecord sidecar {path} is garbled (it {problem}); convert again")
    return content


def dataset_names(directory) -> list[str]:
    """Names of the datasets in a folder (one sidecar each)."""
    return sorted(path.stem for path in pathlib.Path(directory).glob("*.json"))


def shard_problem(path: pathlib.Path, expected: dict) -> str | None:
    """Why a shard does not match its sidecar entry (missing, size, sha256), or None."""
    if not path.is_file():
        return "file missing"
    size = path.stat().st_size
    if size != expected["bytes"]:
        return f"{size:,} bytes, expected {expected['bytes']:,} (truncated?)"
    if sources.sha256_of(path) != expected["sha256"]:
        return "sha256 does not match the sidecar (corrupt)"
    return None


def bad_shards(directory, name: str) -> list[tuple[pathlib.Path, str]]:
    """(path, problem) of every shard of a dataset that fails its sidecar's size or sha256."""
    directory = pathlib.Path(directory)
    problems = ((directory / entry["file"], shard_problem(directory / entry["file"], entry))
                for entry in load_sidecar(directory, name)["shards"])
    return [(path, problem) for path, problem in problems if problem is not None]


def check_schema(found: dict[str, Field], expected: dict[str, Field], where: str) -> None:
    """A ValueError naming the first feature whose kind, shape or dtype differ."""
    for name, field in expected.items():
        if name not in found:
            raise ValueError(f"{where} has no feature {name!r} (it has {', '.join(found)})")
        if found[name] != field:
            raise ValueError(f"feature {name!r} in {where} is {found[name]}, expected {field}")


def open_shards(directory, name: str, *, verify: bool = True, skip_bad_shards: bool = False,
                expected_schema: dict[str, Field] | None = None) -> Shards:
    """Reads the sidecar and (with `verify`) checks every shard's size and sha256.

    A bad shard is a ValueError naming the file, or with `skip_bad_shards` it is left
    out and counted in `skipped_files` / `skipped_records`.
    """
    directory = pathlib.Path(directory)
    sidecar = load_sidecar(directory, name)
    schema = {key: Field.from_json(value) for key, value in sidecar["schema"].items()}
    if expected_schema is not None:
        check_schema(schema, expected_schema, str(sidecar_path(directory, name)))
    good, bad, skipped_records = [], [], 0
    for entry in sidecar["shards"]:
        path = directory / entry["file"]
        problem = shard_problem(path, entry) if verify else None
        if problem is None:
            good.append((path, entry["records"], entry["sha256"]))
        elif skip_bad_shards:
            bad.append(path)
            skipped_records += entry["records"]
            print(f"warning: skipping TFRecord shard {path}: {problem} "
                  f"({entry['records']:,} records)")
        else:
            raise ValueError(f"TFRecord shard {path} is unreadable: {problem}; convert again, "
                             f"or pass --skip-bad-shards to read the others")
    if not good:
        raise ValueError(f"no readable shard left for {name!r} in {directory}")
    return Shards(paths=tuple(path for path, _, _ in good), schema=schema,
                  compression=sidecar["compression"], block_records=sidecar["block_records"],
                  num_records=sum(count for _, count, _ in good), skipped_files=tuple(bad),
                  skipped_records=skipped_records, metadata=sidecar.get("metadata", {}),
                  sha256s=tuple(sha256 for _, _, sha256 in good))


def read_records(shards: Shards, *, shuffle_files: bool = False, seed: int = 0,
                 deterministic: bool = True) -> tf.data.Dataset:
    """The serialized records of all shards, read in parallel, a block at a time.

    Unshuffled and deterministic, one block from each shard in turn gives back the
    order the writer saw.
    """
    files = tf.data.Dataset.from_tensor_slices([str(path) for path in shards.paths])
    if shuffle_files:
        files = files.shuffle(len(shards.paths), seed=seed, reshuffle_each_iteration=True)
    blocks = files.interleave(
        lambda path: tf.data.TFRecordDataset(path, compression_type=shards.compression)
        .batch(shards.block_records),  # (block,) serialized records
        cycle_length=len(shards.paths), block_length=1, num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=deterministic)
    return blocks.unbatch()


def read(shards: Shards, *, batch_size: int | None = None, shuffle: bool = False, seed: int = 0,
         shuffle_buffer: int = 10_000, repeat: bool = False, drop_remainder: bool = False,
         parse: str = "batched", cache: bool = False, deterministic: bool = True,
         decode_images: bool = True) -> tf.data.Dataset:
    """Dicts of decoded features, one per record (batch_size None) or per batch.

    parse="batched" batches serialized records and parses each batch with one
    `tf.io.parse_example`; "per_record" parses each record on its own first (the slow
    way, kept to measure the difference). `cache` keeps the serialized records in memory
    after the first pass (no more file reading or decompression). `deterministic=False`
    lets parallel reads finish out of order, a little faster.
    """
    if parse not in ("batched", "per_record"):
        raise ValueError(f"unknown parse mode {parse!r}: use batched or per_record")
    spec = feature_spec(shards.schema)
    records = read_records(shards, shuffle_files=shuffle, seed=seed, deterministic=deterministic)
    if cache:
        records = records.cache()
    if shuffle:
        records = records.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        records = records.repeat()
    parallel = dict(num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic)
    if parse == "per_record" or batch_size is None:
        examples = records.map(
            lambda record: decode(shards.schema, tf.io.parse_single_example(record, spec),
                                  batched=False, decode_images=decode_images), **parallel)
        if batch_size is not None:
            examples = examples.batch(batch_size, drop_remainder=drop_remainder)
    else:
        examples = records.batch(batch_size, drop_remainder=drop_remainder).map(
            lambda batch: decode(shards.schema, tf.io.parse_example(batch, spec),
                                 batched=True, decode_images=decode_images), **parallel)
    return examples.prefetch(tf.data.AUTOTUNE)


def records_per_second(dataset: tf.data.Dataset, passes: int = 1) -> float:
    """Records per second over `passes` full passes of a batched dataset (after a
    warm-up pass, so caches are filled and functions traced)."""
    for _ in dataset:
        pass
    count, started = 0, time.perf_counter()
    for _ in range(passes):
        for batch in dataset:
            count += tf.nest.flatten(batch)[0].shape[0]
    return count / (time.perf_counter() - started)


def compare_readers(shards: Shards, batch_size: int, passes: int = 1) -> dict[str, float]:
    """Records/s of the three ways to read the same shards into decoded batches."""
    variants = {"per_record_parse": dict(parse="per_record"), "batched_parse": {},
                "batched_parse_cache": dict(cache=True)}
    return {name: records_per_second(read(shards, batch_size=batch_size, **options), passes)
            for name, options in variants.items()}


# Folders of images and inspection.

IMAGE_SCHEMA = {"image": Field("image", None), "label": Field("int64"),
                "shape": Field("int64", (3,)), "filename": Field("bytes")}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp")


def image_record(path: pathlib.Path, label: int) -> dict:
    """The course's example record: the encoded image, its label and its shape."""
    encoded = path.read_bytes()
    shape = tf.io.decode_image(encoded, expand_animations=False).shape  # (height, width, channels)
    return {"image": encoded, "label": label, "shape": np.asarray(shape, np.int64),
            "filename": path.name}


def write_image_folder(images_dir, directory, name: str = "images", *, num_shards: int = 1,
                       compression: str | None = None) -> dict:
    """A folder with one sub-folder of images per label -> TFRecords (labels sorted by name)."""
    images_dir = pathlib.Path(images_dir)
    if not images_dir.is_dir():
        raise FileNotFoundError(f"image folder {images_dir} does not exist")
    labels = sorted(path.name for path in images_dir.iterdir() if path.is_dir())
    files = [(path, label) for label, folder in enumerate(labels)
             for path in sorted((images_dir / folder).iterdir())
             if path.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise ValueError(f"no images in the sub-folders of {images_dir} (one sub-folder per "
                         f"label, files ending in {', '.join(IMAGE_SUFFIXES)})")
    return write((image_record(path, label) for path, label in files), directory, name,
                 IMAGE_SCHEMA, num_shards=num_shards, compression=compression,
                 metadata={"labels": labels, "source": str(images_dir)})


def _describe_value(value) -> str:
    array = np.asarray(value)
    if array.dtype.kind in "SO":
        items = [bytes(item) for item in array.ravel()]
        shown = [f"<{len(item):,} bytes>" if len(item) > 40 else repr(item) for item in items]
        return shown[0] if array.ndim == 0 else "[" + ", ".join(shown) + "]"
    if array.size > 12:
        return f"array {array.shape} {array.dtype}, min {array.min()}, max {array.max()}"
    return repr(array.tolist())


def inspect(directory) -> tuple[str, bool]:
    """A report of every dataset in a folder (schema, counts, first record, checksums)
    and whether all shards matched their checksums."""
    directory = pathlib.Path(directory)
    names = dataset_names(directory)
    if not names:
        raise FileNotFoundError(f"no TFRecord sidecar (*.json) in {directory}")
    lines, all_good = [], True
    for name in names:
        sidecar = load_sidecar(directory, name)
        lines.append(f"{name}: {sidecar['num_records']:,} records in {len(sidecar['shards'])} "
                     f"shard(s), compression {sidecar['compression'] or 'none'}")
        for feature, field in sidecar["schema"].items():
            lines.append(f"  feature {feature}: {Field.from_json(field)}")
        if sidecar.get("metadata"):
            lines.append(f"  metadata: {json.dumps(sidecar['metadata'])[:200]}")
        for entry in sidecar["shards"]:
            problem = shard_problem(directory / entry["file"], entry)
            all_good &= problem is None
            lines.append(f"  {entry['file']}: {entry['records']:,} records, "
                         f"{entry['bytes']:,} bytes, {problem or 'sha256 ok'}")
        try:
            shards = open_shards(directory, name, skip_bad_shards=True)
        except ValueError as error:
            lines.append(f"  first record: none ({error})")
            continue
        first = next(iter(read(shards, decode_images=False)))
        lines.append("  first record:")
        lines.extend(f"    {feature} = {_describe_value(value.numpy())}"
                     for feature, value in first.items())
    return "\n".join(lines), all_good
