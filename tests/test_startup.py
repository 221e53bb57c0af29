"""`--help` and flag errors answer without loading TensorFlow (the flags are parsed with the
lecture's config.py before its lesson is imported); no CUDA noise without a GPU."""

import json
import subprocess
import sys

import pytest
from conftest import ROOT

LECTURES = sorted(path.parent.name for path in (ROOT / "lectures").glob("l*/lecture.py"))

# Runs `python -m lectures.NAME` with the given flags, then reports which heavy modules
# were imported.
PROBE = """
import json, runpy, sys
sys.argv = [sys.argv[1], *sys.argv[2:]]
try:
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
except SystemExit as exit:
    code = exit.code
loaded = [name for name in ("tensorflow", "keras", "tensorflow_datasets") if name in sys.modules]
print(json.dumps({"code": code, "loaded": loaded}))
"""


def probe(lecture, *flags):
    completed = subprocess.run([sys.executable, "-c", PROBE, f"lectures.{lecture}", *flags],
                               capture_output=True, text=True, timeout=120)
    return json.loads(completed.stdout.strip().splitlines()[-1]), completed


@pytest.mark.parametrize("lecture", LECTURES)
def test_help_and_flag_errors_do_not_load_tensorflow(lecture):
    report, completed = probe(lecture, "--help")
    assert report == {"code": 0, "loaded": []}, completed.stderr[-1500:]
    assert "usage:" in completed.stdout
    report, completed = probe(lecture, "--no-such-flag")
    assert report == {"code": 2, "loaded": []}, completed.stderr[-1500:]
    assert completed.stderr.count("\n") == 1


def test_no_cuda_messages_without_a_gpu():
    """How `cli.run_lecture` loads TensorFlow, once the flags are parsed."""
    completed = subprocess.run(
        [sys.executable, "-c", "from cs20 import cli; cli.load_tensorflow(); "
                               "import tensorflow as tf; "
                               "print(len(tf.config.list_physical_devices('GPU')), "
                               "float(tf.reduce_sum(tf.ones(3))))"],
        capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]
    gpus, total = completed.stdout.split()
    assert total == "3.0"
    if gpus == "0":
        for noise in ("cuda", "absl::InitializeLog", "cpu_feature_guard"):
            assert noise not in completed.stderr, completed.stderr
