"""The released refiners' prompts: Llama-2 chat template, doc truncation to 2000 tokens, `[doc]` chunks."""

from __future__ import annotations

from pathlib import Path

import pytest

from prox.chunking import CharacterCounter, token_counter
from prox.prompts import (
    DOC_PROMPT_MAX_TOKENS,
    LLAMA2_CHAT_TEMPLATE,
    SYSTEM_PROMPT,
    chunk_prompts,
    doc_prompt,
    llama2_chat_prompt,
)

HEAD = "<s>[INST] <<SYS>>\nYou are a helpful, respectful and honest assistant.\n<</SYS>>\n\n"
BOS_ID = 1
INST_IDS = [518, 25580, 29962]  # "▁[", "INST", "]"


def long_document(words: int = 3000) -> str:
    return "\n".join(" ".join(f"word{index}" for index in range(start, start + 10)) for start in range(0, words, 10))


@pytest.fixture(scope="module")
def hf_tokenizer(llama2_dir: Path):
    """The transformers fast tokenizer on the same tokenizer.json, with prox's chat template set."""
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("jinja2")
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_file=str(llama2_dir / "tokenizer.json"), bos_token="<s>", eos_token="</s>"
    )
    tokenizer.chat_template = LLAMA2_CHAT_TEMPLATE
    return tokenizer


def release_render(hf_tokenizer, user: str) -> str:
    messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]
    return hf_tokenizer.apply_chat_template(messages, tokenize=False)


def test_system_prompt_is_the_releases():
    assert SYSTEM_PROMPT == "You are a helpful, respectful and honest assistant."


def test_llama2_chat_prompt_is_byte_exact():
    assert llama2_chat_prompt("Hello there") == (
        "<s>[INST] <<SYS>>\nYou are a helpful, respectful and honest assistant.\n<</SYS>>\n\nHello there [/INST]"
    )


def test_llama2_chat_prompt_strips_the_content_after_the_system_block_like_the_template():
    # The template strips system block + user message as one string, so only trailing space is lost.
    assert llama2_chat_prompt("  \n padded text \n\n") == HEAD + "  \n padded text [/INST]"
    assert llama2_chat_prompt("inner  spaces\n\nkept") == HEAD + "inner  spaces\n\nkept [/INST]"


def test_llama2_chat_prompt_of_an_empty_message_loses_the_blank_line():
    assert llama2_chat_prompt("") == (
        "<s>[INST] <<SYS>>\nYou are a helpful, respectful and honest assistant.\n<</SYS>> [/INST]"
    )


def test_llama2_chat_prompt_takes_another_system_prompt_and_bos():
    assert llama2_chat_prompt("u", system="sys", bos="") == "[INST] <<SYS>>\nsys\n<</SYS>>\n\nu [/INST]"


@pytest.mark.parametrize(
    "user",
    [
        "Hello there",
        "  padded \n",
        "",
        "[doc]\n[000]first line\n[001]  second\n[/doc]",
        "multi\nline\n\ntext with <s> and </s> and 😀",
        "\n\n[000] starts with newlines",
    ],
)
def test_chat_prompt_equals_transformers_apply_chat_template(hf_tokenizer, user):
    assert llama2_chat_prompt(user) == release_render(hf_tokenizer, user)


def test_short_document_prompt_is_the_rendered_template_untruncated(llama2_tokenizer):
    document = "A short page.\nWith two lines."
    prompt = doc_prompt(document, llama2_tokenizer)
    assert not prompt.truncated
    assert prompt.text == llama2_chat_prompt(document)
    assert prompt.token_ids == llama2_tokenizer.encode(prompt.text, add_special_tokens=False).ids
    assert prompt.token_ids[: 1 + len(INST_IDS)] == [BOS_ID, *INST_IDS]
    assert prompt.token_ids.count(BOS_ID) == 1
    assert prompt.token_ids[-4:] == [518, 29914, 25580, 29962]  # "▁[", "/", "INST", "]"


def test_long_document_prompt_is_truncated_to_2000_tokens(llama2_tokenizer):
    document = long_document()
    full = llama2_tokenizer.encode(llama2_chat_prompt(document), add_special_tokens=False).ids
    assert len(full) > DOC_PROMPT_MAX_TOKENS == 2000
    prompt = doc_prompt(document, llama2_tokenizer)
    assert prompt.truncated
    assert len(prompt.token_ids) == 2000
    assert prompt.token_ids == full[:2000]
    assert prompt.token_ids[:4] == [BOS_ID, *INST_IDS]
    assert prompt.text.startswith("<s>")
    assert not prompt.text.rstrip().endswith("[/INST]")  # the release's quirk: the closing tag is cut off


def test_doc_prompt_truncation_boundary_is_inclusive(llama2_tokenizer):
    document = "Some page text.\nAnother line."
    length = len(llama2_tokenizer.encode(llama2_chat_prompt(document), add_special_tokens=False).ids)
    assert not doc_prompt(document, llama2_tokenizer, max_tokens=length).truncated
    cut = doc_prompt(document, llama2_tokenizer, max_tokens=length - 1)
    assert cut.truncated
    assert len(cut.token_ids) == length - 1


def test_doc_prompt_ids_equal_transformers_tokenization(hf_tokenizer, llama2_tokenizer):
    document = long_document()
    rendered = release_render(hf_tokenizer, document)
    release_ids = hf_tokenizer(rendered, add_special_tokens=False)["input_ids"][:2000]
    assert doc_prompt(document, llama2_tokenizer).token_ids == release_ids


def test_doc_prompt_of_a_real_long_page_is_truncated(llama2_tokenizer, wcxb_pages):
    document = "\n".join(max(wcxb_pages, key=lambda lines: sum(map(len, lines))))
    prompt = doc_prompt(document, llama2_tokenizer)
    assert prompt.truncated
    assert len(prompt.token_ids) == 2000
    assert prompt.token_ids[:4] == [BOS_ID, *INST_IDS]


def test_chunk_prompts_wrap_each_chunk_in_doc_tags():
    document = "first\nsecond\nthird"
    (prompt,) = chunk_prompts(document, CharacterCounter())
    assert prompt.text == HEAD + "[doc]\n[000]first\n[001]second\n[002]third\n[/doc] [/INST]"
    assert prompt.chunk.text == "[000]first\n[001]second\n[002]third"


def test_chunk_prompts_number_lines_document_wide_across_chunks(llama2_tokenizer):
    lines = [f"line {index} of a page that needs several chunks" for index in range(40)]
    prompts = chunk_prompts("\n".join(lines), token_counter(llama2_tokenizer), budget=100)
    assert len(prompts) > 3
    for prompt in prompts:
        assert prompt.text == llama2_chat_prompt(f"[doc]\n{prompt.chunk.text}\n[/doc]")
        assert prompt.chunk.text.startswith(f"[{prompt.chunk.first_line:03d}]")
    starts = [prompt.chunk.first_line for prompt in prompts]
    assert starts[1:] == [prompt.chunk.last_line + 1 for prompt in prompts[:-1]]
    joined = "\n".join(prompt.chunk.text for prompt in prompts)
    assert joined == "\n".join(f"[{index:03d}]{line}" for index, line in enumerate(lines))


def test_chunk_prompts_keep_leading_and_trailing_blank_lines_inside_the_tags():
    (prompt,) = chunk_prompts("\n  indented\n", CharacterCounter())
    assert prompt.text == HEAD + "[doc]\n[000]\n[001]  indented\n[002]\n[/doc] [/INST]"


def test_chunk_prompts_equal_transformers_apply_chat_template(hf_tokenizer, llama2_tokenizer, wcxb_pages):
    document = "\n".join(wcxb_pages[0])
    for prompt in chunk_prompts(document, token_counter(llama2_tokenizer)):
        assert prompt.text == release_render(hf_tokenizer, f"[doc]\n{prompt.chunk.text}\n[/doc]")
