"""What is in a folder of TFRecords, and how fast the ways of reading it are.

`inspect` reports every dataset of a folder (schema, counts, checksums, first record) for
`python -m cs20 data inspect`; `compare_readers` measures records/s of per-record vs
batched parsing (lecture 8a's table, benchmarks/tfrecord.py).
"""

from __future__ import annotations

import json
import pathlib
import time

from cs20.datasets import tfrecord_io, tfrecord_schema

import numpy as np
import tensorflow as tf


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


def compare_readers(shards: tfrecord_io.Shards, batch_size: int,
                    passes: int = 1) -> dict[str, float]:
    """Records/s of the three ways to read the same shards into decoded batches."""
    variants = {"per_record_parse": dict(parse="per_record"), "batched_parse": {},
                "batched_parse_cache": dict(cache=True)}
    return {name: records_per_second(
                tfrecord_io.read(shards, batch_size=batch_size, **options), passes)
            for name, options in variants.items()}


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
    names = tfrecord_io.dataset_names(directory)
    if not names:
        raise FileNotFoundError(f"no TFRecord sidecar (*.json) in {directory}")
    lines, all_good = [], True
    for name in names:
        sidecar = tfrecord_io.load_sidecar(directory, name)
        lines.append(f"{name}: {sidecar['num_records']:,} records in {len(sidecar['shards'])} "
                     f"shard(s), compression {sidecar['compression'] or 'none'}")
        for feature, field in sidecar["schema"].items():
            lines.append(f"  feature {feature}: {tfrecord_schema.Field.from_json(field)}")
        if sidecar.get("metadata"):
            lines.append(f"  metadata: {json.dumps(sidecar['metadata'])[:200]}")
        for entry in sidecar["shards"]:
            problem = tfrecord_io.shard_problem(directory / entry["file"], entry)
            all_good &= problem is None
            lines.append(f"  {entry['file']}: {entry['records']:,} records, "
                         f"{entry['bytes']:,} bytes, {problem or 'sha256 ok'}")
        try:
            shards = tfrecord_io.open_shards(directory, name, skip_bad_shards=True)
        except ValueError as error:
            lines.append(f"  first record: none ({error})")
            continue
        first = next(iter(tfrecord_io.read(shards, decode_images=False)))
        lines.append("  first record:")
        lines.extend(f"    {feature} = {_describe_value(value.numpy())}"
                     for feature, value in first.items())
    return "\n".join(lines), all_good
