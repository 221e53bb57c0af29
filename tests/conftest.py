"""Shared test helpers.

Tests that need real data use the `data_dir` fixture: it reads CS20_DATA_DIR (the CI
points it at ../shared/data). When the variable is set, a missing file is a failure,
not a skip; only a machine without CS20_DATA_DIR skips those tests.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture
def data_dir() -> pathlib.Path:
    value = os.environ.get("CS20_DATA_DIR")
    if not value:
        pytest.skip("CS20_DATA_DIR is not set")
    path = pathlib.Path(value)
    assert path.is_dir(), f"CS20_DATA_DIR={value} is not a folder"
    return path


def load_lecture(name: str):
    """Imports lectures/<name>.py as a module (lectures/ is a folder of scripts)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "lectures" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def read_results(run_dir: pathlib.Path) -> dict:
    return json.loads((run_dir / "results.json").read_text())


def event_files(run_dir: pathlib.Path) -> list[pathlib.Path]:
    return list(run_dir.rglob("events.out.tfevents.*"))
