"""Lecture 8 (part 1): TFRecord files, from one image to a sharded MNIST training pipeline.

A TFRecord file is a sequence of serialized `tf.train.Example` protocol buffers: one
binary format for any data, read sequentially and fast. The lesson follows the course's
09_tfrecord_example.py, then goes on to real data:

1. one Example by hand: friday.jpg's encoded bytes, its label and its shape, each a
   `tf.train.Feature` (a BytesList or an Int64List), gathered in `tf.train.Features`;
   serialized, written with `tf.io.TFRecordWriter`, read back with
   `tf.data.TFRecordDataset` and parsed with `tf.io.parse_single_example` and a feature
   spec. The decoded pixels are bit-identical to decoding the file itself;
2. the library's sharded writer and reader for real data (cs20/datasets/tfrecord_io.py;
   the schema that encodes and parses every record is in tfrecord_schema.py): MNIST (or
   --dataset) to --shards shards with a JSON sidecar holding the schema, the record count
   and every shard's sha256. Shards already in --tfrecord-dir are reused only if they hold
   the same data, written the same way, and pass their sha256 (--skip-bad-shards leaves
   out those that fail);
3. the input pipelines timed: in memory, parsing one record at a time, parsing whole
   batches with `tf.io.parse_example`, batched and cached, with and without GZIP;
4. lecture 3's logistic regression trained from the shards.

--dataset may also name a folder of shards made by `python -m cs20 data tfrecord mnist`
(trained from as it is) or `python -m cs20 data tfrecord --images DIR`.

    python lectures/l08_tfrecord.py
    python lectures/l08_tfrecord.py --dataset shards/   # python -m cs20 data tfrecord ... --out shards
    python -m cs20 data inspect runs/l08_tfrecord/<run>/tfrecords
    tensorboard --logdir runs/l08_tfrecord

It first prints the Example as text (the image's bytes abridged). Look at the records/s
table (batched against per-record parsing), test/accuracy in results.json, and
image_record/decoded.png. Our figures: README, Lectures table, row "8a TFRecord", and
benchmarks/tfrecord.py.
"""

from __future__ import annotations

import dataclasses
import pathlib
import tempfile

from cs20 import classification, cli, config, runtime, summaries
from cs20.datasets import idx, images, mnist, tfrecord_io, tfrecord_reports
from cs20.models import logistic

import numpy as np
import tensorflow as tf
from google.protobuf import text_format


@dataclasses.dataclass(frozen=True)
class Config(config.EpochTrainConfig, idx.DatasetFlags):
    num_epochs: int = config.option(10, "Passes over the 55,000 training digits.")
    learning_rate: float = config.option(0.01, "Adam learning rate (the peak, with decay).")
    image: str = config.option("", "Image for the one-record example (default: friday.jpg).")
    shards: int = config.option(4, "Number of MNIST shards per split.")
    compression: str = config.option("", "Compression of the MNIST shards.",
                                     choices=("", "GZIP", "ZLIB"))
    tfrecord_dir: str = config.option("", "Folder of the MNIST shards (default: <run dir>/"
                                          "tfrecords); shards already there are reused if "
                                          "they hold the same data and pass their sha256.")
    throughput: bool = config.option(True, "Time the input pipelines (about 20 s).",
                                     changeable=True)


# 1. One Example by hand.

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


def image_round_trip(run, image_path: pathlib.Path, directory: pathlib.Path,
                     quiet: bool) -> dict:
    """Example -> bytes -> a TFRecord file -> bytes -> parsed features -> pixels."""
    example = image_example(image_path, label=1)
    if not quiet:
        print_example(example)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{image_path.stem}.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as writer:
        writer.write(example.SerializeToString())
    record = next(iter(tf.data.TFRecordDataset(str(path))))  # a scalar tf.string
    # The feature spec: each feature's type and shape ([] a scalar; the image is one string).
    spec = {"image": tf.io.FixedLenFeature([], tf.string),
            "label": tf.io.FixedLenFeature([], tf.int64),
            "shape": tf.io.FixedLenFeature([3], tf.int64)}
    parsed = tf.io.parse_single_example(record, spec)
    image = tf.io.decode_image(parsed["image"], expand_animations=False)  # (h, w, c) uint8
    expected = tf.io.decode_image(image_path.read_bytes(), expand_animations=False)
    tf.io.write_file(str(directory / "decoded.png"), tf.io.encode_png(image))
    summaries.images(run.writer, "tfrecord/decoded_image", image[tf.newaxis], step=0)
    print(f"{image_path.name}: label {int(parsed['label'])}, stored shape "
          f"{parsed['shape'].numpy().tolist()}, decoded shape {image.shape.as_list()}, "
          f"decoded image: {directory / 'decoded.png'}")
    return {"image/bit_exact": bool(np.array_equal(image.numpy(), expected.numpy())),
            "image/record_bytes": len(record.numpy())}


# 2-4. The library's shards for real data, their speed, and training from them.

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


def main(argv=None) -> dict:
    cfg = config.parse(Config, argv, __doc__, prog="l08_tfrecord")
    run = runtime.start("l08_tfrecord", cfg)

    image_path = images.locate(cfg.image or "friday", cfg.data_dir)
    results = image_round_trip(run, image_path, run.path("image_record"), cfg.quiet)

    splits = mnist.load_splits(cfg.data_dir, dataset=cfg.dataset,
                               skip_bad_shards=cfg.skip_bad_shards)
    if (not idx.is_registered(cfg.dataset)
            and set(mnist.SPLIT_NAMES) <= set(tfrecord_io.dataset_names(cfg.dataset))):
        tfrecord_dir = pathlib.Path(cfg.dataset)  # a folder of MNIST shards: no conversion
        print(f"Training from the shards in {tfrecord_dir}")
    else:
        tfrecord_dir = (pathlib.Path(cfg.tfrecord_dir) if cfg.tfrecord_dir
                        else run.path("tfrecords"))
        convert(cfg, splits, tfrecord_dir)
    if cfg.throughput:
        results.update(throughput_table(splits, cfg.batch_size))

    # Training reads only the shards: the sidecar's schema must be MNIST's, and every
    # shard's sha256 is checked before the first batch. The checkpoints hold the data
    # iterator, shuffle buffer included (10,000 serialized digits, about 10 MB), so a
    # resumed run continues with the batches it would have seen.
    pipelines = mnist.load_datasets(cfg.batch_size, source="tfrecord", tfrecord_dir=tfrecord_dir,
                                    seed=cfg.seed, flatten=True,
                                    skip_bad_shards=cfg.skip_bad_shards)
    _, training_results = classification.train_and_evaluate(
        run, cfg, lambda: logistic.build(num_classes=splits.num_classes),
        train_data=pipelines.train,
        validation_data=pipelines.validation, test_data=pipelines.test,
        steps_per_epoch=-(-pipelines.train_size // cfg.batch_size))
    results.update(training_results)
    return run.finish(results)


if __name__ == "__main__":
    cli.guard(main)
