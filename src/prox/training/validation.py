"""Validation by prox's own metrics: the held-out records' prompts are generated greedily, the programs parsed
and executed, and scored against the targets as `prox eval` scores refiners.

- doc records: the keep/drop decision of the generated program against the target's (accuracy, keep-F1);
- chunk records: every line of the chunk, removed or not by the generated program's `remove_lines` calls against
  the target's (removed-line F1, micro-averaged over the lines of all chunks);
- both: the share of programs that equal their target exactly (as parsed calls).

`score`, the number the best checkpoint is chosen by, is the mean of doc keep-F1 and chunk removed-line F1 over
the stages held out (a stage whose targets remove no line counts by its exact-match share instead).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tokenizers import Tokenizer

from prox.evaluation import BinaryScores
from prox.generators.base import GenerationFailure
from prox.generators.lm.base import CompletionRequest
from prox.generators.lm.transformers_backend import LoadedModel, TransformersBackend
from prox.program import RELEASE, ExecutionPolicy, execute_doc_program, parse_program
from prox.prompts import CHUNK_MAX_NEW_TOKENS, DOC_MAX_NEW_TOKENS
from prox.records.programs import removed_lines
from prox.training.data import prompt_ids

_MODEL_NAME = "model-in-training"
# Room beyond the longest target: a model that has not learnt to stop is cut here, not at the stage's maximum
# (2000 tokens for a doc program), which keeps validation short.
_SPARE_TOKENS = 16


def score_programs(
    records: Sequence[dict], programs: Sequence[str | GenerationFailure], policy: ExecutionPolicy = RELEASE
) -> dict[str, float | int]:
    """Metrics of generated programs against the records' targets (a failed generation counts as an empty
    program: the document is kept, no line is removed)."""
    docs, lines = BinaryScores(), BinaryScores()
    exact = {"doc": [0, 0], "chunk": [0, 0]}
    chunk_removals = 0
    for record, generated in zip(records, programs, strict=True):
        target = parse_program(record["messages"][2]["content"])
        guess = parse_program(generated if isinstance(generated, str) else "")
        stage = record["stage"]
        exact[stage][0] += target.calls == guess.calls
        exact[stage][1] += 1
        if stage == "doc":
            docs.add(int(execute_doc_program(target, policy).keep), int(execute_doc_program(guess, policy).keep))
            continue
        first, last = int(record["first_line"]), int(record["last_line"])
        gold, predicted = removed_lines(target, first, last), removed_lines(guess, first, last)
        chunk_removals += len(gold)
        for line in range(first, last + 1):
            lines.add(int(line not in gold), int(line not in predicted))
    metrics: dict[str, float | int] = {}
    stage_scores = []
    if docs.total:
        report = docs.report()
        metrics |= {
            "doc_records": exact["doc"][1],
            "doc_accuracy": report["accuracy"],
            "doc_keep_f1": report["keep_f1"],
            "doc_exact": exact["doc"][0] / exact["doc"][1],
        }
        stage_scores.append(report["keep_f1"])
    if exact["chunk"][1]:
        report = lines.report()
        metrics |= {
            "chunk_records": exact["chunk"][1],
            "chunk_lines": lines.total,
            "chunk_removed_f1": report["remove_f1"],
            "chunk_exact": exact["chunk"][0] / exact["chunk"][1],
        }
        stage_scores.append(report["remove_f1"] if chunk_removals else metrics["chunk_exact"])
    metrics["failed"] = sum(isinstance(program, GenerationFailure) for program in programs)
    metrics["score"] = sum(stage_scores) / len(stage_scores) if stage_scores else 0.0
    return metrics


@dataclass
class ValidationSet:
    """Held-out records with the requests refine would send for them."""

    records: list[dict]
    requests: list[CompletionRequest]

    @classmethod
    def build(cls, records: Sequence[dict], tokenizer: Tokenizer) -> ValidationSet:
        """Requests with each stage's new-token limit set to its longest target plus a little."""
        longest = {"doc": 0, "chunk": 0}
        for record in records:
            length = len(tokenizer.encode(record["messages"][2]["content"], add_special_tokens=False).ids)
            longest[record["stage"]] = max(longest[record["stage"]], length)
        limits = {
            "doc": min(DOC_MAX_NEW_TOKENS, longest["doc"] + _SPARE_TOKENS),
            "chunk": min(CHUNK_MAX_NEW_TOKENS, longest["chunk"] + _SPARE_TOKENS),
        }
        requests = [
            CompletionRequest(_MODEL_NAME, prompt_ids(record, tokenizer), limits[record["stage"]]) for record in records
        ]
        return cls(list(records), requests)

    def generate(self, model: Any, tokenizer: Tokenizer, batch_size: int = 16) -> list[str | GenerationFailure]:
        """Greedy programs of `model` (in memory) for the held-out prompts, decoded as `prox refine` decodes them."""
        eos = model.generation_config.eos_token_id
        if eos is None:
            eos = model.config.eos_token_id
        eos_ids = tuple(eos) if isinstance(eos, list | tuple) else (eos,)
        backend = TransformersBackend(batch_size=batch_size)
        backend.use_model(_MODEL_NAME, LoadedModel(model, tokenizer, eos_ids, eos_ids[0]))
        training = model.training
        model.eval()
        try:
            texts = backend.complete(self.requests)
        finally:
            model.train(training)
        # As LMGenerator returns them.
        return [text.strip(" ") if isinstance(text, str) else text for text in texts]

    def evaluate(
        self, model: Any, tokenizer: Tokenizer, batch_size: int = 16, policy: ExecutionPolicy = RELEASE
    ) -> dict[str, float | int]:
        return score_programs(self.records, self.generate(model, tokenizer, batch_size), policy)
