"""Every lecture opens as a notebook made from its lecture.py: in sync, with the install
cell first and one parameters cell; each lecture's own tests execute its notebook with
tiny settings (`conftest.execute_notebook`), and this file checks that each one does."""

import re

from cs20 import cli, notebooks

import pytest
from conftest import ROOT


def test_every_notebook_is_in_sync_with_its_lecture():
    assert notebooks.out_of_date() == [], "run `python -m cs20 notebooks`"


@pytest.mark.parametrize("name", cli.lecture_names())
def test_notebook_has_one_parameters_cell_and_installs_first(name):
    notebook = notebooks.build(name)
    tagged = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0].source.lstrip().startswith(("settings = {}", "#"))
    assert "settings = {}" in tagged[0].source
    assert notebook.cells[0].source == notebooks.INSTALL_CELL
    assert notebook.cells[1].cell_type == "markdown"
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")


def test_every_lecture_notebook_is_executed_by_a_test():
    sources = "".join(path.read_text() for path in (ROOT / "tests").glob("test_*.py"))
    executed = set(re.findall(r'execute_notebook\(\s*"(l\d\d_\w+)"', sources))
    assert set(cli.lecture_names()) <= executed, set(cli.lecture_names()) - executed


def test_stale_notebook_is_reported(tmp_path, monkeypatch):
    name = cli.lecture_names()[0]
    folder = tmp_path / name
    folder.mkdir()
    (folder / "lecture.py").write_text("# %% [markdown]\n# # Title\n\n# %% tags=[\"parameters\"]\n"
                                       "settings = {}\n")
    monkeypatch.setattr(cli, "LECTURES_DIR", tmp_path)
    assert notebooks.out_of_date() == [name]  # no lecture.ipynb yet
    notebooks.write_all()
    assert notebooks.out_of_date() == []
    (folder / "lecture.py").write_text((folder / "lecture.py").read_text() + "x = 1\n")
    assert notebooks.out_of_date() == [name]
