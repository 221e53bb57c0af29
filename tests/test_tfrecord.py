"""TFRecord encoding, sharded writing, checked reading, the CLI, and MNIST from TFRecords."""

import json

from cs20 import __main__ as cs20_cli
from cs20.datasets import mnist, sources, tfrecord_io, tfrecord_reports, tfrecord_schema

import numpy as np
import pytest
import tensorflow as tf

Field = tfrecord_schema.Field

EVERY_KIND = {
    "label": Field("int64"),
    "matrix": Field("int64", (2, 3)),
    "vector": Field("float", (4,)),
    "ragged_floats": Field("float", None),
    "ragged_ints": Field("int64", None),
    "name": Field("bytes"),
    "pair": Field("bytes", (2,)),
    "tokens": Field("bytes", None),
    "pixels": Field("raw", (28, 28, 1), "uint8"),
    "weights": Field("raw", (3, 2), "float32"),
    "thumbnail": Field("image", (5, 4, 3)),
}


def png(array: np.ndarray) -> bytes:
    return tf.io.encode_png(array).numpy()


def every_kind_record(index: int, rng: np.random.Generator) -> dict:
    thumbnail = rng.integers(0, 256, (5, 4, 3), dtype=np.uint8)
    return {
        "label": index, "matrix": np.arange(6).reshape(2, 3) * index,
        "vector": rng.normal(size=4).astype(np.float32),
        "ragged_floats": rng.normal(size=index % 3).astype(np.float32),
        "ragged_ints": list(range(index % 4)), "name": f"record {index}",
        "pair": [b"a" * index, b"\x00\xff"], "tokens": [b"t"] * (index % 3),
        "pixels": rng.integers(0, 256, (28, 28, 1), dtype=np.uint8),
        "weights": rng.normal(size=(3, 2)).astype(np.float32), "thumbnail": png(thumbnail),
        "_thumbnail_pixels": thumbnail,
    }


@pytest.fixture
def written(tmp_path):
    rng = np.random.default_rng(0)
    records = [every_kind_record(index, rng) for index in range(70)]
    sidecar = tfrecord_io.write(
        ({key: value for key, value in record.items() if not key.startswith("_")}
         for record in records), tmp_path, "kinds", EVERY_KIND, num_shards=3)
    return tmp_path, records, sidecar


def assert_record_equal(actual: dict, expected: dict) -> None:
    for name in ("label", "matrix", "vector", "ragged_floats", "ragged_ints", "pixels",
                 "weights"):
        np.testing.assert_array_equal(np.asarray(actual[name]), np.asarray(expected[name]),
                                      err_msg=name)
    assert actual["name"] == expected["name"].encode()
    assert list(actual["pair"]) == expected["pair"]
    assert list(actual["tokens"]) == expected["tokens"]
    np.testing.assert_array_equal(actual["thumbnail"], expected["_thumbnail_pixels"])


def test_every_feature_kind_round_trips_per_record_and_batched(written):
    directory, records, _ = written
    shards = tfrecord_io.open_shards(directory, "kinds")
    one_by_one = [{key: value.numpy() for key, value in example.items()}
                  for example in tfrecord_io.read(shards)]
    assert len(one_by_one) == len(records)
    for actual, expected in zip(one_by_one, records, strict=True):
        assert_record_equal(actual, expected)
    batches = list(tfrecord_io.read(shards, batch_size=16))
    assert [int(batch["label"].shape[0]) for batch in batches] == [16, 16, 16, 16, 6]
    unbatched = [{key: value[row].numpy() for key, value in batch.items()}
                 for batch in batches for row in range(int(batch["label"].shape[0]))]
    for actual, expected in zip(unbatched, records, strict=True):
        assert_record_equal(actual, expected)


def test_sidecar_shard_names_counts_and_checksums(written):
    directory, records, sidecar = written
    names = [entry["file"] for entry in sidecar["shards"]]
    assert names == ["kinds-00000-of-00003", "kinds-00001-of-00003", "kinds-00002-of-00003"]
    # 70 records in blocks of 32: 0-31, 32-63 and 64-69.
    assert [entry["records"] for entry in sidecar["shards"]] == [32, 32, 6]
    assert sidecar["num_records"] == len(records) == 70
    on_disk = json.loads((directory / "kinds.json").read_text())
    assert on_disk == sidecar
    assert on_disk["schema"]["weights"] == {"kind": "raw", "shape": [3, 2], "dtype": "float32"}
    for entry in on_disk["shards"]:
        assert sources.sha256_of(directory / entry["file"]) == entry["sha256"]
    assert sorted(path.name for path in directory.iterdir()) == sorted([*names, "kinds.json"])


def test_unshuffled_read_keeps_order_and_shuffled_read_is_a_seeded_permutation(tmp_path):
    schema = {"index": Field("int64")}
    tfrecord_io.write(({"index": index} for index in range(1000)), tmp_path, "order", schema,
                   num_shards=4, compression="GZIP")
    shards = tfrecord_io.open_shards(tmp_path, "order")

    def indices(**options):
        return np.concatenate([batch["index"].numpy()
                               for batch in tfrecord_io.read(shards, batch_size=100, **options)])

    np.testing.assert_array_equal(indices(), np.arange(1000))
    shuffled = indices(shuffle=True, seed=3)
    assert sorted(shuffled.tolist()) == list(range(1000)) and (shuffled != np.arange(1000)).any()
    np.testing.assert_array_equal(shuffled, indices(shuffle=True, seed=3))


def test_interrupted_write_leaves_no_complete_looking_shard(tmp_path):
    schema = {"index": Field("int64")}
    tfrecord_io.write(({"index": index} for index in range(10)), tmp_path, "data", schema)

    def interrupted():
        for index in range(200):
            if index == 150:
                raise KeyboardInterrupt
            yield {"index": index}

    with pytest.raises(KeyboardInterrupt):
        tfrecord_io.write(interrupted(), tmp_path, "data", schema, num_shards=2)
    # The old dataset's sidecar went first and no new shard was renamed into place.
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data-00000-of-00001"]
    with pytest.raises(FileNotFoundError, match="data.json is missing"):
        tfrecord_io.open_shards(tmp_path, "data")


def write_numbers(directory, num_shards=4):
    return tfrecord_io.write(({"index": index, "pixels": np.full((28, 28, 1), index % 256, np.uint8)}
                           for index in range(256)), directory, "numbers",
                          {"index": Field("int64"), "pixels": mnist.TFRECORD_SCHEMA["image"]},
                          num_shards=num_shards)


def test_corrupt_and_truncated_shards_are_named_or_skipped_and_counted(tmp_path):
    write_numbers(tmp_path)
    corrupt, truncated = tmp_path / "numbers-00001-of-00004", tmp_path / "numbers-00002-of-00004"
    data = bytearray(corrupt.read_bytes())
    data[500] ^= 0xFF
    corrupt.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="numbers-00001-of-00004 is unreadable: sha256"):
        tfrecord_io.open_shards(tmp_path, "numbers")
    truncated.write_bytes(truncated.read_bytes()[:-100])
    with pytest.raises(ValueError, match="numbers-00001-of-00004"):
        tfrecord_io.open_shards(tmp_path, "numbers")

    shards = tfrecord_io.open_shards(tmp_path, "numbers", skip_bad_shards=True)
    assert shards.skipped_files == (corrupt, truncated)
    assert shards.skipped_records == 128 and shards.num_records == 128
    indices = np.concatenate([batch["index"].numpy()
                              for batch in tfrecord_io.read(shards, batch_size=50)])
    assert len(indices) == 128 and set(indices // 32 % 4) == {0, 3}


def test_schema_mismatches_name_the_feature(tmp_path):
    write_numbers(tmp_path, num_shards=1)
    with pytest.raises(ValueError, match="feature 'pixels' in .*numbers.json is"):
        tfrecord_io.open_shards(tmp_path, "numbers",
                             expected_schema={"pixels": Field("raw", (784,), "uint8")})
    with pytest.raises(ValueError, match="has no feature 'image'"):
        tfrecord_io.open_shards(tmp_path, "numbers", expected_schema=mnist.TFRECORD_SCHEMA)
    schema = {"pixels": Field("raw", (2, 2), "uint8"), "label": Field("int64")}
    with pytest.raises(ValueError, match=r"feature 'pixels': expected shape \(2, 2\)"):
        tfrecord_schema.encode(schema, {"pixels": np.zeros((3, 2), np.uint8), "label": 1})
    with pytest.raises(ValueError, match="feature 'pixels': expected dtype uint8"):
        tfrecord_schema.encode(schema, {"pixels": np.zeros((2, 2), np.float32), "label": 1})
    with pytest.raises(ValueError, match="feature 'label': expected integers"):
        tfrecord_schema.encode(schema, {"pixels": np.zeros((2, 2), np.uint8), "label": 0.5})
    with pytest.raises(ValueError, match="missing feature 'label'"):
        tfrecord_schema.encode(schema, {"pixels": np.zeros((2, 2), np.uint8)})
    with pytest.raises(ValueError, match="unknown compression"):
        tfrecord_io.write([], tmp_path, "x", schema, compression="LZ4")


def make_image_folder(root):
    rng = np.random.default_rng(1)
    originals = {}
    for label, sizes in (("cats", [(7, 5), (4, 9)]), ("dogs", [(6, 6)])):
        (root / label).mkdir(parents=True)
        for number, size in enumerate(sizes):
            pixels = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            (root / label / f"{number}.png").write_bytes(png(pixels))
            originals[f"{number}.png", label] = pixels
    jpeg = tf.io.encode_jpeg(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).numpy()
    (root / "dogs" / "photo.jpg").write_bytes(jpeg)
    originals["photo.jpg", "dogs"] = tf.io.decode_jpeg(jpeg).numpy()
    return originals


def test_image_folder_round_trips_bit_exact(tmp_path):
    originals = make_image_folder(tmp_path / "images")
    sidecar = tfrecord_io.write_image_folder(tmp_path / "images", tmp_path / "out", num_shards=2)
    assert sidecar["metadata"]["labels"] == ["cats", "dogs"]
    shards = tfrecord_io.open_shards(tmp_path / "out", "images")
    seen = 0
    for example in tfrecord_io.read(shards):
        label = sidecar["metadata"]["labels"][int(example["label"])]
        expected = originals[example["filename"].numpy().decode(), label]
        np.testing.assert_array_equal(example["image"].numpy(), expected)
        assert example["shape"].numpy().tolist() == list(expected.shape)
        seen += 1
    assert seen == len(originals) == 4
    with pytest.raises(ValueError, match="feature 'image' holds images of varying size"):
        tfrecord_io.read(shards, batch_size=2)


def test_cli_converts_images_and_inspect_verifies_checksums(tmp_path, capsys):
    make_image_folder(tmp_path / "images")
    out = tmp_path / "records"
    assert cs20_cli.main(["data", "tfrecord", "--images", str(tmp_path / "images"), "--out",
                          str(out), "--shards", "2", "--compression", "GZIP"]) == 0
    assert cs20_cli.main(["data", "inspect", str(out)]) == 0
    report = capsys.readouterr().out
    assert "images: 4 records in 2 shard(s), compression GZIP" in report
    assert "sha256 ok" in report and "filename = b'0.png'" in report
    shard = out / "images-00001-of-00002"
    shard.write_bytes(shard.read_bytes()[:-10])
    assert cs20_cli.main(["data", "inspect", str(out)]) == 1
    assert "(truncated?)" in capsys.readouterr().out
    assert cs20_cli.main(["data", "tfrecord", "cifar", "--out", str(out)]) == 2
    assert "unknown dataset 'cifar': use one of mnist, fashion_mnist" in capsys.readouterr().err


def test_files_that_do_not_decode_are_skipped_and_named(tmp_path, capsys):
    originals = make_image_folder(tmp_path / "images")
    photo = (tmp_path / "images" / "dogs" / "photo.jpg").read_bytes()
    (tmp_path / "images" / "dogs" / "truncated.jpg").write_bytes(photo[:len(photo) // 2])
    (tmp_path / "images" / "cats" / "notes.jpg").write_text("not a picture\n")
    out = tmp_path / "records"
    assert cs20_cli.main(["data", "tfrecord", "--images", str(tmp_path / "images"), "--out",
                          str(out), "--shards", "1"]) == 0
    output = capsys.readouterr().out
    assert "images: 4 records in 1 shard(s)" in output
    assert "skipped 2 files that do not decode as images: cats/notes.jpg, dogs/truncated.jpg" \
        in output
    sidecar = json.loads(tfrecord_io.sidecar_path(out, "images").read_text())
    assert sidecar["metadata"]["skipped"] == ["cats/notes.jpg", "dogs/truncated.jpg"]
    names = {example["filename"].numpy().decode()
             for example in tfrecord_io.read(tfrecord_io.open_shards(out, "images"))}
    assert names == {name for name, _ in originals}


def test_a_folder_of_files_that_do_not_decode_keeps_the_old_dataset(tmp_path, capsys):
    make_image_folder(tmp_path / "images")
    out = tmp_path / "records"
    assert cs20_cli.main(["data", "tfrecord", "--images", str(tmp_path / "images"), "--out",
                          str(out)]) == 0
    before = sorted(path.name for path in out.iterdir())
    (tmp_path / "bad" / "cats").mkdir(parents=True)
    (tmp_path / "bad" / "cats" / "notes.png").write_text("not a picture\n")
    capsys.readouterr()
    assert cs20_cli.main(["data", "tfrecord", "--images", str(tmp_path / "bad"), "--out",
                          str(out)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: none of the 1 files in the sub-folders of") and \
        error.count("\n") == 1
    assert sorted(path.name for path in out.iterdir()) == before


def test_compare_readers_reports_every_variant(tmp_path):
    write_numbers(tmp_path, num_shards=2)
    rates = tfrecord_reports.compare_readers(tfrecord_io.open_shards(tmp_path, "numbers"), batch_size=32)
    assert set(rates) == {"per_record_parse", "batched_parse", "batched_parse_cache"}
    assert all(rate > 0 for rate in rates.values())


def test_mnist_from_tfrecords_equals_mnist_from_memory(tmp_path, data_dir, capsys):
    out = tmp_path / "mnist"
    assert cs20_cli.main(["data", "tfrecord", "mnist", "--out", str(out), "--shards", "3",
                          "--data-dir", str(data_dir)]) == 0
    assert "train: 55,000 records in 3 shard(s)" in capsys.readouterr().out
    splits = mnist.load_splits(data_dir)
    assert mnist.tfrecords_differ(out, splits, 3) is None
    assert "compression none" in mnist.tfrecords_differ(out, splits, 3, "GZIP")
    for name in ("validation", "test"):
        from_records, count = mnist.make_tfrecord_dataset(out, name, 1000, flatten=True)
        assert count == len(getattr(splits, name))
        from_memory = mnist.make_dataset(getattr(splits, name), 1000, flatten=True)
        for (images, labels), (expected_images, expected_labels) in zip(
                from_records, from_memory, strict=True):
            np.testing.assert_array_equal(images.numpy(), expected_images.numpy())
            np.testing.assert_array_equal(labels.numpy(), expected_labels.numpy())
    pipelines = mnist.load_datasets(64, source="tfrecord", tfrecord_dir=out)
    images, labels = next(iter(pipelines.train))
    assert images.shape == (64, 28, 28, 1) and images.dtype == tf.float32
    assert labels.dtype == tf.int64 and pipelines.train_size == 55000
    with pytest.raises(ValueError, match="unknown MNIST source"):
        mnist.load_datasets(64, source="parquet")


def test_garbled_sidecar_names_its_file(tmp_path):
    write_numbers(tmp_path, num_shards=2)
    sidecar = tfrecord_io.sidecar_path(tmp_path, "numbers")
    good = sidecar.read_text()
    for garbled, problem in ((good[:len(good) // 2], "line .* column"),
                             (good.replace('"shards"', '"shardz"'), "has no 'shards'"),
                             (good.replace('"int64"', '"int65"'), "unknown feature kind")):
        sidecar.write_text(garbled)
        with pytest.raises(ValueError, match=f"sidecar {sidecar} is garbled.*{problem}"):
            tfrecord_io.open_shards(tmp_path, "numbers")


def test_cli_paths_of_the_wrong_kind_are_one_line_errors(tmp_path, capsys):
    make_image_folder(tmp_path / "images")
    a_file = tmp_path / "file.txt"
    a_file.write_text("not a folder\n")
    for arguments, message in (
            (["tfrecord", "--images", str(tmp_path / "images"), "--out", str(a_file)],
             f"error: --out {a_file} is a file; give a folder for the shards"),
            (["tfrecord", "--images", str(a_file), "--out", str(tmp_path / "out")],
             f"error: --images {a_file} is a file; give a folder"),
            (["inspect", str(a_file)], f"error: data inspect {a_file} is a file; give a folder")):
        assert cs20_cli.main(["data", *arguments]) == 2
        error = capsys.readouterr().err
        assert error.startswith(message) and error.count("\n") == 1
    with pytest.raises(ValueError, match="is a file; TFRecord shards go into a folder"):
        tfrecord_io.write([], a_file, "numbers", {"n": tfrecord_schema.Field("int64")})


def test_bad_shards_lists_each_failing_shard(tmp_path):
    write_numbers(tmp_path, num_shards=3)
    assert tfrecord_io.bad_shards(tmp_path, "numbers") == []
    (tmp_path / "numbers-00002-of-00003").unlink()
    assert tfrecord_io.bad_shards(tmp_path, "numbers") == [
        (tmp_path / "numbers-00002-of-00003", "file missing")]
