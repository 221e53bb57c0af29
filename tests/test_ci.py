"""The CI's guards against tests that pass by not running: offline, a missing data
folder fails the tests that need it, and `--fail-on-skip` fails a session with skips."""

import os
import subprocess
import sys

import pytest
from conftest import ROOT, require_data_dir


def test_offline_without_a_data_folder_fails_instead_of_skipping(monkeypatch):
    monkeypatch.delenv("CS20_DATA_DIR", raising=False)
    monkeypatch.setenv("CS20_OFFLINE", "1")
    with pytest.raises(pytest.fail.Exception, match="CS20_DATA_DIR is not set"):
        require_data_dir()
    monkeypatch.delenv("CS20_OFFLINE")
    with pytest.raises(pytest.skip.Exception):  # a developer's machine, online
        require_data_dir()


def test_fail_on_skip_fails_a_session_with_a_skip_even_under_xdist(tmp_path):
    (tmp_path / "test_some.py").write_text(
        "import pytest\n\ndef test_runs():\n    pass\n\n"
        "def test_skips():\n    pytest.skip('no data')\n")

    # The suite's conftest as a plugin, with the CI's flags.
    strict = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider", "-q",
         "-rs", "--fail-on-skip", "-n", "2", str(tmp_path)], capture_output=True, text=True,
        timeout=120, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT / "tests")})
    assert strict.returncode == 1, strict.stdout[-2000:]
    assert "1 passed, 1 skipped" in strict.stdout
    assert "--fail-on-skip: 1 skipped; failing the session" in strict.stdout
