"""One pre-training run of the proxy: a causal LM built from scratch, trained with the transformers Trainer on
packed blocks of one corpus, its loss on held-out clean text measured along the way.

A run sees each training block once (one epoch over exactly the token budget), so corpora of different sizes are
compared on equal tokens without repeating any. The seed sets the model's initialisation, the documents' order
before packing, and the Trainer's data order.
"""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prox.models import ModelShape, build_model
from prox.tokenizer import load_tokenizer


@dataclass(frozen=True)
class TrainSettings:
    """How each run trains; every corpus and seed gets the same."""

    shape: ModelShape
    tokenizer_dir: str
    tokens: int = 0  # training tokens per run (rounded down to whole steps); 0: what the smallest corpus holds
    block: int = 256  # tokens per packed sequence
    batch_size: int = 16  # sequences per optimizer step
    learning_rate: float = 1e-3  # peak; small models take a high rate
    warmup: float = 0.05  # share of steps with a linear warm-up, then cosine decay to 0
    weight_decay: float = 0.1
    evals: int = 8  # held-out evaluations spread over the run (plus one before the first step)

    @property
    def steps(self) -> int:
        return max(1, self.tokens // (self.block * self.batch_size))

    @property
    def tokens_per_step(self) -> int:
        return self.block * self.batch_size


@dataclass
class RunResult:
    """What one run measured."""

    corpus: str
    seed: int
    tokens: int  # training tokens seen
    heldout_loss: float  # mean token cross-entropy on the held-out text at the end
    curve: list[tuple[int, float]]  # (training tokens seen, held-out loss)
    seconds: float
    downstream: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def perplexity(self) -> float:
        return math.exp(self.heldout_loss)


def hf_tokenizer(tokenizer_dir: str | Path) -> Any:
    """A transformers fast tokenizer over the directory's tokenizer.json as it is (see prox.tokenizer), used for
    packing and for lm-eval alike so that training and evaluation see the same ids."""
    _, transformers = require_train()
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=load_tokenizer(tokenizer_dir), bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def train_run(
    corpus: str,
    blocks: list[list[int]],
    heldout: list[list[int]],
    settings: TrainSettings,
    seed: int,
) -> tuple[RunResult, Any]:
    """Train a fresh model on `blocks` (exactly `settings.steps` steps) and return the result and the model."""
    torch, transformers = require_train()
    needed = settings.steps * settings.batch_size
    if len(blocks) < needed:
        raise ValueError(f"corpus {corpus!r} has {len(blocks)} blocks, the budget needs {needed}; lower --tokens")
    model = build_model(settings.shape, settings.tokenizer_dir, seed=seed)
    train = _Blocks(torch, blocks[:needed])
    curve: list[tuple[int, float]] = []

    class RecordHeldout(transformers.TrainerCallback):
        def on_evaluate(self, args: Any, state: Any, control: Any, metrics: Any = None, **kwargs: Any) -> None:
            curve.append((state.global_step * settings.tokens_per_step, float(metrics["eval_loss"])))

    eval_steps = max(1, settings.steps // settings.evals)
    with tempfile.TemporaryDirectory(prefix="prox-pretrain-") as scratch:
        arguments = transformers.TrainingArguments(
            output_dir=scratch,
            max_steps=settings.steps,
            per_device_train_batch_size=settings.batch_size,
            per_device_eval_batch_size=settings.batch_size,
            learning_rate=settings.learning_rate,
            lr_scheduler_type="cosine",
            warmup_steps=int(settings.warmup * settings.steps),
            weight_decay=settings.weight_decay,
            eval_strategy="steps",
            eval_steps=eval_steps,
            logging_strategy="no",
            save_strategy="no",
            report_to="none",
            seed=seed,
            data_seed=seed,
            dataloader_drop_last=True,
            dataloader_pin_memory=torch.cuda.is_available(),
            disable_tqdm=False,
        )
        trainer = transformers.Trainer(
            model=model,
            args=arguments,
            train_dataset=train,
            eval_dataset=_Blocks(torch, heldout),
            callbacks=[RecordHeldout()],
        )
        started = time.monotonic()
        trainer.evaluate()  # the untrained model's loss: the curve's first point
        trainer.train()
        if curve[-1][0] != settings.steps * settings.tokens_per_step:
            trainer.evaluate()
        seconds = time.monotonic() - started
    model.eval()
    result = RunResult(
        corpus=corpus,
        seed=seed,
        tokens=settings.steps * settings.tokens_per_step,
        heldout_loss=curve[-1][1],
        curve=curve,
        seconds=seconds,
    )
    return result, model


class _Blocks:
    """Packed blocks as a map-style dataset of causal-LM examples (labels are the inputs; the model shifts them)."""

    def __init__(self, torch: Any, blocks: list[list[int]]) -> None:
        self.tensor = torch.tensor(blocks, dtype=torch.long)

    def __len__(self) -> int:
        return len(self.tensor)

    def __getitem__(self, index: int) -> dict[str, Any]:
        ids = self.tensor[index]
        return {"input_ids": ids, "labels": ids}


def require_train() -> tuple[Any, Any]:
    """torch and transformers, or a ValueError naming the extra to install."""
    try:
        import torch
        import transformers
    except ImportError:
        raise ValueError("the pre-training proxy needs torch and transformers: pip install 'prox[train]'") from None
    return torch, transformers
