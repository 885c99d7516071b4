"""`prox train sft`: full fine-tuning of a refining model on `prox synth` records with TRL's `SFTTrainer`.

What prox adds to TRL: the data (pre-tokenized to the exact ids `prox refine` sends, loss on the program and EOS
only, via TRL's `completion_mask`), validation by prox's metrics on the held-out split (`validation.py`) to pick
the best checkpoint, and an output folder that every `prox refine` backend loads: the model, the base's
tokenizer files as they were (transformers 5 rewrites a Llama `tokenizer.json` when it saves one), the Llama-2
chat template when the base has none, and `prox_train.json`. Checkpoints go to `OUT/checkpoints`; a run
started again with the same OUT resumes from the last one written to the end.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from prox.generators.lm.transformers_backend import resolve_dtype
from prox.messages import first_line
from prox.models import parse_shape
from prox.models.scratch import TOKENIZER_FILES, build_model, copy_tokenizer_files
from prox.prompts import LLAMA2_CHAT_TEMPLATE
from prox.tokenizer import load_tokenizer
from prox.training.data import read_sft_records, split_records, stages_of, tokenize_record
from prox.training.validation import ValidationSet

REPORT_FILE = "prox_train.json"
CHECKPOINTS = "checkpoints"


@dataclass
class SFTSettings:
    """What `prox train sft` trains, on what, and how; the defaults are the paper's recipe (PROX_SPEC §5)."""

    data: list[str]
    output: str
    base: str | None = None  # a model directory or Hub id; or
    init: str | None = None  # a shape spec for a random-initialised model (prox.models)
    tokenizer: str | None = None  # default: the base's
    stage: str = "both"
    eval_data: list[str] = field(default_factory=list)  # held-out records; default: --eval-split of the data
    eval_split: float = 0.05
    eval_steps: int | None = None  # validate and save every N optimizer steps; default: every epoch
    stop_score: float | None = None  # stop once a validation scores this much (e.g. 1.0: learnt by heart)
    epochs: float = 3.0
    max_steps: int = -1
    lr: float = 1e-5
    min_lr: float = 1e-6
    schedule: str = "cosine"  # cosine (lr → min_lr) or constant
    warmup: float = 0.0  # share of the steps
    batch_size: int = 64  # sequences per optimizer step, over all processes
    micro_batch_size: int = 8  # sequences per forward pass on one process; the rest is gradient accumulation
    dtype: str = "auto"  # auto, bf16 or fp32
    gradient_checkpointing: bool = False  # recompute activations: less memory, about a third slower
    seed: int = 0
    save_total_limit: int = 2
    logging_steps: int = 10

    def __post_init__(self) -> None:
        if (self.base is None) == (self.init is None):
            raise ValueError("give exactly one of --base MODEL and --init SHAPE")
        if self.init is not None and not self.tokenizer:
            raise ValueError("--init builds a model from scratch and needs --tokenizer DIR (a tokenizer.json folder)")
        if self.batch_size < 1 or self.micro_batch_size < 1:
            raise ValueError("--batch-size and --micro-batch-size must be at least 1")
        if self.epochs <= 0 and self.max_steps <= 0:
            raise ValueError("--epochs must be positive (or give --max-steps)")
        if self.schedule not in ("cosine", "constant"):
            raise ValueError(f"unknown --schedule {self.schedule!r}; choose cosine or constant")
        if not 0 <= self.eval_split < 1:
            raise ValueError(f"--eval-split must be at least 0 and below 1, got {self.eval_split}")
        if self.stop_score is not None and not self.eval_data and self.eval_split == 0:
            raise ValueError("--stop-score needs validation: give --eval-split or --eval-data")
        if self.eval_steps is not None and self.eval_steps < 1:
            raise ValueError("--eval-steps must be at least 1")
        stages_of(self.stage)
        self.accumulation(world_size())
        if self.init is not None:
            parse_shape(self.init)

    @property
    def tokenizer_dir(self) -> str:
        """The tokenizer's local folder: --tokenizer, or the base's (a Hub id's tokenizer files are fetched)."""
        name = self.tokenizer or str(self.base)
        return name if Path(name).exists() else _hub_tokenizer(name)

    def accumulation(self, processes: int) -> tuple[int, int]:
        """(sequences per forward pass per process, gradient accumulation steps) that make up `batch_size`."""
        micro = max(1, min(self.micro_batch_size, self.batch_size // processes))
        if self.batch_size % (micro * processes):
            raise ValueError(
                f"--batch-size {self.batch_size} is not a multiple of {micro} sequences x {processes} processes; "
                "change --batch-size or --micro-batch-size"
            )
        return micro, self.batch_size // (micro * processes)


def world_size() -> int:
    """Processes of this run, as `accelerate launch` or `torchrun` set them (1 otherwise)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def require_train_extra() -> tuple[Any, Any, Any, Any]:
    """torch, transformers, datasets and trl, or a ValueError naming the extra to install."""
    try:
        import datasets
        import torch
        import transformers
        import trl
    except ImportError as error:
        raise ValueError(
            f"prox train needs torch, transformers, datasets and trl ({error.name} is missing): "
            "pip install 'prox[train]'"
        ) from None
    return torch, transformers, datasets, trl


@dataclass
class PreparedData:
    """Records read and split, tokenized for the trainer, and the held-out set for validation."""

    train: list[dict]
    held_out: list[dict]
    train_features: list[dict[str, list[int]]]
    held_out_features: list[dict[str, list[int]]]

    def counts(self) -> dict[str, dict[str, int]]:
        def per_stage(records: list[dict]) -> dict[str, int]:
            stages = [record["stage"] for record in records]
            return {stage: stages.count(stage) for stage in ("doc", "chunk")}

        return {"train": per_stage(self.train), "eval": per_stage(self.held_out)}


def prepare_data(settings: SFTSettings, eos_id: int) -> PreparedData:
    """Read, split and tokenize the records of the stages trained."""
    stages = stages_of(settings.stage)
    records = list(read_sft_records(settings.data, stages))
    if not records:
        raise ValueError(f"the data holds no {settings.stage} records; check DATA and --stage")
    if settings.eval_data:
        train, held_out = records, list(read_sft_records(settings.eval_data, stages))
    else:
        train, held_out = split_records(records, settings.eval_split, settings.seed)
    tokenizer = load_tokenizer(settings.tokenizer_dir)
    return PreparedData(
        train,
        held_out,
        [tokenize_record(record, tokenizer, eos_id).features() for record in train],
        [tokenize_record(record, tokenizer, eos_id).features() for record in held_out],
    )


def eos_id_of(tokenizer_dir: str) -> int:
    eos = load_tokenizer(tokenizer_dir).token_to_id("</s>")
    if eos is None:
        raise ValueError(f"the tokenizer in {tokenizer_dir} has no </s> token; prox's refiners end programs with it")
    return eos


@dataclass
class SFTRun:
    """A trainer ready to train, and what it was built from."""

    trainer: Any
    data: PreparedData
    dtype: str
    micro_batch_size: int
    accumulation: int
    resume_from: str | None


def build_trainer(settings: SFTSettings, progress: Callable[[str], None] = print) -> SFTRun:
    """The data read and tokenized, the model built or loaded, and TRL's trainer set up with prox's validation."""
    torch, transformers, datasets, trl = require_train_extra()
    data = prepare_data(settings, eos_id_of(settings.tokenizer_dir))
    progress(f"records: {data.counts()}")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = resolve_dtype(settings.dtype, device)  # type: ignore[arg-type]
    micro, accumulation = settings.accumulation(world_size())
    checkpoints = Path(settings.output) / CHECKPOINTS
    validating = bool(data.held_out)
    per_epoch = settings.eval_steps is None
    config = trl.SFTConfig(
        output_dir=str(checkpoints),
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps,
        learning_rate=settings.lr,
        lr_scheduler_type="cosine_with_min_lr" if settings.schedule == "cosine" else "constant",
        lr_scheduler_kwargs={"min_lr": settings.min_lr} if settings.schedule == "cosine" else None,
        warmup_steps=settings.warmup,
        per_device_train_batch_size=micro,
        per_device_eval_batch_size=micro,
        gradient_accumulation_steps=accumulation,
        bf16=dtype == "bfloat16",
        gradient_checkpointing=settings.gradient_checkpointing,  # TRL turns it on by default
        use_cpu=device == "cpu",  # bf16 autocast on a CPU wants it said
        seed=settings.seed,
        data_seed=settings.seed,
        eval_strategy=("epoch" if per_epoch else "steps") if validating else "no",
        save_strategy="epoch" if per_epoch else "steps",
        eval_steps=settings.eval_steps,
        save_steps=settings.eval_steps or 500,
        load_best_model_at_end=validating,
        metric_for_best_model="eval_score" if validating else None,
        greater_is_better=True if validating else None,
        save_total_limit=settings.save_total_limit,
        logging_steps=settings.logging_steps,
        report_to="none",
        # Pre-tokenized: TRL turns `completion_mask` into labels with -100 on the prompt.
        completion_only_loss=True,
        max_length=None,
        packing=False,
    )
    prox_tokenizer = load_tokenizer(settings.tokenizer_dir)
    trainer = _trainer_class(trl)(
        model=_initial_model(settings, transformers, torch),
        args=config,
        train_dataset=datasets.Dataset.from_list(data.train_features),
        eval_dataset=datasets.Dataset.from_list(data.held_out_features) if validating else None,
        processing_class=_hf_tokenizer(settings.tokenizer_dir, transformers),
        validation=ValidationSet.build(data.held_out, prox_tokenizer) if validating else None,
        stop_score=settings.stop_score,
        prox_tokenizer=prox_tokenizer,
    )
    # Only the process that writes checkpoints removes unfinished ones; every process resumes from the same one.
    last = last_complete_checkpoint(checkpoints, remove_incomplete=trainer.args.should_save, progress=progress)
    return SFTRun(trainer, data, dtype, micro, accumulation, last)


def last_complete_checkpoint(
    folder: Path, remove_incomplete: bool = False, progress: Callable[[str], None] = print
) -> str | None:
    """The newest checkpoint in `folder` that was written to the end (None when there is none).

    transformers writes a checkpoint in place, the weights first and `trainer_state.json` last, so a run killed
    while saving leaves a folder that `get_last_checkpoint` picks and `trainer.train` fails on, at every rerun.
    Such folders are skipped and, with `remove_incomplete`, removed: the resumed run saves that step again.
    """
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

    steps: dict[int, Path] = {}
    for path in folder.glob(f"{PREFIX_CHECKPOINT_DIR}-*") if folder.is_dir() else ():
        step = path.name.removeprefix(f"{PREFIX_CHECKPOINT_DIR}-")
        if step.isdigit() and path.is_dir():
            steps[int(step)] = path
    last = None
    for step in sorted(steps):
        if _checkpoint_complete(steps[step]):
            last = str(steps[step])
        elif remove_incomplete:
            progress(f"removing {steps[step]}: the run stopped while saving it")
            shutil.rmtree(steps[step], ignore_errors=True)
    return last


def _checkpoint_complete(checkpoint: Path) -> bool:
    """Whether the trainer state, written last, is there and whole, and the model weights are there."""
    from transformers.trainer import TRAINER_STATE_NAME
    from transformers.utils import SAFE_WEIGHTS_INDEX_NAME, SAFE_WEIGHTS_NAME, WEIGHTS_INDEX_NAME, WEIGHTS_NAME

    try:
        json.loads((checkpoint / TRAINER_STATE_NAME).read_text())
    except (OSError, ValueError):
        return False
    weights = (SAFE_WEIGHTS_NAME, SAFE_WEIGHTS_INDEX_NAME, WEIGHTS_NAME, WEIGHTS_INDEX_NAME)
    return any((checkpoint / name).is_file() for name in weights)


def train_sft(settings: SFTSettings, progress: Callable[[str], None] = print) -> dict:
    """Train, validate, keep the best checkpoint in `settings.output`, and return the report written beside it."""
    run = build_trainer(settings, progress)
    trainer, output = run.trainer, Path(settings.output)
    if run.resume_from:
        progress(f"resuming from {run.resume_from}")
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=run.resume_from)
    seconds = time.perf_counter() - started
    if not trainer.is_world_process_zero():
        return {}
    trainer.save_model(str(output))
    install_tokenizer(settings.tokenizer_dir, output)
    report = {
        "data": list(settings.data),
        "eval_data": list(settings.eval_data),
        "settings": asdict(settings) | {"processes": world_size(), "micro_batch_size": run.micro_batch_size},
        "dtype": run.dtype,
        "gradient_accumulation_steps": run.accumulation,
        "records": run.data.counts(),
        "global_step": trainer.state.global_step,
        "resumed_from": run.resume_from,
        "train_seconds": round(seconds, 3),
        "train_metrics": result.metrics,
        "evaluations": evaluations(trainer.state.log_history),
        "best_checkpoint": trainer.state.best_model_checkpoint,
        "best_score": trainer.state.best_metric,
    }
    (output / REPORT_FILE).write_text(json.dumps(report, indent=2, default=str) + "\n")
    progress(f"wrote {output} (best score {report['best_score']}, step {report['global_step']})")
    return report


def evaluations(log_history: list[dict]) -> list[dict]:
    """One entry per validation: the step, the epoch, the eval loss and prox's metrics (logged separately)."""
    by_step: dict[int, dict] = {}
    for entry in log_history:
        if any(key.startswith("eval_") for key in entry):
            by_step.setdefault(entry["step"], {}).update(entry)
    return [by_step[step] for step in sorted(by_step)]


def install_tokenizer(source: str, output: Path) -> None:
    """The base's tokenizer files, byte for byte, and a chat template: the Llama-2 one when the base has none."""
    copy_tokenizer_files(source, output)
    config_path = output / "tokenizer_config.json"
    config = json.loads(config_path.read_text()) if config_path.is_file() else {}
    template_path = output / "chat_template.jinja"
    template = config.get("chat_template") or (template_path.read_text() if template_path.is_file() else None)
    if not template:
        template = LLAMA2_CHAT_TEMPLATE
    # transformers 4 reads the template from tokenizer_config.json, transformers 5 and vLLM also from the file.
    config["chat_template"] = template
    config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")
    template_path.write_text(template)


def _hf_tokenizer(tokenizer_dir: str, transformers: Any) -> Any:
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(tokenizer_dir)
    except (OSError, ValueError) as error:
        reason = first_line(error)
        raise ValueError(f"cannot load the tokenizer {tokenizer_dir}: {reason}") from None
    if not tokenizer.chat_template:
        tokenizer.chat_template = LLAMA2_CHAT_TEMPLATE
    return tokenizer


def _initial_model(settings: SFTSettings, transformers: Any, torch: Any) -> Any:
    if settings.init is not None:
        return build_model(parse_shape(settings.init), settings.tokenizer_dir, settings.seed)
    local = Path(str(settings.base)).exists()
    try:
        # fp32 master weights; --bf16 trains in mixed precision.
        return transformers.AutoModelForCausalLM.from_pretrained(
            settings.base, dtype=torch.float32, local_files_only=local
        )
    except (OSError, ValueError) as error:
        reason = first_line(error)
        raise ValueError(f"cannot load --base {settings.base}: {reason}") from None


def _trainer_class(trl: Any) -> type:
    """TRL's SFTTrainer, validating by generation: prox's metrics join each evaluation's (`eval_score`, ...)."""
    from transformers import Trainer

    class ProxSFTTrainer(trl.SFTTrainer):
        def __init__(
            self,
            *args: Any,
            validation: ValidationSet | None,
            prox_tokenizer: Any,
            stop_score: float | None = None,
            **kwargs: Any,
        ):
            super().__init__(*args, **kwargs)
            self.validation = validation
            self.prox_tokenizer = prox_tokenizer
            self.stop_score = stop_score

        def compute_loss(
            self, model: Any, inputs: dict, return_outputs: bool = False, num_items_in_batch: Any = None
        ) -> Any:
            # The model's own causal-LM loss over the collated labels (-100 on the prompt): the value TRL's fused LM
            # head gives, without the entropy and token-accuracy metrics it computes every step, which cost about 15%
            # of a step on the CPU (benchmarks/train_speed.py).
            return Trainer.compute_loss(self, model, inputs, return_outputs, num_items_in_batch)

        def evaluate(
            self, eval_dataset: Any = None, ignore_keys: Any = None, metric_key_prefix: str = "eval"
        ) -> dict[str, float]:
            metrics = super().evaluate(eval_dataset, ignore_keys, metric_key_prefix)
            if self.validation is not None:
                scores = self.validation.evaluate(self.model, self.prox_tokenizer, self.args.per_device_eval_batch_size)
                extra = {f"{metric_key_prefix}_{name}": value for name, value in scores.items()}
                self.log(extra)
                metrics.update(extra)
                if self.stop_score is not None and scores["score"] >= self.stop_score:
                    self.control.should_training_stop = True
            return metrics

    return ProxSFTTrainer


@functools.cache
def _hub_tokenizer(name: str) -> str:
    """The local copy of a Hub model's tokenizer files (downloaded once, into the Hugging Face cache)."""
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(name, allow_patterns=[*TOKENIZER_FILES, "chat_template.jinja"])
    except Exception as error:  # the hub raises many kinds; the CLI prints one line
        reason = first_line(error)
        raise ValueError(f"{name} is not a local folder and its tokenizer cannot be fetched: {reason}") from None
