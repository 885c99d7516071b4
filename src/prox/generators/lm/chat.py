"""Chat requests: messages in, text out. How a teacher LLM (an instruction model behind a hosted API or
`vllm serve`) is asked, as opposed to the refiners, which are sent token ids (`base.CompletionRequest`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from prox.generators.base import GenerationFailure


class ChatMessage(NamedTuple):
    """One turn of a conversation: `role` is "system", "user" or "assistant"."""

    role: str
    content: str


@dataclass(frozen=True)
class ChatRequest:
    """One chat completion: the model, the conversation so far, and how to decode the answer."""

    model: str
    messages: tuple[ChatMessage, ...]
    max_new_tokens: int
    temperature: float = 0.0

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1; got {self.max_new_tokens}")
        if not self.messages:
            raise ValueError("a chat request needs at least one message")


@dataclass(frozen=True)
class ChatAnswer:
    """The model's answer and what it cost: tokens in and out as the server counted them (0 and 0 when the
    server did not say, or when the answer came from the request cache)."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None  # "stop"; "length" when the answer was cut off at max_new_tokens
    cached: bool = False


ChatResult = ChatAnswer | GenerationFailure
# Told each request's index and result as soon as it is known, before the rest of the batch is.
ResultCallback = Callable[[int, ChatResult], None]


class ChatBackend(ABC):
    """Answers chat requests: one result per request, in order; a failed request fails alone."""

    name: str = "chat"

    @abstractmethod
    def chat(self, requests: Sequence[ChatRequest], on_result: ResultCallback | None = None) -> list[ChatResult]:
        """The answer, or why there is none, per request; `on_result` is called with each as it comes in (so a
        caller can keep it at once: a killed run then loses only the requests in flight)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free connections."""
