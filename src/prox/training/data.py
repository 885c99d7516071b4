"""SFT records in, token ids out: the exact ids `prox refine --refiner lm` sends, then the target program.

A record's prompt is `render_prompt(record)` tokenized as the LM generator tokenizes its prompts (the model's
`tokenizer.json`, no special tokens added: the text starts with `<s>` itself), so the model is trained on
the very ids it is sent at refine time, truncated doc prompts included. The completion is the program
tokenized alone (the Llama normalizer's leading `▁` is the space the chat template puts after `[/INST]`) and
EOS, which is where greedy decoding stops.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from tokenizers import Tokenizer

from prox.records.reading import read_records_strict
from prox.storage import is_dir, storage_errors
from prox.synth.records import STAGES, record_shards, render_prompt


@dataclass(frozen=True)
class SFTExample:
    """One tokenized record: the prompt's ids and the completion's (program and EOS)."""

    prompt_ids: tuple[int, ...]
    completion_ids: tuple[int, ...]

    def features(self) -> dict[str, list[int]]:
        """The pre-tokenized columns TRL's SFTTrainer reads: with `completion_only_loss` the prompt's positions
        get label -100."""
        ids = [*self.prompt_ids, *self.completion_ids]
        return {"input_ids": ids, "completion_mask": [0] * len(self.prompt_ids) + [1] * len(self.completion_ids)}


def stages_of(stage: str) -> tuple[str, ...]:
    """`doc`, `chunk` or `both` as the stages whose records are read."""
    if stage == "both":
        return STAGES
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; choose doc, chunk or both")
    return (stage,)


def shard_files(location: str, stages: Sequence[str]) -> list[str]:
    """The record files of one input: a `prox synth` output folder's shards of these stages, or the file itself."""
    with storage_errors(location):
        folder = is_dir(location)
    if not folder:
        return [location]
    files = record_shards(location, stages)
    if not files:
        raise ValueError(
            f"{location} holds no {'/'.join(stages)} record shards (STAGE-00000.jsonl.gz); give a prox synth output "
            "folder or a records file"
        )
    return files


def read_sft_records(inputs: Iterable[str], stages: Sequence[str] = STAGES) -> Iterator[dict]:
    """The records of these stages from `prox synth` output folders or record files (JSONL or Parquet)."""
    for location in inputs:
        for path in shard_files(str(location), stages):
            for record in read_records_strict(path):
                data = record.data
                if data.get("stage") not in STAGES or not isinstance(data.get("messages"), list):
                    raise ValueError(f"{record.where}: not an SFT record of prox synth (no 'stage' or 'messages')")
                if len(data["messages"]) < 3 or data["messages"][2].get("role") != "assistant":
                    raise ValueError(f"{record.where}: an SFT record needs the assistant's program as third message")
                if data["stage"] in stages:
                    yield data


def split_records(records: Sequence[dict], share: float, seed: int) -> tuple[list[dict], list[dict]]:
    """(train, held out): `share` of the records, at least one when share > 0, drawn by the seed."""
    if not 0 <= share < 1:
        raise ValueError(f"--eval-split must be at least 0 and below 1, got {share}")
    count = round(len(records) * share)
    if share > 0:
        count = max(count, 1)
    if count >= len(records) and share > 0:
        raise ValueError(f"--eval-split {share} leaves no training records out of {len(records)}")
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    held = set(order[:count])
    return (
        [record for index, record in enumerate(records) if index not in held],
        [record for index, record in enumerate(records) if index in held],
    )


def prompt_ids(record: dict, tokenizer: Tokenizer) -> tuple[int, ...]:
    """The ids `prox refine --refiner lm` sends for the record's document or chunk (default settings)."""
    return tuple(tokenizer.encode(render_prompt(record), add_special_tokens=False).ids)


def tokenize_record(record: dict, tokenizer: Tokenizer, eos_id: int) -> SFTExample:
    """The record's prompt ids and its target program's ids followed by EOS."""
    program = record["messages"][2]["content"]
    completion = tokenizer.encode(program.strip(), add_special_tokens=False).ids
    return SFTExample(prompt_ids(record, tokenizer), (*completion, eos_id))
