"""Lecture 8 (part 1) on real MNIST: smoke run, resume, bad input, mirrored = default."""

from cs20.datasets import mnist

import numpy as np
import pytest
from conftest import (
    assert_mirrored_matches_default,
    event_files,
    execute_notebook,
    lecture_main,
    read_results,
)
from idx_data import write_idx_folder

main = lecture_main("l08_tfrecord")


@pytest.fixture(scope="module")
def shards_dir(tmp_path_factory):
    """MNIST converted once (2 shards) and shared by the runs below, as --tfrecord-dir."""
    return tmp_path_factory.mktemp("mnist_tfrecords")


def run(run_dir, data_dir, shards_dir, *flags):
    return ["--run-dir", str(run_dir), "--data-dir", str(data_dir), "--tfrecord-dir",
            str(shards_dir), "--shards", "2", "--no-throughput", "--summary-every", "10", *flags]


def test_notebook_then_script_resumes(tmp_path, data_dir, shards_dir, capsys):
    results, output = execute_notebook(
        "l08_tfrecord", tmp_path, num_steps=20, data_dir=str(data_dir),
        tfrecord_dir=str(shards_dir), shards=2, throughput=False, summary_every=10)
    run_dir = tmp_path / "notebook_run"
    assert results["steps"] == 20 and np.isfinite(results["train/loss"])
    assert results["image/bit_exact"] is True
    assert 0.5 < results["test/accuracy"] <= 1.0  # 20 Adam steps already beat chance (0.1)
    assert event_files(run_dir) and (run_dir / "checkpoints" / "checkpoint").is_file()
    assert (run_dir / "image_record" / "decoded.png").stat().st_size > 0
    assert (run_dir / "image_record" / "friday.tfrecord").is_file()
    assert (shards_dir / "train-00001-of-00002").is_file()
    assert "friday.jpg: label 1, stored shape [322, 403, 3]" in output
    # The worked example: the Example as protobuf text, the image's bytes abridged.
    assert "  label: int64_list { value: 1 }" in output
    assert "  shape: int64_list { value: 322 value: 403 value: 3 }" in output
    assert '  image: bytes_list { value: "<' in output and 'bytes of the encoded file>" }' in output

    main(run(run_dir, data_dir, shards_dir, "--num-steps", "40", "--quiet"))
    output = capsys.readouterr().out
    assert "Worked example" not in output and "int64_list" not in output
    assert f"TFRecords of mnist already in {shards_dir}: reusing them" in output
    assert "Resumed from" in output and "at step 20" in output
    assert read_results(run_dir)["steps"] == 40


def test_bad_input_is_one_clear_error(tmp_path, data_dir, shards_dir, tiny_mnist):
    with pytest.raises(FileNotFoundError, match="missing.jpg does not exist"):
        main(run(tmp_path / "a", data_dir, shards_dir, "--num-steps", "1",
                 "--image", str(tmp_path / "missing.jpg")))
    broken = tmp_path / "broken"
    tiny = ["--num-steps", "1", "--dataset", str(tiny_mnist)]
    main(run(tmp_path / "b", data_dir, broken, *tiny))
    shard = broken / "test-00000-of-00002"
    shard.write_bytes(shard.read_bytes()[:1000])
    with pytest.raises(ValueError, match="test-00000-of-00002 is unreadable: 1,000 bytes"):
        main(run(tmp_path / "c", data_dir, broken, *tiny))


def test_mixed_precision_and_xla_train(tmp_path, data_dir, shards_dir):
    main(run(tmp_path / "fast", data_dir, shards_dir, "--num-steps", "20",
             "--mixed-precision", "--jit-compile"))
    results = read_results(tmp_path / "fast")
    assert results["steps"] == 20 and results["test/accuracy"] > 0.5


def test_mirrored_on_two_logical_cpus_matches_default(tmp_path, data_dir, tiny_mnist):
    # run() names a run directory; the helper passes its own --run-dir after it. One
    # run after the other: the first writes the shards the second reads.
    flags = run(tmp_path / "unused", data_dir, tmp_path / "shards", "--num-steps", "8",
                "--deterministic", "--dataset", str(tiny_mnist))
    assert_mirrored_matches_default("l08_tfrecord", tmp_path, *flags[2:], rtol=1e-5, atol=1e-6)


def test_reused_shards_must_hold_the_same_data_and_pass_their_checksums(tmp_path, data_dir,
                                                                       capsys):
    shards = tmp_path / "shards"

    def flags(run_name, dataset, *extra):
        return [*run(tmp_path / run_name, data_dir, shards, "--num-steps", "3", "--batch-size",
                     "32"), "--dataset", str(dataset), *extra]

    first, second = (write_idx_folder(tmp_path / name, seed=seed)
                     for name, seed in (("first", 0), ("second", 1)))
    main(flags("a", first))
    main(flags("b", second))  # other data: converted again, not reused
    output = capsys.readouterr().out
    assert f"Converting again into {shards}: train was made from other data ({first})" in output
    shard = shards / "train-00001-of-00002"
    shard.write_bytes(shard.read_bytes()[:-1])
    with pytest.raises(ValueError, match="train-00001-of-00002 is unreadable: .* bytes, expected "
                                         ".*; delete .* to convert again, or pass --skip-bad-shards"):
        main(flags("c", second))
    capsys.readouterr()
    results = main(flags("d", second, "--skip-bad-shards"))
    output = capsys.readouterr().out
    assert "reusing them" in output and "warning: skipping TFRecord shard" in output
    assert results["steps"] == 3
    assert str(shards / "train-00001-of-00002") not in {
        entry["path"] for entry in read_results(tmp_path / "d")["data_files"]}


def test_a_folder_of_mnist_shards_is_trained_from_as_it_is(tmp_path, data_dir, capsys):
    shards = tmp_path / "shards"  # what `python -m cs20 data tfrecord mnist --out` writes
    mnist.write_tfrecords(mnist.load_splits(dataset=str(write_idx_folder(tmp_path / "idx"))),
                          shards, num_shards=2)
    results = main(run(tmp_path / "a", data_dir, tmp_path / "unused", "--num-steps", "5",
                       "--batch-size", "32", "--dataset", str(shards)))
    assert f"Training from the shards in {shards}" in capsys.readouterr().out
    assert results["steps"] == 5 and not (tmp_path / "unused").exists()
    with pytest.raises(ValueError, match=f"--image {tmp_path} is a folder; give a file"):
        main(run(tmp_path / "b", data_dir, shards, "--image", str(tmp_path)))
