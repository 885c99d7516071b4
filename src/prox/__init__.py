"""prox: refine pre-training corpora the ProX way."""

__version__ = "0.1.0"
