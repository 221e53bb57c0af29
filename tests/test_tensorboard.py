"""TensorBoard as the README says: a real server over the lectures' smoke runs.

Three tiny runs together write every plugin the lectures use: l02_ops (graphs), l05_word2vec
(scalars, histograms, text, graph, projector) and l07_kernels (images); every run logs its
hparams. The runs are made in one folder and moved to another before TensorBoard starts,
from a third working directory: files that only work from where they were written fail.
The test reads TensorBoard's HTTP data API, as its web page does.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from conftest import free_ports, lecture_main, require_data_dir

TINY_RUNS = {
    "l02_ops": ["--num-calls", "3"],
    "l05_word2vec": ["--vocab-size", "2000", "--embedding-size", "16", "--num-visualize", "50",
                     "--num-steps", "40", "--steps-per-call", "20", "--summary-every", "20",
                     "--checkpoint-every", "40"],
    "l07_kernels": [],
}
# plugin -> {lecture: tags its `tags` route must list for that lecture's run}
EXPECTED_TAGS = {
    "scalars": {"l05_word2vec": {"train/loss", "eval/analogy_accuracy"}},
    "histograms": {"l05_word2vec": {"train/pair_loss", "train/embedding_norm"}},
    "text": {"l05_word2vec": {"train/nearest_neighbours"}},
    "images": {"l07_kernels": {"kernels/original", "kernels/blur", "kernels/edge"}},
}
GRAPH_LECTURES = ("l02_ops", "l05_word2vec")
PROJECTOR_RUN = "l05_word2vec/tiny"
PROJECTOR_TENSOR = "embedding/.ATTRIBUTES/VARIABLE_VALUE"
STARTUP_SECONDS = 90
HPARAMS_STATUSES = ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"]


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory):
    """The tiny runs, written under one folder and then moved to another."""
    data_dir = str(require_data_dir())
    written = tmp_path_factory.mktemp("written") / "runs"
    for lecture, flags in TINY_RUNS.items():
        lecture_main(lecture)([*flags, "--run-dir", str(written / lecture / "tiny"),
                               "--data-dir", data_dir])
    moved = tmp_path_factory.mktemp("moved") / "runs"
    shutil.move(written, moved)
    return moved


@pytest.fixture(scope="module")
def tensorboard(runs_dir, tmp_path_factory):
    """`tensorboard --logdir RUNS` on 127.0.0.1, started elsewhere; yields `get(route)`."""
    port = free_ports(1)[0]
    log = (tmp_path_factory.mktemp("tensorboard_log") / "tensorboard.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", "--logdir", str(runs_dir),
         "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path_factory.mktemp("elsewhere"), stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/data"

    def get(route: str, body: dict | None = None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(base + route, data=data,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = response.read()
        return json.loads(payload) if "json" in response.headers["Content-Type"] else payload

    try:
        expected_runs = {f"{lecture}/tiny" for lecture in TINY_RUNS}
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert server.poll() is None, f"tensorboard exited: {_tail(log.name)}"
            try:
                if expected_runs <= set(get("/runs")):
                    break
            except (urllib.error.URLError, ConnectionError):
                pass  # not listening yet
            assert time.monotonic() < deadline, \
                f"tensorboard listed no runs in {STARTUP_SECONDS} s: {_tail(log.name)}"
            time.sleep(0.5)
        yield get
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def _tail(path) -> str:
    with open(path) as log:
        return log.read()[-3000:]


def _eventually(check, seconds: float = 30.0) -> None:
    """Runs `check` until it passes: TensorBoard lists a run before it has read all of it."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.mark.parametrize("plugin", sorted(EXPECTED_TAGS))
def test_tags_of_every_plugin_a_lecture_writes(tensorboard, plugin):
    def check():
        listed = tensorboard(f"/plugin/{plugin}/tags")
        for lecture, tags in EXPECTED_TAGS[plugin].items():
            run = f"{lecture}/tiny"
            assert run in listed, f"{plugin} lists no {run}: {sorted(listed)}"
            assert tags <= set(listed[run]), f"{plugin}/{run}: {sorted(listed[run])}"

    _eventually(check)


def test_graphs(tensorboard):
    def check():
        graphs = tensorboard("/plugin/graphs/info")
        for lecture in GRAPH_LECTURES:
            entry = graphs.get(f"{lecture}/tiny", {"tags": {}})
            # A graph written by tf.summary.graph is the run's; a traced one has a tag.
            assert entry.get("run_graph") or any(tag["op_graph"]
                                                 for tag in entry["tags"].values()), \
                f"no graph for {lecture}: {entry}"

    _eventually(check)


def test_hparams_of_every_run(tensorboard):
    def check():
        # The HParams tab asks for sessions of every status (a run logs no status).
        groups = tensorboard("/plugin/hparams/session_groups",
                             {"startIndex": 0, "sliceSize": 100,
                              "allowedStatuses": HPARAMS_STATUSES})["sessionGroups"]
        sessions = {session["name"]: group["hparams"] for group in groups
                    for session in group["sessions"]}
        for lecture in TINY_RUNS:
            assert "seed" in sessions.get(f"{lecture}/tiny", {}), \
                f"no hparams for {lecture}: {sorted(sessions)}"
        assert sessions["l05_word2vec/tiny"]["vocab_size"] == 2000

    _eventually(check)


def test_projector_serves_the_embedding_and_its_labels(tensorboard):
    assert PROJECTOR_RUN in tensorboard("/plugin/projector/runs"), \
        "the projector lists no run: its checkpoint or config was not found"
    info = tensorboard(f"/plugin/projector/info?run={PROJECTOR_RUN}")
    (embedding,) = [entry for entry in info["embeddings"]
                    if entry["tensorName"] == PROJECTOR_TENSOR]
    assert [int(size) for size in embedding["tensorShape"]] == [50, 16]
    query = f"?run={PROJECTOR_RUN}&name={PROJECTOR_TENSOR}"
    labels = tensorboard(f"/plugin/projector/metadata{query}").decode().splitlines()
    assert len(labels) == 50 and labels[0] == "UNK"
    tensor = np.frombuffer(tensorboard(f"/plugin/projector/tensor{query}"), np.float32)
    assert tensor.shape == (50 * 16,) and np.all(np.isfinite(tensor))
