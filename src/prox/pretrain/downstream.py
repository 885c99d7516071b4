"""Zero-shot downstream accuracy through lm-evaluation-harness, on local files only.

prox ships lm-eval task definitions (`task_configs/*.yaml`) for the small evaluation sets of
../shared/data/downstream_evals, under lm-eval's usual task names. Each reads its file with the `json` dataset
builder; the folder is filled in at run time (the YAMLs say `EVAL_DATA`) by writing the definitions into a
temporary folder, so nothing is fetched from the Hugging Face Hub.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

TASK_CONFIGS = Path(__file__).parent / "task_configs"
DEFAULT_EVAL_DATA = Path("../shared/data/downstream_evals")
# lm-eval's task names, in the order of the ProX paper's tables where it has them.
TASKS = (
    "arc_easy",
    "arc_challenge",
    "commonsense_qa",
    "hellaswag",
    "openbookqa",
    "piqa",
    "social_iqa",
    "winogrande",
    "sciq",
    "boolq",
    "copa",
    "lambada_openai",
)
_PLACEHOLDER = "EVAL_DATA"


def parse_tasks(spec: str) -> list[str]:
    """The task names of a comma-separated list (`all` for every task); a ValueError naming the known ones."""
    names = list(TASKS) if spec.strip() == "all" else [name.strip() for name in spec.split(",") if name.strip()]
    unknown = [name for name in names if name not in TASKS]
    if unknown or not names:
        named = ", ".join(unknown) if unknown else repr(spec)
        raise ValueError(f"unknown task {named}; choose from: all, {', '.join(TASKS)}")
    return names


def data_files(tasks: Sequence[str]) -> dict[str, str]:
    """The data file each task's definition reads, relative to the evaluation data folder."""
    files = {}
    for task in tasks:
        text = (TASK_CONFIGS / f"{task}.yaml").read_text()
        files[task] = next(word for word in text.split() if word.startswith(f"{_PLACEHOLDER}/"))[
            len(_PLACEHOLDER) + 1 :
        ]
    return files


def check_eval_data(eval_data: str | Path, tasks: Sequence[str]) -> Path:
    """The evaluation data folder, resolved; FileNotFoundError naming the missing files and `--eval-data`."""
    folder = Path(eval_data).resolve()
    missing = [name for name in data_files(tasks).values() if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{folder}: missing {', '.join(missing)}; point --eval-data at the folder of the downstream "
            "evaluation files (../shared/data/downstream_evals) or pick other --tasks"
        )
    return folder


@contextmanager
def local_task_folder(eval_data: str | Path) -> Iterator[Path]:
    """A temporary folder of the task definitions with `EVAL_DATA` replaced by the data folder's absolute path."""
    folder = Path(eval_data).resolve()
    with tempfile.TemporaryDirectory(prefix="prox-lm-eval-") as temporary:
        target = Path(temporary)
        for source in TASK_CONFIGS.iterdir():
            if source.suffix == ".yaml":
                (target / source.name).write_text(source.read_text().replace(_PLACEHOLDER, str(folder)))
            elif source.suffix == ".py":
                shutil.copy(source, target / source.name)
        yield target


def load_tasks(tasks: Sequence[str], eval_data: str | Path, limit: int | None = None) -> dict[str, int]:
    """Load the task definitions and their documents offline; the number of documents each would score."""
    _, lm_eval_tasks = _require_lm_eval()
    _offline()
    counts = {}
    with local_task_folder(check_eval_data(eval_data, tasks)) as folder:
        manager = lm_eval_tasks.TaskManager(include_path=str(folder), include_defaults=False)
        with warnings.catch_warnings():
            # get_task_dict is deprecated in newer lm-eval for TaskManager.load, which older ones lack.
            warnings.simplefilter("ignore", DeprecationWarning)
            loaded = lm_eval_tasks.get_task_dict(list(tasks), manager)
        for name, task in loaded.items():
            documents = list(task.eval_docs)
            counts[name] = min(len(documents), limit) if limit else len(documents)
    return counts


def evaluate_downstream(
    model: Any,
    tokenizer: Any,
    tasks: Sequence[str],
    eval_data: str | Path,
    limit: int | None = None,
    batch_size: int = 16,
) -> dict[str, dict[str, float]]:
    """Zero-shot scores of an in-memory causal LM on the tasks: {task: {acc, acc_norm?, ...}} (lm-eval's
    metrics without their filter suffix; standard errors left out)."""
    lm_eval, lm_eval_tasks = _require_lm_eval()
    from lm_eval.models.huggingface import HFLM

    _offline()
    with local_task_folder(check_eval_data(eval_data, tasks)) as folder:
        manager = lm_eval_tasks.TaskManager(include_path=str(folder), include_defaults=False)
        wrapped = HFLM(
            pretrained=model,
            tokenizer=tokenizer,
            batch_size=batch_size,
            device=str(model.device),
            max_length=model.config.max_position_embeddings,
        )
        results = lm_eval.simple_evaluate(
            model=wrapped,
            tasks=list(tasks),
            num_fewshot=0,
            limit=limit,
            task_manager=manager,
            bootstrap_iters=0,
            log_samples=False,
            verbosity="ERROR",
        )
    scores: dict[str, dict[str, float]] = {}
    for task, metrics in results["results"].items():
        scores[task] = {
            key.split(",")[0]: float(value)
            for key, value in metrics.items()
            if "," in key and "_stderr" not in key and isinstance(value, (int, float))
        }
        examples = results.get("n-samples", {}).get(task, {}).get("effective")
        if examples:
            scores[task]["examples"] = float(examples)
    return scores


def _offline() -> None:
    # The json builder needs nothing from the Hub; these make sure nothing else tries.
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _require_lm_eval() -> tuple[Any, Any]:
    try:
        import lm_eval
        import lm_eval.tasks
    except ImportError:
        raise ValueError("downstream evaluation needs lm-evaluation-harness: pip install 'prox[train]'") from None
    return lm_eval, lm_eval.tasks
