"""Registry of every data file the lectures use, where to find it, and which were used.

`resolve(name)` looks for the file, in order, in `$CS20_DATA_DIR`, the project's `data/`
cache, and finally downloads it from its canonical URL with
`keras.utils.get_file(..., file_hash=sha256)` into `data/`. With `--data-dir` only that
folder is searched (`DIR/mnist/train-images-idx3-ubyte.gz` or `DIR/train-images-idx3-ubyte.gz`):
a file missing there is a one-line error, never taken from another folder. Every file
found locally is checked against its sha256 too: a file that does not match is an
error, never used. Offline (or with CS20_OFFLINE=1) a missing file fails within seconds
with one line that names the file, its URL and CS20_DATA_DIR.

Every file resolved (and every file a flag names, through `user_file`) is printed as
one line with where it was found and its sha256, and kept in `files_used()`, which a
run writes into results.json.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import pathlib
import socket
import urllib.parse

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

_CS20_REPO = ("https://raw.githubusercontent.com/chiphuyen/stanford-tensorflow-tutorials/"
              "51e53daaa2a32cfe7a1966f060b28dbbd081791c/")
_MNIST = "https://storage.googleapis.com/cvdf-datasets/mnist/"
_SKIMAGE = "https://raw.githubusercontent.com/scikit-image/scikit-image/v0.26.0/skimage/data/"


@dataclasses.dataclass(frozen=True)
class Source:
    name: str
    filename: str  # path relative to a data folder, e.g. "mnist/train-images-idx3-ubyte.gz"
    url: str | None  # None: no byte-identical public copy; the file must be provided
    sha256: str
    size: int
    license: str


def _source(name, filename, url, sha256, size, license):  # noqa: A002
    return name, Source(name, filename, url, sha256, size, license)


# MNIST-format sets: the four IDX files of each, as tensorflow-datasets registers them
# (file name, size, sha256), under a sub-folder named after the set.
_IDX_FILES = {"train_images": "train-images-idx3-ubyte.gz",
              "train_labels": "train-labels-idx1-ubyte.gz",
              "test_images": "t10k-images-idx3-ubyte.gz",
              "test_labels": "t10k-labels-idx1-ubyte.gz"}
_IDX_SETS = {
    "mnist": (_MNIST, "CC BY-SA 3.0 (Yann LeCun, Corinna Cortes)", {
        "train_images": ("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                         9912422),
        "train_labels": ("3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                         28881),
        "test_images": ("8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                        1648877),
        "test_labels": ("f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                        4542)}),
    "fashion_mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                      "MIT (Zalando Research)", {
        "train_images": ("3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
                         26421880),
        "train_labels": ("a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
                         29515),
        "test_images": ("346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
                        4422102),
        "test_labels": ("67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
                        5148)}),
    "kmnist": ("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",
               "CC BY-SA 4.0 (ROIS-DS Center for Open Data in the Humanities)", {
        "train_images": ("51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4",
                         18165135),
        "train_labels": ("e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17",
                         29497),
        "test_images": ("edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5",
                        3041136),
        "test_labels": ("20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c",
                        5120)}),
}


def idx_source_names(dataset: str) -> dict[str, str]:
    """{"train_images": "mnist_train_images", ...}: the registered files of an IDX set."""
    return {part: f"{dataset}_{part}" for part in _IDX_FILES}


def _idx_sources():
    for dataset, (url, license, checksums) in _IDX_SETS.items():  # noqa: A001
        for part, filename in _IDX_FILES.items():
            sha256, size = checksums[part]
            yield _source(f"{dataset}_{part}", f"{dataset}/{filename}", url + filename, sha256,
                          size, license)


IDX_DATASETS = tuple(_IDX_SETS)

REGISTRY: dict[str, Source] = dict([
    *_idx_sources(),
    _source("birth_life", "birth_life_2010.txt", _CS20_REPO + "examples/data/birth_life_2010.txt",
            "d50632dd7c3b8aa02d67245d8f13db341cdff812461b6e35cfa95b7174f513e4", 5324,
            "World Bank indicators (CC BY 4.0) via the CS20 repository (MIT)"),
    _source("trump_tweets", "trump_tweets.txt", _CS20_REPO + "examples/data/trump_tweets.txt",
            "5b600bae4ade78714433caf1d84f2aee40b17e0627fba4584742de5e2635e286", 2214480,
            "public statements via the CS20 repository (MIT)"),
    _source("text8_prefix", "text8_prefix.txt", None,
            "1b40ab68e13d520469aa90315b92b1466810394246571fadf742c971c3b65a25", 12549840,
            "Wikipedia text (CC BY-SA / GFDL); the first 12,549,840 bytes of text8"),
    _source("questions_words", "word_eval/questions-words.txt",
            "https://raw.githubusercontent.com/piskvorky/gensim/4.4.0/gensim/test/test_data/"
            "questions-words.txt",
            "8c29b3332afc46f3fb8be04cb5297bf96f39aa7131272dff57869b4485b22a36", 603955,
            "Apache-2.0 (Google word2vec)"),
    _source("wordsim353", "word_eval/wordsim353.csv",
            "https://raw.githubusercontent.com/fanglanting/skip-gram-pytorch/"
            "0a16cd6b03f56ebca1854c4b07368ea826625d0f/wordsim353/combined.csv",
            "49ff6433ae68abe716fb66433fd870483e289a7a8c74531f59eca847d103fff3", 7433,
            "WordSim-353 (Finkelstein et al. 2002), research use"),
    _source("fra_eng", "fra-eng.zip",
            "https://raw.githubusercontent.com/modelexlab/data/"
            "adddaf33ac35572bcfeb421efec29435e7ea9332/fra-eng.zip",
            "0c277adc97ba61e98139d0e1ec61bcf69f4288edbccc90c69a8e61d26deabd09", 3419996,
            "CC BY 2.0 FR (Tatoeba, www.manythings.org/anki)"),
    _source("friday", "images/friday.jpg", _CS20_REPO + "2017/data/friday.jpg",
            "08b6f3c041e5e585eb8a570b7ec6950252b4eb7df1f8227580b58ff326ae00d5", 21733,
            "via the CS20 repository (MIT); image copyright unknown"),
    _source("starry_night", "images/starry_night.jpg",
            _CS20_REPO + "2017/assignments/style_transfer/styles/starry_night.jpg",
            "c31741a09141c2e2d07fc7aa6bdf135c369b804f9433e43fa3ceac19386d1ee6", 613337,
            "public domain (Van Gogh, 1889)"),
    _source("deadpool", "images/deadpool.jpg",
            _CS20_REPO + "2017/assignments/style_transfer/content/deadpool.jpg",
            "e90c012cd116bc0eb60b5e75972ee40704da27427a4e0cdd958316fc560a3708", 107019,
            "copyrighted film still; local use only"),
    _source("guernica", "images/guernica.jpg",
            _CS20_REPO + "2017/assignments/style_transfer/styles/guernica.jpg",
            "f736f97bd182b78bf1b6a129c4b79390bbbba5b3f83a40c43414bf25e049984b", 101146,
            "Picasso 1937, under copyright; local use only"),
    _source("grace_hopper", "images/grace_hopper.jpg",
            "https://raw.githubusercontent.com/matplotlib/matplotlib/v3.11.2/lib/matplotlib/"
            "mpl-data/sample_data/grace_hopper.jpg",
            "a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130", 61306,
            "public domain (US Navy)"),
    _source("chelsea", "images/chelsea.png", _SKIMAGE + "chelsea.png",
            "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb", 240512,
            "CC0 (Stefan van der Walt)"),
    _source("astronaut", "images/astronaut.png", _SKIMAGE + "astronaut.png",
            "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5", 791555,
            "public domain (NASA)"),
    _source("squeezenet_notop", "weights/squeezenet_weights_tf_dim_ordering_tf_kernels_notop.h5",
            "https://github.com/DeepCognition/keras-squeezenet/raw/"
            "a73d4339aa4d37c51a0b3ba044bed55477abec73/"
            "squeezenet_weights_tf_dim_ordering_tf_kernels_notop.h5",
            "17154246284f555591549ac2c83e127abfbf4307dc4b0060fdaa2931d0fa38da", 3002560,
            "MIT / BSD-2-Clause (SqueezeNet v1.1, DeepScale)"),
])


class DataNotFoundError(FileNotFoundError):
    """A registered file is nowhere local and cannot be downloaded."""


def cache_dir() -> pathlib.Path:
    """The download cache: `data/` in the project checkout (or $CS20_CACHE_DIR)."""
    if os.environ.get("CS20_CACHE_DIR"):
        return pathlib.Path(os.environ["CS20_CACHE_DIR"])
    project_root = pathlib.Path(__file__).resolve().parents[2]
    if (project_root / "pyproject.toml").is_file():
        return project_root / "data"
    return pathlib.Path.home() / ".cache" / "cs20"


@contextlib.contextmanager
def exclusive(lock_path: pathlib.Path):
    """Holds an exclusive lock on `lock_path` (created if needed) while the block runs;
    another process asking for it waits. Without fcntl (Windows) the block runs unlocked."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as lock_file:
        if fcntl is not None:
            fcntl.flock(lock_file, fcntl.LOCK_EX)  # released when the file closes
        yield


def search_dirs(data_dir: str | os.PathLike | None = None) -> list[tuple[str, pathlib.Path]]:
    """(label, folder) pairs in resolution order. A --data-dir is the only folder: the
    user named it, so a file missing there is an error, never taken from elsewhere."""
    if data_dir:
        return [("--data-dir", pathlib.Path(data_dir))]
    folders = []
    if os.environ.get("CS20_DATA_DIR"):
        folders.append(("CS20_DATA_DIR", pathlib.Path(os.environ["CS20_DATA_DIR"])))
    folders.append(("cache", cache_dir()))
    return folders


def candidate_paths(source: Source, data_dir=None) -> list[tuple[str, pathlib.Path]]:
    """(label, path) pairs where the file may be, in order. In a --data-dir the file may
    also lie at the top (`DIR/train-images-idx3-ubyte.gz` as well as `DIR/mnist/...`)."""
    candidates = [(label, folder / source.filename) for label, folder in search_dirs(data_dir)]
    if data_dir and pathlib.Path(source.filename).parent != pathlib.Path("."):
        candidates.append(("--data-dir", pathlib.Path(data_dir) / pathlib.Path(source.filename).name))
    return candidates


def get_source(name: str) -> Source:
    if name not in REGISTRY:
        raise ValueError(f"unknown data file {name!r}; known: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


# sha256 by (path, size, modification time): a file resolved again in one process is
# not read twice.
_SHA256_CACHE: dict[tuple[str, int, int], str] = {}


def sha256_of(path: pathlib.Path) -> str:
    status = pathlib.Path(path).stat()
    key = (str(pathlib.Path(path).resolve()), status.st_size, status.st_mtime_ns)
    if key not in _SHA256_CACHE:
        digest = hashlib.sha256()
        with open(path, "rb") as stream:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                digest.update(chunk)
        _SHA256_CACHE[key] = digest.hexdigest()
    return _SHA256_CACHE[key]


def verify(source: Source, path: pathlib.Path) -> str:
    """The file's sha256, or a ValueError if it is not the registered one."""
    actual = sha256_of(path)
    if actual != source.sha256:
        raise ValueError(f"{path} does not match the sha256 of {source.name} "
                         f"(expected {source.sha256[:12]}..., got {actual[:12]}...); "
                         f"delete or replace it")
    return actual


def find_local(source: Source, data_dir=None) -> tuple[str, pathlib.Path] | None:
    """The first (label, path) holding the file, checksum verified; None if absent."""
    for label, path in candidate_paths(source, data_dir):
        if path.is_file():
            verify(source, path)
            return label, path
    return None


# Every data file this process has read: what a run prints as it starts and records in
# results.json ("data_files"), so that a result can be traced to the exact bytes.
_FILES_USED: list[dict] = []


def record(name: str, path: pathlib.Path, where: str, sha256: str | None = None) -> dict:
    """Adds a file to `files_used()` (once per path) and prints one line about it."""
    path = pathlib.Path(path).resolve()
    entry = {"name": name, "path": str(path), "where": where,
             "sha256": sha256 or sha256_of(path)}
    if all(known["path"] != entry["path"] for known in _FILES_USED):
        _FILES_USED.append(entry)
        print(f"data: {name} from {where}: {path} (sha256 {entry['sha256']})")
    return entry


def files_used() -> list[dict]:
    """[{"name", "path", "where", "sha256"}] of every file read since the last
    `forget_files_used()`, in the order they were first resolved."""
    return [dict(entry) for entry in _FILES_USED]


def forget_files_used() -> None:
    _FILES_USED.clear()


def resolve(name: str, data_dir=None) -> pathlib.Path:
    """Local path of a registered file, downloading it into the cache if needed (never
    with a --data-dir: a file missing there is an error)."""
    source = get_source(name)
    found = find_local(source, data_dir)
    if found is not None:
        label, path = found
    elif data_dir:
        raise _not_in_data_dir(source, data_dir)
    else:
        label, path = "download", download(source, data_dir)
    record(name, path, label, source.sha256)
    return path


def _not_in_data_dir(source: Source, data_dir) -> DataNotFoundError:
    looked = " or ".join(str(path) for _, path in candidate_paths(source, data_dir))
    return DataNotFoundError(
        f"{source.name} ({pathlib.Path(source.filename).name}) is not in --data-dir {data_dir} "
        f"(looked for {looked}); put it there, or leave out --data-dir to use "
        f"CS20_DATA_DIR, the data/ cache or a download")


def _not_found(source: Source, data_dir, reason: str) -> DataNotFoundError:
    searched = ", ".join(str(folder) for _, folder in search_dirs(data_dir))
    return DataNotFoundError(
        f"{source.filename} not found (searched {searched}) and {reason}; "
        f"download {source.url or 'it'} or set CS20_DATA_DIR to a folder that has it")


def user_path(path, flag: str, *, folder: bool = False) -> pathlib.Path:
    """A file (or with `folder` a folder) named by a flag, checked to exist and to be a
    file (folder); errors name the flag and say what was expected."""
    path = pathlib.Path(path).expanduser()
    expected = "folder" if folder else "file"
    if not path.exists():
        raise FileNotFoundError(f"{flag} {path} does not exist")
    if path.is_dir() != folder:
        found = "folder" if path.is_dir() else "file"
        raise ValueError(f"{flag} {path} is a {found}; give a {expected}")
    return path


def user_file(path, flag: str) -> pathlib.Path:
    """A data file named by a flag (--image, --corpus): checked, printed and recorded
    with its sha256 like a registered file."""
    path = user_path(path, flag)
    record(path.name, path, flag)
    return path


def _reachable(url: str, timeout: float = 3.0) -> bool:
    """A quick connect() so that an offline machine fails in seconds, not minutes."""
    parsed = urllib.parse.urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


def download(source: Source, data_dir=None) -> pathlib.Path:
    if source.url is None:
        raise _not_found(source, data_dir, "it has no public download")
    if os.environ.get("CS20_OFFLINE") or not _reachable(source.url):
        raise _not_found(source, data_dir, "the machine is offline")
    import keras  # deferred: the registry is also used by commands that never download

    target = cache_dir() / source.filename
    print(f"Downloading {source.url} -> {target}")
    path = keras.utils.get_file(fname=target.name, origin=source.url, file_hash=source.sha256,
                                hash_algorithm="sha256", cache_dir=str(cache_dir()),
                                cache_subdir=str(target.parent.relative_to(cache_dir())))
    return pathlib.Path(path)
