"""The released ProX refiners' prompts, byte for byte: Llama-2 chat template, `[doc]` wrapper, truncation.

Facts from the release (GAIR-NLP/ProX `data_gen/tasks/apply_*_refining.py`): both stages render the
Llama-2 chat template (`apply_chat_template`, which strips the user content) with the system prompt below.
The doc stage tokenizes the rendered prompt and keeps its first 2000 tokens, so a long document loses its
closing `[/INST]`. The chunk stage sends each chunk's rendered text as a string; an engine that adds BOS
when tokenizing it then sees two BOS tokens (the rendered text already starts with `<s>`).
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenizers import Tokenizer

from prox.chunking import DEFAULT_TOKEN_BUDGET, Chunk, LineSizer, chunk_document

SYSTEM_PROMPT = "You are a helpful, respectful and honest assistant."
DOC_PROMPT_MAX_TOKENS = 2000
DOC_MAX_NEW_TOKENS = 2000
CHUNK_MAX_NEW_TOKENS = 256

# The Llama-2 chat template as a transformers chat template, for tokenizers that ship none; it renders
# exactly what `llama2_chat_prompt` returns.
LLAMA2_CHAT_TEMPLATE = (
    "{% if messages[0]['role'] == 'system' %}{% set system = messages[0]['content'] %}"
    "{% set turns = messages[1:] %}{% else %}{% set system = none %}{% set turns = messages %}{% endif %}"
    "{% for message in turns %}"
    "{% if message['role'] == 'user' %}"
    "{% if loop.first and system is not none %}"
    "{% set content = '<<SYS>>\\n' + system + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}"
    "{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' ' + message['content'].strip() + ' ' + eos_token }}"
    "{% endif %}{% endfor %}"
)


@dataclass(frozen=True)
class DocPrompt:
    """The doc-stage prompt: token ids as the release sent them, and their text."""

    text: str
    token_ids: list[int]
    truncated: bool


@dataclass(frozen=True)
class ChunkPrompt:
    """One chunk-stage prompt (the release sent the text) and the chunk it shows."""

    text: str
    chunk: Chunk


def llama2_chat_prompt(user: str, system: str = SYSTEM_PROMPT, bos: str = "<s>") -> str:
    """`<s>[INST] <<SYS>>\\n{system}\\n<</SYS>>\\n\\n{user} [/INST]`, the content stripped as the template does."""
    content = f"<<SYS>>\n{system}\n<</SYS>>\n\n{user}"
    return f"{bos}[INST] {content.strip()} [/INST]"


def doc_prompt(text: str, tokenizer: Tokenizer, max_tokens: int = DOC_PROMPT_MAX_TOKENS) -> DocPrompt:
    """The doc-stage prompt for a raw document, truncated to `max_tokens` tokens like the release."""
    rendered = llama2_chat_prompt(text)
    token_ids = tokenizer.encode(rendered, add_special_tokens=False).ids
    if len(token_ids) <= max_tokens:
        return DocPrompt(rendered, token_ids, truncated=False)
    kept = token_ids[:max_tokens]
    return DocPrompt(tokenizer.decode(kept, skip_special_tokens=False), kept, truncated=True)


def chunk_user_message(chunk: Chunk) -> str:
    return f"[doc]\n{chunk.text}\n[/doc]"


def chunk_prompts(text: str, sizer: LineSizer, budget: int = DEFAULT_TOKEN_BUDGET) -> list[ChunkPrompt]:
    """The chunk-stage prompts for a document kept by the doc stage, one per chunk.

    `sizer` is usually `token_counter(tokenizer)`; build it once and reuse it, it caches word counts.
    """
    return [
        ChunkPrompt(llama2_chat_prompt(chunk_user_message(chunk)), chunk)
        for chunk in chunk_document(text, sizer, budget)
    ]
