"""Data sources and tf.data pipelines, one module per source."""

from cs20 import lazy_imports

# `from cs20.datasets import x` loads x on first use (see cs20.lazy_imports).
__getattr__ = lazy_imports.submodule_getattr(__name__)
