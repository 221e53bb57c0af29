"""cs20: Stanford CS20 "TensorFlow for Deep Learning Research" in TensorFlow 2 / Keras 3.

Importing the package quiets TensorFlow's C++ start-up log (it must be set before
TensorFlow loads); an explicit TF_CPP_MIN_LOG_LEVEL in the environment wins.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
