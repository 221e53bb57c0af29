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
import os
import pathlib
import runpy
import sys
import tempfile

from cs20 import config

LECTURES_DIR = pathlib.Path(__file__).resolve().parents[1] / "lectures"


def lecture_names() -> list[str]:
    """The lectures, lNN_topic, in order: folders of lectures/ with a lecture.py."""
    return sorted(path.parent.name for path in LECTURES_DIR.glob("l[0-9][0-9]_*/lecture.py"))


def lecture_command(name: str) -> str:
    """The short command that runs a lecture (from any folder, the project installed)."""
    return f"python -m lectures.{name}"


# Lines TensorFlow's C++ start-up prints when there is no CUDA device.
CUDA_NOISE = ("All log messages before absl::InitializeLog()", "cudart_stub.cc",
              "cuda_platform.cc", "failed call to cuInit", "cuda_dnn.cc", "cuda_fft.cc",
              "cuda_blas.cc", "Unable to register cu", "computation placer already registered",
              "cpu_feature_guard.cc", "rebuild TensorFlow with the appropriate compiler flags")


def load_tensorflow() -> None:
    """Imports TensorFlow and finds its devices. On a machine without a GPU the CUDA
    start-up lines it prints say nothing useful, and they bypass Python (C++ writes them
    to file descriptor 2 before its log settings apply): they are held back, and every
    other line is printed as it was. With a GPU every line is kept."""
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        found_gpu = True  # if loading fails, show everything
        try:
            import tensorflow as tf

            found_gpu = bool(tf.config.list_physical_devices("GPU"))
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines(keepends=True):
                if found_gpu or not any(noise in line for noise in CUDA_NOISE):
                    sys.stderr.write(line)
            sys.stderr.flush()


def run_lecture(name: str, argv=None) -> dict:
    """Runs lectures/<name>/lecture.py top to bottom with the config parsed from `argv`
    (the command line's flags when None) and returns its `results`. The flags are parsed
    before the lecture is imported: `--help` and flag errors never load TensorFlow."""
    if name not in lecture_names():
        raise ValueError(f"unknown lecture {name!r}; see `python -m cs20 list`")
    package = importlib.import_module(f"lectures.{name}")
    settings = importlib.import_module(f"lectures.{name}.config")
    cfg = config.parse(settings.Config, argv, package.__doc__, prog=name)
    load_tensorflow()
    with config.launched(cfg):
        # alter_sys: while it runs, the lecture is in sys.modules (AutoGraph looks there).
        namespace = runpy.run_module(f"lectures.{name}.lecture", alter_sys=True)
    return namespace["results"]


def main_of(package: str):
    """`python -m lectures.NAME`: lectures/NAME/__main__.py is `cli.main_of(__package__)()`."""
    name = package.rpartition(".")[2]
    return lambda argv=None: guard(lambda flags: run_lecture(name, flags), argv)


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
