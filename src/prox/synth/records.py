"""SFT records: one training example of a refiner each, in the conversational format TRL and most SFT tools read.

A record is `{"messages": [system, user, assistant], "stage": "doc"|"chunk", "id", "source", "teacher",
"prompt_truncated", ...}`, chunk records add `first_line` and `last_line`, and the judgments that made the target
(labels, scores, critiques, removed lines) sit beside them as further fields. The assistant message is the program
the refiner should write. `render_prompt(record)` renders `messages[:2]` through the Llama-2 chat template, and
gives byte for byte the prompt `prox refine --refiner lm` sends for that document or chunk:

- chunk: the user message is `chunk_user_message(chunk)`, the chunk as the chunk stage shows it;
- doc: the user message is the document. The release cuts the templated prompt to its first 2000 tokens, so the
  prompt of a long document ends inside the document, without the closing `[/INST]`. For such a document the user
  message is the document cut where those tokens end and `prompt_truncated` is true; `render_prompt` then gives
  the template's head and the cut document, no closing tag: exactly the text of the token ids refine sends (it
  tokenizes back to them). Where the cut falls inside the bytes of one character no text tokenizes to those ids,
  and `doc_user_message` raises `UnrenderablePrompt`.

An SFT tool that applies the Llama-2 template itself (`prox.prompts.LLAMA2_CHAT_TEMPLATE`) renders the same text
for every record but the truncated ones, to which it adds ` [/INST]` after the cut document.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from tokenizers import Tokenizer

from prox.chunking import Chunk
from prox.program import KeepChunk, RemoveLines, serialize
from prox.prompts import DOC_PROMPT_MAX_TOKENS, SYSTEM_PROMPT, chunk_user_message, doc_prompt, llama2_chat_prompt
from prox.storage import list_folder

STAGES = ("doc", "chunk")
# The fields every record has, in the order they are written; judgments may not reuse these names.
RECORD_KEYS = ("messages", "stage", "id", "source", "teacher", "prompt_truncated")
CHUNK_KEYS = ("first_line", "last_line")


class UnrenderablePrompt(ValueError):
    """The doc prompt that refine sends for this document cannot be written as text."""


@dataclass(frozen=True)
class DocMessage:
    """The doc stage's user message for a document, and whether the release's token limit cut it."""

    content: str
    truncated: bool


def doc_user_message(text: str, tokenizer: Tokenizer, max_tokens: int = DOC_PROMPT_MAX_TOKENS) -> DocMessage:
    """The document, or for a prompt the release truncates, the document cut where the kept tokens end."""
    prompt = doc_prompt(text, tokenizer, max_tokens)
    if not prompt.truncated:
        return DocMessage(text, False)
    # `prompt.text` is the kept ids decoded, which puts a space after `<s>`; the kept ids' span of the rendered
    # template is the text that tokenizes back to them.
    rendered = llama2_chat_prompt(text)
    kept = len(prompt.token_ids)
    covered = rendered[: tokenizer.encode(rendered, add_special_tokens=False).offsets[kept - 1][1]]
    head = chat_head(SYSTEM_PROMPT)
    if not covered.startswith(head):
        raise UnrenderablePrompt(f"a {max_tokens}-token doc prompt ends before the document starts")
    if tokenizer.encode(covered, add_special_tokens=False).ids != prompt.token_ids:
        raise UnrenderablePrompt(
            f"the release's {max_tokens}-token doc prompt ends inside the bytes of one character, so no text "
            "tokenizes to the ids refine sends"
        )
    return DocMessage(covered[len(head) :], True)


def chat_head(system: str = SYSTEM_PROMPT, bos: str = "<s>") -> str:
    """The Llama-2 template's text before the user message: `llama2_chat_prompt` up to the user content."""
    return f"{bos}[INST] <<SYS>>\n{system}\n<</SYS>>\n\n"


def doc_record(
    message: DocMessage,
    program: str,
    *,
    record_id: str,
    source: str,
    teacher: str,
    judgments: Mapping[str, object] | None = None,
) -> dict:
    """The SFT record of a doc-stage example: `message` from `doc_user_message`, `program` the target."""
    return _record("doc", message.content, program, record_id, source, teacher, message.truncated, {}, judgments)


def chunk_record(
    chunk: Chunk,
    program: str,
    *,
    record_id: str,
    source: str,
    teacher: str,
    judgments: Mapping[str, object] | None = None,
) -> dict:
    """The SFT record of a chunk-stage example: the chunk as the chunk stage shows it, `program` the target."""
    span = {"first_line": chunk.first_line, "last_line": chunk.last_line}
    return _record("chunk", chunk_user_message(chunk), program, record_id, source, teacher, False, span, judgments)


def _record(
    stage: str,
    user: str,
    program: str,
    record_id: str,
    source: str,
    teacher: str,
    truncated: bool,
    span: dict,
    judgments: Mapping[str, object] | None,
) -> dict:
    judgments = dict(judgments or {})
    clashes = sorted(set(judgments).intersection((*RECORD_KEYS, *CHUNK_KEYS)))
    if clashes:
        raise ValueError(f"judgment names {clashes} are record fields; name them otherwise")
    messages = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": user},
        {"role": "assistant", "content": program},
    ]
    fields = {"stage": stage, "id": record_id, "source": source, "teacher": teacher, "prompt_truncated": truncated}
    return {"messages": messages, **fields, **span, **judgments}


def render_prompt(record: Mapping) -> str:
    """`messages[:2]` rendered through the Llama-2 chat template: the prompt refine sends for the record's document
    or chunk (for a `prompt_truncated` doc record, the template's head and the cut document, no closing tag)."""
    messages = record.get("messages")
    if (
        not isinstance(messages, list)
        or len(messages) < 2
        or [message.get("role") for message in messages[:2]] != ["system", "user"]
    ):
        raise ValueError("a record's messages start with a system and a user message")
    system, user = messages[0]["content"], messages[1]["content"]
    if record.get("prompt_truncated"):
        return chat_head(system) + user
    return llama2_chat_prompt(user, system)


def removed_runs(removed: Iterable[int]) -> list[tuple[int, int]]:
    """Runs of consecutive line indices, (first, last) inclusive, in order."""
    runs: list[tuple[int, int]] = []
    for index in sorted(set(removed)):
        if runs and index == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], index)
        else:
            runs.append((index, index))
    return runs


def removal_program(chunk: Chunk, removed: Iterable[int]) -> str:
    """The chunk program that removes these document lines of the chunk: one `remove_lines` per run, or
    `keep_chunk()` when none; raises ValueError for a line outside the chunk."""
    runs = removed_runs(removed)
    if runs and (runs[0][0] < chunk.first_line or runs[-1][1] > chunk.last_line):
        raise ValueError(f"removed lines {runs} fall outside the chunk's {chunk.first_line}..{chunk.last_line}")
    if not runs:
        return serialize([KeepChunk()])
    return serialize([RemoveLines(first, last) for first, last in runs])


def removed_share(chunk: Chunk, removed: Iterable[int]) -> float:
    """The share of the chunk's lines that are removed."""
    lines = chunk.last_line - chunk.first_line + 1
    return len({index for index in removed if chunk.first_line <= index <= chunk.last_line}) / lines


def require_tokenizer(tokenizer: str | None) -> None:
    """Records need the LM refiner's tokenizer; say what to give when there is none."""
    if not tokenizer:
        raise ValueError(
            "--tokenizer DIR is required: records show the prompts the LM refiner's tokenizer makes (the doc "
            "prompt cut at 2000 tokens, chunks of --chunk-budget tokens); for the released ProX refiners give "
            "a directory holding the Llama-2 tokenizer.json"
        )


def record_shards(folder: str, stages: Iterable[str] = STAGES) -> list[str]:
    """The record shards of these stages in a synth output folder (`STAGE-....jsonl.gz`), in name order; none when
    it holds none."""
    wanted = tuple(f"{stage}-" for stage in stages)
    return [
        path
        for path in list_folder(folder)
        if path.replace("\\", "/").rsplit("/", 1)[-1].startswith(wanted) and path.endswith(".jsonl.gz")
    ]
