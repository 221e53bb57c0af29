# %% [markdown]
# # Lecture 8 (part 1): TFRecord files, from one image to a sharded MNIST training pipeline
#
# A TFRecord file is a sequence of serialized `tf.train.Example` protocol buffers: one
# binary format for any data, read sequentially and fast. The lesson follows the course's
# 09_tfrecord_example.py, then goes on to real data:
#
# 1. one Example by hand: friday.jpg's encoded bytes, its label and its shape, each a
#    `tf.train.Feature` (a BytesList or an Int64List), gathered in `tf.train.Features`;
#    serialized, written with `tf.io.TFRecordWriter`, read back with
#    `tf.data.TFRecordDataset` and parsed with `tf.io.parse_single_example` and a feature
#    spec. The decoded pixels are bit-identical to decoding the file itself;
# 2. the library's sharded writer and reader for real data: MNIST (or `dataset`) to
#    `shards` shards with a JSON sidecar holding the schema, the record count and every
#    shard's sha256;
# 3. the input pipelines timed: in memory, parsing one record at a time, parsing whole
#    batches with `tf.io.parse_example`, batched and cached, with and without GZIP;
# 4. lecture 3b's logistic regression trained from the shards.
#
# The Example's features, the conversion and the timing are in [records.py](records.py),
# next to this file. Run it as a script with `python -m lectures.l08_tfrecord` (`--help`
# lists the settings); look at the records/s table (batched against per-record parsing),
# test/accuracy in the results, and image_record/decoded.png.

# %%
import pathlib

from cs20 import classification, config, plots, runtime, summaries
from cs20.datasets import idx, images, mnist, tfrecord_io
from lectures.l03_logistic_regression import model as logistic
from lectures.l08_tfrecord import records
from lectures.l08_tfrecord.config import Config

import numpy as np
import tensorflow as tf

# %% tags=["parameters"]
# The settings: the lecture's defaults, changed here in a notebook, e.g.
# {"num_epochs": 1, "throughput": False}. As a script, flags set them instead.
settings = {}

# %%
cfg = config.for_lecture(Config, settings)
run = runtime.start("l08_tfrecord", cfg)

# %% [markdown]
# ## 1. One Example by hand
#
# The course's record: the image file's encoded bytes, its label and its shape, each a
# `tf.train.Feature`, gathered in `tf.train.Features` (`records.image_example`). Here it
# is as protobuf text, the image's bytes abridged.

# %%
image_path = images.locate(cfg.image or "friday", cfg.data_dir)
example = records.image_example(image_path, label=1)
if not cfg.quiet:
    records.print_example(example)

# %% [markdown]
# Serialized into a TFRecord file, read back as a scalar `tf.string`, parsed with a
# feature spec (each feature's type and shape: `[]` a scalar; the image is one string),
# and decoded: the pixels must be exactly those of decoding the file itself.

# %%
record_dir = run.path("image_record")
record_dir.mkdir(parents=True, exist_ok=True)
record_path = record_dir / f"{image_path.stem}.tfrecord"
with tf.io.TFRecordWriter(str(record_path)) as writer:
    writer.write(example.SerializeToString())
record = next(iter(tf.data.TFRecordDataset(str(record_path))))  # a scalar tf.string
spec = {"image": tf.io.FixedLenFeature([], tf.string),
        "label": tf.io.FixedLenFeature([], tf.int64),
        "shape": tf.io.FixedLenFeature([3], tf.int64)}
parsed = tf.io.parse_single_example(record, spec)
image = tf.io.decode_image(parsed["image"], expand_animations=False)  # (h, w, c) uint8
expected = tf.io.decode_image(image_path.read_bytes(), expand_animations=False)
tf.io.write_file(str(record_dir / "decoded.png"), tf.io.encode_png(image))
summaries.images(run.writer, "tfrecord/decoded_image", image[tf.newaxis], step=0)
print(f"{image_path.name}: label {int(parsed['label'])}, stored shape "
      f"{parsed['shape'].numpy().tolist()}, decoded shape {image.shape.as_list()}, "
      f"decoded image: {record_dir / 'decoded.png'}")
plots.show(record_dir / "decoded.png")
results = {"image/bit_exact": bool(np.array_equal(image.numpy(), expected.numpy())),
           "image/record_bytes": len(record.numpy())}

# %% [markdown]
# ## 2. MNIST as shards
#
# The library's sharded writer and reader for real data (cs20/datasets/tfrecord_io.py;
# the schema that encodes and parses every record is in tfrecord_schema.py). Shards
# already in `tfrecord_dir` are reused only if they hold the same data, written the same
# way, and pass their sha256 (`skip_bad_shards` leaves out those that fail). A `dataset`
# that is itself a folder of MNIST shards is trained from as it is.

# %%
splits = mnist.load_splits(cfg.data_dir, dataset=cfg.dataset,
                           skip_bad_shards=cfg.skip_bad_shards)
if (not idx.is_registered(cfg.dataset)
        and set(mnist.SPLIT_NAMES) <= set(tfrecord_io.dataset_names(cfg.dataset))):
    tfrecord_dir = pathlib.Path(cfg.dataset)  # a folder of MNIST shards: no conversion
    print(f"Training from the shards in {tfrecord_dir}")
else:
    tfrecord_dir = (pathlib.Path(cfg.tfrecord_dir) if cfg.tfrecord_dir
                    else run.path("tfrecords"))
    records.convert(cfg, splits, tfrecord_dir)

# %% [markdown]
# ## 3. How fast each pipeline reads
#
# Records per second of the training digits, decoded into uint8 batches: from memory,
# and from shards (uncompressed and GZIP) parsed one record at a time or a batch at a time.

# %%
if cfg.throughput:
    results.update(records.throughput_table(splits, cfg.batch_size))

# %% [markdown]
# ## 4. Training from the shards
#
# Lecture 3b's logistic regression, read only from the shards: the sidecar's schema must
# be MNIST's, and every shard's sha256 is checked before the first batch. The checkpoints
# hold the data iterator, shuffle buffer included (10,000 serialized digits, about
# 10 MB), so a resumed run continues with the batches it would have seen.

# %%
pipelines = mnist.load_datasets(cfg.batch_size, source="tfrecord", tfrecord_dir=tfrecord_dir,
                                seed=cfg.seed, flatten=True,
                                skip_bad_shards=cfg.skip_bad_shards)
_, training_results = classification.train_and_evaluate(
    run, cfg, lambda: logistic.build(num_classes=splits.num_classes),
    train_data=pipelines.train,
    validation_data=pipelines.validation, test_data=pipelines.test,
    steps_per_epoch=-(-pipelines.train_size // cfg.batch_size))
results.update(training_results)

# %% [markdown]
# ## 5. Results, and TensorBoard
#
# What the run measured (also in results.json in the run directory). In a notebook,
# TensorBoard opens below.

# %%
results = run.finish(results)
results

# %%
# %load_ext tensorboard
# %tensorboard --logdir {run.directory}
