"""`prox lite train` with inputs and `-o` on a real S3-compatible server (moto's server mode on 127.0.0.1), and
`--lite-model URL` for `prox refine` and `prox eval`: the same bytes and programs as with local folders."""

from __future__ import annotations

import gzip
import json
import multiprocessing
import pickle
import random
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from prox.cli import main
from prox.generators.lite import LiteGenerator
from prox.lite.model import model_fingerprint

TRAIN_OPTIONS = ["--folds", "2", "--rounds", "20", "--threads", "1"]


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Models fetched from URLs go to a cache folder of the test's own."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _s3():
    import fsspec

    fs = fsspec.filesystem("s3")
    fs.invalidate_cache()
    return fs


def _upload(local: Path, remote: str) -> None:
    """Every file under the local folder `local`, to the same place under `remote`."""
    fs = _s3()
    for path in sorted(local.rglob("*")):
        if path.is_file():
            fs.put_file(str(path), f"{remote}/{path.relative_to(local).as_posix()}")
    fs.invalidate_cache()


def _corpus(tmp_path: Path, synthetic, count: int = 12) -> Path:
    rng = random.Random(41)
    texts = [*("\n".join(synthetic.page(rng)[0]) for _ in range(count)), synthetic.link_list(rng)]
    records = [{"id": f"d{index}", "text": text} for index, text in enumerate(texts)]
    return synthetic.write_jsonl(tmp_path / "corpus" / "docs.jsonl", records)


def test_train_from_s3_to_s3_writes_the_files_of_a_local_train(tmp_path: Path, s3_bucket: str, synthetic, capsys):
    data = tmp_path / "data"
    synthetic.write_jsonl(data / "pages.jsonl", synthetic.page_records(16))
    synthetic.write_jsonl(data / "docs.jsonl", synthetic.doc_records(12))
    corpus = _corpus(tmp_path, synthetic)
    assert main(["refine", str(corpus), "-o", str(data / "teacher"), "--refiner", "rules"]) == 0
    _upload(data, f"{s3_bucket}/data")
    names = ["pages.jsonl", "docs.jsonl", "teacher"]

    assert (
        main(["lite", "train", *(str(data / name) for name in names), "-o", str(tmp_path / "model"), *TRAIN_OPTIONS])
        == 0
    )
    remote_model = f"{s3_bucket}/models/student"
    remote_inputs = [f"{s3_bucket}/data/{name}" for name in names]
    assert main(["lite", "train", *remote_inputs, "-o", remote_model, *TRAIN_OPTIONS]) == 0
    capsys.readouterr()

    fs = _s3()
    local_files = {path.name: path.read_bytes() for path in sorted((tmp_path / "model").iterdir())}
    remote_files = {Path(name).name: fs.cat_file(name) for name in fs.ls(remote_model)}
    assert set(remote_files) == set(local_files) == {"model.json", "text_weights.tsv.gz", "line_model.txt.gz"}
    for name in ("text_weights.tsv.gz", "line_model.txt.gz"):
        assert remote_files[name] == local_files[name], name
    # model.json names its inputs (and reports scores per input file): the s3 ones, else the same bytes
    assert remote_files["model.json"] == local_files["model.json"].replace(
        str(data).encode(), f"{s3_bucket}/data".encode()
    )
    report = json.loads(remote_files["model.json"])["report"]
    assert report["inputs"] == remote_inputs
    assert f"{s3_bucket}/data/teacher/00000.jsonl.gz" in report["line_cross_validation_by_input"]


def test_refine_and_eval_with_a_lite_model_on_s3_act_as_with_the_local_folder(
    tmp_path: Path, s3_bucket: str, trained_dir: Path, synthetic, capsys, _cache_in_tmp: Path
):
    remote_model = f"{s3_bucket}/lite-model"
    _upload(trained_dir, remote_model)
    corpus = _corpus(tmp_path, synthetic)
    for name, model in (("local", str(trained_dir)), ("s3", remote_model)):
        assert main(["refine", str(corpus), "-o", str(tmp_path / name), "--lite-model", model]) == 0

    def outputs(folder: Path) -> dict[str, bytes]:
        found = sorted(path for path in folder.rglob("*.jsonl.gz") if "logs" not in path.parts)
        return {str(path.relative_to(folder)): gzip.decompress(path.read_bytes()) for path in found}

    assert outputs(tmp_path / "s3") == outputs(tmp_path / "local") != {}
    manifests = [json.loads((tmp_path / name / "logs" / "prox-run.json").read_text()) for name in ("local", "s3")]
    assert manifests[1]["refiner"]["model"] == remote_model
    assert manifests[1]["refiner"]["model_sha256"] == manifests[0]["refiner"]["model_sha256"]
    assert model_fingerprint(remote_model) == model_fingerprint(trained_dir)
    assert len(list(_cache_in_tmp.glob("prox/lite-models/*"))) == 1  # one copy, kept

    gold = synthetic.write_jsonl(tmp_path / "gold.jsonl", synthetic.page_records(6, seed=5))
    scores = []
    for model in (str(trained_dir), remote_model):
        assert main(["eval", "lines", "--gold", str(gold), "--lite-model", model, "--json"]) == 0
        scores.append(json.loads(capsys.readouterr().out))
    assert scores[0] == scores[1] and scores[0]["pages"] == 6


def test_a_pickled_generator_fetches_its_s3_model_once_in_a_new_process(
    tmp_path: Path, s3_bucket: str, trained_dir: Path, synthetic
):
    remote_model = f"{s3_bucket}/lite-model"
    _upload(trained_dir, remote_model)
    local, remote = LiteGenerator(str(trained_dir)), LiteGenerator(remote_model)
    pickled = pickle.dumps(remote)  # before describe(), so the new process works out the fingerprint itself
    assert remote.describe()["model_sha256"] == local.describe()["model_sha256"]
    assert remote.label == local.label
    texts = ["\n".join(synthetic.page(random.Random(seed))[0]) for seed in range(3)]
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        programs, fingerprint, fetches = pool.submit(_doc_programs_in_a_new_process, pickled, texts).result()
    assert programs == local.doc_programs(texts)
    assert fingerprint == local.describe()["model_sha256"]
    assert fetches == 1  # the model and its fingerprint share one copy


def _doc_programs_in_a_new_process(pickled: bytes, texts: list[str]) -> tuple[list[str], str, int]:
    """What a datatrove task does with a pickled generator, in a process that has never loaded the model."""
    from prox.storage import local_copy

    generator = pickle.loads(pickled)
    programs = generator.doc_programs(texts)
    fingerprint = generator.describe()["model_sha256"]
    return programs, fingerprint, local_copy.cache_info().misses


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("input", "{bucket}/no-such.jsonl: no such file"),
        ("output", "s3://prox-no-such-bucket/model: neither it nor a folder above it exists"),
        ("model", "{bucket}/no-such-model: no such folder"),
        ("model-bucket", "s3://prox-no-such-bucket/model: FileNotFoundError: The specified bucket does not exist"),
    ],
)
def test_s3_errors_are_one_line(tmp_path: Path, s3_bucket: str, synthetic, capsys, where: str, message: str):
    """A missing file, folder or bucket is one line naming the location, exit status 2, before any training."""
    pages = synthetic.write_jsonl(tmp_path / "pages.jsonl", synthetic.page_records(4))
    argv = {
        "input": ["lite", "train", f"{s3_bucket}/no-such.jsonl", "-o", str(tmp_path / "model")],
        "output": ["lite", "train", str(pages), "-o", "s3://prox-no-such-bucket/model"],
        "model": ["eval", "lines", "--gold", str(pages), "--lite-model", f"{s3_bucket}/no-such-model"],
        "model-bucket": [
            "refine",
            str(pages),
            "-o",
            str(tmp_path / "out"),
            "--lite-model",
            "s3://prox-no-such-bucket/model",
        ],
    }[where]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert f"error: {message.format(bucket=s3_bucket)}" in error
    assert not (tmp_path / "model").exists()
