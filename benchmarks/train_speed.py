"""`prox train sft` throughput against a bare PyTorch loop over the same batches, on the ProX-xs shape (354M).

Run from the project root:  python benchmarks/train_speed.py [--steps 3] [--warmup 1] [--batch 4] [--seq 128]

Both run in this process, one after the other (the bare loop first, unless --prox-first), from the same random
initialisation: `prox train sft`'s trainer (TRL's SFTTrainer with prox's data, validation off) for warmup + steps
optimizer steps, and a loop of `loss = model(**batch).loss; loss.backward(); optimizer.step()` with the optimizer
class and settings the trainer uses and its gradient clipping, over batches from the trainer's own data loader.
Every record's prompt is cut to exactly --seq tokens (the release's truncation of a long document), so every batch
has the same tokens whatever the order. Prints the tokens per second of the measured steps of each and the ratio.
"""

from __future__ import annotations

import argparse
import gc
import json
import tempfile
import time
from pathlib import Path

import torch

from prox.synth.records import UnrenderablePrompt, doc_record, doc_user_message
from prox.tokenizer import load_tokenizer
from prox.training.sft import SFTSettings, build_trainer

ROOT = Path(__file__).resolve().parents[1]
TOKENIZER = ROOT / ".." / "shared" / "tokenizers" / "llama2"
PAGES = ROOT / "examples" / "demo" / "pages.jsonl"


def write_records(path: Path, count: int, seq: int) -> None:
    tokenizer = load_tokenizer(TOKENIZER)
    texts = [json.loads(line)["text"] for line in PAGES.read_text().splitlines()]
    records = []
    for index in range(count):
        text = texts[index % len(texts)]
        try:
            message = doc_user_message(text, tokenizer, seq)
        except UnrenderablePrompt:
            continue
        program = "keep_doc()" if index % 3 else "drop_doc()"
        records.append(doc_record(message, program, record_id=str(index), source="bench", teacher="bench"))
    path.write_text("".join(json.dumps(record) + "\n" for record in records))


class StepClock:
    """Wall time from the end of the warm-up steps to the end of the last step, and the tokens in between."""

    def __init__(self, warmup: int):
        self.warmup = warmup
        self.started = self.ended = 0.0

    def on_step_end(self, step: int) -> None:
        if step == self.warmup:
            self.started = time.perf_counter()
        self.ended = time.perf_counter()


def build(data: Path, out: Path, args: argparse.Namespace) -> object:
    """`prox train sft`'s trainer (TRL's SFTTrainer with prox's data), not trained yet."""
    settings = SFTSettings(
        data=[str(data)],
        output=str(out),
        init="prox-xs",
        tokenizer=str(TOKENIZER),
        stage="doc",
        eval_split=0.0,
        max_steps=args.warmup + args.steps,
        schedule="constant",
        lr=1e-5,
        batch_size=args.batch,
        micro_batch_size=args.batch,
        dtype=args.dtype,
        logging_steps=1000,
    )
    return build_trainer(settings, progress=lambda message: None)


def run_prox(run: object, args: argparse.Namespace) -> float:
    from transformers import TrainerCallback

    clock = StepClock(args.warmup)

    class Clock(TrainerCallback):
        def on_step_end(self, train_args, state, control, **kwargs):
            clock.on_step_end(state.global_step)
            control.should_save = False  # a 354M checkpoint is not what is measured

    run.trainer.add_callback(Clock())
    run.trainer.train()
    return clock.ended - clock.started


def run_bare(
    loader: object, optimizer_class: type, options: dict, max_grad_norm: float, dtype: str, args: argparse.Namespace
) -> float:
    from prox.models import build_model, parse_shape

    model = build_model(parse_shape("prox-xs"), TOKENIZER, seed=0)
    model.train()
    optimizer = optimizer_class(model.parameters(), **options)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bfloat16")
    batches = iter(loader)
    started = 0.0
    for step in range(1, args.warmup + args.steps + 1):
        batch = next(batches)
        with autocast:
            loss = model(
                input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"]
            ).loss
        loss.backward()
        if max_grad_norm:  # the trainer clips gradients (its max_grad_norm); the same work here
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step == args.warmup:
            started = time.perf_counter()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="measured optimizer steps (default: 3)")
    parser.add_argument("--warmup", type=int, default=1, help="steps before measuring (default: 1)")
    parser.add_argument("--batch", type=int, default=4, help="sequences per step (default: 4)")
    parser.add_argument("--seq", type=int, default=128, help="prompt tokens per sequence (default: 128)")
    parser.add_argument("--dtype", choices=("auto", "bf16", "fp32"), default="fp32", help="default: fp32")
    parser.add_argument("--prox-first", action="store_true", help="run prox train sft before the bare loop")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "records.jsonl"
        write_records(data, args.batch * (args.warmup + args.steps), args.seq)
        run = build(data, Path(folder) / "out", args)
        tokens = args.steps * args.batch * len(run.data.train_features[0]["input_ids"])
        # The optimizer the trainer makes (class and settings), for the bare loop.
        optimizer_class, options = run.trainer.get_optimizer_cls_and_kwargs(run.trainer.args, run.trainer.model)
        loader, dtype = run.trainer.get_train_dataloader(), run.dtype
        max_grad_norm = run.trainer.args.max_grad_norm
        if args.prox_first:
            prox_seconds = run_prox(run, args)
            del run
            gc.collect()
            bare_seconds = run_bare(loader, optimizer_class, options, max_grad_norm, dtype, args)
        else:
            bare_seconds = run_bare(loader, optimizer_class, options, max_grad_norm, dtype, args)
            gc.collect()
            prox_seconds = run_prox(run, args)
    print(f"prox-xs (354M), {dtype}, {torch.get_num_threads()} threads, batch {args.batch}, {tokens} tokens measured")
    order = "prox first" if args.prox_first else "bare loop first"
    print(f"optimizer: {optimizer_class.__name__} {options}, gradients clipped at {max_grad_norm}; {order}")
    print(f"{'':22} {'seconds':>8} {'tokens/s':>9}")
    print(f"{'bare PyTorch loop':22} {bare_seconds:8.2f} {tokens / bare_seconds:9.1f}")
    print(f"{'prox train sft':22} {prox_seconds:8.2f} {tokens / prox_seconds:9.1f}")
    print(f"prox train sft overhead: {prox_seconds / bare_seconds - 1:+.1%} time")


if __name__ == "__main__":
    main()
