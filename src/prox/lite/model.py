"""A trained lite refiner: word log-odds + a gradient-boosted line model + a logistic document model.

Saved as a folder of plain files (no pickle, so a model folder from anywhere is safe to load):
`model.json` (settings, feature names, document model, training report), `text_weights.tsv.gz` (word log-odds)
and `line_model.txt.gz` (LightGBM's own text format). A model folder may be a URL (s3://, gs://, hf://, ...): it
is saved through a local folder and uploaded, and loaded from a local copy (`model_folder`).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import itertools
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import ModuleType

import numpy as np

from prox.lite.doc_features import DOC_FEATURES, doc_features
from prox.lite.features import LINE_FEATURES, base_features, context_features
from prox.storage import cache_folder, is_remote, local_copy, upload_folder

FORMAT_VERSION = 1
DEFAULT_MODEL = "default_model"


def load_lightgbm() -> ModuleType:
    """The lightgbm module, with an error that says how to get it."""
    try:
        import lightgbm
    except ImportError as error:  # pragma: no cover - lightgbm is a dependency
        raise ImportError("the lite refiner needs lightgbm: pip install lightgbm") from error
    return lightgbm


@dataclass
class LogisticModel:
    """Standardise, then a logistic regression: the document model, small enough to live in model.json."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        logits = ((rows.astype(np.float64) - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-logits))

    @classmethod
    def constant(cls, width: int, keep: bool) -> LogisticModel:
        """A model that gives every document the same verdict (all training documents had one label)."""
        zeros = np.zeros(width)
        return cls(zeros, np.ones(width), zeros, 20.0 if keep else -20.0)

    def to_json(self) -> dict:
        return {key: np.asarray(value).tolist() for key, value in vars(self).items()}

    @classmethod
    def from_json(cls, data: dict) -> LogisticModel:
        return cls(
            np.asarray(data["mean"]), np.asarray(data["scale"]), np.asarray(data["coef"]), float(data["intercept"])
        )


@dataclass
class PageVerdict:
    """The lite models' view of one document: keep probability per line and of the whole document."""

    line_keep: np.ndarray
    doc_keep: float


@dataclass
class LiteModel:
    """Everything the lite refiner needs at run time. A missing line or document model means 'keep'."""

    text_weights: dict[str, float]
    line_model: object | None  # lightgbm.Booster
    doc_model: LogisticModel | None
    line_threshold: float = 0.5
    doc_threshold: float = 0.5
    report: dict = field(default_factory=dict)

    def line_probabilities(self, documents: Sequence[Sequence[str]]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Per document: the line base features and each line's keep probability (one model call per batch)."""
        bases = [base_features(lines, self.text_weights) for lines in documents]
        if self.line_model is None:
            return bases, [np.ones(len(base)) for base in bases]
        rows = [np.hstack((base, context_features(base))) for base in bases if len(base)]
        if not rows:
            return bases, [np.ones(0) for _ in bases]
        keep = self.line_model.predict(np.vstack(rows).astype(np.float32), num_threads=1)
        bounds = np.cumsum([0, *(len(base) for base in bases)])
        return bases, [keep[start:end] for start, end in itertools.pairwise(bounds)]

    def verdicts(self, texts: Sequence[str]) -> list[PageVerdict]:
        """Line and document keep probabilities for a batch of documents."""
        bases, keeps = self.line_probabilities([text.split("\n") for text in texts])
        if self.doc_model is None:
            return [PageVerdict(keep, 1.0) for keep in keeps]
        rows = self.doc_feature_rows(texts, bases, keeps)
        doc_keep = self.doc_model.probabilities(rows)
        return [PageVerdict(keep, float(p)) for keep, p in zip(keeps, doc_keep, strict=True)]

    def doc_feature_rows(
        self, texts: Sequence[str], bases: Sequence[np.ndarray], keeps: Sequence[np.ndarray]
    ) -> np.ndarray:
        """The document model's input rows, from each text's line base features and keep probabilities."""
        rows = [
            doc_features(text, base, keep, self.line_threshold)
            for text, base, keep in zip(texts, bases, keeps, strict=True)
        ]
        return np.vstack(rows)

    def save(self, folder: str | Path) -> None:
        """Write the model folder; a URL gets the same files, written locally first and then uploaded."""
        if is_remote(str(folder)):
            with tempfile.TemporaryDirectory(prefix="prox-lite-model-") as staging:
                self.save(staging)
                upload_folder(Path(staging), str(folder))
            return
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        weights = "".join(
            f"{json.dumps(token, ensure_ascii=False)}\t{weight}\n"
            for token, weight in sorted(self.text_weights.items())
        )
        _write_gzip(folder / "text_weights.tsv.gz", weights)
        if self.line_model is not None:
            _write_gzip(folder / "line_model.txt.gz", self.line_model.model_to_string())
        config = {
            "format_version": FORMAT_VERSION,
            "line_features": list(LINE_FEATURES),
            "doc_features": list(DOC_FEATURES),
            "line_threshold": self.line_threshold,
            "doc_threshold": self.doc_threshold,
            "doc_model": self.doc_model.to_json() if self.doc_model else None,
            "report": self.report,
        }
        (folder / "model.json").write_text(json.dumps(config, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: str | Path | None = None) -> LiteModel:
        """The model saved in `folder` (a local path or a URL); the one shipped with prox when `folder` is None."""
        if folder is None:
            with resources.as_file(resources.files("prox.lite") / DEFAULT_MODEL) as path:
                return cls.load(path)
        local = model_folder(folder)
        config_path = local / "model.json"
        if not config_path.is_file():
            raise FileNotFoundError(
                f"{folder} is not a lite model folder (no model.json); build one with prox lite train"
            )
        config = json.loads(config_path.read_text(encoding="utf-8"))
        if (
            config.get("format_version") != FORMAT_VERSION
            or config.get("line_features") != list(LINE_FEATURES)
            or (config.get("doc_features") != list(DOC_FEATURES))
        ):
            raise ValueError(
                f"{folder} was built by another version of prox (its features differ); retrain it with prox lite train"
            )
        weights: dict[str, float] = {}
        with gzip.open(local / "text_weights.tsv.gz", "rt", encoding="utf-8") as handle:
            for line in handle:
                token, weight = line.rstrip("\n").rsplit("\t", 1)
                weights[json.loads(token)] = float(weight)
        line_model = None
        if (local / "line_model.txt.gz").is_file():
            with gzip.open(local / "line_model.txt.gz", "rt", encoding="utf-8") as handle:
                line_model = load_lightgbm().Booster(model_str=handle.read())
        doc_model = LogisticModel.from_json(config["doc_model"]) if config.get("doc_model") else None
        return cls(
            weights, line_model, doc_model, config["line_threshold"], config["doc_threshold"], config.get("report", {})
        )


def model_fingerprint(folder: str | Path | None = None) -> str:
    """SHA-256 of a model folder's files (names and bytes; None: the shipped model), its identity in run manifests."""
    if folder is None:
        with resources.as_file(resources.files("prox.lite") / DEFAULT_MODEL) as path:
            return model_fingerprint(path)
    digest = hashlib.sha256()
    for path in sorted(model_folder(folder).iterdir()):
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@functools.lru_cache(maxsize=8)
def _shared_model(folder: str | None) -> LiteModel:
    return LiteModel.load(folder)


def shared_model(folder: str | Path | None = None) -> LiteModel:
    """The model in `folder` (None: the shipped one), loaded once per process and kept.

    Tasks of one worker process reuse it instead of reloading (about a second each), and it is never freed
    mid-run: a forked pool worker that is freeing LightGBM's booster when its pool terminates it swallows the
    SIGTERM (Ray's handler raises inside `Booster.__del__`) and hangs the executor. `LiteGenerator` pickles
    without its model for the same reason.
    """
    if folder is None or is_remote(str(folder)):
        return _shared_model(None if folder is None else str(folder))
    return _shared_model(str(Path(folder).resolve()))


def model_folder(location: str | Path) -> Path:
    """The local folder of a model: `location` itself, or for a URL a copy of its files, fetched once per
    process into prox's cache (`~/.cache/prox/lite-models`), so its files, and its fingerprint, are the same."""
    if not is_remote(str(location)):
        return Path(location)
    return local_copy(str(location), cache_folder("lite-models"))


def _write_gzip(path: Path, text: str) -> None:
    """Byte-identical output for identical text (no timestamp in the header), so rebuilt models diff cleanly."""
    path.write_bytes(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))
