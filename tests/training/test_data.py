"""The ids trained on are the ids `prox refine` sends, and only the program's tokens carry a loss."""

from __future__ import annotations

from pathlib import Path

import pytest

from prox.chunking import chunk_document, token_counter
from prox.generators.lm.base import LMGenerator, LMSettings
from prox.synth.records import chunk_record, doc_record, doc_user_message
from prox.tokenizer import load_tokenizer
from prox.training.data import read_sft_records, split_records, tokenize_record

TEXT = "\n".join(f"Line {index}: the harbour authority will add sailings on weekdays." for index in range(40))


@pytest.fixture(scope="module")
def tokenizer(llama2_dir: Path):
    return load_tokenizer(llama2_dir)


def _generator(tokenizer, **settings) -> LMGenerator:
    return LMGenerator(LMSettings(doc_model="m", chunk_model="m", **settings), backend=None, tokenizer=tokenizer)


@pytest.mark.parametrize("limit", [2000, 60])  # 60: the release's truncation cuts the prompt inside the document
def test_doc_prompt_ids_are_the_ones_refine_sends(tokenizer, limit: int):
    message = doc_user_message(TEXT, tokenizer, limit)
    assert message.truncated == (limit == 60)
    record = doc_record(message, "keep_doc()", record_id="d", source="s", teacher="t")
    example = tokenize_record(record, tokenizer, eos_id=2)
    assert example.prompt_ids == _generator(tokenizer, doc_prompt_max_tokens=limit).doc_request(TEXT).prompt_ids
    assert example.prompt_ids[0] == 1 and example.prompt_ids[1] != 1  # one BOS, from the text's own <s>


def test_chunk_prompt_ids_are_the_ones_refine_sends(tokenizer):
    generator = _generator(tokenizer, chunk_budget=200)
    chunks = chunk_document(TEXT, token_counter(tokenizer), 200)
    assert len(chunks) > 1
    for chunk in chunks:
        record = chunk_record(chunk, "keep_chunk()", record_id="c", source="s", teacher="t")
        assert tokenize_record(record, tokenizer, 2).prompt_ids == generator.chunk_request(chunk).prompt_ids


def test_the_completion_is_the_program_then_eos(tokenizer):
    record = doc_record(doc_user_message("A page.", tokenizer), "drop_doc()", record_id="d", source="s", teacher="t")
    example = tokenize_record(record, tokenizer, eos_id=2)
    assert example.completion_ids[-1] == 2
    assert tokenizer.decode(list(example.completion_ids[:-1])) == "drop_doc()"
    features = example.features()
    assert features["input_ids"] == [*example.prompt_ids, *example.completion_ids]
    assert features["completion_mask"] == [0] * len(example.prompt_ids) + [1] * len(example.completion_ids)


def test_the_trainer_masks_the_prompt_with_minus_100(synth_dir: Path, llama2_dir: Path, tmp_path: Path):
    """TRL's SFTTrainer, given the pre-tokenized records, labels the prompt -100 and the program with its ids."""
    datasets = pytest.importorskip("datasets")
    trl = pytest.importorskip("trl")
    from prox.models import build_model, parse_shape
    from prox.training.sft import _hf_tokenizer

    tokenizer = load_tokenizer(llama2_dir)
    records = list(read_sft_records([str(synth_dir)]))
    examples = [tokenize_record(record, tokenizer, 2) for record in records]
    config = trl.SFTConfig(
        output_dir=str(tmp_path), completion_only_loss=True, max_length=None, report_to="none", bf16=False
    )
    trainer = trl.SFTTrainer(
        model=build_model(parse_shape("tiny"), llama2_dir),
        args=config,
        train_dataset=datasets.Dataset.from_list([example.features() for example in examples]),
        processing_class=_hf_tokenizer(str(llama2_dir), __import__("transformers")),
    )
    batch = trainer.data_collator([trainer.train_dataset[index] for index in range(len(examples))])
    for row, example in enumerate(examples):
        prompt, completion = len(example.prompt_ids), len(example.completion_ids)
        ids = batch["input_ids"][row].tolist()
        labels = batch["labels"][row].tolist()
        assert ids[: prompt + completion] == [*example.prompt_ids, *example.completion_ids]
        assert labels[:prompt] == [-100] * prompt
        assert labels[prompt : prompt + completion] == list(example.completion_ids)
        assert set(labels[prompt + completion :]) <= {-100}  # padding


def test_the_split_holds_out_a_share_drawn_by_the_seed():
    records = [{"id": str(index)} for index in range(20)]
    train, held = split_records(records, 0.25, seed=1)
    assert len(held) == 5 and len(train) == 15
    assert {record["id"] for record in train} | {record["id"] for record in held} == {str(i) for i in range(20)}
    assert split_records(records, 0.25, seed=1) == (train, held)
    assert split_records(records, 0.25, seed=2)[1] != held
    assert split_records(records, 0.0, seed=1) == (records, [])
    with pytest.raises(ValueError, match="eval-split"):
        split_records(records, 1.0, seed=1)


def test_a_stage_reads_only_its_records_and_a_folder_without_shards_is_an_error(synth_dir: Path, tmp_path: Path):
    assert {record["stage"] for record in read_sft_records([str(synth_dir)], ("chunk",))} == {"chunk"}
    with pytest.raises(ValueError, match="no doc/chunk record shards"):
        list(read_sft_records([str(tmp_path)]))


def test_the_loss_is_the_one_trl_computes(synth_dir: Path, llama2_dir: Path, tmp_path: Path):
    """prox's trainer takes the model's own loss over the collated labels: the same value as TRL's fused LM head."""
    datasets = pytest.importorskip("datasets")
    trl = pytest.importorskip("trl")
    import torch

    from prox.models import build_model, parse_shape
    from prox.training.sft import _hf_tokenizer, _trainer_class

    tokenizer = load_tokenizer(llama2_dir)
    examples = [tokenize_record(record, tokenizer, 2) for record in read_sft_records([str(synth_dir)])]
    config = trl.SFTConfig(
        output_dir=str(tmp_path), completion_only_loss=True, max_length=None, report_to="none", bf16=False
    )
    common = dict(
        model=build_model(parse_shape("tiny"), llama2_dir),
        args=config,
        train_dataset=datasets.Dataset.from_list([example.features() for example in examples]),
        processing_class=_hf_tokenizer(str(llama2_dir), __import__("transformers")),
    )
    prox_trainer = _trainer_class(trl)(**common, validation=None, prox_tokenizer=tokenizer)
    trl_trainer = trl.SFTTrainer(**common)
    batch = trl_trainer.data_collator([trl_trainer.train_dataset[index] for index in range(len(examples))])
    items = int((batch["labels"] != -100).sum())
    with torch.no_grad():
        ours = prox_trainer.compute_loss(prox_trainer.model, dict(batch), num_items_in_batch=torch.tensor(items))
        theirs = trl_trainer.compute_loss(trl_trainer.model, dict(batch), num_items_in_batch=torch.tensor(items))
    assert torch.isfinite(ours)
    assert torch.allclose(ours, theirs, rtol=1e-4, atol=1e-5)
