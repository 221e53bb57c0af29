"""Each lecture as a notebook, made from its own source.

`lectures/lNN_topic/lecture.py` is written in jupytext's percent format: `# %%` starts a
code cell, `# %% [markdown]` a cell of narration, `# %% tags=["parameters"]` the one cell
of settings. `python -m cs20 notebooks` writes `lecture.ipynb` next to it, without
outputs, with one cell in front that installs the course in a fresh Colab runtime; it is
never edited by hand (`--check` fails when one is out of date, and so does the suite).
`execute` runs a notebook top to bottom in a Jupyter kernel, settings injected after the
parameters cell (papermill's convention), which is how the suite runs every lecture.
"""

from __future__ import annotations

import pathlib

from cs20 import cli

# Where the course is to be published (a placeholder: no public repository exists yet, so
# the install cell cannot work in Colab until this names the real one). The notebooks'
# install cell and Colab links use it.
REPOSITORY = "cs20-course/cs20"
COLAB = f"https://colab.research.google.com/github/{REPOSITORY}/blob/main"

INSTALL_CELL = f"""\
# In a fresh runtime (Colab) the course is not installed yet: install it first.
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("cs20") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                    "cs20 @ git+https://github.com/{REPOSITORY}"], check=True)
    importlib.invalidate_caches()"""


def notebook_path(name: str) -> pathlib.Path:
    return cli.LECTURES_DIR / name / "lecture.ipynb"


def colab_link(name: str) -> str:
    return f"{COLAB}/lectures/{name}/lecture.ipynb"


def build(name: str):
    """lectures/<name>/lecture.py -> a notebook without outputs."""
    import jupytext
    import nbformat

    notebook = jupytext.read(cli.LECTURES_DIR / name / "lecture.py", fmt="py:percent")
    notebook.cells.insert(0, nbformat.v4.new_code_cell(INSTALL_CELL))
    for index, cell in enumerate(notebook.cells):
        cell.id = f"{name}-{index}"  # stable ids: the file changes only with the lecture
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "colab": {"provenance": []},
    }
    return notebook


def serialise(notebook) -> str:
    import nbformat

    return nbformat.writes(notebook) + "\n"


def out_of_date() -> list[str]:
    """Lectures whose lecture.ipynb is missing or differs from what lecture.py makes."""
    stale = []
    for name in cli.lecture_names():
        path = notebook_path(name)
        if not path.is_file() or path.read_text(encoding="utf-8") != serialise(build(name)):
            stale.append(name)
    return stale


def write_all() -> list[str]:
    """Writes every lecture's notebook that is out of date; returns their names."""
    stale = out_of_date()
    for name in stale:
        notebook_path(name).write_text(serialise(build(name)), encoding="utf-8")
    return stale


def with_settings(notebook, settings: dict):
    """The notebook with a cell that sets `settings` right after the parameters cell."""
    import nbformat

    index = next(index for index, cell in enumerate(notebook.cells)
                 if "parameters" in cell.metadata.get("tags", []))
    cell = nbformat.v4.new_code_cell(f"settings = {settings!r}")
    cell.metadata["tags"] = ["injected-parameters"]
    notebook.cells.insert(index + 1, cell)
    return notebook


def without_tensorboard(notebook):
    """The notebook without its TensorBoard cell (which starts a server)."""
    notebook.cells = [cell for cell in notebook.cells if "%tensorboard" not in cell.source]
    return notebook


def execute(name: str, settings: dict, working_dir: pathlib.Path, timeout: int = 600,
            kernel=None, tensorboard: bool = True):
    """Runs lecture <name>'s notebook top to bottom with `settings` in `working_dir`;
    returns the executed notebook (errors raise). Without `kernel` it starts a fresh one;
    a running `kernel` (a jupyter_client KernelManager) is reused after `%reset -f`, so
    the notebook sees no name a previous one left, but TensorFlow is already imported."""
    import nbclient
    import nbformat

    notebook = with_settings(nbformat.read(notebook_path(name), as_version=4), settings)
    if not tensorboard:
        without_tensorboard(notebook)
    if kernel is not None:
        notebook.cells.insert(0, nbformat.v4.new_code_cell(
            f"%reset -f\nimport os\nos.chdir({str(working_dir)!r})"))
    client = nbclient.NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                                     km=kernel,
                                     resources={"metadata": {"path": str(working_dir)}})
    client.execute()
    return notebook
