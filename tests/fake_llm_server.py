"""A local stand-in for an OpenAI-compatible chat server: a TEST DOUBLE, not a generator.

It lives with the tests, outside the package (nothing in ``src/`` imports it): the unit tests,
the conformance suite and the scripts in ``benchmarks/`` (which put the repository root on
``sys.path``) use it.

:class:`FakeLLMServer` answers ``POST /v1/chat/completions`` on 127.0.0.1 like a competent but
imperfect model would, so that :class:`~synthpatient.synthesizers.llm.LLMSynthesizer` can be
tested, conformance-checked and benchmarked without any network or real model:

* it reads the ``<table_spec>`` JSON block that every prompt carries and answers with rows
  drawn *independently per column* from the marginals stated there (quantiles, or mean/sd,
  or uniform within bounds; category shares; missing rates), seeded by the request's ``seed``
  and text, and honours the ``conditions`` block. It learns nothing and knows no
  correlations: its rows say nothing about what a real LLM would produce;
* it injects faults at configurable rates (:class:`Faults`): 429 with ``Retry-After``, 500,
  answers cut mid-row (``finish_reason="length"``), malformed JSON, prose around the JSON,
  misspelled categories, out-of-range values, duplicate rows, copies of prompt examples and
  rows spliced from two of them;
* it can behave as real local servers do: HTTP 500 to ``json_schema`` (llama.cpp), a
  tokenizer that splits every digit with answers cut at ``max_tokens``, a chat template that
  drops system messages;
* it can play a misconfigured server: unknown model (404), wrong key (401), a context window
  smaller than the prompt (400), no ``response_format`` support (400), prose only, or slow
  answers (for timeouts). :func:`closed_port_url` gives a URL where nothing listens.

Answers depend only on the request body (transport faults, which never change content, also
on how often that body was seen), so the same seeds give the same rows whatever the thread
timing. Token usage is approximated as characters / 4.

Examples:
    >>> with FakeLLMServer(faults=Faults(rate_limit=0.1, truncate=0.05)) as server:
    ...     synth = LLMSynthesizer(base_url=server.url, model="fake-llm", seed=0).fit(real)
    ...     rows = synth.sample(100)
"""

from __future__ import annotations

import hashlib
import json
import math
import socket
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from synthpatient.llm.prompts import read_examples, read_spec

_PROBS = {"p5": 0.05, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 0.95}


@dataclass(frozen=True)
class Faults:
    """Fault rates: per attempt (``rate_limit``, ``server_error``), per answer (``truncate``,
    ``malformed``, ``prose``) or per row (the rest)."""

    rate_limit: float = 0.0
    server_error: float = 0.0
    truncate: float = 0.0
    malformed: float = 0.0
    prose: float = 0.0
    misspell: float = 0.0
    out_of_range: float = 0.0
    duplicate: float = 0.0
    copy_example: float = 0.0
    #: a row spliced from two prompt examples (the first values of one, the rest of another)
    splice_example: float = 0.0
    retry_after_s: float = 0.0


class FakeLLMServer:
    """The test double; see the module docstring. Use as a context manager or call close().

    Args:
        faults: fault rates (none by default).
        models: model names it knows (None: any name).
        api_key: the key it expects as ``Authorization: Bearer ...`` (None: no check).
        context_tokens: context window; longer prompts get HTTP 400 (None: unlimited).
        supports_response_format: False answers HTTP 400 to any ``response_format``.
        prose_only: answer every request with prose and no JSON.
        delay_s: wait this long before answering (to exercise client timeouts).
        json_schema_status: answer this status (llama.cpp's server: 500) to a
            ``response_format`` of type ``json_schema``, naming it; ``json_object`` (with a
            schema beside it) is served.
        digit_tokens: count tokens as tokenizers that split every digit do (each digit one
            token, other text one per 3 characters); answers longer than ``max_tokens`` are
            cut there, as real servers do.
        drops_system: drop system messages before reading the prompt, as chat templates
            without a system role do (llama.cpp's ``gemma``); ``visible_prompts`` records
            what the model saw.
    """

    def __init__(
        self,
        *,
        faults: Faults | None = None,
        models: tuple[str, ...] | None = None,
        api_key: str | None = None,
        context_tokens: int | None = None,
        supports_response_format: bool = True,
        prose_only: bool = False,
        delay_s: float = 0.0,
        json_schema_status: int | None = None,
        digit_tokens: bool = False,
        drops_system: bool = False,
    ) -> None:
        self.faults = faults or Faults()
        self.models, self.context_tokens = models, context_tokens
        self.supports_response_format, self.prose_only = supports_response_format, prose_only
        self.delay_s = delay_s
        self.json_schema_status, self.digit_tokens = json_schema_status, digit_tokens
        self.drops_system = drops_system
        self.visible_prompts: list[str] = []
        self._api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self.injected: Counter[str] = Counter()
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def __enter__(self) -> FakeLLMServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- one request -------------------------------------------------------------------------
    def answer(
        self, body: dict[str, Any], auth: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """(status, JSON body, extra headers) for one request."""
        with self._lock:
            self.requests.append({"body": body, "authorized": auth is not None})
        if self._api_key is not None and auth != f"Bearer {self._api_key}":
            return 401, _error("Incorrect API key provided.", "invalid_api_key"), {}
        model = str(body.get("model", ""))
        if self.models is not None and model not in self.models:
            return 404, _error(f"The model '{model}' does not exist.", "model_not_found"), {}
        messages = body.get("messages") or []
        if self.drops_system:
            messages = [m for m in messages if m.get("role") != "system"]
        with self._lock:
            self.visible_prompts.append("\n".join(str(m.get("content") or "") for m in messages))
        prompt_tokens = sum(self._tokens(str(m.get("content") or "")) for m in messages)
        if self.context_tokens is not None and prompt_tokens > self.context_tokens:
            return (
                400,
                _error(
                    f"This model's maximum context length is {self.context_tokens} "
                    f"tokens. However, your messages resulted in {prompt_tokens} "
                    "tokens.",
                    "context_length_exceeded",
                ),
                {},
            )
        response_format = body.get("response_format")
        if (
            self.json_schema_status is not None
            and isinstance(response_format, dict)
            and response_format.get("type") == "json_schema"
        ):
            return (
                self.json_schema_status,
                _error(
                    "Unsupported response_format type 'json_schema'; use json_object with "
                    "a 'schema'.",
                    "server_error",
                ),
                {},
            )
        if response_format is not None and not self.supports_response_format:
            return (
                400,
                _error("response_format is not supported by this server.", "invalid_request_error"),
                {},
            )
        transport = self._transport_fault(body)
        if transport is not None:
            return transport
        if self.delay_s:
            time.sleep(self.delay_s)
        user = next(
            (str(m.get("content") or "") for m in reversed(messages) if m.get("role") == "user"), ""
        )
        content, finish = self._content(body, user)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": self._tokens(content),
            "total_tokens": prompt_tokens + self._tokens(content),
        }
        return (
            200,
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": finish,
                        "message": {"role": "assistant", "content": content},
                    }
                ],
                "usage": usage,
            },
            {},
        )

    def _transport_fault(self, body: dict[str, Any]) -> tuple[int, dict, dict] | None:
        """429 or 500 by chance, decided per attempt so that a retry can succeed."""
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        with self._lock:
            attempt = self._seen[digest]
            self._seen[digest] += 1
        rng = np.random.default_rng([int(digest[:12], 16), attempt, 1])
        draw = rng.random()
        if draw < self.faults.rate_limit:
            self._count("rate_limit")
            return (
                429,
                _error("Rate limit reached; retry later.", "rate_limit_exceeded"),
                {"Retry-After": f"{self.faults.retry_after_s:g}"},
            )
        if draw < self.faults.rate_limit + self.faults.server_error:
            self._count("server_error")
            return 500, _error("The server had an error.", "server_error"), {}
        return None

    def _count(self, fault: str, n: int = 1) -> None:
        with self._lock:
            self.injected[fault] += n

    def _content(self, body: dict[str, Any], user: str) -> tuple[str, str]:
        """The answer text and its finish reason."""
        seed = body.get("seed")
        text_key = zlib.crc32(user.encode())
        rng = np.random.default_rng(
            [
                int(seed) if isinstance(seed, int) and seed >= 0 else int(time.time_ns() % 2**32),
                text_key,
            ]
        )
        spec = read_spec(user)
        if self.prose_only or spec is None:
            return (
                "I'm sorry, but I can't help create patient records. Patient data is "
                "sensitive; please consult your institution's data team."
            ), "stop"
        rows = self._rows(spec, read_examples(user), rng)
        # every draw happens whatever the request's options, so options never change the rows
        bare, malformed, prose, truncate, cut = rng.random(5)
        if body.get("response_format") is None and bare < 0.2:
            text = json.dumps(rows)  # some models answer a bare array
        else:
            text = json.dumps({"rows": rows})
        finish = "stop"
        if malformed < self.faults.malformed:
            self._count("malformed")
            text = _malform(text, rng)
        elif prose < self.faults.prose:
            self._count("prose")
            text = f"Here are the records you asked for:\n```json\n{text}\n```\nLet me know!"
        if truncate < self.faults.truncate and len(text) > 40:
            self._count("truncate")
            text, finish = text[: int(len(text) * (0.3 + 0.6 * cut))], "length"
        max_tokens = body.get("max_tokens")
        if isinstance(max_tokens, int) and self._tokens(text) > max_tokens:
            text, finish = self._cut(text, max_tokens), "length"
        return text, finish

    def _tokens(self, text: str) -> int:
        if not self.digit_tokens:
            return _tokens(text)
        digits = sum(ch.isdigit() for ch in text)
        return digits + math.ceil((len(text) - digits) / 3)

    def _cut(self, text: str, max_tokens: int) -> str:
        """The longest start of ``text`` within ``max_tokens``."""
        if not self.digit_tokens:
            return text[: max_tokens * 4]
        low, high = 0, len(text)
        while low < high:
            mid = (low + high + 1) // 2
            low, high = (mid, high) if self._tokens(text[:mid]) <= max_tokens else (low, mid - 1)
        return text[:low]

    # -- rows from the stated marginals --------------------------------------------------------
    def _rows(
        self, spec: dict[str, Any], examples: list[dict[str, Any]], rng: np.random.Generator
    ) -> list[dict[str, Any]]:
        n = max(0, min(int(spec.get("n_rows", 10)), 500))
        columns = [c for c in spec.get("columns", []) if isinstance(c, dict) and "name" in c]
        conditions = {c.get("column"): c for c in spec.get("conditions", []) if isinstance(c, dict)}
        rows = [
            {c["name"]: _draw(c, conditions.get(c["name"]), rng) for c in columns} for _ in range(n)
        ]
        for i, row in enumerate(rows):
            self._row_faults(i, row, rows, columns, examples, conditions, rng)
        return rows

    def _row_faults(
        self,
        i: int,
        row: dict[str, Any],
        rows: list[dict[str, Any]],
        columns: list[dict[str, Any]],
        examples: list[dict[str, Any]],
        conditions: dict[str, Any],
        rng: np.random.Generator,
    ) -> None:
        f = self.faults
        if examples and rng.random() < f.copy_example:
            self._count("copy_example")
            row.clear()
            row.update(examples[int(rng.integers(len(examples)))])
            return
        if len(examples) > 1 and rng.random() < f.splice_example:
            self._count("splice_example")
            first, second = rng.choice(len(examples), size=2, replace=False)
            names = [c["name"] for c in columns]
            cut = int(rng.integers(1, len(names))) if len(names) > 1 else 1
            row.clear()
            row.update({n: examples[int(first)].get(n) for n in names[:cut]})
            row.update({n: examples[int(second)].get(n) for n in names[cut:]})
            return
        if i and rng.random() < f.duplicate:
            self._count("duplicate")
            row.clear()
            row.update(rows[int(rng.integers(i))])
            return
        free = [c for c in columns if c["name"] not in conditions]
        categorical = [c for c in free if c.get("kind") == "categorical" and c.get("categories")]
        if categorical and rng.random() < f.misspell:
            self._count("misspell")
            column = categorical[int(rng.integers(len(categorical)))]
            value = (
                row[column["name"]] if row[column["name"]] is not None else column["categories"][0]
            )
            row[column["name"]] = (
                str(value).upper()
                if rng.random() < 0.5 and str(value).upper() != str(value)
                else f"{value}s"
            )
        numeric = [
            c
            for c in free
            if c.get("kind") in ("numeric", "integer")
            and c.get("maximum") is not None
            and c.get("minimum") is not None
        ]
        if numeric and rng.random() < f.out_of_range:
            self._count("out_of_range")
            column = numeric[int(rng.integers(len(numeric)))]
            row[column["name"]] = column["maximum"] + abs(column["maximum"] - column["minimum"]) + 1


def _handler(server: FakeLLMServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # quiet, and never logs headers
            pass

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length", 0))
            raw = self.rfile.read(length)
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send(404, _error(f"No route {self.path}.", "not_found"), {})
                return
            try:
                body = json.loads(raw)
            except ValueError:
                self._send(400, _error("The body is not JSON.", "invalid_request_error"), {})
                return
            try:
                status, payload, headers = server.answer(body, self.headers.get("Authorization"))
            except Exception as exc:  # a test double must answer, never hang the client
                status, payload, headers = 500, _error(type(exc).__name__, "server_error"), {}
            self._send(status, payload, headers)

        def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up (timeout); nothing to do
                pass

    return Handler


def closed_port_url() -> str:
    """A base URL on 127.0.0.1 where nothing listens (an unreachable server)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def _error(message: str, code: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": code, "code": code}}


def _tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def _malform(text: str, rng: np.random.Generator) -> str:
    """Break the JSON the ways models do: a lost character mid-row, Python literals, or
    prose with no JSON at all."""
    mode = rng.integers(3)
    if mode == 0:
        colons = [i for i, ch in enumerate(text) if ch == ":"]
        if colons:
            cut = colons[len(colons) // 2]
            return text[:cut] + text[cut + 1 :]
    if mode == 1:
        return text.replace("null", "None").replace("true", "True").replace('"', "'") + ","
    return "Sure! I generated the records, but the output was too long to show here."


def _draw(
    column: dict[str, Any], condition: dict[str, Any] | None, rng: np.random.Generator
) -> Any:
    """One value of one column from the stated marginals, honouring its condition."""
    if condition is not None and "equals" in condition:
        return condition["equals"]
    if (
        condition is None
        and column.get("nullable")
        and rng.random() < float(column.get("missing_rate", 0.05))
    ):
        return None
    kind = column.get("kind")
    if kind == "categorical":
        return _draw_category(column, rng)
    if kind == "boolean":
        return bool(rng.random() < float(column.get("share_true", 0.5)))
    if kind == "datetime":
        return _draw_date(column, rng)
    return _draw_number(column, condition, rng)


def _draw_category(column: dict[str, Any], rng: np.random.Generator) -> Any:
    pairs = column.get("frequencies")
    if pairs:
        values = [p[0] for p in pairs]
        shares = np.array([float(p[1]) for p in pairs])
        return values[int(rng.choice(len(values), p=shares / shares.sum()))]
    categories = column.get("categories") or ["unknown"]
    return categories[int(rng.integers(len(categories)))]


def _draw_number(
    column: dict[str, Any], condition: dict[str, Any] | None, rng: np.random.Generator
) -> Any:
    low = column.get("minimum", 0.0)
    high = column.get("maximum", 100.0)
    c_low = (condition or {}).get("minimum")
    c_high = (condition or {}).get("maximum")
    for _ in range(30):
        value = _one_number(column, low, high, rng)
        if (c_low is None or value >= c_low) and (c_high is None or value <= c_high):
            break
    else:
        value = rng.uniform(
            low if c_low is None else max(low, c_low), high if c_high is None else min(high, c_high)
        )
    decimals = 0 if column.get("kind") == "integer" else column.get("decimals")
    if decimals is not None:
        value = round(float(value), int(decimals))
        if c_low is not None and value < c_low or c_high is not None and value > c_high:
            value = math.ceil(c_low) if c_low is not None and value < c_low else math.floor(c_high)
    return int(value) if column.get("kind") == "integer" else float(value)


def _one_number(column: dict[str, Any], low: float, high: float, rng: np.random.Generator) -> float:
    quantiles = column.get("quantiles")
    if quantiles:
        probs = [0.0] + [_PROBS[k] for k in quantiles if k in _PROBS] + [1.0]
        values = [low] + [quantiles[k] for k in quantiles if k in _PROBS] + [high]
        return float(np.interp(rng.random(), probs, values))
    if column.get("mean") is not None and column.get("sd") is not None:
        return float(np.clip(rng.normal(column["mean"], column["sd"]), low, high))
    return float(rng.uniform(low, high))


def _draw_date(column: dict[str, Any], rng: np.random.Generator) -> str:
    low = np.datetime64(column.get("minimum", "2000-01-01"), "s").astype(np.int64)
    high = np.datetime64(column.get("maximum", "2024-12-31"), "s").astype(np.int64)
    stamp = np.datetime64(int(rng.integers(low, high + 1)), "s")
    text = str(stamp)
    return text[:10] if column.get("date_format", "YYYY-MM-DD") == "YYYY-MM-DD" else text
