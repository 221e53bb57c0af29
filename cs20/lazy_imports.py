"""Deferred imports, so that `--help` and a mistyped flag answer at once.

Importing TensorFlow takes 4 s on an idle laptop and 15-20 s on busy cores; a lecture
only needs it after its flags are parsed. `install()` (run by `import cs20`, which every
lecture does before importing TensorFlow) makes `import tensorflow`, `import keras` and
`import tensorflow_datasets` return modules whose code runs on first use (the idea of
the standard library's `importlib.util.LazyLoader`, which cannot be used as is: it runs
a module when anything, even its `__spec__`, is read, and TensorFlow reads Keras' spec
while it loads, before Keras can be loaded); `submodule_getattr` does the same for
cs20's own modules. Nothing changes for code that uses them: the first attribute access
runs the real module.

When TensorFlow does load on a machine without a GPU, the CUDA start-up lines it prints
("Could not find cuda drivers on your machine", "failed call to cuInit") say nothing
useful, and they bypass Python's logging (C++ writes them to file descriptor 2 before its
log settings apply). They are held back while TensorFlow loads and finds its devices;
every other line is printed as it was. On a machine with a GPU every line is kept.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import tempfile
import types

LAZY_MODULES = ("tensorflow", "keras", "tensorflow_datasets")

# Lines TensorFlow's C++ start-up prints when there is no CUDA device.
CUDA_NOISE = ("All log messages before absl::InitializeLog()", "cudart_stub.cc",
              "cuda_platform.cc", "failed call to cuInit", "cuda_dnn.cc", "cuda_fft.cc",
              "cuda_blas.cc", "Unable to register cu", "computation placer already registered",
              "cpu_feature_guard.cc", "rebuild TensorFlow with the appropriate compiler flags")


@contextlib.contextmanager
def quiet_cuda_start_up():
    """Holds back file descriptor 2 and reprints it without the CUDA start-up lines,
    unless a GPU was found. Used around running the code of the LAZY_MODULES (any of
    them may be the one that loads TensorFlow's libraries)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        found_gpu = True  # if loading fails, show everything
        try:
            yield
            if "tensorflow.python" in sys.modules:  # TensorFlow's libraries did load
                import tensorflow as tf

                # Finding the devices is what tries CUDA (and prints about it).
                found_gpu = bool(tf.config.list_physical_devices("GPU"))
            else:
                found_gpu = False
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines(keepends=True):
                if found_gpu or not any(noise in line for noise in CUDA_NOISE):
                    sys.stderr.write(line)
            sys.stderr.flush()


class _DeferredModule(types.ModuleType):
    """A module whose code has not run yet. Its import attributes (`__spec__`,
    `__path__`, ...) are real, so the import system and `importlib.util.find_spec` can
    use it without loading it (TensorFlow asks for Keras' spec while it loads); the
    first other attribute runs the module's code in place."""

    def __getattr__(self, name: str):
        spec = self.__spec__
        submodule = sys.modules.get(f"{spec.name}.{name}")
        if submodule is not None:
            # A submodule still being imported (`import keras.src.layers as layers`
            # inside Keras): what the import system itself would return.
            return submodule
        self.__class__ = types.ModuleType  # from here on, an ordinary (loading) module
        # The real loader back in place: packages find their data files through it
        # (tensorflow_datasets locates its checksums with importlib.resources).
        spec.loader = self.__loader__ = spec.loader_state
        try:
            if spec.name in LAZY_MODULES:
                with quiet_cuda_start_up():
                    spec.loader_state.exec_module(self)
            else:
                spec.loader_state.exec_module(self)
        except BaseException:
            sys.modules.pop(spec.name, None)
            raise
        return getattr(self, name)


class _DeferredLoader(importlib.abc.Loader):
    """Creates the module as its real loader would, and defers running its code."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        module.__spec__.loader_state = self.loader
        module.__class__ = _DeferredModule


def deferred_spec(spec):
    spec.loader = _DeferredLoader(spec.loader)
    return spec


class _DeferringFinder(importlib.abc.MetaPathFinder):
    """Finds LAZY_MODULES as usual, and defers running their code."""

    def find_spec(self, name, path, target=None):
        if name not in LAZY_MODULES or os.environ.get("CS20_EAGER_IMPORTS"):
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return None
        return deferred_spec(spec)


def install() -> None:
    if not any(isinstance(finder, _DeferringFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _DeferringFinder())


def lazy_module(name: str):
    """`import name`, its code run on first attribute access."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    deferred_spec(spec)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def submodule_getattr(package: str):
    """A module `__getattr__` (PEP 562) that makes `from package import submodule`
    lazy: the submodule's code runs when the lecture first uses it, not when it is named."""

    def __getattr__(name: str):
        if name.startswith("__") or importlib.util.find_spec(f"{package}.{name}") is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = lazy_module(f"{package}.{name}")
        setattr(sys.modules[package], name, module)
        return module

    return __getattr__
