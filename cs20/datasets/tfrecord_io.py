"""Sharded TFRecord files of `tf.train.Example`s, written and read back checked.

    write(records, directory, "train", schema, num_shards=4, compression="GZIP")
    #   -> train-00000-of-00004 ... train-00003-of-00004 and train.json
    shards = open_shards(directory, "train")          # sidecar read, checksums verified
    batches = read(shards, batch_size=128, shuffle=True, seed=0)

The schema (tfrecord_schema.py) travels with the shards in a JSON sidecar. Each shard is
written under a temporary name (`.train-00000-of-00004.partial`) and renamed when
complete, and the sidecar is written last: an interrupted conversion never leaves a
dataset that looks complete. The sidecar's sha256 per shard catches a truncated or corrupt
shard before reading starts, with an error that names the file.

The reader batches serialized records first and parses whole batches with
`tf.io.parse_example`: one op call per batch instead of one per record, which is several
times faster (tfrecord_reports.compare_readers measures it).
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
from collections.abc import Iterable

from cs20.datasets import sources, tfrecord_schema

import tensorflow as tf

COMPRESSIONS = ("", "GZIP", "ZLIB")
# Records go to the shards in blocks of this many, read back as blocks: handing each
# record on its own between the parallel reader's threads costs more than reading it.
BLOCK_RECORDS = 32


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


def write(records: Iterable[dict], directory, name: str,
          schema: dict[str, tfrecord_schema.Field], *,
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
            writers[shard].write(tfrecord_schema.encode(schema, values).SerializeToString())
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
    schema: dict[str, tfrecord_schema.Field]
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
            tfrecord_schema.Field.from_json(field)
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


def open_shards(directory, name: str, *, verify: bool = True, skip_bad_shards: bool = False,
                expected_schema: dict[str, tfrecord_schema.Field] | None = None) -> Shards:
    """Reads the sidecar and (with `verify`) checks every shard's size and sha256.

    A bad shard is a ValueError naming the file, or with `skip_bad_shards` it is left
    out and counted in `skipped_files` / `skipped_records`.
    """
    directory = pathlib.Path(directory)
    sidecar = load_sidecar(directory, name)
    schema = {key: tfrecord_schema.Field.from_json(value)
              for key, value in sidecar["schema"].items()}
    if expected_schema is not None:
        tfrecord_schema.check_schema(schema, expected_schema, str(sidecar_path(directory, name)))
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
    spec = tfrecord_schema.feature_spec(shards.schema)
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
            lambda record: tfrecord_schema.decode(
                shards.schema, tf.io.parse_single_example(record, spec), batched=False,
                decode_images=decode_images), **parallel)
        if batch_size is not None:
            examples = examples.batch(batch_size, drop_remainder=drop_remainder)
    else:
        examples = records.batch(batch_size, drop_remainder=drop_remainder).map(
            lambda batch: tfrecord_schema.decode(
                shards.schema, tf.io.parse_example(batch, spec), batched=True,
                decode_images=decode_images), **parallel)
    return examples.prefetch(tf.data.AUTOTUNE)



# Folders of images.

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp")


def write_image_folder(images_dir, directory, name: str = "images", *, num_shards: int = 1,
                       compression: str | None = None) -> dict:
    """A folder with one sub-folder of images per label -> TFRecords (labels sorted by name).

    Files that do not decode (not images, or truncated) are left out and listed in the
    sidecar's metadata["skipped"], as label/name: a folder of downloaded pictures often
    holds a few, and the rest are still worth training on. They are found before anything
    is written, so a folder with no readable image leaves an earlier dataset in place.
    """
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
    shapes = [tfrecord_schema.decoded_shape(path) for path, _ in files]
    if all(shape is None for shape in shapes):
        raise ValueError(f"none of the {len(files)} files in the sub-folders of {images_dir} "
                         f"decodes as an image (truncated, or not JPEG, PNG, GIF or BMP)")
    records = (tfrecord_schema.image_record(path, label, shape)
               for (path, label), shape in zip(files, shapes, strict=True) if shape is not None)
    skipped = [f"{path.parent.name}/{path.name}"
               for (path, _), shape in zip(files, shapes, strict=True) if shape is None]
    return write(records, directory, name, tfrecord_schema.IMAGE_SCHEMA, num_shards=num_shards,
                 compression=compression, metadata={"labels": labels, "source": str(images_dir),
                                                    "skipped": skipped})
