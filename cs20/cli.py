"""How a lecture starts and exits: flags first, expected mistakes as one line.

A lecture is a package, `lectures/lNN_topic/`: `config.py` declares its settings (no
TensorFlow there), `lecture.py` is the narrated lesson, run top to bottom as a script or
as a notebook. `run_lecture` parses the flags with the config alone, so that `--help` and
a mistyped flag answer before TensorFlow loads, then runs `lecture.py` with that config
(`config.for_lecture` hands it over) and returns its `results`.

    python -m lectures.l07_convnet --num-epochs 1     (lectures/l07_convnet/__main__.py)
    python -m cs20 run l07_convnet --num-epochs 1

`guard` turns what a user can fix into one line:

ValueError and FileNotFoundError are the user's to fix (bad flag value, missing data
file): one line on stderr, exit code 2. Ctrl-C outside the training loop (which saves a
checkpoint itself) is one line and exit code 130. Set CS20_DEBUG=1 to see the traceback
anyway. A run directory created by this process is removed again if the run failed
before saving anything.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pathlib
import runpy
import sys
import types

from cs20 import config

LECTURES_DIR = pathlib.Path(__file__).resolve().parents[1] / "lectures"


def lecture_names() -> list[str]:
    """The lectures, lNN_topic, in order: folders of lectures/ with a lecture.py."""
    return sorted(path.parent.name for path in LECTURES_DIR.glob("l[0-9][0-9]_*/lecture.py"))


def lecture_command(name: str) -> str:
    """The short command that runs a lecture (from any folder, the project installed)."""
    return f"python -m lectures.{name}"


def run_lecture(name: str, argv=None) -> dict:
    """Runs lectures/<name>/lecture.py top to bottom with the config parsed from `argv`
    (the command line's flags when None) and returns its `results`. The flags are parsed
    before the lecture is imported: `--help` and flag errors never load TensorFlow."""
    if name not in lecture_names():
        raise ValueError(f"unknown lecture {name!r}; see `python -m cs20 list`")
    package = importlib.import_module(f"lectures.{name}")
    settings = importlib.import_module(f"lectures.{name}.config")
    cfg = config.parse(settings.Config, argv, package.__doc__, prog=name)
    with config.launched(cfg):
        namespace = runpy.run_module(f"lectures.{name}.lecture")
    return namespace["results"]


def main_of(package: str):
    """`python -m lectures.NAME`: lectures/NAME/__main__.py is `cli.main_of(__package__)()`."""
    name = package.rpartition(".")[2]
    return lambda argv=None: guard(lambda flags: run_lecture(name, flags), argv)


def load_lecture(name: str):
    """Transition only (issue 30), removed once every lecture is a package: lectures/<name>.py
    as a module, or for a lecture package a namespace of its modules' names (config.py,
    model.py, ...) with `main(argv)` running it as `python -m lectures.<name>` does."""
    if name in lecture_names():
        namespace = types.SimpleNamespace()
        for path in sorted((LECTURES_DIR / name).glob("*.py")):
            if path.stem not in ("__init__", "__main__", "lecture"):
                module = importlib.import_module(f"lectures.{name}.{path.stem}")
                vars(namespace).update({key: value for key, value in vars(module).items()
                                        if not key.startswith("__")})
        namespace.main = lambda argv=None: run_lecture(name, argv)
        return namespace
    path = LECTURES_DIR / f"{name.removesuffix('.py')}.py"
    if not path.is_file():
        raise ValueError(f"unknown lecture {name!r}; see `python -m cs20 list`")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _loaded(module_name: str, class_name: str) -> type | None:
    """An exception class of a cs20 module, if that module has been loaded: an error
    cannot come from a module that never ran, and importing one here would load
    TensorFlow just to print an error."""
    module = sys.modules.get(module_name)
    return getattr(module, class_name, None) if module is not None else None


def _discard_new_runs() -> None:
    runtime = sys.modules.get("cs20.runtime")
    if runtime is not None:
        runtime.discard_runs_without_progress()


def guard(main, argv=None) -> None:
    try:
        main(argv)
    except KeyboardInterrupt:
        _discard_new_runs()
        print("\nInterrupted (Ctrl-C). Checkpoints already saved are kept; the same command "
              "resumes from the last one.", file=sys.stderr)
        sys.exit(130)
    except Exception as error:
        finished = _loaded("cs20.runtime", "RunFinished")
        interrupted = _loaded("cs20.training", "TrainingInterrupted")
        non_finite = _loaded("cs20.training", "NonFiniteLoss")
        if finished is not None and isinstance(error, finished):
            sys.exit(0)  # start() printed the run's results
        if interrupted is not None and isinstance(error, interrupted):
            print(error, file=sys.stderr)
            sys.exit(error.exit_code)
        is_non_finite = non_finite is not None and isinstance(error, non_finite)
        if os.environ.get("CS20_DEBUG") or not (
                is_non_finite or isinstance(error, (ValueError, FileNotFoundError))):
            raise
        if not is_non_finite:
            _discard_new_runs()
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1 if is_non_finite else 2)
