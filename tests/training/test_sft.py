"""`prox train sft`: resuming after an interruption, the launch command, and errors the user can fix."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from prox.cli import main
from prox.training.sft import CHECKPOINTS, REPORT_FILE, SFTSettings, last_complete_checkpoint

OPTIONS = ("--stage", "doc", "--eval-split", "0", "--batch-size", "4", "--fp32", "--logging-steps", "1")


def _command(synth_dir: Path, llama2_dir: Path, out: Path, *options: str) -> list[str]:
    command = ["train", "sft", str(synth_dir), "-o", str(out), "--init", "tiny", "--tokenizer", str(llama2_dir)]
    return [*command, *OPTIONS, *options]


def _train(synth_dir: Path, llama2_dir: Path, out: Path, *options: str) -> int:
    return main(_command(synth_dir, llama2_dir, out, *options))


def _saved_step(checkpoint: Path) -> int | None:
    """The step of a checkpoint whose trainer state (written last) is there and whole; None before that."""
    try:
        return json.loads((checkpoint / "trainer_state.json").read_text())["global_step"]
    except (OSError, ValueError):
        return None


def _loss_steps(checkpoint: Path) -> list[int]:
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    return [entry["step"] for entry in state["log_history"] if "loss" in entry]


def test_a_run_started_again_resumes_from_its_last_checkpoint(synth_dir: Path, llama2_dir: Path, tmp_path: Path):
    pytest.importorskip("trl")
    out = tmp_path / "refiner"
    # The first run stops at step 2 (as a killed run would have left its last checkpoint)...
    assert _train(synth_dir, llama2_dir, out, "--max-steps", "2", "--eval-steps", "2") == 0
    first = json.loads((out / REPORT_FILE).read_text())
    assert first["global_step"] == 2 and first["resumed_from"] is None
    assert (out / CHECKPOINTS / "checkpoint-2").is_dir()
    # ...and the same command with a later end goes on from there, not from step 0.
    assert _train(synth_dir, llama2_dir, out, "--max-steps", "4", "--eval-steps", "2") == 0
    second = json.loads((out / REPORT_FILE).read_text())
    assert second["resumed_from"].endswith("checkpoint-2")
    assert second["global_step"] == 4
    assert _loss_steps(out / CHECKPOINTS / "checkpoint-4") == [1, 2, 3, 4]


def test_a_killed_run_started_again_resumes_from_its_last_checkpoint_to_the_same_end(
    synth_dir: Path, llama2_dir: Path, tmp_path: Path, capsys
):
    pytest.importorskip("trl")
    transformers = pytest.importorskip("transformers")
    safetensors = pytest.importorskip("safetensors.torch")
    out, checkpoints = tmp_path / "refiner", tmp_path / "refiner" / CHECKPOINTS
    options = ("--max-steps", "4", "--eval-steps", "2")
    command = [sys.executable, "-m", "prox", *_command(synth_dir, llama2_dir, out, *options)]
    with (tmp_path / "killed.log").open("w") as log:
        # A session of its own, so the kill takes the whole run, as a crash would.
        process = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while _saved_step(checkpoints / "checkpoint-2") != 2:
            assert process.poll() is None, (tmp_path / "killed.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "checkpoint-2 was never saved"
            time.sleep(0.005)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert not (out / REPORT_FILE).exists(), "the run ended before it was killed"
    assert sorted(path.name for path in checkpoints.glob("checkpoint-*")) == ["checkpoint-2"]
    # Had the kill landed while checkpoint-4 was being saved, transformers (which writes it in place, the trainer
    # state last) would have left this: the rerun must not resume from it.
    shutil.copytree(checkpoints / "checkpoint-2", checkpoints / "checkpoint-4")
    (checkpoints / "checkpoint-4" / "trainer_state.json").unlink()

    capsys.readouterr()
    assert _train(synth_dir, llama2_dir, out, *options) == 0
    log = capsys.readouterr().err
    assert f"removing {checkpoints / 'checkpoint-4'}" in log
    assert f"resuming from {checkpoints / 'checkpoint-2'}" in log
    report = json.loads((out / REPORT_FILE).read_text())
    assert report["resumed_from"] == str(checkpoints / "checkpoint-2")
    assert report["global_step"] == 4  # went on to --max-steps, not 4 more steps
    assert report["settings"]["max_steps"] == 4 and report["records"]["train"]["doc"] == 3
    assert report["train_metrics"]["train_loss"] > 0 and report["train_seconds"] > 0
    assert _saved_step(checkpoints / "checkpoint-4") == 4
    assert _loss_steps(checkpoints / "checkpoint-4") == [1, 2, 3, 4]  # steps 1-2 from before the kill, each once

    # OUT is a model folder holding the weights of the last step.
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        assert (out / name).is_file(), name
    assert transformers.AutoModelForCausalLM.from_pretrained(out).num_parameters() > 0
    assert transformers.AutoTokenizer.from_pretrained(out).chat_template
    final = safetensors.load_file(out / "model.safetensors")
    last = safetensors.load_file(checkpoints / "checkpoint-4" / "model.safetensors")
    assert final.keys() == last.keys() and all(final[name].equal(last[name]) for name in final)


def test_checkpoints_a_kill_left_half_written_are_skipped_and_removed(tmp_path: Path):
    pytest.importorskip("transformers")

    def checkpoint(step: int, *files: str, state: str = '{"global_step": 0}') -> Path:
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        for name in files:
            (folder / name).write_text(state if name == "trainer_state.json" else "x")
        return folder

    complete = ("config.json", "model.safetensors", "optimizer.pt", "trainer_state.json")
    assert last_complete_checkpoint(tmp_path) is None
    checkpoint(9, *complete)
    newest = checkpoint(10, *complete)  # by step, not by name: 10 after 9
    checkpoint(11)  # killed right after the folder was made
    checkpoint(12, "config.json", "model.safetensors", "optimizer.pt")  # before the trainer state
    checkpoint(13, *complete, state='{"global_step": 1')  # while writing the trainer state
    checkpoint(14, "config.json", "trainer_state.json")  # the weights gone (a deletion killed half-way)
    (tmp_path / "checkpoint-15").write_text("not a folder")

    assert last_complete_checkpoint(tmp_path) == str(newest)
    assert len(list(tmp_path.iterdir())) == 7  # looking removes nothing
    removed: list[str] = []
    assert last_complete_checkpoint(tmp_path, remove_incomplete=True, progress=removed.append) == str(newest)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["checkpoint-10", "checkpoint-15", "checkpoint-9"]
    assert len(removed) == 4


def test_the_dry_run_prints_the_ddp_launch_command(synth_dir: Path, llama2_dir: Path, tmp_path: Path, capsys):
    out = tmp_path / "refiner"
    command = ["train", "sft", str(synth_dir), "-o", str(out), "--base", "some/model", "--lr", "2e-5", "--bf16"]
    assert main([*command, "--dry-run", "--gpus", "4"]) == 0
    printed = capsys.readouterr().out
    assert "4 process(es) x 8 sequences x 2 accumulation steps = 64" in printed
    launch = printed.strip().splitlines()[-1]
    assert launch.startswith("accelerate launch --num_processes 4 --multi_gpu -m prox train sft ")
    assert f"{synth_dir} -o {out} --base some/model --lr 2e-05 --bf16" in launch
    assert not out.exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--base", "m", "--init", "tiny"], "exactly one of --base"),
        (["--init", "tiny"], "needs --tokenizer"),
        (["--init", "llama:layers=x", "--tokenizer", "t"], "not a whole number"),
        (["--base", "m", "--batch-size", "12", "--micro-batch-size", "8"], "not a multiple"),
        (["--base", "m", "--eval-split", "1"], "--eval-split"),
    ],
)
def test_settings_the_user_can_fix_are_one_line_errors(options, message, tmp_path: Path, capsys):
    assert main(["train", "sft", str(tmp_path), "-o", str(tmp_path / "out"), *options]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1


def test_accumulation_makes_up_the_batch_over_processes():
    settings = SFTSettings(data=["d"], output="o", base="m", batch_size=64, micro_batch_size=8)
    assert settings.accumulation(1) == (8, 8)
    assert settings.accumulation(4) == (8, 2)
    assert SFTSettings(data=["d"], output="o", base="m", batch_size=4).accumulation(1) == (4, 1)
