"""The LM tests need torch and transformers; their tiny model is `tiny_model_dir` in tests/conftest.py."""

from __future__ import annotations

import pytest

pytest.importorskip("torch", reason="the LM tests need torch: pip install 'prox[lm]'")
pytest.importorskip("transformers", reason="the LM tests need transformers: pip install 'prox[lm]'")
