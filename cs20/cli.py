"""How a lecture exits: expected mistakes as one line, not a traceback.

    if __name__ == "__main__":
        cli.guard(main)

ValueError and FileNotFoundError are the user's to fix (bad flag value, missing data
file): one line on stderr, exit code 2. Ctrl-C outside the training loop (which saves a
checkpoint itself) is one line and exit code 130. Set CS20_DEBUG=1 to see the traceback
anyway. A run directory created by this process is removed again if the run failed
before saving anything.
"""

from __future__ import annotations

import importlib.util
import os
import pathlib
import sys

LECTURES_DIR = pathlib.Path(__file__).resolve().parents[1] / "lectures"


def load_lecture(name: str):
    """Imports lectures/<name>.py as a module, for code that uses a lecture's functions
    (its train step, its losses): lectures/ is a folder of scripts, not a package."""
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
