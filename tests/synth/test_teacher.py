"""The teacher's chat messages: documents and chunks inserted verbatim, chunks shown as the chunk stage shows
them, and the rewrite answer's `[doc]` block read back."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import pytest

from prox.chunking import CharacterCounter, token_counter
from prox.generators.lm.chat import ChatMessage
from prox.prompts import chunk_prompts, llama2_chat_prompt
from prox.synth.profile import load_profile
from prox.synth.teacher import (
    doc_score_messages,
    fewshot_messages,
    rewrite_answer,
    rewrite_messages,
    score_follow_up,
    teacher_messages,
)

# Braces, placeholders' names, LaTeX and code: none of it may be mistaken for a placeholder.
DOCUMENT = "\n".join(
    [
        "Menu | Home | Forum",
        "Integrating by parts: $\\int u\\,dv = uv - \\int v\\,du$ where {document} and {chunk} are just words.",
        'Config: {"a": {"b": 1}} and a format string "{0:>{width}}" and a stray {',
        "    indented code { }",
        "",
        "© 2024 Example Maths",
    ]
    * 40
)


@pytest.fixture(params=["web", "math"])
def profile(request):
    return load_profile(request.param)


def _student_view(prompt_text: str) -> str:
    """The user message inside a rendered Llama-2 chunk prompt: what the refining model is shown."""
    return prompt_text.split("<</SYS>>\n\n", 1)[1].removesuffix(" [/INST]")


def test_doc_scoring_is_two_conversations_with_the_document_verbatim(profile):
    messages = doc_score_messages(profile, DOCUMENT)

    assert list(messages) == ["educational", "format"]
    for kind, conversation in messages.items():
        system, user = conversation
        assert system == ChatMessage("system", profile.system)
        assert user.role == "user"
        assert f"<document>\n{DOCUMENT}\n</document>" in user.content
        assert user.content.count(DOCUMENT) == 1
        line = "Educational score: <points>" if kind == "educational" else "Extraction Quality Score: <points>"
        assert user.content.endswith(line)
    assert messages["educational"][1].content.startswith(profile.doc_educational.split("{document}")[0])


def test_a_score_follow_up_carries_the_conversation_on_with_the_profiles_turn(profile, tmp_path):
    conversation = doc_score_messages(profile, DOCUMENT)["format"]
    carried = score_follow_up(profile, conversation, "A fine page.", "format", "no score line")

    assert carried[:2] == conversation and carried[2] == ChatMessage("assistant", "A fine page.")
    question = carried[3]
    assert question.role == "user" and "no score line" in question.content
    assert question.content.endswith("from 0 to 5:\nExtraction Quality Score: <points>")

    # The turn is the profile's own text: a profile in another language asks in it.
    folder = tmp_path / "german"
    shutil.copytree(Path(str(resources.files("prox.synth") / "profiles" / "web")), folder)
    (folder / "score_follow_up.txt").write_text(
        "Bitte nur die letzte Zeile ({problem}), 0 bis {points}:\n{label}: <points>\n"
    )
    german = load_profile(prompts=folder)
    (*_, question) = score_follow_up(german, conversation, "Gut.", "educational", "keine Zahl")
    assert question.content == "Bitte nur die letzte Zeile (keine Zahl), 0 bis 5:\nEducational score: <points>"


def test_fewshot_prompts_show_the_chunk_exactly_as_the_chunk_stage_does(profile):
    prompts = chunk_prompts(DOCUMENT, CharacterCounter(), budget=1500)
    assert len(prompts) > 2 and prompts[1].chunk.first_line > 0

    for prompt in prompts:
        shown = _student_view(prompt.text)
        assert shown.startswith("[doc]\n[") and shown.endswith("\n[/doc]")
        conversations = fewshot_messages(profile, prompt.chunk)
        assert list(conversations) == list(profile.noise_types)
        for conversation in conversations.values():
            system, user = conversation
            assert system.content == profile.system
            # The chunk is the last [doc] block, after the worked examples, and follows the function stubs and rules.
            assert user.content.rstrip().endswith(f"{shown}\nAnswer:")
            assert user.content.count(shown) == 1
            assert profile.chunk_functions in user.content and profile.chunk_rules in user.content
            assert "{chunk}" not in user.content.replace(shown, "")


def test_fewshot_prompts_with_the_refiners_tokenizer_show_the_chunk_stage_chunks(llama2_tokenizer):
    profile = load_profile("web")
    for prompt in chunk_prompts(DOCUMENT, token_counter(llama2_tokenizer)):
        assert prompt.text == llama2_chat_prompt(_student_view(prompt.text))
        for _, user in fewshot_messages(profile, prompt.chunk).values():
            assert user.content.endswith(f"{_student_view(prompt.text)}\nAnswer:")


def test_the_rewrite_prompt_shows_the_chunk_as_the_chunk_stage_does(profile):
    (prompt, *_) = chunk_prompts(DOCUMENT, CharacterCounter(), budget=800)
    system, user = rewrite_messages(profile, prompt.chunk)

    assert system.content == profile.system
    assert user.content.endswith(f"{_student_view(prompt.text)}\nAnswer:")
    assert "Keep each remaining line's [NNN] prefix" in user.content


def test_teacher_messages_are_the_system_message_then_the_user_message(profile):
    assert teacher_messages(profile, "hi") == (ChatMessage("system", profile.system), ChatMessage("user", "hi"))


@pytest.mark.parametrize(
    ("answer", "body"),
    [
        ("[doc]\n[002]Title\n[004]Body text.\n[/doc]", "[002]Title\n[004]Body text."),
        ("Here is the cleaned chunk:\n[doc]\n[002]Title\n[/doc]\nI removed the menu.", "[002]Title"),
        ("```\n[doc]\n[002]Title\n[/doc]\n```", "[002]Title"),
        ("[doc]\n[/doc]", ""),
        ("[doc][002]Title[/doc]", "[002]Title"),
        ("[doc]\n[002] Title with a trailing space \n[/doc]", "[002] Title with a trailing space "),
        ("[doc]\n[000]echoed\n[/doc]\nCleaned:\n[doc]\n[001]kept\n[/doc]", "[001]kept"),
    ],
)
def test_a_rewrite_answer_is_its_last_doc_block(answer, body):
    assert rewrite_answer(answer) == body


@pytest.mark.parametrize("answer", ["", "[002]Title", "[doc]\n[002]Title cut off", "[/doc]"])
def test_a_rewrite_answer_without_a_complete_doc_block_is_none(answer):
    assert rewrite_answer(answer) is None
