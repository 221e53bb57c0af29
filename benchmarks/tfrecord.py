"""TFRecord write and read speed for MNIST-sized records, as JSON.

    CS20_DATA_DIR=../shared/data python benchmarks/tfrecord.py [--shards 1,4] [--batch-size 128]
        [--records N] [--tiny]

The 55,000 MNIST training digits (or the first --records) (784 raw bytes + an int64 label, 838 bytes a record)
are written uncompressed and with GZIP into 1 and N shards (records/s and MB/s of the
files written, encoding included), then read back into decoded batches three ways:
parsing one record at a time, parsing whole batches with `tf.io.parse_example`, and
batched from an in-memory cache of the serialized records. MB/s counts the bytes of the
files on disk (compressed for GZIP). Each read figure is the best of --repeats passes
after a warm-up pass. The in-memory `from_tensor_slices` pipeline is the ceiling.
"""

from __future__ import annotations

import os
import platform
import tempfile
import time

from cs20.datasets import mnist, tfrecord_io, tfrecord_reports

import options
import tensorflow as tf


def time_writes(splits: mnist.Splits, directory: str, num_shards: int, compression: str) -> dict:
    started = time.perf_counter()
    sidecar = mnist.write_tfrecords(splits, directory, num_shards=num_shards,
                                    compression=compression, names=("train",))["train"]
    seconds = time.perf_counter() - started
    total_bytes = sum(shard["bytes"] for shard in sidecar["shards"])
    return {"records_per_second": round(sidecar["num_records"] / seconds),
            "mb_per_second": round(total_bytes / 1e6 / seconds, 1),
            "mb_on_disk": round(total_bytes / 1e6, 1)}


def time_reads(directory: str, batch_size: int, repeats: int) -> dict:
    shards = tfrecord_io.open_shards(directory, "train")
    megabytes_per_record = sum(path.stat().st_size for path in shards.paths) / 1e6 / \
        shards.num_records
    best = {}
    for _ in range(repeats):
        for name, rate in tfrecord_reports.compare_readers(shards, batch_size).items():
            best[name] = max(best.get(name, 0.0), rate)
    return {name: {"records_per_second": round(rate),
                   "mb_per_second": round(rate * megabytes_per_record, 1)}
            for name, rate in best.items()}


def main(argv=None) -> None:
    parser = options.Parser(__doc__, tiny={"shards": "1,2", "records": 1000, "repeats": 1})
    parser.add_argument("--shards", default="1,4", help="shard counts to compare")
    parser.add_argument("--batch-size", type=int, default=128, help="records per batch")
    parser.add_argument("--repeats", type=int, default=2, help="passes per read figure (best)")
    parser.add_argument("--records", type=int, default=0,
                        help="the first N training digits only (0: all 55,000)")
    options.print_json(measure, parser.parse_args(argv))


def measure(arguments) -> dict:
    splits = options.first_digits(mnist.load_splits(), "train", arguments.records)
    in_memory = tf.data.Dataset.from_tensor_slices(
        {"image": splits.train.images, "label": splits.train.labels}).batch(arguments.batch_size)
    report = {
        "machine": {"cpus": os.cpu_count(),
                    "processor": platform.processor() or platform.machine(),
                    "tensorflow": tf.__version__},
        "records": len(splits.train), "batch_size": arguments.batch_size,
        "in_memory_records_per_second": round(max(
            tfrecord_reports.records_per_second(in_memory) for _ in range(arguments.repeats))),
        "write": {}, "read": {},
    }
    with tempfile.TemporaryDirectory() as scratch:
        for compression in ("", "GZIP"):
            for num_shards in (int(count) for count in arguments.shards.split(",")):
                label = f"{compression.lower() or 'uncompressed'}_{num_shards}_shards"
                directory = os.path.join(scratch, label)
                report["write"][label] = time_writes(splits, directory, num_shards, compression)
                report["read"][label] = time_reads(directory, arguments.batch_size,
                                                   arguments.repeats)
    return report


if __name__ == "__main__":
    main()
