"""Models, one module each, readable on their own."""

from cs20 import lazy_imports

# `from cs20.models import x` loads x on first use (see cs20.lazy_imports).
__getattr__ = lazy_imports.submodule_getattr(__name__)
