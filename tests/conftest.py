"""Shared test helpers.

Tests that need real data use the `data_dir` fixture: it reads CS20_DATA_DIR (the CI
points it at ../shared/data). When the variable is set, a missing file is a failure,
not a skip; a machine without CS20_DATA_DIR skips those tests, unless CS20_OFFLINE=1 (the
CI's setting), where the missing folder fails them. `--fail-on-skip` (the CI's) makes
any skipped test fail the session.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import importlib
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def pytest_addoption(parser):
    parser.addoption("--fail-on-skip", action="store_true",
                     help="a skipped test (or module) fails the session (the CI's setting)")


# The files that take longest, first: pytest-xdist (--dist loadfile) hands whole files to
# the two workers in collection order, so the run ends on short files instead of one
# worker finishing a long file while the other waits.
LONGEST_FIRST = ("test_benchmarks_lectures.py", "test_benchmarks.py", "test_translation.py", "test_vae.py", "test_gan.py",
                 "test_training.py", "test_char_rnn.py", "test_multi_worker.py",
                 "test_exercises.py", "test_user_data.py", "test_convnet.py",
                 "test_l08_tfrecord.py", "test_style_transfer.py", "test_word2vec.py")


def pytest_collection_modifyitems(items):
    rank = {name: index for index, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable within a file


def pytest_sessionfinish(session, exitstatus):
    """Under --fail-on-skip, skips turn a passing session into a failing one. Here, on
    the controller, pytest-xdist's workers' skips are counted too."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if session.config.getoption("fail_on_skip") and skipped and exitstatus == 0:
        reporter.write_line(f"--fail-on-skip: {skipped} skipped; failing the session", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def require_data_dir() -> pathlib.Path:
    """CS20_DATA_DIR as a folder; without it the caller is skipped, or fails offline."""
    value = os.environ.get("CS20_DATA_DIR")
    if not value:
        if os.environ.get("CS20_OFFLINE"):
            pytest.fail("CS20_DATA_DIR is not set and CS20_OFFLINE is: the data this test "
                        "reads cannot be found or downloaded")
        pytest.skip("CS20_DATA_DIR is not set")
    path = pathlib.Path(value)
    assert path.is_dir(), f"CS20_DATA_DIR={value} is not a folder"
    return path


@pytest.fixture(autouse=True)
def op_determinism_stays_off():
    """--deterministic turns op determinism on for the whole process, and XLA then refuses
    some ops (max pooling's gradient) in every later test of that pytest worker: a test
    that trains a --deterministic run does so in a child process. This fails the test
    that left it on, not a test that happens to run after it."""
    yield
    if "tensorflow" in sys.modules:
        from tensorflow.python.framework import config as tf_config

        assert not tf_config.is_op_determinism_enabled(), \
            "this test turned op determinism on in the pytest process (run it in a child)"


def run_tiny(name: str, capsys, *flags: str) -> dict:
    """The JSON that `benchmarks/<name>.py --tiny FLAGS` prints on stdout (its only output
    there: progress and data lines go to stderr)."""
    if str(ROOT / "benchmarks") not in sys.path:
        sys.path.insert(0, str(ROOT / "benchmarks"))
    capsys.readouterr()
    importlib.import_module(name).main(["--tiny", *flags])
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def data_dir() -> pathlib.Path:
    return require_data_dir()


@pytest.fixture(scope="session")
def tiny_mnist(tmp_path_factory) -> pathlib.Path:
    """A folder of MNIST-format IDX files, 300 training and 100 test images of 3 classes
    (idx_data.py), for `--dataset`: for the runs whose point is not MNIST itself (mirrored
    equals default, XLA and mixed precision), whose evaluation is then instant."""
    from idx_data import write_idx_folder

    return write_idx_folder(tmp_path_factory.mktemp("tiny_mnist"))


@pytest.fixture
def tatoeba_file(tmp_path, data_dir) -> pathlib.Path:
    """The first 3,000 pairs of fra-eng.zip (the shortest) as a plain file with the third,
    attribution column of manythings.org's newer releases: lecture 12's --corpus for runs
    that need not read the whole corpus."""
    from lectures.l12_translation import data as translation

    pairs = translation.read_pairs(data_dir / "fra-eng.zip")[:3000]
    path = tmp_path / "fra.txt"
    path.write_text("".join(f"{english}\t{french}\tCC-BY 2.0 (France) Attribution: "
                            f"tatoeba.org #{number}\n"
                            for number, (english, french) in enumerate(pairs)), encoding="utf-8")
    return path


def lecture_main(name: str):
    """argv -> results: lecture <name> run in this process, as `python -m lectures.<name>`
    runs it (flags parsed first, then lecture.py top to bottom)."""
    from cs20 import cli

    return lambda argv=None: cli.run_lecture(name, argv)


@functools.cache
def notebook_kernel():
    """One Jupyter kernel per pytest worker for the notebook runs: starting a kernel and
    importing TensorFlow in it costs ~8 CPU-seconds a notebook. The kernel imports the
    course from this checkout (PYTHONPATH), not from wherever `pip install -e` last
    pointed: the notebooks run the code under test."""
    import jupyter_client

    kernel = jupyter_client.KernelManager(kernel_name="python3")
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    kernel.start_kernel(env={**os.environ, "PYTHONPATH": path})
    atexit.register(kernel.shutdown_kernel, now=True)
    return kernel


def execute_notebook(name: str, tmp_path: pathlib.Path, tensorboard: bool = False,
                     **settings) -> tuple[dict, str]:
    """Runs lectures/<name>/lecture.ipynb top to bottom in this worker's Jupyter kernel
    (after `%reset -f`, in tmp_path) with `settings` (tiny ones) and the run directory
    tmp_path / "notebook_run"; returns the run's results.json and the text the cells
    printed. The TensorBoard cell, the same in every lecture, starts a server (~6 s): it
    runs where a test asks for it (lecture 7's), and that server is stopped again."""
    from cs20 import notebooks

    from tensorboard import manager

    run_dir = tmp_path / "notebook_run"
    try:
        notebook = notebooks.execute(name, {"run_dir": str(run_dir), **settings}, tmp_path,
                                     kernel=notebook_kernel(), tensorboard=tensorboard)
    finally:
        for info in manager.get_all():
            if info.logdir.startswith(str(tmp_path)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(info.pid, signal.SIGTERM)
    printed = "".join(output.get("text", "") for cell in notebook.cells
                      for output in cell.get("outputs", []) if output.output_type == "stream")
    return read_results(run_dir), printed


def lecture_command(name: str) -> list[str]:
    """The command that runs lecture <name> in a process of its own."""
    return [sys.executable, "-m", f"lectures.{name}"]


def read_results(run_dir: pathlib.Path) -> dict:
    return json.loads((run_dir / "results.json").read_text())


def event_files(run_dir: pathlib.Path) -> list[pathlib.Path]:
    return list(run_dir.rglob("events.out.tfevents.*"))


def run_lecture_process(name: str, *flags: str, timeout: int = 300):
    """Runs lecture <name> in a fresh Python process (needed for --logical-devices,
    --deterministic and real signals, which are process-wide)."""
    return subprocess.run([*lecture_command(name), *flags], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def run_lecture_runs(name: str, *runs: tuple[str, ...], timeout: int = 400):
    """Runs lecture <name> once per flag tuple in `runs`, one after another in one fresh
    process (tests/lecture_runs.py): one TensorFlow start-up for all of them."""
    separated = [flag for run in runs for flag in ("--", *run)][1:]
    return subprocess.run([sys.executable, str(ROOT / "tests" / "lecture_runs.py"), name,
                           *separated], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT)


def checkpoint_variables(run_dir: pathlib.Path, oldest: bool = False) -> dict:
    """{checkpoint key: value} of every variable (model, optimizer slots, step) in the
    run's newest (or oldest kept) checkpoint; compare two runs' dicts to check they
    trained the same."""
    import tensorflow as tf

    state = tf.train.get_checkpoint_state(str(run_dir / "checkpoints"))
    reader = tf.train.load_checkpoint(state.all_model_checkpoint_paths[0] if oldest
                                      else state.model_checkpoint_path)
    return {key: reader.get_tensor(key) for key in reader.get_variable_to_shape_map()
            if key.endswith("VARIABLE_VALUE") and not key.startswith("save_counter")}


def assert_mirrored_matches_default(name: str, tmp_path: pathlib.Path, *flags: str,
                                    rtol: float, atol: float = 0.0, atol_of_max: float = 0.0,
                                    atol_of_movement: float = 0.0):
    """Trains lectures/<name> twice with the same flags, on `mirrored` over 2 logical CPU
    devices and on the default strategy, and checks that every checkpointed variable
    (model, optimizer slots, step) agrees within rtol and atol + atol_of_max * max|value|
    + atol_of_movement * max|movement|.

    The movement is how far the variable moved in the default run between its oldest
    kept checkpoint and its last (flags with `--checkpoint-every 1`: its last 2 steps): a
    tolerance that is a small part of it fails a run that trained a step less, or
    differently, where one relative to the values' scale may not.

    Both runs share one process (the mirrored one first: the CPU must be split before
    TensorFlow starts; the default strategy then trains on the first logical device).
    """
    runs = {"mirrored": ("--strategy", "mirrored", "--logical-devices", "2"), "default": ()}
    process = run_lecture_runs(name, *[("--run-dir", str(tmp_path / run), *flags, *extra)
                                       for run, extra in runs.items()])
    assert process.returncode == 0, process.stderr[-2000:]
    expected, actual = (checkpoint_variables(tmp_path / run) for run in ("default", "mirrored"))
    earlier = checkpoint_variables(tmp_path / "default", oldest=True)
    assert expected and expected.keys() == actual.keys()
    for key, value in expected.items():
        movement = np.abs(value - earlier[key]).max()
        np.testing.assert_allclose(actual[key], value, rtol=rtol, err_msg=key, atol=(
            atol + atol_of_max * np.abs(value).max() + atol_of_movement * movement))


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def run_cluster(program: str, run_dir, *flags, returncode: int = 0) -> list[str]:
    """Runs `program` (a lecture's name, or the path of a script) as two
    MultiWorkerMirroredStrategy workers on 127.0.0.1 (TF_CONFIG tells each its place);
    checks both exit with `returncode` and returns their standard outputs."""
    command = (lecture_command(program) if (ROOT / "lectures" / program).is_dir()
               else [sys.executable, program])
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    processes = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        environment = {**os.environ, "TF_CONFIG": json.dumps(tf_config)}
        processes.append(subprocess.Popen(
            [*command, "--run-dir", str(run_dir), "--strategy", "multi_worker", *flags],
            env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            cwd=ROOT))
    outputs = [process.communicate(timeout=240) for process in processes]
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == returncode, stderr[-3000:]
    return [stdout for stdout, _ in outputs]
