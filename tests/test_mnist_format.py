"""--dataset: registered MNIST-format sets, the user's own IDX files and TFRecord shards."""

import hashlib
import json
import pathlib

from cs20 import __main__ as cs20_cli
from cs20.datasets import idx, mnist, sources
from lectures.l07_convnet import model as convnet

import numpy as np
import pytest
from conftest import lecture_main, read_results
from idx_data import write_idx_folder, write_image_folder

TINY = ["--num-steps", "12", "--batch-size", "32", "--summary-every", "100"]


def test_idx_files_round_trip_and_bad_files_name_themselves(tmp_path):
    array = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    for name in ("a.gz", "a"):
        np.testing.assert_array_equal(idx.read(idx.write(tmp_path / name, array)), array)
    truncated = tmp_path / "truncated"
    truncated.write_bytes((tmp_path / "a").read_bytes()[:-5])
    with pytest.raises(ValueError, match="truncated.*header says \\(2, 28, 28\\)"):
        idx.read(truncated)
    (tmp_path / "text.gz").write_text("hello")
    with pytest.raises(ValueError, match="text.gz cannot be read"):
        idx.read(tmp_path / "text.gz")


def test_registered_sets_carry_tensorflow_datasets_checksums_and_class_names():
    import tensorflow_datasets as tfds

    checksums_dir = pathlib.Path(tfds.__file__).parent / "url_checksums"
    for dataset in sources.IDX_DATASETS:
        registered = {}
        for line in (checksums_dir / f"{dataset}.txt").read_text().splitlines():
            url, size, sha256, *_ = line.split("\t")
            registered[url] = (int(size), sha256)
        for name in sources.idx_source_names(dataset).values():
            source = sources.get_source(name)
            assert registered[source.url] == (source.size, source.sha256), name
            assert source.filename.startswith(f"{dataset}/")
        assert len(idx.CLASS_NAMES[dataset]) == 10
    assert idx.CLASS_NAMES["fashion_mnist"][9] == "Ankle boot"


def test_user_idx_folder_loads_with_its_files_recorded(tmp_path):
    folder = write_idx_folder(tmp_path / "mine", gzip=False)
    sources.forget_files_used()
    splits = mnist.load_splits(dataset=str(folder))
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (270, 30, 100)
    assert splits.train.images.shape == (270, 28, 28, 1) and splits.class_names == ("0", "1", "2")
    used = sources.files_used()
    assert [entry["name"] for entry in used] == [f"{stem}" for stem in idx.FILE_STEMS.values()]
    for entry in used:
        assert entry["where"] == "--dataset"
        assert entry["sha256"] == hashlib.sha256(pathlib.Path(entry["path"]).read_bytes()).hexdigest()
    with pytest.raises(ValueError, match="unknown dataset 'fashion': use one of mnist, fashion_mnist"):
        mnist.load_splits(dataset="fashion")


def test_folder_missing_a_file_is_a_one_line_error_naming_it(tmp_path):
    folder = write_idx_folder(tmp_path / "mine", leave_out="t10k-labels-idx1-ubyte")
    with pytest.raises(FileNotFoundError) as error:
        lecture_main("l07_convnet")([*TINY, "--dataset", str(folder), "--run-dir", str(tmp_path / "run")])
    assert "t10k-labels-idx1-ubyte.gz (or t10k-labels-idx1-ubyte) is missing" in str(error.value)
    assert str(folder) in str(error.value) and "\n" not in str(error.value)


def test_data_dir_with_other_files_stops_instead_of_training_on_mnist(tmp_path, data_dir):
    # The case: Fashion-MNIST-like files in --data-dir trained on MNIST from
    # CS20_DATA_DIR. Now the files there are checked as MNIST's, and are not.
    folder = write_idx_folder(tmp_path / "fashion")
    main = lecture_main("l03_logistic_regression")
    with pytest.raises(ValueError) as error:
        main(["--num-steps", "1", "--data-dir", str(folder), "--run-dir",
                      str(tmp_path / "run")])
    message = str(error.value)
    assert f"{folder}/train-images-idx3-ubyte.gz does not match the sha256 of " \
           "mnist_train_images" in message and "--dataset" in message
    with pytest.raises(sources.DataNotFoundError, match="fashion_mnist_train_images .* is not in "
                                                        f"--data-dir {tmp_path}"):
        mnist.load_splits(tmp_path, dataset="fashion_mnist")


def test_l03_trains_on_a_user_idx_folder_and_records_its_files(tmp_path, capsys):
    folder = write_idx_folder(tmp_path / "mine")
    run_dir = tmp_path / "run"
    main = lecture_main("l03_logistic_regression")
    main([*TINY, "--dataset", str(folder), "--run-dir", str(run_dir)])
    output = capsys.readouterr().out
    assert f"data: train-images-idx3-ubyte.gz from --dataset: {folder}/train-images" in output
    results = read_results(run_dir)
    assert results["test/accuracy"] > 0.6  # 3 classes: chance is 0.33
    assert [entry["path"] for entry in results["data_files"]] == [
        str(folder / f"{stem}.gz") for stem in idx.FILE_STEMS.values()]
    assert json.loads((run_dir / "config.json").read_text())["dataset"] == str(folder)
    assert (run_dir / "weights.png").is_file()


def test_l10_trains_on_a_user_idx_folder(tmp_path):
    main = lecture_main("l10_vae")
    results = main([*TINY, "--dataset", str(write_idx_folder(tmp_path / "mine")),
                            "--iwae-samples", "2", "--iwae-digits", "20", "--fid-samples", "0",
                            "--run-dir", str(tmp_path / "run")])
    assert np.isfinite(results["test/elbo"]) and (tmp_path / "run" / "latent_scatter.png").is_file()


def test_images_and_idx_shards_train_a_lecture_and_bad_shards_can_be_skipped(tmp_path, capsys):
    # `data tfrecord --images DIR` shards: decoded to 28x28 grey, classes named by folder.
    images = write_image_folder(tmp_path / "pictures")
    shards = tmp_path / "image_shards"
    assert cs20_cli.main(["data", "tfrecord", "--images", str(images), "--out", str(shards),
                          "--shards", "2"]) == 0
    splits = mnist.load_splits(dataset=str(shards))
    assert splits.class_names == ("circle", "square", "stripe")
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (49, 5, 6)
    shard = shards / "images-00001-of-00002"
    shard.write_bytes(shard.read_bytes()[:-3])
    main = lecture_main("l03_logistic_regression")
    with pytest.raises(ValueError, match="images-00001-of-00002 is unreadable.*--skip-bad-shards"):
        main([*TINY, "--dataset", str(shards), "--run-dir", str(tmp_path / "b")])
    capsys.readouterr()
    # The shard left holds 27 of the 49 training pictures: a batch of 32 is refused.
    results = main([*TINY, "--batch-size", "16", "--dataset", str(shards),
                            "--skip-bad-shards", "--run-dir", str(tmp_path / "c")])
    assert "warning: skipping TFRecord shard" in capsys.readouterr().out
    assert results["steps"] == 12 and np.isfinite(results["test/loss"])

    # `data tfrecord <IDX set>` shards (MNIST's schema, three splits) train lecture 7.
    mnist_shards = tmp_path / "idx_shards"
    assert cs20_cli.main(["data", "tfrecord", str(write_idx_folder(tmp_path / "mine")),
                          "--out", str(mnist_shards)]) == 0
    results = lecture_main("l07_convnet")(["--num-steps", "5", "--batch-size", "64",
                                           "--summary-every", "100", "--dataset", str(mnist_shards), "--run-dir", str(tmp_path / "d")])
    assert results["test/accuracy"] > 0.6
    assert len(read_results(tmp_path / "d")["data_files"]) == 12  # 3 splits x 4 shards


def test_misclassified_titles_use_the_class_names():
    images = np.zeros((3, 28, 28, 1))
    _, titles = convnet.misclassified(images, np.array([0, 1, 2]), np.array([0, 2, 1]), 5,
                                      idx.CLASS_NAMES["fashion_mnist"])
    assert titles == ["Pullover (true Trouser)", "Trouser (true Pullover)"]
