"""docs/synth.md's commands run as written: every `prox synth` command of its ```bash blocks, from a project root
holding examples/demo (and ../shared beside it, when it is there), with $TEACHER_URL and $TEACHER_MODEL naming a
local scripted teacher. Usage lines sit in plain ``` blocks and are not run."""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from pathlib import Path

import pytest

from prox.cli import main
from prox.synth.profile import load_profile
from prox.synth.scoring import SCORE_LINES

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "generators" / "lm_servers"))
from completion_servers import CompletionServer, Reply, chat_answer

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "synth.md"
SHARED = REPO.parent / "shared"
# What starts the web profile's rewrite prompt, before the chunk.
REWRITE_HEAD = load_profile("web").rewrite.split("{chunk}")[0]


def documented_commands(markdown: str) -> list[str]:
    """The `prox synth` commands of the markdown's ```bash blocks, each on one line."""
    commands = []
    for block in re.findall(r"^```bash\n(.*?)^```", markdown, re.DOTALL | re.MULTILINE):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip().startswith("prox synth "):
                commands.append(" ".join(line.split()))
    return commands


def teacher_answer(payload: dict, hit: int) -> Reply:
    """A score for a scoring prompt, the chunk unchanged for a rewrite prompt, keep_chunk() for a few-shot one."""
    user = payload["messages"][-1]["content"]
    for label in SCORE_LINES.values():
        if f"{label}: <points>" in user:
            return chat_answer(f"Clear, on topic and well formed.\n{label}: 3")
    if user.startswith(REWRITE_HEAD):
        return chat_answer("[doc]\n" + user.rsplit("[doc]\n", 1)[1].split("\n[/doc]", 1)[0] + "\n[/doc]")
    return chat_answer("```python\nkeep_chunk()\n```")


COMMANDS = documented_commands(DOC.read_text(encoding="utf-8"))


def test_the_doc_shows_commands_of_every_synth_command():
    assert {command.split()[2] for command in COMMANDS} == {"labels", "doc", "chunk"}
    assert all("$TEACHER_URL" in command for command in COMMANDS if command.split()[2] != "labels")


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(command.split()[1:3]) for command in COMMANDS])
def test_a_documented_command_runs_as_written(command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    if "../shared" in command and not SHARED.is_dir():
        pytest.skip(f"the command reads ../shared, not found at {SHARED}")
    root = tmp_path / "project"
    (root / "examples").mkdir(parents=True)
    (root / "examples" / "demo").symlink_to(REPO / "examples" / "demo")
    if SHARED.is_dir():
        (tmp_path / "shared").symlink_to(SHARED)
    monkeypatch.chdir(root)
    with CompletionServer(teacher_answer) as teacher:
        teacher.httpd.socket.listen(1024)  # room for the default --concurrency (16) without SYN retries
        monkeypatch.setenv("TEACHER_URL", teacher.base_url)
        monkeypatch.setenv("TEACHER_MODEL", "scripted-teacher")
        argv = shlex.split(os.path.expandvars(command))
        assert main(argv[1:]) == 0
    stats = json.loads((root / argv[argv.index("-o") + 1] / "stats.json").read_text())
    assert stats["accounted"] and stats["examples"]["written"] > 0
