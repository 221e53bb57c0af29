"""cs20: Stanford CS20 "TensorFlow for Deep Learning Research" in TensorFlow 2 / Keras 3.

The package holds what several lectures share; the lectures are the `lectures` package.
Importing it quiets TensorFlow's C++ start-up log, which only works before TensorFlow
loads (an explicit TF_CPP_MIN_LOG_LEVEL in the environment wins): modules of the course
import cs20 before TensorFlow.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
