"""SFT records render, byte for byte, the prompts `prox refine --refiner lm` sends (checked against `prox.prompts`
with the released refiners' Llama-2 tokenizer), and their targets run as the programs they stand for."""

from __future__ import annotations

import pytest

from prox.chunking import CharacterCounter, Chunk, chunk_document, token_counter
from prox.program import ChunkProgram, execute_chunk_programs, parse_program
from prox.prompts import LLAMA2_CHAT_TEMPLATE, SYSTEM_PROMPT, chunk_prompts, doc_prompt, llama2_chat_prompt
from prox.synth.records import (
    DocMessage,
    UnrenderablePrompt,
    chat_head,
    chunk_record,
    doc_record,
    doc_user_message,
    removal_program,
    removed_runs,
    removed_share,
    render_prompt,
)

PROVENANCE = {"record_id": "page-1", "source": "pages.jsonl:1", "teacher": "gold:line-labels"}


def doc_of(message: DocMessage, program: str = "keep_doc()") -> dict:
    return doc_record(message, program, **PROVENANCE)


def test_a_short_document_renders_the_whole_doc_prompt(llama2_tokenizer):
    document = "A short page.\nWith two lines and trailing space.  \n"
    message = doc_user_message(document, llama2_tokenizer)
    assert message == DocMessage(document, truncated=False)
    assert render_prompt(doc_of(message)) == doc_prompt(document, llama2_tokenizer).text


def test_a_long_document_renders_the_truncated_prompt_refine_sends(llama2_tokenizer, wcxb_pages):
    document = "\n".join(max(wcxb_pages, key=lambda lines: sum(map(len, lines))))
    sent = doc_prompt(document, llama2_tokenizer)
    assert sent.truncated
    record = doc_of(doc_user_message(document, llama2_tokenizer))
    rendered = render_prompt(record)
    assert record["prompt_truncated"] is True
    assert document.startswith(record["messages"][1]["content"])  # the document, cut
    # The exact text of the 2000 ids refine sends: the start of the release's templated prompt, which they cover.
    assert llama2_chat_prompt(document).startswith(rendered)
    assert not rendered.rstrip().endswith("[/INST]")
    assert llama2_tokenizer.encode(rendered, add_special_tokens=False).ids == sent.token_ids
    assert llama2_tokenizer.decode(sent.token_ids, skip_special_tokens=False) == sent.text


def test_real_pages_render_the_doc_and_chunk_prompts_of_prox_prompts(llama2_tokenizer, wcxb_pages):
    sizer = token_counter(llama2_tokenizer)
    truncated = chunks = 0
    for lines in wcxb_pages[:40]:
        document = "\n".join(lines)
        sent = doc_prompt(document, llama2_tokenizer)
        rendered = render_prompt(doc_of(doc_user_message(document, llama2_tokenizer)))
        assert llama2_tokenizer.encode(rendered, add_special_tokens=False).ids == sent.token_ids
        if sent.truncated:
            truncated += 1
        else:
            assert rendered == sent.text
        for prompt in chunk_prompts(document, sizer):
            assert render_prompt(chunk_record(prompt.chunk, "keep_chunk()", **PROVENANCE)) == prompt.text
            chunks += 1
    assert 0 < truncated < 40 and chunks > 40


def test_each_chunk_of_a_multi_chunk_document_renders_its_chunk_prompt(llama2_tokenizer):
    document = "\n".join(f"Line {index} of a long page, with some words in it." for index in range(300))
    prompts = chunk_prompts(document, token_counter(llama2_tokenizer))
    assert len(prompts) > 1
    assert prompts[1].chunk.text.startswith(f"[{prompts[1].chunk.first_line:03d}]Line")
    for prompt in prompts:
        record = chunk_record(prompt.chunk, "keep_chunk()", **PROVENANCE)
        assert render_prompt(record) == prompt.text
        assert record["messages"][1]["content"] == f"[doc]\n{prompt.chunk.text}\n[/doc]"
        assert (record["first_line"], record["last_line"]) == (prompt.chunk.first_line, prompt.chunk.last_line)


def test_a_cut_inside_a_character_has_no_record(llama2_tokenizer):
    document = "Rare letters: " + "𝔘" * 40  # each one is five byte-fallback tokens
    head = len(llama2_tokenizer.encode(chat_head() + "Rare letters: ", add_special_tokens=False).ids)
    messages = []
    for limit in range(head, head + 6):
        try:
            messages.append(doc_user_message(document, llama2_tokenizer, max_tokens=limit))
        except UnrenderablePrompt as error:
            assert "inside the bytes of one character" in str(error)
    assert 0 < len(messages) < 6  # some limits cut between characters, the others inside one
    for message in messages:
        assert message.truncated and document.startswith(message.content)


def test_the_chat_template_renders_the_same_prompt_and_adds_the_closing_tag_to_truncated_ones(llama2_tokenizer):
    jinja2 = pytest.importorskip("jinja2")
    template = jinja2.Environment().from_string(LLAMA2_CHAT_TEMPLATE)
    short = doc_of(doc_user_message("A page.", llama2_tokenizer))
    long = doc_of(doc_user_message("word " * 3000, llama2_tokenizer))
    chunk = chunk_record(chunk_document("a\nb", CharacterCounter())[0], "keep_chunk()", **PROVENANCE)
    for record in (short, chunk, long):
        rendered = template.render(messages=record["messages"][:2], bos_token="<s>", eos_token="</s>")
        closing = " [/INST]" if record["prompt_truncated"] else ""
        assert rendered == render_prompt(record) + closing


def test_the_head_is_the_template_before_the_user_message():
    assert llama2_chat_prompt("USER").startswith(chat_head(SYSTEM_PROMPT) + "USER")


def test_a_record_holds_the_three_messages_its_provenance_and_its_judgments_beside():
    chunk = chunk_document("Home\nStory text here.\nFooter", CharacterCounter())[0]
    record = chunk_record(chunk, "remove_lines(line_start=0, line_end=0)", **PROVENANCE, judgments={"score": 3})
    assert [message["role"] for message in record["messages"]] == ["system", "user", "assistant"]
    assert record["messages"][0]["content"] == SYSTEM_PROMPT
    assert record["messages"][2]["content"] == "remove_lines(line_start=0, line_end=0)"
    assert {key: record[key] for key in ("stage", "id", "source", "teacher", "prompt_truncated", "score")} == {
        "stage": "chunk",
        "id": "page-1",
        "source": "pages.jsonl:1",
        "teacher": "gold:line-labels",
        "prompt_truncated": False,
        "score": 3,
    }
    with pytest.raises(ValueError, match="are record fields"):
        chunk_record(chunk, "keep_chunk()", **PROVENANCE, judgments={"stage": "doc"})


def test_render_prompt_needs_a_system_and_a_user_message():
    with pytest.raises(ValueError, match="system and a user message"):
        render_prompt({"messages": [{"role": "user", "content": "x"}]})


def test_a_removal_program_removes_each_run_of_lines_under_the_release_policy():
    lines = [f"line {index} with words" for index in range(12)]
    chunk = Chunk(4, 11, "", 0)
    program = removal_program(chunk, [9, 4, 5, 6, 11])
    assert program == "\n".join(
        [
            "remove_lines(line_start=4, line_end=6)",
            "remove_lines(line_start=9, line_end=9)",
            "remove_lines(line_start=11, line_end=11)",
        ]
    )
    report = execute_chunk_programs("\n".join(lines), [ChunkProgram(parse_program(program), 4, 11)])
    assert report.removed_lines == (4, 5, 6, 9, 11)
    assert removal_program(chunk, []) == "keep_chunk()"
    assert removed_runs([3, 1, 2, 7]) == [(1, 3), (7, 7)]
    assert removed_share(chunk, [4, 5]) == 0.25
    with pytest.raises(ValueError, match="outside the chunk"):
        removal_program(chunk, [3])
