"""Load the tokenizer of a refining model as a fast `tokenizers.Tokenizer`.

The released ProX code counted chunk tokens with transformers 4.x's fast Llama tokenizer, which runs the
model's `tokenizer.json` as it is. transformers 5 rebuilds Llama tokenizers with another normalizer (it
counts lines with leading spaces differently), so prox reads `tokenizer.json` directly when it exists.
"""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer

from prox.messages import first_line


def load_tokenizer(path: str | Path) -> Tokenizer:
    """A tokenizer from a directory holding `tokenizer.json`, that file itself, or a transformers model dir."""
    path = Path(path)
    candidates = [path] if path.is_file() else [path / "tokenizer.json"]
    for candidate in candidates:
        if candidate.is_file():
            try:
                return Tokenizer.from_file(str(candidate))
            except Exception as error:  # tokenizers raises a bare Exception on bad files
                raise ValueError(f"{candidate}: not a readable tokenizer.json ({error})") from None
    if not path.exists():
        raise FileNotFoundError(f"tokenizer not found: {path} (give a directory holding tokenizer.json)")
    return _from_transformers(path)


def _from_transformers(path: Path) -> Tokenizer:
    """The fast backend of a transformers tokenizer saved without tokenizer.json (e.g. only tokenizer.model)."""
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise ValueError(
            f"{path} has no tokenizer.json; install transformers (pip install 'prox[lm]') to convert it"
        ) from None
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as error:  # their messages run over several lines; the CLI prints one
        reason = first_line(error)
        raise ValueError(f"{path}: no tokenizer.json, and transformers could not load a tokenizer ({reason})") from None
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise ValueError(f"{path}: transformers could not build a fast tokenizer from it")
    return backend
