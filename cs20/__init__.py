"""cs20: Stanford CS20 "TensorFlow for Deep Learning Research" in TensorFlow 2 / Keras 3.

Importing the package quiets TensorFlow's C++ start-up log (it must be set before
TensorFlow loads; an explicit TF_CPP_MIN_LOG_LEVEL in the environment wins) and defers
the import of TensorFlow, Keras and cs20's modules to their first use, so that a
lecture's `--help` answers without loading TensorFlow (see `cs20.lazy_imports`).
"""

import os

from cs20 import lazy_imports

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
lazy_imports.install()
__getattr__ = lazy_imports.submodule_getattr(__name__)

__version__ = "0.1.0"
