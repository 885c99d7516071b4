"""Completions and chat answers from any OpenAI-compatible server: vllm serve, SGLang, llama.cpp, TGI, hosted APIs.

A completion request is one POST to `{base_url}/completions` with the prompt's token ids (or its text, for
servers that take no ids), `temperature=0` and `max_tokens`; a chat request (a teacher LLM) is one POST to
`{base_url}/chat/completions` with its messages, its temperature (0 by default) and `max_tokens`. Both share
one transport: requests run concurrently (at most `concurrency` in flight); 429s, 5xx, connection errors,
timeouts and unreadable bodies are retried with capped, jittered exponential backoff. A request that still
fails, or that the server refuses (another 4xx), becomes a `GenerationFailure` for that request alone; the
rest of the batch is unaffected.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from prox.generators.base import GenerationFailure
from prox.generators.lm.base import CompletionBackend, CompletionRequest
from prox.generators.lm.chat import ChatAnswer, ChatBackend, ChatRequest, ChatResult, ResultCallback
from prox.generators.settings import OptionSet, option

if TYPE_CHECKING:
    import httpx

PromptForm = Literal["ids", "text"]
MAX_BACKOFF = 30.0
_RETRIED_STATUSES = frozenset({408, 429})  # plus every 5xx


def _import_httpx():
    try:
        import httpx
    except ImportError:
        raise ImportError("the openai backend needs httpx: pip install 'prox[lm]'") from None
    return httpx


class _Retry(Exception):
    """An attempt that failed in a way worth retrying; the message says what happened."""


class _Refused(Exception):
    """An attempt the server refused for good (a 4xx other than the retried ones)."""


class _Post(NamedTuple):
    """One request to send: where, the JSON body, and how to read the answer out of the decoded reply."""

    url: str
    body: dict
    read: Callable[[Any], Any]


class OpenAIBackend(CompletionBackend, ChatBackend):
    """Completions and chat answers from an OpenAI-compatible server at `base_url` (e.g. `http://host:8000/v1`).

    `max_retries` counts the attempts after the first; `timeout` bounds each attempt, in seconds.
    For completions, `send="ids"` posts the token ids (exactly what the release's engine saw); `send="text"`
    posts the prompt text, which the server tokenizes itself (most add a BOS of their own before the text's
    `<s>`). Chat requests always post their messages.
    """

    name = "openai"

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        concurrency: int = 16,
        timeout: float = 120.0,
        max_retries: int = 4,
        backoff: float = 1.0,
        send: PromptForm = "ids",
        max_backoff: float = MAX_BACKOFF,
    ):
        _import_httpx()
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"--base-url must be an http(s) URL like http://localhost:8000/v1; got {base_url!r}")
        if send not in ("ids", "text"):
            raise ValueError(f"send must be 'ids' or 'text'; got {send!r}")
        if concurrency < 1 or max_retries < 0 or timeout <= 0 or backoff < 0:
            raise ValueError("concurrency must be >= 1, max_retries >= 0, timeout > 0 and backoff >= 0")
        self.url = base_url.rstrip("/") + "/completions"
        self.chat_url = base_url.rstrip("/") + "/chat/completions"
        self.api_key = api_key
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.send = send

    def complete(self, requests: Sequence[CompletionRequest]) -> list[str | GenerationFailure]:
        posts: list[_Post | GenerationFailure] = []
        for request in requests:
            if self.send == "text" and not request.prompt_text:
                posts.append(GenerationFailure("openai: the request has no prompt text to send (send='text')"))
            else:
                posts.append(_Post(self.url, self.payload(request), _completion_text))
        return self._run(posts)

    def chat(self, requests: Sequence[ChatRequest], on_result: ResultCallback | None = None) -> list[ChatResult]:
        posts = [_Post(self.chat_url, self.chat_payload(request), _chat_answer) for request in requests]
        return self._run(posts, on_result)

    def payload(self, request: CompletionRequest) -> dict:
        """The JSON body of one completion request: greedy, one choice, `max_tokens` new tokens."""
        prompt: list[int] | str = list(request.prompt_ids) if self.send == "ids" else request.prompt_text
        return {
            "model": request.model,
            "prompt": prompt,
            "max_tokens": request.max_new_tokens,
            "temperature": 0,
            "n": 1,
        }

    def chat_payload(self, request: ChatRequest) -> dict:
        """The JSON body of one chat request: its messages and temperature, one choice, `max_tokens` new tokens."""
        return {
            "model": request.model,
            "messages": [{"role": message.role, "content": message.content} for message in request.messages],
            "max_tokens": request.max_new_tokens,
            "temperature": request.temperature,
            "n": 1,
        }

    def retry_delay(self, retry: int) -> float:
        """Seconds to wait before retry number `retry` (1, 2, ...): exponential, capped, with jitter."""
        delay = min(self.max_backoff, self.backoff * 2 ** (retry - 1))
        return delay * random.uniform(0.5, 1.0)

    def _run(self, posts: Sequence[_Post | GenerationFailure], on_result: ResultCallback | None = None) -> list:
        """Each post's answer or failure, in order; a failure given in place of a post is passed through.
        `on_result` hears of each post's result as soon as it is known."""
        if not any(isinstance(post, _Post) for post in posts):
            return list(posts)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self._send_all(posts, on_result))
        # Called from inside a running event loop (a notebook, an async caller): run ours on a thread.
        results: list[list] = []
        errors: list[BaseException] = []

        def run_in_thread() -> None:
            try:
                results.append(asyncio.run(self._send_all(posts, on_result)))
            except BaseException as error:  # re-raised in the caller's thread
                errors.append(error)

        thread = threading.Thread(target=run_in_thread, name="prox-openai-backend")
        thread.start()
        thread.join()
        if errors:
            raise errors[0]
        return results[0]

    async def _send_all(self, posts: Sequence[_Post | GenerationFailure], on_result: ResultCallback | None) -> list:
        httpx = _import_httpx()
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        semaphore = asyncio.Semaphore(self.concurrency)

        async def send(index: int, post: _Post | GenerationFailure) -> Any:
            result = await self._send_one(client, semaphore, post)
            if on_result is not None and isinstance(post, _Post):
                # No await since the slot was freed: the answer is handed on before the slot sends another request.
                on_result(index, result)
            return result

        async with httpx.AsyncClient(headers=headers, limits=limits, timeout=httpx.Timeout(self.timeout)) as client:
            return list(await asyncio.gather(*(send(index, post) for index, post in enumerate(posts))))

    async def _send_one(
        self, client: httpx.AsyncClient, semaphore: asyncio.Semaphore, post: _Post | GenerationFailure
    ) -> Any:
        if isinstance(post, GenerationFailure):
            return post
        attempts = self.max_retries + 1
        problem = "no attempt made"
        for attempt in range(1, attempts + 1):
            if attempt > 1:
                await asyncio.sleep(self.retry_delay(attempt - 1))
            try:
                # The semaphore is held for the request only, not for the backoff sleep.
                async with semaphore:
                    return await asyncio.wait_for(self._attempt(client, post), self.timeout)
            except _Retry as error:
                problem = str(error)
            except _Refused as error:
                return _failure(str(error), attempt)
            except asyncio.TimeoutError:
                problem = f"timed out after {self.timeout:g}s"
            except Exception as error:  # httpx's transport errors, and anything unforeseen
                problem = _describe_error(error)
                if not _is_transport_error(error):
                    return _failure(problem, attempt)
        return _failure(problem, attempts)

    async def _attempt(self, client: httpx.AsyncClient, post: _Post) -> Any:
        response = await client.post(post.url, json=post.body)
        if response.status_code != 200:
            message = f"HTTP {response.status_code}{_server_message(response)}"
            if response.status_code in _RETRIED_STATUSES or response.status_code >= 500:
                raise _Retry(message)
            raise _Refused(message)
        try:
            reply = response.json()
        except ValueError:
            raise _Retry("the server answered with invalid JSON") from None
        return post.read(reply)


def _completion_text(reply: Any) -> str:
    """`choices[0].text` of a completions reply."""
    try:
        text = reply["choices"][0]["text"]
    except (KeyError, IndexError, TypeError):
        raise _Retry("the server's answer has no choices[0].text") from None
    if not isinstance(text, str):
        raise _Retry("the server's choices[0].text is not a string")
    return text


def _chat_answer(reply: Any) -> ChatAnswer:
    """`choices[0].message.content` of a chat reply, with the token counts of its `usage` when it has them."""
    try:
        choice = reply["choices"][0]
        text = choice["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise _Retry("the server's answer has no choices[0].message.content") from None
    if not isinstance(text, str):
        # vLLM answers null content when a reasoning parser took the whole output, for instance.
        raise _Retry("the server's choices[0].message.content is not a string")
    usage = reply.get("usage") if isinstance(reply.get("usage"), dict) else {}
    finish_reason = choice.get("finish_reason")
    return ChatAnswer(
        text,
        prompt_tokens=_count(usage.get("prompt_tokens")),
        completion_tokens=_count(usage.get("completion_tokens")),
        finish_reason=finish_reason if isinstance(finish_reason, str) else None,
    )


def _count(value: object) -> int:
    return value if type(value) is int and value >= 0 else 0


def _failure(problem: str, attempts: int) -> GenerationFailure:
    return GenerationFailure(f"openai: {problem} after {attempts} attempt{'s' if attempts != 1 else ''}")


def _server_message(response: httpx.Response) -> str:
    """The server's own error message, shortened to one line, in parentheses (empty when it gave none)."""
    try:
        error = response.json().get("error", "")
        message = error.get("message", "") if isinstance(error, dict) else str(error)
    except (ValueError, AttributeError):
        message = response.text
    message = " ".join(str(message).split())
    if len(message) > 200:
        message = message[:197] + "..."
    return f" ({message})" if message else ""


def _is_transport_error(error: Exception) -> bool:
    httpx = _import_httpx()
    return isinstance(error, (httpx.RequestError, OSError))


def _describe_error(error: Exception) -> str:
    httpx = _import_httpx()
    if isinstance(error, httpx.TimeoutException):
        return f"timed out ({type(error).__name__})"
    detail = " ".join(str(error).split())
    return f"{type(error).__name__}: {detail}" if detail else type(error).__name__


@dataclass(frozen=True)
class OpenAISettings(OptionSet):
    """Options of the OpenAI-compatible server backend; checked when made."""

    title = "openai backend"

    base_url: str | None = option(None, "openai: the server's base URL, e.g. http://localhost:8000/v1", metavar="URL")
    api_key: str | None = option(None, "openai: API key, if the server wants one", metavar="KEY")
    concurrency: int | None = option(None, "openai: requests in flight at once", metavar="N", kind=int)
    request_timeout: float | None = option(None, "openai: seconds per request", metavar="S", kind=float)
    max_retries: int | None = option(None, "openai: retries of a failed request", metavar="N", kind=int)

    def __post_init__(self) -> None:
        if not self.base_url:
            raise ValueError("--backend openai needs --base-url URL (the server's, e.g. http://localhost:8000/v1)")
        if self.concurrency is not None and self.concurrency < 1:
            raise ValueError("--concurrency must be at least 1")
        if self.max_retries is not None and self.max_retries < 0:
            raise ValueError("--max-retries must be 0 or more")

    def build(self) -> OpenAIBackend:
        given = {
            "api_key": self.api_key,
            "concurrency": self.concurrency,
            "timeout": self.request_timeout,
            "max_retries": self.max_retries,
        }
        return OpenAIBackend(self.base_url or "", **{key: value for key, value in given.items() if value is not None})
