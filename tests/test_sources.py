"""Data resolution order, checksums and the offline error."""

import hashlib
import subprocess
import sys
import threading
import time

from cs20.datasets import sources

import pytest
from conftest import ROOT

CONTENT = b"country\tbirth\tlife\n"


@pytest.fixture
def fake_source(monkeypatch, tmp_path):
    source = sources.Source("fake", "sub/fake.txt", "https://example.invalid/fake.txt",
                            hashlib.sha256(CONTENT).hexdigest(), len(CONTENT), "test")
    monkeypatch.setitem(sources.REGISTRY, "fake", source)
    monkeypatch.setenv("CS20_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CS20_OFFLINE", "1")
    monkeypatch.delenv("CS20_DATA_DIR", raising=False)
    return source


def put(folder, content=CONTENT):
    path = folder / "sub" / "fake.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_resolution_order(fake_source, tmp_path, monkeypatch):
    cache_copy = put(tmp_path / "cache")
    assert sources.resolve("fake") == cache_copy
    env_copy = put(tmp_path / "env")
    monkeypatch.setenv("CS20_DATA_DIR", str(tmp_path / "env"))
    assert sources.resolve("fake") == env_copy
    flag_copy = put(tmp_path / "flag")
    assert sources.resolve("fake", data_dir=tmp_path / "flag") == flag_copy


def test_checksum_mismatch_is_an_error_not_a_fallback(fake_source, tmp_path, monkeypatch):
    put(tmp_path / "cache")  # a good copy further down the order must not be used instead
    put(tmp_path / "env", b"tampered\n")
    monkeypatch.setenv("CS20_DATA_DIR", str(tmp_path / "env"))
    with pytest.raises(ValueError, match="does not match the sha256"):
        sources.resolve("fake")


def test_offline_missing_file_names_file_url_and_variable(fake_source):
    with pytest.raises(sources.DataNotFoundError) as error:
        sources.resolve("fake")
    message = str(error.value)
    assert "sub/fake.txt" in message and "https://example.invalid/fake.txt" in message
    assert "CS20_DATA_DIR" in message and "\n" not in message


def test_unknown_name_lists_known_ones():
    with pytest.raises(ValueError, match="known: .*birth_life"):
        sources.resolve("no_such_file")


def test_cli_fetch_missing_file_fails_fast_with_exit_2(tmp_path):
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "cs20", "data", "fetch", "text8_prefix"], capture_output=True,
        text=True, timeout=60, cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "CS20_CACHE_DIR": str(tmp_path), "HOME": str(tmp_path)})
    assert completed.returncode == 2
    assert time.perf_counter() - started < 30
    assert completed.stderr.startswith("error: text8_prefix.txt not found")
    assert "CS20_DATA_DIR" in completed.stderr and "Traceback" not in completed.stderr


def test_verify_finds_every_shared_file(data_dir):
    # The shared data has MNIST but not the other MNIST-format sets (nothing downloads).
    not_shared = {name for dataset in sources.IDX_DATASETS if dataset != "mnist"
                  for name in sources.idx_source_names(dataset).values()}
    for source in sources.REGISTRY.values():
        if source.name in not_shared:
            continue
        found = sources.find_local(source, data_dir)
        assert found is not None, f"{source.filename} missing from {data_dir}"
        assert found[1].stat().st_size == source.size


def test_data_dir_is_the_only_folder_searched(fake_source, tmp_path, monkeypatch):
    put(tmp_path / "cache")
    monkeypatch.setenv("CS20_DATA_DIR", str(put(tmp_path / "env").parents[1]))
    (tmp_path / "mine").mkdir()
    with pytest.raises(sources.DataNotFoundError) as error:
        sources.resolve("fake", data_dir=tmp_path / "mine")
    message = str(error.value)
    assert message.startswith(f"fake (fake.txt) is not in --data-dir {tmp_path / 'mine'}")
    assert f"{tmp_path}/mine/sub/fake.txt" in message and "\n" not in message
    # The file may also lie at the top of the folder, without the registry's sub-folder.
    top = tmp_path / "mine" / "fake.txt"
    top.write_bytes(CONTENT)
    assert sources.resolve("fake", data_dir=tmp_path / "mine") == top


def test_files_used_records_and_prints_each_file_once(fake_source, tmp_path, monkeypatch,
                                                      capsys):
    sources.forget_files_used()
    path = put(tmp_path / "cache")
    sources.resolve("fake")
    sources.resolve("fake")
    expected = {"name": "fake", "path": str(path.resolve()), "where": "cache",
                "sha256": fake_source.sha256}
    assert sources.files_used() == [expected]
    assert capsys.readouterr().out == (f"data: fake from cache: {path.resolve()} "
                                       f"(sha256 {fake_source.sha256})\n")
    own = tmp_path / "notes.txt"
    own.write_text("my own corpus\n")
    sources.user_file(own, "--corpus")
    assert sources.files_used()[1]["where"] == "--corpus"
    sources.forget_files_used()
    assert sources.files_used() == []


def test_flags_naming_the_wrong_kind_of_path_are_one_line_errors(tmp_path):
    with pytest.raises(ValueError, match=f"--corpus {tmp_path} is a folder; give a file"):
        sources.user_file(tmp_path, "--corpus")
    with pytest.raises(FileNotFoundError, match="--corpus .*missing.txt does not exist"):
        sources.user_file(tmp_path / "missing.txt", "--corpus")
    (tmp_path / "a.txt").write_text("a")
    with pytest.raises(ValueError, match="--images .*a.txt is a file; give a folder"):
        sources.user_path(tmp_path / "a.txt", "--images", folder=True)


def test_exclusive_makes_a_second_holder_wait(tmp_path):
    """Two lectures preparing the tfds cache at once: the second waits for the first."""
    lock_path = tmp_path / "cache" / ".mnist.lock"
    entered = threading.Event()

    def second_holder():
        with sources.exclusive(lock_path):
            entered.set()

    with sources.exclusive(lock_path):
        thread = threading.Thread(target=second_holder)
        thread.start()
        assert not entered.wait(0.3)  # blocked while the first holder works
    thread.join(5)
    assert entered.is_set()
