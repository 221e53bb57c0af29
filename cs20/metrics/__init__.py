"""Evaluation metrics, one module per kind: `word_vectors` (lecture 5), `bleu`
(lecture 12), `fid` (lectures 9 and 10: Fréchet distance on MNIST features)."""

from cs20 import lazy_imports

# `from cs20.metrics import bleu` loads bleu on first use (see cs20.lazy_imports).
__getattr__ = lazy_imports.submodule_getattr(__name__)
