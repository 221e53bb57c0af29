"""Lecture 8a's records: one Example by hand, MNIST as shards, and how fast each reads.

1. `image_example`, `print_example`: the course's record (09_tfrecord_example.py), an
   image file's encoded bytes, its label and its shape, each a `tf.train.Feature` (a
   BytesList or an Int64List) gathered in `tf.train.Features`; shown as protobuf text;
2. `convert`: the library's sharded writer for real data (cs20/datasets/tfrecord_io.py;
   the schema that encodes and parses every record is in tfrecord_schema.py): the splits
   to shards with a JSON sidecar holding the schema, the record count and every shard's
   sha256. Shards already in the folder are reused only if they hold the same data,
   written the same way, and pass their sha256 (`check_reused_shards`);
3. `throughput_table`: the input pipelines timed: in memory, parsing one record at a
   time, parsing whole batches with `tf.io.parse_example`, batched and cached, with and
   without GZIP.
"""

from __future__ import annotations

import pathlib
import tempfile

from cs20.datasets import mnist, tfrecord_io, tfrecord_reports
from lectures.l08_tfrecord.config import Config

import tensorflow as tf
from google.protobuf import text_format


def image_example(image_path: pathlib.Path, label: int) -> tf.train.Example:
    """The course's record: the encoded image file, its label and its shape."""
    encoded = image_path.read_bytes()
    shape = tf.io.decode_image(encoded, expand_animations=False).shape  # (height, width, channels)
    return tf.train.Example(features=tf.train.Features(feature={
        "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[encoded])),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
        "shape": tf.train.Feature(int64_list=tf.train.Int64List(value=list(shape))),
    }))


def print_example(example: tf.train.Example) -> None:
    """The Example in protobuf text, one line per feature, the image's bytes abridged."""
    shown = tf.train.Example()
    shown.CopyFrom(example)
    image_bytes = shown.features.feature["image"].bytes_list.value
    image_bytes[0] = f"<{len(image_bytes[0]):,} bytes of the encoded file>".encode()
    print(f"Worked example: one tf.train.Example ({example.ByteSize():,} bytes serialized)")
    for name, feature in sorted(shown.features.feature.items()):
        print(f"  {name}: {text_format.MessageToString(feature, as_one_line=True)}")


def check_reused_shards(directory: pathlib.Path, skip_bad_shards: bool) -> None:
    """Shards about to be reused must pass their sha256, unless --skip-bad-shards asks
    the reader to leave out those that fail (with a warning for each)."""
    if skip_bad_shards:
        return
    for name in mnist.SPLIT_NAMES:
        for path, problem in tfrecord_io.bad_shards(directory, name):
            raise ValueError(f"TFRecord shard {path} is unreadable: {problem}; delete "
                             f"{directory} to convert again, or pass --skip-bad-shards "
                             f"to train on the others")


def convert(cfg: Config, splits: mnist.Splits, directory: pathlib.Path) -> None:
    """Writes the splits as shards into `directory`, unless the same data written the
    same way is there already (then every shard's sha256 is checked)."""
    differs = mnist.tfrecords_differ(directory, splits, cfg.shards, cfg.compression)
    if differs is None:
        check_reused_shards(directory, cfg.skip_bad_shards)
        print(f"TFRecords of {splits.source} already in {directory}: reusing them "
              f"(sha256 of every shard checked)")
        return
    if tfrecord_io.dataset_names(directory):
        print(f"Converting again into {directory}: {differs}")
    for name, sidecar in mnist.write_tfrecords(splits, directory, num_shards=cfg.shards,
                                               compression=cfg.compression).items():
        total = sum(shard["bytes"] for shard in sidecar["shards"])
        print(f"{name}: {sidecar['num_records']:,} records -> {len(sidecar['shards'])} "
              f"shards, {total / 1e6:.1f} MB")


def throughput_table(splits: mnist.Splits, batch_size: int) -> dict:
    """Records/s of each way to feed the training digits, as decoded uint8 batches."""
    in_memory = tf.data.Dataset.from_tensor_slices(
        {"image": splits.train.images, "label": splits.train.labels}).batch(batch_size)
    figures = {"in_memory": tfrecord_reports.records_per_second(in_memory)}
    for compression in ("", "GZIP"):
        label = compression.lower() or "uncompressed"
        with tempfile.TemporaryDirectory() as scratch:  # 46 MB uncompressed: not kept
            mnist.write_tfrecords(splits, scratch, num_shards=4, compression=compression,
                                  names=("train",))
            shards = tfrecord_io.open_shards(scratch, "train")
            for name, rate in tfrecord_reports.compare_readers(shards, batch_size).items():
                figures[f"{name}_{label}"] = rate
    print(f"\nInput pipeline, records/s ({len(splits.train):,} images, batch {batch_size}, "
          f"4 shards)")
    for name, rate in figures.items():
        print(f"  {name:<36} {rate:>10,.0f}")
    return {f"throughput/{name}": round(rate) for name, rate in figures.items()}
