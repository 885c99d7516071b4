"""LM refiner speed: the transformers backend inside `LMGenerator.chunk_programs` against a bare generate loop.

Run from the project root:  python benchmarks/lm_speed.py [--chunks N] [--max-new-tokens T] [--batch-sizes 1,2,4,8]

The model has ProX-xs's shape (Llama, hidden 1280, 24 layers, 16 heads, 1 KV head, FFN 2048, 32k vocab) with
random weights, built in memory. Prompts are the chunk prompts of real pages (WCXB dev), chunked by prox.
For each batch size, both paths generate greedily for the same chunks: the bare loop gets pre-tokenized,
pre-sorted prompt ids and only pads, generates and decodes; prox builds the prompts from the chunks, groups,
sorts, pads, generates and decodes. Both must produce the same texts.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from prox.chunking import Chunk, chunk_document
from prox.generators.lm import LMGenerator, LMSettings, make_backend
from prox.generators.lm import transformers_backend as backend_module
from prox.tokenizer import load_tokenizer

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"
MODEL_NAME = "prox-xs-shaped-random"


def prox_xs_model(seed: int) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=32000,
        hidden_size=1280,
        intermediate_size=2048,
        num_hidden_layers=24,
        num_attention_heads=16,
        num_key_value_heads=1,
        max_position_embeddings=2048,
        bos_token_id=1,
        eos_token_id=2,
    )
    return LlamaForCausalLM(config).eval()


def read_chunks(path: Path, generator: LMGenerator, count: int, budget: int) -> list[Chunk]:
    chunks: list[Chunk] = []
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            text = "\n".join(json.loads(line)["lines"])
            chunks.extend(chunk_document(text, generator.chunk_sizer(), budget))
            if len(chunks) >= count:
                break
    return chunks[:count]


def bare_generate(model, prompts: list[tuple[int, ...]], batch_size: int, max_new_tokens: int, tokenizer):
    """Left-padded greedy `generate` over pre-sorted prompt ids; the texts and the number of new tokens."""
    texts, new_tokens = [], 0
    for start in range(0, len(prompts), batch_size):
        batch = prompts[start : start + batch_size]
        width = max(map(len, batch))
        ids = torch.full((len(batch), width), 2, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, prompt in enumerate(batch):
            ids[row, width - len(prompt) :] = torch.tensor(prompt)
            mask[row, width - len(prompt) :] = 1
        with torch.inference_mode():
            output = model.generate(
                input_ids=ids,
                attention_mask=mask,
                do_sample=False,
                max_new_tokens=max_new_tokens,
                eos_token_id=2,
                pad_token_id=2,
            )
        for row in output[:, width:].tolist():
            row = row[: row.index(2)] if 2 in row else row
            new_tokens += len(row)
            texts.append(tokenizer.decode(row, skip_special_tokens=True))
    return texts, new_tokens


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=8, help="chunk prompts (default: 8)")
    parser.add_argument("--chunk-budget", type=int, default=256, help="tokens per chunk (default: 256; release 1500)")
    parser.add_argument("--max-new-tokens", type=int, default=16, help="default: 16 (release: 256)")
    parser.add_argument("--batch-sizes", default="1,2,4,8", help="default: 1,2,4,8")
    parser.add_argument("--repeat", type=int, default=1, help="time each path R times, keep the fastest (default: 1)")
    parser.add_argument("--tokenizer", default=str(SHARED / "tokenizers" / "llama2"))
    parser.add_argument("--data", default=str(SHARED / "data" / "line_labels" / "wcxb_dev.jsonl.gz"))
    args = parser.parse_args()

    tokenizer = load_tokenizer(args.tokenizer)
    model = prox_xs_model(seed=0)
    parameters = sum(parameter.numel() for parameter in model.parameters())
    # The backend finds the in-memory model where it keeps loaded ones, as if loaded from MODEL_NAME.
    backend_module._LOADED[(MODEL_NAME, "cpu", "float32")] = backend_module.LoadedModel(model, tokenizer, (2,), 2)
    settings = LMSettings(MODEL_NAME, MODEL_NAME, chunk_max_new_tokens=args.max_new_tokens)
    generator = LMGenerator(settings, make_backend("transformers", device="cpu", dtype="fp32"), tokenizer)
    chunks = read_chunks(Path(args.data), generator, args.chunks, args.chunk_budget)
    chunk_ids = [generator.chunk_request(chunk).prompt_ids for chunk in chunks]
    order = sorted(range(len(chunks)), key=lambda index: len(chunk_ids[index]), reverse=True)
    prompts = [chunk_ids[index] for index in order]
    print(
        f"model: {parameters / 1e6:.0f}M parameters, fp32, {torch.get_num_threads()} threads; "
        f"{len(chunks)} chunks, prompt tokens {min(map(len, prompts))}-{max(map(len, prompts))} "
        f"(mean {sum(map(len, prompts)) / len(prompts):.0f}), max_new_tokens {args.max_new_tokens}",
        file=sys.stderr,
    )
    bare_generate(model, prompts[-1:], 1, 2, tokenizer)  # warm-up
    generator.chunk_programs(chunks[-1:])

    columns = ("batch", "bare s", "prox s", "bare chunks/s", "prox chunks/s", "new tokens", "bare tok/s", "prox tok/s")
    print("| " + " | ".join((*columns, "overhead")) + " |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    identical = True
    for batch_size in (int(size) for size in args.batch_sizes.split(",")):
        generator.backend.batch_size = batch_size
        bare = prox = float("inf")
        for _ in range(args.repeat):
            started = time.perf_counter()
            bare_texts, new_tokens = bare_generate(model, prompts, batch_size, args.max_new_tokens, tokenizer)
            bare = min(bare, time.perf_counter() - started)
            started = time.perf_counter()
            prox_texts = generator.chunk_programs(chunks)
            prox = min(prox, time.perf_counter() - started)
        # bare_texts are longest prompt first; prox returns chunk order.
        by_length = [prox_texts[index] for index in order]
        identical &= [text.strip(" ") for text in bare_texts] == by_length
        print(
            f"| {batch_size} | {bare:.2f} | {prox:.2f} | {len(chunks) / bare:.2f} | {len(chunks) / prox:.2f} "
            f"| {new_tokens} | {new_tokens / bare:.1f} | {new_tokens / prox:.1f} | {100 * (prox / bare - 1):+.1f}% |"
        )
    print(f"same texts from both paths: {'yes' if identical else 'NO'}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
