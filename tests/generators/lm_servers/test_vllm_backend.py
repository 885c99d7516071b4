"""The vLLM backend: its prompts and sampling settings, its batching and failures (with a stand-in `vllm`
module), and a real engine where vLLM is installed."""

from __future__ import annotations

import copy
import pickle
import sys
import types
from dataclasses import dataclass

import pytest

from prox.generators.base import GenerationFailure
from prox.generators.lm.base import CompletionRequest, group_requests
from prox.generators.lm.vllm_backend import VLLMBackend, engine_kwargs, sampling_kwargs, token_prompt

# --- the pure parts ---


def test_prompts_are_the_token_ids_as_they_are():
    request = CompletionRequest("m", (1, 1, 518, 25580), 256, "<s><s>[INST]")
    assert token_prompt(request) == {"prompt_token_ids": [1, 1, 518, 25580]}


def test_sampling_is_greedy_with_the_requested_length_and_special_tokens_skipped():
    assert sampling_kwargs(2000) == {"n": 1, "temperature": 0.0, "max_tokens": 2000, "skip_special_tokens": True}


def test_requests_are_grouped_by_model_and_length_in_first_seen_order():
    requests = [
        CompletionRequest("doc", (1,), 2000),
        CompletionRequest("chunk", (1,), 256),
        CompletionRequest("doc", (2,), 2000),
        CompletionRequest("doc", (3,), 10),
        CompletionRequest("chunk", (2,), 256),
    ]
    groups = group_requests(requests)
    assert list(groups.items()) == [(("doc", 2000), [0, 2]), (("chunk", 256), [1, 4]), (("doc", 10), [3])]


def test_engine_kwargs_pass_the_extra_options_through():
    assert engine_kwargs("m", 0.45, 2, "bfloat16", max_model_len=2048) == {
        "model": "m",
        "gpu_memory_utilization": 0.45,
        "tensor_parallel_size": 2,
        "dtype": "bfloat16",
        "max_model_len": 2048,
    }


# --- the backend, with a stand-in vllm module ---


@dataclass
class _Completion:
    text: str


@dataclass
class _Output:
    outputs: list[_Completion]


class _FakeLLM:
    """Answers `model:last id:max tokens`; a prompt containing 666 makes the whole batch raise, like a prompt
    longer than max_model_len does in vLLM."""

    built: list[dict] = []  # noqa: RUF012 - a record shared by the instances of one test
    calls: list[tuple[str, int]] = []  # noqa: RUF012

    def __init__(self, **kwargs):
        if kwargs["model"] == "missing":
            raise OSError("missing is not a local folder and not on the Hub")
        self.model = kwargs["model"]
        _FakeLLM.built.append(kwargs)

    def generate(self, prompts, params, use_tqdm=True):
        _FakeLLM.calls.append((self.model, len(prompts)))
        assert use_tqdm is False and params.kwargs["temperature"] == 0.0
        if any(666 in prompt["prompt_token_ids"] for prompt in prompts):
            raise ValueError("The decoder prompt (length 3000) is longer than the maximum model length of 2048.")
        return [
            _Output([_Completion(f"{self.model}:{p['prompt_token_ids'][-1]}:{params.kwargs['max_tokens']}")])
            for p in prompts
        ]


class _FakeSamplingParams:
    def __init__(self, **kwargs):
        self.kwargs = kwargs


@pytest.fixture
def fake_vllm(monkeypatch):
    module = types.ModuleType("vllm")
    module.LLM = _FakeLLM
    module.SamplingParams = _FakeSamplingParams
    monkeypatch.setitem(sys.modules, "vllm", module)
    _FakeLLM.built, _FakeLLM.calls = [], []
    return module


def test_one_engine_per_model_built_on_first_use_with_its_share_of_the_gpu(fake_vllm):
    backend = VLLMBackend(gpu_memory_utilization=0.8, max_model_len=2048)
    assert _FakeLLM.built == []

    requests = [
        CompletionRequest("doc", (1, 5), 2000),
        CompletionRequest("chunk", (1, 6), 256),
        CompletionRequest("doc", (1, 7), 2000),
    ]
    assert backend.complete(requests) == ["doc:5:2000", "chunk:6:256", "doc:7:2000"]
    assert backend.complete(requests[:1]) == ["doc:5:2000"]

    assert [kwargs["model"] for kwargs in _FakeLLM.built] == ["doc", "chunk"]
    assert {kwargs["gpu_memory_utilization"] for kwargs in _FakeLLM.built} == {0.4}
    assert all(kwargs["max_model_len"] == 2048 and kwargs["dtype"] == "auto" for kwargs in _FakeLLM.built)
    assert _FakeLLM.calls == [("doc", 2), ("chunk", 1), ("doc", 1)]


def test_a_bad_prompt_fails_alone_when_the_engine_rejects_its_batch(fake_vllm):
    requests = [CompletionRequest("doc", (1, ids), 100) for ids in (5, 666, 7)]
    results = VLLMBackend().complete(requests)

    assert results[0] == "doc:5:100" and results[2] == "doc:7:100"
    assert results[1] == GenerationFailure(
        "vllm: ValueError: The decoder prompt (length 3000) is longer than the maximum model length of 2048."
    )


def test_a_model_that_cannot_load_fails_its_requests_and_is_not_reloaded(fake_vllm):
    backend = VLLMBackend()
    requests = [CompletionRequest("missing", (1,), 10), CompletionRequest("doc", (1, 2), 10)]

    for _ in range(2):
        results = backend.complete(requests)
        assert isinstance(results[0], GenerationFailure)
        assert results[0].reason.startswith("vllm: could not load missing: OSError")
        assert results[1] == "doc:2:10"
    assert [kwargs["model"] for kwargs in _FakeLLM.built] == ["doc"]


def test_copies_start_without_engines(fake_vllm):
    backend = VLLMBackend()
    backend.complete([CompletionRequest("doc", (1,), 10)])

    for clone in (copy.deepcopy(backend), pickle.loads(pickle.dumps(backend))):
        assert clone._engines == {}
        assert clone.complete([CompletionRequest("doc", (3,), 10)]) == ["doc:3:10"]
    assert len(_FakeLLM.built) == 3


def test_without_vllm_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)
    backend = VLLMBackend()  # building the backend needs no vLLM; generating does
    with pytest.raises(ImportError, match=r"pip install 'prox\[vllm\]'"):
        backend.complete([CompletionRequest("doc", (1,), 10)])


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        VLLMBackend(gpu_memory_utilization=1.5)
    with pytest.raises(ValueError):
        VLLMBackend(models_per_gpu=0)


# --- a real engine ---


def test_a_real_engine_generates_what_transformers_generates(tiny_model_dir, tiny_llama, llama2_tokenizer):
    pytest.importorskip("vllm")
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("the vLLM engine test needs a GPU")
    from completion_servers import greedy_ids

    prompts = [llama2_tokenizer.encode(text).ids for text in ("Hello world", "The cell is the unit of life.")]
    backend = VLLMBackend(gpu_memory_utilization=0.3, dtype="float32", max_model_len=512, enforce_eager=True)
    try:
        results = backend.complete([CompletionRequest(str(tiny_model_dir), tuple(ids), 8) for ids in prompts])
    finally:
        backend.close()

    expected = [llama2_tokenizer.decode(greedy_ids(tiny_llama, ids, 8), skip_special_tokens=True) for ids in prompts]
    assert results == expected
