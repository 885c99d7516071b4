"""`prox prompt`: the doc and chunk prompts of one document file, as text or JSON."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from prox.chunking import token_counter
from prox.cli import main
from prox.prompts import chunk_prompts, doc_prompt, llama2_chat_prompt


@pytest.fixture
def document(tmp_path: Path) -> Path:
    path = tmp_path / "page.txt"
    path.write_text("Title of the page\n\nFirst paragraph.\nSecond  paragraph ▁ with 😀\n", encoding="utf-8")
    return path


def test_doc_stage_prints_a_header_and_the_rendered_prompt(capsys, document, llama2_dir, llama2_tokenizer):
    assert main(["prompt", "--stage", "doc", "--tokenizer", str(llama2_dir), str(document)]) == 0
    text = "Title of the page\n\nFirst paragraph.\nSecond  paragraph ▁ with 😀"  # the final newline ends a line
    prompt = doc_prompt(text, llama2_tokenizer)
    assert capsys.readouterr().out == f"### doc prompt, {len(prompt.token_ids)} tokens\n{llama2_chat_prompt(text)}\n"


def test_doc_stage_marks_a_truncated_prompt(capsys, tmp_path, llama2_dir):
    path = tmp_path / "long.txt"
    path.write_text(" ".join(f"word{index}" for index in range(3000)), encoding="utf-8")
    assert main(["prompt", "--stage", "doc", "--tokenizer", str(llama2_dir), str(path)]) == 0
    assert capsys.readouterr().out.startswith("### doc prompt, 2000 tokens (truncated)\n<s>")


def test_doc_stage_honours_max_prompt_tokens(capsys, document, llama2_dir):
    argv = ["prompt", "--stage", "doc", "--max-prompt-tokens", "10", "--tokenizer", str(llama2_dir), str(document)]
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("### doc prompt, 10 tokens (truncated)\n")


def test_chunk_stage_prints_one_header_per_chunk(capsys, tmp_path, llama2_dir, llama2_tokenizer):
    path = tmp_path / "lines.txt"
    text = "\n".join(f"line {index} with a few words" for index in range(30))
    path.write_text(text + "\n", encoding="utf-8")
    argv = ["prompt", "--stage", "chunk", "--budget", "60", "--tokenizer", str(llama2_dir), str(path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    prompts = chunk_prompts(text, token_counter(llama2_tokenizer), 60)
    assert len(prompts) > 2
    expected = "".join(
        f"### chunk {number}/{len(prompts)}: lines {p.chunk.first_line}-{p.chunk.last_line}, {p.chunk.size} tokens\n"
        f"{p.text}\n"
        for number, p in enumerate(prompts, start=1)
    )
    assert out == expected


def test_json_prints_the_list_of_prompt_strings(capsys, document, llama2_dir, llama2_tokenizer):
    assert main(["prompt", "--stage", "chunk", "--json", "--tokenizer", str(llama2_dir), str(document)]) == 0
    text = document.read_text(encoding="utf-8")[:-1]
    assert json.loads(capsys.readouterr().out) == [p.text for p in chunk_prompts(text, token_counter(llama2_tokenizer))]
    assert main(["prompt", "--stage", "doc", "--json", "--tokenizer", str(llama2_dir), str(document)]) == 0
    assert json.loads(capsys.readouterr().out) == [llama2_chat_prompt(text)]


def test_dash_reads_the_document_from_standard_input(capsys, monkeypatch, llama2_dir):
    monkeypatch.setattr(sys, "stdin", io.StringIO("from stdin\nsecond\n"))
    assert main(["prompt", "--stage", "chunk", "--json", "--tokenizer", str(llama2_dir), "-"]) == 0
    assert json.loads(capsys.readouterr().out) == [llama2_chat_prompt("[doc]\n[000]from stdin\n[001]second\n[/doc]")]


def test_missing_file_exits_2_with_one_line(capsys, tmp_path, llama2_dir):
    missing = tmp_path / "nope.txt"
    assert main(["prompt", "--stage", "doc", "--tokenizer", str(llama2_dir), str(missing)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"prox prompt: error: {missing}: no such file\n"


def test_missing_tokenizer_exits_2_with_one_line(capsys, tmp_path, document):
    missing = tmp_path / "no-tokenizer"
    assert main(["prompt", "--stage", "doc", "--tokenizer", str(missing), str(document)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("prox prompt: error: tokenizer not found:")
    assert captured.err.count("\n") == 1


def test_unreadable_tokenizer_file_exits_2_with_one_line(capsys, tmp_path, document):
    bad = tmp_path / "tok"
    bad.mkdir()
    (bad / "tokenizer.json").write_text("{not json", encoding="utf-8")
    assert main(["prompt", "--stage", "doc", "--tokenizer", str(bad), str(document)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("prox prompt: error:") and "not a readable tokenizer.json" in err
    assert err.count("\n") == 1


def test_non_utf8_document_exits_2(capsys, tmp_path, llama2_dir):
    path = tmp_path / "latin1.txt"
    path.write_bytes("caf\xe9".encode("latin-1"))
    assert main(["prompt", "--stage", "doc", "--tokenizer", str(llama2_dir), str(path)]) == 2
    assert "not UTF-8 text" in capsys.readouterr().err


def test_console_script_runs(document, llama2_dir, llama2_tokenizer):
    script = shutil.which("prox", path=str(Path(sys.executable).parent)) or shutil.which("prox")
    if script is None:
        pytest.skip("the prox console script is not installed")
    result = subprocess.run(
        [script, "prompt", "--stage", "chunk", "--json", "--tokenizer", str(llama2_dir), str(document)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    text = document.read_text(encoding="utf-8")[:-1]
    assert json.loads(result.stdout) == [p.text for p in chunk_prompts(text, token_counter(llama2_tokenizer))]
