"""A small client for OpenAI-compatible chat-completions servers.

OpenAI, Azure OpenAI, Ollama, vLLM, llama.cpp's server and LM Studio all speak the
``POST {base_url}/chat/completions`` protocol. This client adds what a batch tool needs and
the SDKs leave to the caller: a timeout on every request, retries with exponential backoff
(honouring ``Retry-After``) on 429 and 5xx answers and on timeouts, and one-line errors that
say what to fix. The API key is read from an environment variable the user names, sent only
in the Authorization header, and never printed, logged or put in an error message.

Nothing here runs unless the user configured a server: synthpatient makes no network call
on its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from synthpatient._optional import import_optional
from synthpatient.errors import (
    LLMError,  # noqa: F401  (defined in errors.py; re-exported)
    LLMRequestError,
)

RETRY_STATUSES = {429, 500, 502, 503, 504}
#: words of a server's error that name a request option it does not support; such an answer
#: is not retried (whatever its status: llama.cpp answers HTTP 500 to ``json_schema``), so
#: the caller can drop or change the option at once
OPTION_WORDS = ("response_format", "response format", "json_schema", "grammar", "max_tokens")


@dataclass(frozen=True)
class ChatResult:
    content: str | None
    tool_calls: list[dict[str, Any]]
    finish_reason: str | None
    usage: dict[str, int] = field(default_factory=dict)
    latency_s: float = 0.0
    retries: int = 0
    #: why each retry happened: the HTTP status, or 0 for a timeout (for run reports)
    retry_statuses: tuple[int, ...] = ()


class LLMClient:
    """``chat()`` against an OpenAI-compatible server.

    Requests go through one ``httpx.Client`` (connections are reused, and it is safe to share
    between threads), made on the first request; :meth:`close` (or a ``with`` block) releases
    it. ``transport`` replaces httpx's network transport, e.g. ``httpx.MockTransport(handler)``
    in tests, so that every answer a server can give is replayed without a socket.

    Args:
        base_url: the API's base URL, e.g. ``http://localhost:11434/v1`` (Ollama).
        model: the model name the server knows.
        api_key: the key, sent only in the Authorization header (None: no header).
        timeout_s: limit for each HTTP request, in seconds.
        max_retries: retries of one request on 429, 5xx and timeouts.
        backoff_s: first backoff delay, doubled at each retry (``Retry-After`` honoured).
        transport: an ``httpx.BaseTransport`` to send requests through (None: the network).

    Examples:
        >>> client = LLMClient("http://localhost:11434/v1", model="llama3.1")  # Ollama
        >>> client.chat([{"role": "user", "content": "hello"}]).content
    """

    def __init__(
        self,
        base_url: str,
        *,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 4,
        backoff_s: float = 0.5,
        transport: Any = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise LLMError(
                f"The LLM base URL must start with http:// or https:// (got '{base_url}')."
            )
        if not model:
            raise LLMError("Name the LLM's model (e.g. --llm-model llama3.1).")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self._api_key = api_key
        self.timeout_s, self.max_retries, self.backoff_s = timeout_s, max_retries, backoff_s
        self._transport = transport
        self._http: Any = None
        self._lock = threading.Lock()

    @classmethod
    def from_env(
        cls, base_url: str, *, model: str | None, api_key_env: str = "OPENAI_API_KEY", **kwargs: Any
    ) -> LLMClient:
        """A client whose key comes from the environment variable ``api_key_env`` (may be
        unset for local servers that need none)."""
        return cls(
            base_url, model=model or "", api_key=os.environ.get(api_key_env) or None, **kwargs
        )

    def __repr__(self) -> str:  # never shows the key
        return f"LLMClient(base_url={self.base_url!r}, model={self.model!r})"

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the connections (the client may still be used: it opens new ones)."""
        with self._lock:
            http, self._http = self._http, None
        if http is not None:
            http.close()

    def _client(self, httpx: Any) -> Any:
        with self._lock:
            if self._http is None:
                self._http = httpx.Client(transport=self._transport)
            return self._http

    def chat(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict] | None = None,
        tool_choice: Any = None,
        response_format: dict | None = None,
        temperature: float = 0.0,
        max_tokens: int | None = None,
        seed: int | None = None,
        timeout_s: float | None = None,
    ) -> ChatResult:
        """One chat completion; ``timeout_s`` replaces the client's limit for this call (a
        caller with a deadline gives the time it has left)."""
        httpx = import_optional("httpx", extra="llm", purpose="talking to an LLM server")
        limit = self.timeout_s if timeout_s is None else float(timeout_s)
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": temperature,
        }
        if tools:
            body["tools"] = tools
        if tool_choice is not None:
            body["tool_choice"] = tool_choice
        if response_format is not None:
            body["response_format"] = response_format
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        if seed is not None:  # OpenAI's best-effort reproducibility; vLLM, llama.cpp honour it
            body["seed"] = int(seed)
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        url = f"{self.base_url}/chat/completions"
        start = time.perf_counter()
        retried: list[int] = []
        for attempt in range(self.max_retries + 1):
            try:
                response = self._client(httpx).post(url, json=body, headers=headers, timeout=limit)
            except httpx.TimeoutException:
                retried.append(0)
                if attempt < self.max_retries:
                    self._sleep(attempt, None)
                    continue
                raise LLMRequestError(
                    f"The LLM server at {self.base_url} did not answer within "
                    f"{limit:.3g} s ({attempt + 1} {'try' if attempt == 0 else 'tries'}). "
                    "Try again or raise the timeout.",
                    attempt_statuses=tuple(retried),
                ) from None
            except httpx.HTTPError as exc:
                raise LLMError(
                    f"Cannot reach the LLM server at {self.base_url} "
                    f"({type(exc).__name__}). Check the base URL and that the "
                    "server is running."
                ) from None
            status = response.status_code
            if status >= 400:
                retried.append(status)
            if (
                status in RETRY_STATUSES
                and attempt < self.max_retries
                and not names_an_option(_server_message(response))
            ):
                self._sleep(attempt, response.headers.get("retry-after"))
                continue
            if status >= 400:
                raise LLMRequestError(
                    self._http_error(response),
                    status=status,
                    detail=_server_message(response),
                    attempt_statuses=tuple(retried),
                )
            return self._result(response, time.perf_counter() - start, attempt, tuple(retried))
        raise AssertionError("unreachable")

    def _sleep(self, attempt: int, retry_after: str | None) -> None:
        delay = self.backoff_s * 2**attempt
        if retry_after:
            with contextlib.suppress(ValueError):
                delay = max(delay, min(float(retry_after), 60.0))
        time.sleep(delay)

    def _http_error(self, response: Any) -> str:
        status = response.status_code
        detail = _server_message(response)
        if status in (401, 403):
            return (
                f"The LLM server refused the request (HTTP {status}): check the API key "
                "in the environment variable you named."
            )
        if status == 404:
            return (
                f"The LLM server does not know model '{self.model}' or the path "
                f"/chat/completions (HTTP 404{': ' + detail if detail else ''}). Check "
                "--llm-model and the base URL (it usually ends in /v1)."
            )
        if status == 400 and "context" in detail.lower():
            return (
                f"The prompt is too long for the model's context window (HTTP 400: "
                f"{detail}). Use a model with a longer context or a shorter request."
            )
        if status == 429:
            return (
                f"The LLM server kept rate-limiting the request (HTTP 429) after "
                f"{self.max_retries} retries. Wait and try again."
            )
        detail = detail.rstrip(".")  # the sentence ends once, whatever the server wrote
        return f"The LLM server answered HTTP {status}{': ' + detail if detail else ''}."

    def _result(
        self, response: Any, latency: float, retries: int, retry_statuses: tuple[int, ...] = ()
    ) -> ChatResult:
        try:
            data = response.json()
            choice = data["choices"][0]
            message = choice.get("message") or {}
        except (ValueError, KeyError, IndexError, TypeError):
            raise LLMError(
                "The LLM server's answer is not an OpenAI-style chat completion "
                "(no choices[0].message). Check that the base URL points at an "
                "OpenAI-compatible API."
            ) from None
        return ChatResult(
            content=message.get("content"),
            tool_calls=list(message.get("tool_calls") or []),
            finish_reason=choice.get("finish_reason"),
            usage={k: int(v) for k, v in (data.get("usage") or {}).items() if isinstance(v, int)},
            latency_s=latency,
            retries=retries,
            retry_statuses=retry_statuses,
        )


def names_an_option(detail: str) -> bool:
    """Whether a server's error message names a request option (see ``OPTION_WORDS``)."""
    lowered = detail.lower()
    return any(word in lowered for word in OPTION_WORDS)


def _server_message(response: Any) -> str:
    try:
        data = response.json()
        error = data.get("error", data)
        message = error.get("message") if isinstance(error, dict) else str(error)
    except (ValueError, AttributeError):
        message = response.text
    return " ".join(str(message or "").split())[:200]


def parse_json_object(text: str | None) -> dict | None:
    """The first JSON object in ``text`` (models often wrap it in prose or code fences).

    Braces inside JSON strings are not counted. An object that is never closed (an answer cut
    off at ``max_tokens``) gives None: the objects nested in it are parts of it, not the
    answer (a cut-off cohort request must not be read as its first filter).
    """
    if not text:
        return None
    start = text.find("{")
    while start != -1:
        end = _closing_brace(text, start)
        if end is None:
            return None
        try:
            value = json.loads(text[start : end + 1])
        except ValueError:
            start = text.find("{", start + 1)
            continue
        return value if isinstance(value, dict) else None
    return None


def _closing_brace(text: str, start: int) -> int | None:
    """The index of the brace that closes the one at ``start`` (None: never closed)."""
    depth, in_string, escaped = 0, False, False
    for index in range(start, len(text)):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index
    return None
