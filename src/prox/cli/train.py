"""`prox train sft`: fine-tune a refining model on `prox synth` records (TRL's SFTTrainer)."""

from __future__ import annotations

import argparse
import shlex
import sys

from prox.models import PRESETS

GUIDE = "docs/train.md"
# The sft options' defaults, filled when the parser is built: a launch command repeats only what differs.
DEFAULTS: dict = {}


def add_parser(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser(
        "train",
        help="train refining models (needs pip install 'prox[train]')",
        description=f"Train the models `prox refine --refiner lm` runs. See {GUIDE}.",
    )
    actions = train.add_subparsers(dest="action", metavar="ACTION", required=True)
    sft = actions.add_parser(
        "sft",
        help="fine-tune a doc or chunk refiner on prox synth records",
        description="Full fine-tuning of a causal LM on `prox synth` records with TRL's SFTTrainer: the model is "
        "trained on exactly the token ids `prox refine --refiner lm` sends (render_prompt), with the loss on the "
        "target program and EOS only. After each epoch (or every --eval-steps) the held-out records are generated "
        "greedily, executed and scored (doc accuracy and keep-F1, removed-line F1), and the best checkpoint by that "
        "score is kept. OUT is a Hugging Face model folder (config, safetensors, tokenizer, chat template) plus "
        "prox_train.json, usable as --doc-model/--chunk-model with every backend. Checkpoints go to "
        "OUT/checkpoints; run the same command again to resume after an interruption. Defaults are the paper's "
        "recipe: 3 epochs, batch 64, cosine LR 1e-5 -> 1e-6. Multi-GPU (DDP): see --dry-run and " + GUIDE + ".",
    )
    sft.add_argument("data", nargs="+", metavar="DATA", help="prox synth output folders or record files")
    sft.add_argument("-o", "--output", required=True, metavar="OUT", help="the model folder to write")
    model = sft.add_argument_group("model")
    model.add_argument("--base", metavar="MODEL", help="the model to fine-tune: a local folder or a Hub id")
    model.add_argument(
        "--init",
        metavar="SHAPE",
        help=f"instead of --base, a random-initialised Llama: a preset ({', '.join(PRESETS)}) or "
        "llama:layers=L,hidden=H,heads=A,kv_heads=K,ffn=F[,context=C]; needs --tokenizer",
    )
    model.add_argument("--tokenizer", metavar="DIR", help="folder holding tokenizer.json (default: the base's)")
    data = sft.add_argument_group("data")
    data.add_argument("--stage", choices=("doc", "chunk", "both"), default="both", help="records trained on")
    data.add_argument(
        "--eval-split",
        type=float,
        default=0.05,
        metavar="SHARE",
        help="share of the records held out for validation; 0: no validation (default: 0.05)",
    )
    data.add_argument("--eval-data", nargs="+", default=[], metavar="PATH", help="held-out records instead of a split")
    data.add_argument(
        "--eval-steps", type=int, metavar="N", help="validate and checkpoint every N steps (default: every epoch)"
    )
    data.add_argument(
        "--stop-score",
        type=float,
        metavar="S",
        help="stop once a validation scores S or more (1.0: the held-out programs come back exactly)",
    )
    optimization = sft.add_argument_group("optimization")
    optimization.add_argument("--epochs", type=float, default=3.0, help="epochs (default: 3)")
    optimization.add_argument("--max-steps", type=int, default=-1, metavar="N", help="stop after N optimizer steps")
    optimization.add_argument("--lr", type=float, default=1e-5, help="peak learning rate (default: 1e-5)")
    optimization.add_argument("--min-lr", type=float, default=1e-6, help="cosine schedule's end (default: 1e-6)")
    optimization.add_argument("--schedule", choices=("cosine", "constant"), default="cosine", help="LR schedule")
    optimization.add_argument("--warmup", type=float, default=0.0, metavar="SHARE", help="warmup share of the steps")
    optimization.add_argument(
        "--batch-size", type=int, default=64, help="sequences per optimizer step, all GPUs together (default: 64)"
    )
    optimization.add_argument(
        "--micro-batch-size",
        type=int,
        default=8,
        metavar="N",
        help="sequences per forward pass per device; the rest is gradient accumulation (default: 8)",
    )
    precision = optimization.add_mutually_exclusive_group()
    precision.add_argument("--bf16", dest="dtype", action="store_const", const="bf16", help="bf16 mixed precision")
    precision.add_argument("--fp32", dest="dtype", action="store_const", const="fp32", help="fp32 throughout")
    optimization.add_argument(
        "--gradient-checkpointing",
        action="store_true",
        help="recompute activations in the backward pass: less GPU memory for long prompts, slower steps",
    )
    optimization.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    optimization.add_argument(
        "--logging-steps", type=int, default=10, metavar="N", help="log the loss every N steps (default: 10)"
    )
    sft.add_argument(
        "--dry-run",
        action="store_true",
        help="print the settings and the multi-GPU launch command (with --gpus), and train nothing",
    )
    sft.add_argument("--gpus", type=int, metavar="N", help="with --dry-run: GPUs for the launch command")
    sft.set_defaults(run=run_sft, dtype="auto")
    DEFAULTS.update({action.dest: action.default for action in sft._actions})


def run_sft(args: argparse.Namespace) -> int:
    from prox.training.sft import SFTSettings, train_sft

    settings = SFTSettings(
        data=list(args.data),
        output=args.output,
        base=args.base,
        init=args.init,
        tokenizer=args.tokenizer,
        stage=args.stage,
        eval_data=list(args.eval_data),
        eval_split=args.eval_split,
        eval_steps=args.eval_steps,
        stop_score=args.stop_score,
        epochs=args.epochs,
        max_steps=args.max_steps,
        lr=args.lr,
        min_lr=args.min_lr,
        schedule=args.schedule,
        warmup=args.warmup,
        batch_size=args.batch_size,
        micro_batch_size=args.micro_batch_size,
        dtype=args.dtype,
        gradient_checkpointing=args.gradient_checkpointing,
        seed=args.seed,
        logging_steps=args.logging_steps,
    )
    if args.dry_run:
        gpus = args.gpus or 1
        micro, accumulation = settings.accumulation(gpus)
        print(f"# {gpus} process(es) x {micro} sequences x {accumulation} accumulation steps = {settings.batch_size}")
        print(launch_command(args, DEFAULTS, gpus))
        return 0
    train_sft(settings, _progress)
    return 0


# (flag, attribute) of the options a launch command repeats when they differ from the default.
_REPEATED = (
    ("--base", "base"),
    ("--init", "init"),
    ("--tokenizer", "tokenizer"),
    ("--stage", "stage"),
    ("--eval-split", "eval_split"),
    ("--eval-steps", "eval_steps"),
    ("--stop-score", "stop_score"),
    ("--epochs", "epochs"),
    ("--max-steps", "max_steps"),
    ("--lr", "lr"),
    ("--min-lr", "min_lr"),
    ("--schedule", "schedule"),
    ("--warmup", "warmup"),
    ("--batch-size", "batch_size"),
    ("--micro-batch-size", "micro_batch_size"),
    ("--seed", "seed"),
    ("--logging-steps", "logging_steps"),
)


def launch_command(args: argparse.Namespace, parser_defaults: dict, gpus: int) -> str:
    """The command that runs this training on `gpus` GPUs with DDP (one process each) via `accelerate launch`."""
    command = ["train", "sft", *args.data, "-o", args.output]
    for flag, name in _REPEATED:
        value = getattr(args, name)
        if value is not None and value != parser_defaults.get(name):
            command += [flag, str(value)]
    if args.eval_data:
        command += ["--eval-data", *args.eval_data]
    if args.dtype != "auto":
        command.append(f"--{args.dtype}")
    if args.gradient_checkpointing:
        command.append("--gradient-checkpointing")
    launcher = ["accelerate", "launch", "--num_processes", str(gpus)]
    if gpus > 1:
        launcher.append("--multi_gpu")
    return shlex.join([*launcher, "-m", "prox", *command])


def _progress(message: str) -> None:
    print(f"prox train sft: {message}", file=sys.stderr, flush=True)
