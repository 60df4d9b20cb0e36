"""Rows written by a chat model behind any OpenAI-compatible API, checked like untrusted input.

OpenAI, Azure OpenAI (v1 API), Ollama, vLLM, llama.cpp's server and LM Studio all serve
``POST {base_url}/chat/completions``. ``fit`` learns, offline, only what a prompt needs: the
schema and summary statistics of each learned column (and, for the ``advanced`` prompt, the
strongest correlations and missing-value rules). ``sample`` asks the model for rows in batches
(bounded concurrency, a seed per request, JSON-schema structured output where the server has
it) and trusts nothing it gets back: every row is parsed robustly, validated against the
fitted schema (types, the exact category vocabulary, bounds, conditions), de-duplicated, and
rejected when it copies a prompt example or a training row. Everything is counted in a
:class:`~synthpatient.llm.costs.GenerationReport` (``last_run_``), cost and time per 1,000
valid unique rows included. Why: prompt-based generators published so far report rows that
are largely copies of their prompt examples, misspelled categories and cut-off answers (see
``shared/reference/llm-generators.md``); here each of those is caught and measured.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from synthpatient.llm import prompts
from synthpatient.llm.client import ChatResult, LLMClient, LLMError
from synthpatient.llm.costs import GenerationReport
from synthpatient.llm.parsing import parse_rows
from synthpatient.schema import ColumnSpec, Schema, category_key
from synthpatient.synthesizers._conditions import Condition
from synthpatient.synthesizers._params import is_finite_number, is_int
from synthpatient.synthesizers._persistence import expect
from synthpatient.synthesizers.base import Capabilities, Synthesizer

STRUCTURED_OUTPUT = ("auto", "json_schema", "json_object", "off")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MISSING_WORDS = {"", "null", "none", "nan", "na", "n/a", "missing", "unknown"}
_BOOL_WORDS = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}
_QUANTILES = {"p5": 0.05, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 0.95}
#: answers in a row with no JSON rows at all before a run gives up (a model writing prose)
MAX_ROWLESS_ANSWERS = 3
MAX_CORRELATIONS = 8
MAX_RULES = 6


class GenerationIncompleteError(LLMError):
    """Fewer valid rows than asked. ``rows`` holds those obtained (a finished table, possibly
    empty) and ``report`` the run's counts; the synthesizer keeps them too, as
    ``partial_rows_`` and ``last_run_``."""

    def __init__(self, message: str, *, rows: pd.DataFrame, report: GenerationReport,
                 status: int | None = None, detail: str = "") -> None:
        super().__init__(message, status=status, detail=detail)
        self.rows = rows
        self.report = report


class LLMSynthesizer(Synthesizer):
    """Synthetic rows from a chat model, validated, de-duplicated and accounted for.

    Nothing is sent anywhere during ``fit``. During ``sample`` each prompt carries the schema
    (column kinds, bounds, decimals, the real category vocabulary) and, from ``improved`` on,
    summary statistics: these include the real minimum and maximum of each column and are
    sent to the server you name. Real rows are sent **only** when ``include_examples=True``;
    they are then also **saved in the model folder** (so that copies of them can still be
    recognised after loading). Without it the model keeps no training row, only keyed hashes
    of them, to reject exact copies.

    The same seed gives the same rows when the server answers a request the same way each
    time (``seed`` is sent with every request; OpenAI treats it as best effort, local servers
    such as vLLM and llama.cpp honour it).

    Args:
        base_url: the API's base URL, e.g. ``https://api.openai.com/v1`` or
            ``http://localhost:11434/v1`` (Ollama).
        model: the model name the server knows.
        api_key_env: the NAME of the environment variable holding the API key (read when
            sampling; may be unset for local servers). The key is never stored, saved, logged
            or shown.
        prompt_level: ``basic`` (schema), ``improved`` (+ statistics) or ``advanced``
            (+ correlations and rule hints).
        system_level: ``none``, ``role`` or ``strict`` (role + JSON-only rules).
        include_examples: send ``n_examples`` real rows in every prompt (opt-in; see above).
        n_examples: how many example rows, when included.
        rows_per_request: rows asked for in one request.
        max_concurrency: requests in flight at once.
        temperature: sampling temperature sent to the server.
        timeout_s: limit for each HTTP request, in seconds.
        max_retries: retries of one request on 429, 5xx and timeouts (with backoff, honouring
            ``Retry-After``).
        backoff_s: first backoff delay; doubled at each retry.
        price_per_1k_input_tokens, price_per_1k_output_tokens: your prices, for the cost
            figures (any currency; 0 gives cost 0).
        structured_output: ``auto`` (JSON-schema output, falling back to plain JSON in text
            when the server refuses it), ``json_schema``, ``json_object`` or ``off``.
        max_requests: request budget of one ``sample`` call; None means
            3 x (rows / rows_per_request) + 5.
        reject_training_copies: reject rows equal to a training row (turn off only for tables
            whose rows repeat by chance, e.g. a few categorical columns).
        seed: seed for fitting and the default seed for sampling.

    Examples:
        >>> synth = LLMSynthesizer(base_url="http://localhost:11434/v1", model="llama3.1",
        ...                        price_per_1k_input_tokens=0.00015,
        ...                        price_per_1k_output_tokens=0.0006, seed=0).fit(real)
        >>> rows = synth.sample(1000)
        >>> print(synth.last_run_.summary())
    """

    key = "llm"
    capabilities = Capabilities(native_conditions=True, range_conditions=True,
                                handles_missing=True, needs_network=True, extra="llm")
    min_rows = 10
    endpoint_params = ("base_url", "api_key_env")

    def __init__(self, *, base_url: str | None = None, model: str | None = None,
                 api_key_env: str = "SYNTHPATIENT_LLM_API_KEY", prompt_level: str = "improved",
                 system_level: str = "strict", include_examples: bool = False,
                 n_examples: int = 6, rows_per_request: int = 20, max_concurrency: int = 4,
                 temperature: float = 1.0, timeout_s: float = 120.0, max_retries: int = 4,
                 backoff_s: float = 1.0, price_per_1k_input_tokens: float = 0.0,
                 price_per_1k_output_tokens: float = 0.0, structured_output: str = "auto",
                 max_requests: int | None = None, reject_training_copies: bool = True,
                 seed: int | None = None) -> None:
        self.base_url = base_url
        self.model = model
        self.api_key_env = api_key_env
        self.prompt_level = prompt_level
        self.system_level = system_level
        self.include_examples = include_examples
        self.n_examples = n_examples
        self.rows_per_request = rows_per_request
        self.max_concurrency = max_concurrency
        self.temperature = temperature
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.price_per_1k_input_tokens = price_per_1k_input_tokens
        self.price_per_1k_output_tokens = price_per_1k_output_tokens
        self.structured_output = structured_output
        self.max_requests = max_requests
        self.reject_training_copies = reject_training_copies
        super().__init__(seed=seed)

    # -- parameters ----------------------------------------------------------------------------
    def _validate_params(self) -> None:
        super()._validate_params()
        self._require("base_url", isinstance(self.base_url, str)
                      and self.base_url.startswith(("http://", "https://")),
                      "the server's OpenAI-compatible base URL, starting with http:// or "
                      "https:// (e.g. http://localhost:11434/v1 for Ollama)")
        self._require("model", isinstance(self.model, str) and bool(self.model.strip()),
                      "the name of a model the server knows (e.g. gpt-4o-mini, llama3.1)")
        if not (isinstance(self.api_key_env, str) and _ENV_NAME.match(self.api_key_env)):
            from synthpatient.errors import InvalidParameterError

            # never echo the value: someone may have passed the key itself
            raise InvalidParameterError(
                "The 'api_key_env' parameter of LLMSynthesizer must be the NAME of an "
                "environment variable holding the key (e.g. OPENAI_API_KEY), not the key.")
        for name, choices in (("prompt_level", prompts.PROMPT_LEVELS),
                              ("system_level", prompts.SYSTEM_LEVELS),
                              ("structured_output", STRUCTURED_OUTPUT)):
            self._require(name, getattr(self, name) in choices, f"one of {', '.join(choices)}")
        for name in ("include_examples", "reject_training_copies"):
            self._require(name, isinstance(getattr(self, name), bool), "True or False")
        for name, low, high in (("n_examples", 1, 50), ("rows_per_request", 1, 500),
                                ("max_concurrency", 1, 64), ("max_retries", 0, 20)):
            value = getattr(self, name)
            self._require(name, is_int(value) and low <= value <= high,
                          f"a whole number from {low} to {high}")
        for name, low, high in (("temperature", 0.0, 2.0), ("timeout_s", 1e-3, 3600.0),
                                ("backoff_s", 0.0, 60.0),
                                ("price_per_1k_input_tokens", 0.0, math.inf),
                                ("price_per_1k_output_tokens", 0.0, math.inf)):
            value = getattr(self, name)
            self._require(name, is_finite_number(value) and low <= float(value) <= high,
                          f"a number from {low:g} to {high:g}")
        self._require("max_requests", self.max_requests is None
                      or (is_int(self.max_requests) and self.max_requests >= 1),
                      "None or a whole number >= 1")

    # -- fit (offline) -------------------------------------------------------------------------
    def _fit(self, data: pd.DataFrame, schema: Schema, rng: np.random.Generator) -> None:
        specs = schema.learned
        self.columns_ = [s.name for s in specs]
        columns = [_column_profile(spec, data[spec.name]) for spec in specs]
        self.profile_ = {"columns": columns, "correlations": _correlations(data, specs),
                         "rules": _missing_rules(data, specs)}
        keys = _RowKeys(specs)
        self.hash_key_ = rng.bytes(16).hex()
        hashes = {keys.hash(keys.key(row), self.hash_key_)
                  for row in data.itertuples(index=False, name=None)}
        self.training_hashes_ = np.array(sorted(hashes), dtype=np.uint64)
        self.examples_: list[dict[str, Any]] = []
        if self.include_examples:
            chosen = np.sort(rng.choice(len(data), size=min(self.n_examples, len(data)),
                                        replace=False))
            self.examples_ = [_json_row(specs, data.iloc[int(i)]) for i in chosen]

    # -- sample --------------------------------------------------------------------------------
    def _sample(self, n_rows: int, rng: np.random.Generator,
                conditions: list[Condition]) -> pd.DataFrame:
        specs = [self.schema_[c] for c in self.columns_]
        run = _Run(self, specs, conditions, n_rows)
        self.last_run_ = run.report
        self.partial_rows_: pd.DataFrame | None = None
        client = LLMClient(str(self.base_url), model=str(self.model),
                           api_key=os.environ.get(self.api_key_env) or None,
                           timeout_s=float(self.timeout_s), max_retries=self.max_retries,
                           backoff_s=float(self.backoff_s))
        base_seed = int(rng.integers(2**31 - 1))
        budget = self.max_requests or 3 * math.ceil(n_rows / self.rows_per_request) + 5
        pool = ThreadPoolExecutor(max_workers=self.max_concurrency,
                                  thread_name_prefix="synthpatient-llm")
        start = time.perf_counter()
        try:
            index = 0
            while (len(run.accepted) < n_rows and run.report.requests < budget
                   and run.fatal is None):
                plan = run.plan(first=index == 0, budget_left=budget - run.report.requests)
                futures = [pool.submit(self._request, client, run, m, _request_seed(base_seed,
                                                                                     index + i))
                           for i, m in enumerate(plan)]
                index += len(plan)
                for future in futures:  # in request order: the rows do not depend on timing
                    run.absorb(future.result())
                run.check_progress()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
            run.report.wall_s = time.perf_counter() - start
        run.report.rows_delivered = min(len(run.accepted), n_rows)
        if len(run.accepted) < n_rows:
            self._fail(run, rng, budget)
        return run.frame(n_rows)

    def _request(self, client: LLMClient, run: _Run, n_rows: int, seed: int) -> _Outcome:
        """One request (in a worker thread); errors come back as values, never raised."""
        messages = prompts.messages(
            self.profile_, prompt_level=self.prompt_level, system_level=self.system_level,
            n_rows=n_rows, conditions=run.conditions_json, examples=self.examples_ or None)
        outcome = _Outcome(asked=n_rows, prompt_chars=sum(len(m["content"]) for m in messages))
        while True:
            response_format = run.response_format()
            max_tokens = run.max_tokens(n_rows)
            try:
                outcome.result = client.chat(messages, response_format=response_format,
                                             temperature=float(self.temperature),
                                             max_tokens=max_tokens, seed=seed)
                return outcome
            except LLMError as exc:
                if response_format is not None and run.drops_response_format(exc):
                    outcome.fallbacks += 1
                    continue
                if max_tokens is not None and run.drops_max_tokens(exc):
                    continue
                outcome.error = exc
                return outcome

    def _fail(self, run: _Run, rng: np.random.Generator, budget: int) -> None:
        """Keep the valid rows obtained, then raise one line saying what happened."""
        report = run.report
        got = len(run.accepted)
        partial = self._finalize(run.frame(got), got, run.conditions, rng) if got else \
            self._finalize(self._empty_learned(), 0, run.conditions, rng)
        self.partial_rows_ = partial
        kept = (f" The {got} valid rows are kept in .partial_rows_ and the run's counts in "
                ".last_run_." if got else " The run's counts are in .last_run_.")
        if run.fatal is not None:
            message = self._explain(run.fatal)
            report.error = message
            if got:
                message += f" Got {got} of {run.n_rows} valid rows before it stopped.{kept}"
            raise GenerationIncompleteError(message, rows=partial, report=report,
                                            status=run.fatal.status, detail=run.fatal.detail)
        reasons = Counter(report.invalid_by_reason)
        reasons.update({"duplicate": report.duplicates, "example_copy": report.example_copies,
                        "training_copy": report.training_copies})
        top = ", ".join(f"{k} {v}" for k, v in reasons.most_common(3) if v) or "none"
        report.error = f"request budget ({budget}) spent"
        raise GenerationIncompleteError(
            f"Only {got} of {run.n_rows} valid rows after {report.requests} requests (the "
            f"budget, max_requests={budget}); {report.rows_parsed} rows were parsed, most "
            f"rejections: {top}.{kept} Raise max_requests, relax the conditions, or try a "
            "stronger model or prompt_level.", rows=partial, report=report)

    def _explain(self, exc: LLMError) -> str:
        """The client's one-line error, with the hint that fits this synthesizer."""
        message = str(exc)
        if exc.status in (401, 403):
            state = "is set" if os.environ.get(self.api_key_env) else "is not set"
            return f"{message} The key is read from ${self.api_key_env}, which {state}."
        if exc.status == 400 and "context" in exc.detail.lower():
            return (f"{message} For this synthesizer: lower rows_per_request, use "
                    "prompt_level='basic', or fewer/no example rows.")
        return message

    # -- state ---------------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        state = {"columns": self.columns_, "profile": self.profile_,
                 "examples": self.examples_, "hash_key": self.hash_key_}
        return state, {"training_hashes": self.training_hashes_}

    def _set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        specs = self.schema_.learned
        self.columns_ = list(state["columns"])
        expect(self.columns_ == [s.name for s in specs],
               "the model's columns differ from the schema's learned columns")
        # prompts are built from the profile at sampling time: its shape is checked now
        profile = state["profile"]
        expect(isinstance(profile, dict) and isinstance(profile.get("columns"), list)
               and isinstance(profile.get("correlations", []), list)
               and isinstance(profile.get("rules", []), list),
               "the model's table profile is not a profile")
        expect(len(profile["columns"]) == len(specs) and all(
            isinstance(c, dict) and c.get("name") == spec.name and c.get("kind") == spec.kind
            and (spec.kind != "categorical" or (isinstance(c.get("categories"), list) and len(
                c["categories"]) == len(spec.categories or ())))
            for c, spec in zip(profile["columns"], specs, strict=False)),
            "the model's table profile does not describe the learned columns")
        self.profile_ = profile
        examples = state["examples"]
        expect(isinstance(examples, list) and all(
            isinstance(row, dict) and list(row) == self.columns_ for row in examples),
            "the model's example rows do not have the learned columns")
        self.examples_ = list(examples)
        expect(isinstance(state["hash_key"], str) and len(state["hash_key"]) > 0,
               "the model's hash key is missing")
        self.hash_key_ = state["hash_key"]
        hashes = arrays["training_hashes"]
        expect(hashes.ndim == 1 and hashes.dtype == np.uint64,
               "the training rows' hashes are not a list of 64-bit hashes")
        self.training_hashes_ = np.asarray(hashes, dtype=np.uint64)


# -- one run ---------------------------------------------------------------------------------
@dataclass
class _Outcome:
    """What one request gave: a chat result or an error, and what it asked for."""

    asked: int
    prompt_chars: int
    result: ChatResult | None = None
    error: LLMError | None = None
    fallbacks: int = 0


@dataclass
class _Run:
    """The state of one ``sample`` call: counts, accepted rows, server quirks learned."""

    synth: LLMSynthesizer
    specs: list[ColumnSpec]
    conditions: list[Condition]
    n_rows: int
    accepted: list[tuple[Any, ...]] = field(default_factory=list)
    fatal: LLMError | None = None
    report: GenerationReport = field(init=False)

    def __post_init__(self) -> None:
        s = self.synth
        self.report = GenerationReport(
            model=str(s.model), prompt_level=s.prompt_level, system_level=s.system_level,
            include_examples=bool(s.examples_), rows_requested=self.n_rows,
            structured_output=self._initial_format(),
            price_per_1k_input_tokens=float(s.price_per_1k_input_tokens),
            price_per_1k_output_tokens=float(s.price_per_1k_output_tokens))
        self.conditions_json = [_condition_json(self.synth.schema_[c.column], c)
                                for c in self.conditions]
        self.keys = _RowKeys(self.specs)
        self.validator = _RowValidator(self.specs, self.conditions)
        self.seen: set[str] = set()
        self.training = set(self.synth.training_hashes_.tolist())
        self.example_keys = set()
        for row in self.synth.examples_:
            values, _ = self.validator.check(row, Counter())
            if values is not None:
                self.example_keys.add(self.keys.key(values))
        self.rowless = 0
        self.send_max_tokens = getattr(self.synth, "_send_max_tokens", True)
        self.tokens_per_row = _tokens_per_row(self.synth.profile_)

    # -- request options the server may refuse ---------------------------------------------
    def _initial_format(self) -> str:
        chosen = self.synth.structured_output
        if chosen == "auto":
            return "off" if getattr(self.synth, "_no_response_format", False) else "json_schema"
        return chosen

    def response_format(self) -> dict[str, Any] | None:
        mode = self.report.structured_output
        if mode == "json_schema":
            return prompts.response_format(self.synth.profile_, self.conditions_json)
        return {"type": "json_object"} if mode == "json_object" else None

    def drops_response_format(self, exc: LLMError) -> bool:
        """In ``auto`` mode a server that refuses ``response_format`` gets plain requests
        from now on (remembered by the synthesizer, not saved)."""
        detail = exc.detail.lower()
        if (self.synth.structured_output != "auto" or exc.status not in (400, 422)
                or "context" in detail or not any(word in detail for word in (
                    "response_format", "json_schema", "structured", "response format"))):
            return False
        self.report.structured_output = "off"
        self.report.response_format_fallbacks += 1
        self.synth._no_response_format = True
        return True

    def max_tokens(self, n_rows: int) -> int | None:
        if not self.send_max_tokens:
            return None
        return int(math.ceil(n_rows * self.tokens_per_row * 1.5)) + 100

    def drops_max_tokens(self, exc: LLMError) -> bool:
        """Reasoning models refuse ``max_tokens``: stop sending it."""
        if exc.status == 400 and "max_tokens" in exc.detail:
            self.send_max_tokens = False
            self.synth._send_max_tokens = False
            return True
        return False

    # -- planning ----------------------------------------------------------------------------
    def plan(self, *, first: bool, budget_left: int) -> list[int]:
        """Rows to ask for in each request of the next round.

        The first round is one request alone: a misconfigured server fails once, not
        ``max_concurrency`` times, and a refused ``response_format`` is learned before the
        others go out. Later rounds aim at the rows still needed, at the yield seen so far.
        """
        rpr = self.synth.rows_per_request
        report = self.report
        rate = report.rows_accepted / report.rows_asked if report.rows_asked else 1.0
        rate = min(1.0, max(rate, 0.1))
        target = math.ceil((self.n_rows - len(self.accepted)) / rate * 1.1)
        if first:
            return [max(1, min(rpr, target))]
        k = max(1, min(math.ceil(target / rpr), 2 * self.synth.max_concurrency, budget_left))
        return [max(1, min(rpr, math.ceil(target / k)))] * k

    # -- reading answers -------------------------------------------------------------------
    def absorb(self, outcome: _Outcome) -> None:
        """Count one request and keep its good rows."""
        report = self.report
        report.requests += 1
        report.rows_asked += outcome.asked
        if outcome.error is not None:
            report.failed_requests += 1
            if self.fatal is None:
                self.fatal = outcome.error
            return
        result = outcome.result
        assert result is not None
        report.retries += result.retries
        for status in result.retry_statuses:
            if status == 429:
                report.rate_limited += 1
            elif status == 0:
                report.timeouts += 1
            else:
                report.server_errors += 1
        self._count_tokens(outcome, result)
        parsed = parse_rows(result.content)
        truncated = result.finish_reason == "length" or parsed.cut_off
        report.truncated_answers += truncated
        report.malformed_answers += (not truncated) and (not parsed.strict
                                                         or parsed.bad_fragments > 0)
        report.wrapped_answers += parsed.wrapped
        report.empty_answers += not parsed.rows
        self.rowless = 0 if parsed.rows or report.rows_parsed else self.rowless + 1
        for raw in parsed.rows:
            self._consider(raw)

    def _count_tokens(self, outcome: _Outcome, result: ChatResult) -> None:
        report = self.report
        usage = result.usage
        if "prompt_tokens" in usage and "completion_tokens" in usage:
            report.input_tokens += usage["prompt_tokens"]
            report.output_tokens += usage["completion_tokens"]
        else:  # the server sent no usage: about 4 characters a token
            report.tokens_estimated = True
            report.input_tokens += math.ceil(outcome.prompt_chars / 4)
            report.output_tokens += math.ceil(len(result.content or "") / 4)
        report.latency_s += result.latency_s

    def _consider(self, raw: dict[str, Any]) -> None:
        """Validate one parsed row, then reject copies and duplicates; keep the rest."""
        report = self.report
        report.rows_parsed += 1
        reasons: Counter[str] = Counter()
        values, fixed = self.validator.check(raw, reasons)
        report.spellings_fixed += fixed
        if values is None:
            report.add_invalid(reasons)
            return
        report.rows_schema_valid += 1
        key = self.keys.key(values)
        if key in self.example_keys:
            report.example_copies += 1
        elif (self.synth.reject_training_copies
              and self.keys.hash(key, self.synth.hash_key_) in self.training):
            report.training_copies += 1
        elif key in self.seen:
            report.duplicates += 1
        else:
            self.seen.add(key)
            self.accepted.append(values)
            report.rows_accepted += 1

    def check_progress(self) -> None:
        """A model that answers only prose is stopped after a few answers, not the budget."""
        if self.fatal is None and self.rowless >= MAX_ROWLESS_ANSWERS:
            self.fatal = LLMError(
                f"The model gave {self.rowless} answers without any JSON rows (prose, e.g. a "
                "refusal). Try system_level='strict', structured_output='json_schema' on a "
                "server that supports it, or another model.")

    def frame(self, n_rows: int) -> pd.DataFrame:
        """The first ``n_rows`` accepted rows, one column per learned column."""
        rows = self.accepted[:n_rows]
        out: dict[str, Any] = {}
        for j, spec in enumerate(self.specs):
            values = [row[j] for row in rows]
            if spec.kind in ("numeric", "integer"):
                out[spec.name] = pd.Series([np.nan if v is None else v for v in values],
                                           dtype=float)
            elif spec.kind == "datetime":
                out[spec.name] = pd.Series(pd.to_datetime(values), dtype="datetime64[ns]")
            else:
                out[spec.name] = pd.Series(values, dtype=object)
        return pd.DataFrame(out, columns=[s.name for s in self.specs])


def _request_seed(base: int, index: int) -> int:
    """The seed of request ``index``: a function of the run's seed and the index only."""
    return int(np.random.default_rng([base, index]).integers(2**31 - 1))


# -- validating rows -------------------------------------------------------------------------
class _RowValidator:
    """One parsed row -> canonical values in column order, or None with the reason counted.

    A category is accepted when spelled exactly as in the real data (CSV-style ``"1"`` for
    ``1`` included); a different case or stray spaces is mapped back to the real spelling and
    counted (``spellings_fixed``); anything else is rejected, so the vocabulary stays the real
    one.
    """

    def __init__(self, specs: list[ColumnSpec], conditions: list[Condition]) -> None:
        self.specs = specs
        self.conditions = {c.column: c for c in conditions}
        self.lookup = {s.name: {category_key(c): c for c in s.categories or ()} for s in specs
                       if s.kind == "categorical"}
        self.folded = {name: _folded(table) for name, table in self.lookup.items()}

    def check(self, raw: dict[str, Any], reasons: Counter[str]) -> tuple[tuple | None, int]:
        if not any(spec.name in raw for spec in self.specs):
            reasons["not_a_row"] += 1
            return None, 0
        values, fixed = [], 0
        for spec in self.specs:
            value, reason, was_fixed = self._value(spec, raw.get(spec.name))
            if reason is None and spec.name in self.conditions and not _meets(
                    spec, value, self.conditions[spec.name]):
                reason = "breaks_condition"
            if reason is not None:
                reasons[reason] += 1
                return None, 0
            fixed += was_fixed
            values.append(value)
        return tuple(values), fixed

    def _value(self, spec: ColumnSpec, value: Any) -> tuple[Any, str | None, int]:
        """(canonical value, rejection reason or None, 1 if a spelling was fixed)."""
        if spec.kind == "categorical" and value is not None:
            table = self.lookup[spec.name]
            key = category_key(value)
            if key in table:
                return table[key], None, 0
            folded = self.folded[spec.name].get(key.strip().casefold())
            if folded is not None:
                return folded, None, 1
        if value is None or (isinstance(value, str) and value.strip().lower() in _MISSING_WORDS):
            return (None, None, 0) if spec.nullable else (None, "missing_value", 0)
        if spec.kind == "categorical":
            return None, "unknown_category", 0
        if spec.kind == "boolean":
            return _boolean(value)
        if spec.kind == "datetime":
            return _date(spec, value)
        return _number(spec, value)


def _folded(table: dict[str, Any]) -> dict[str, Any]:
    """Case- and space-insensitive lookup, only for spellings that stay unambiguous."""
    counts = Counter(k.strip().casefold() for k in table)
    return {k.strip().casefold(): v for k, v in table.items() if counts[k.strip().casefold()] == 1}


def _boolean(value: Any) -> tuple[Any, str | None, int]:
    if isinstance(value, bool):
        return value, None, 0
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value), None, 0
    if isinstance(value, str) and value.strip().lower() in _BOOL_WORDS:
        return _BOOL_WORDS[value.strip().lower()], None, 0
    return None, "wrong_type", 0


def _number(spec: ColumnSpec, value: Any) -> tuple[Any, str | None, int]:
    if isinstance(value, bool):
        return None, "wrong_type", 0
    try:
        number = float(value.strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return None, "wrong_type", 0
    if not math.isfinite(number):
        return None, "wrong_type", 0
    if spec.kind == "integer" and not number.is_integer():
        return None, "wrong_type", 0
    if ((spec.minimum is not None and number < float(spec.minimum))
            or (spec.maximum is not None and number > float(spec.maximum))):
        return None, "out_of_range", 0
    decimals = 0 if spec.kind == "integer" else spec.decimals
    return (round(number, decimals) if decimals is not None else number), None, 0


def _date(spec: ColumnSpec, value: Any) -> tuple[Any, str | None, int]:
    if not isinstance(value, str):
        return None, "wrong_type", 0
    try:
        stamp = pd.Timestamp(value.strip())
    except (TypeError, ValueError):
        return None, "wrong_type", 0
    if stamp is pd.NaT or pd.isna(stamp):
        return None, "wrong_type", 0
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert(None)
    if spec.datetime_unit == "day":
        stamp = stamp.normalize()
    if ((spec.minimum is not None and stamp < pd.Timestamp(spec.minimum))
            or (spec.maximum is not None and stamp > pd.Timestamp(spec.maximum))):
        return None, "out_of_range", 0
    return stamp, None, 0


def _meets(spec: ColumnSpec, value: Any, cond: Condition) -> bool:
    """Whether a validated value meets its condition (missing never does)."""
    if value is None:
        return False
    if spec.kind in ("categorical", "boolean"):
        return category_key(value) == category_key(cond.value)
    number = float(value.value) if isinstance(value, pd.Timestamp) else float(value)
    if cond.kind == "equal":
        return math.isclose(number, float(cond.value), rel_tol=0, abs_tol=1e-9)
    return ((cond.low is None or number >= cond.low - 1e-9)
            and (cond.high is None or number <= cond.high + 1e-9))


class _RowKeys:
    """Canonical text of a row (for duplicates and copies) and its keyed hash.

    Training rows are kept only as 64-bit keyed BLAKE2b hashes of this text, so the saved
    model holds no training row; the key (random, saved with the model) stops precomputed
    tables, not a guess-and-check attack on a table with few, coarse columns.
    """

    def __init__(self, specs: list[ColumnSpec]) -> None:
        self.specs = specs

    def key(self, row: tuple[Any, ...]) -> str:
        return "\x1f".join(_canonical(spec, value) for spec, value in zip(self.specs, row,
                                                                          strict=True))

    @staticmethod
    def hash(key: str, hash_key: str) -> int:
        digest = hashlib.blake2b(key.encode(), digest_size=8, key=bytes.fromhex(hash_key))
        return int.from_bytes(digest.digest(), "little")


def _canonical(spec: ColumnSpec, value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "\x00"
    if spec.kind in ("numeric", "integer"):
        decimals = 0 if spec.kind == "integer" else spec.decimals
        return f"{float(value):.{6 if decimals is None else decimals}f}"
    if spec.kind == "datetime":
        stamp = pd.Timestamp(value)
        return (stamp.normalize() if spec.datetime_unit == "day" else stamp).isoformat()
    if spec.kind == "boolean":
        return str(bool(value))
    return category_key(value)


# -- what fit learns -------------------------------------------------------------------------
def _json_value(spec: ColumnSpec, value: Any) -> Any:
    """A value as the prompt writes it (dates as ISO text, numpy scalars as Python)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if spec.kind == "datetime":
        stamp = pd.Timestamp(value)
        return stamp.date().isoformat() if spec.datetime_unit == "day" else stamp.isoformat()
    if spec.kind in ("numeric", "integer"):
        decimals = 0 if spec.kind == "integer" else spec.decimals
        number = round(float(value), decimals) if decimals is not None else float(value)
        return int(number) if spec.kind == "integer" else number
    if spec.kind == "boolean":
        return bool(value)
    return value.item() if isinstance(value, np.generic) else value


def _json_row(specs: list[ColumnSpec], row: pd.Series) -> dict[str, Any]:
    return {spec.name: _json_value(spec, row[spec.name]) for spec in specs}


def _column_profile(spec: ColumnSpec, values: pd.Series) -> dict[str, Any]:
    """Schema facts and summary statistics of one column; the prompt level picks which go."""
    out: dict[str, Any] = {"name": spec.name, "kind": spec.kind, "nullable": spec.nullable,
                           "unit": spec.unit, "description": spec.description,
                           "missing_rate": round(float(values.isna().mean()), 3)}
    present = values.dropna()
    if spec.kind == "categorical":
        categories = [_json_value(spec, c) for c in spec.categories or ()]
        lookup = {category_key(c): c for c in spec.categories or ()}
        counts = Counter(category_key(v) for v in present)
        total = max(len(present), 1)
        out.update(categories=categories,
                   frequencies=[[_json_value(spec, lookup[k]), round(counts.get(k, 0) / total, 3)]
                                for k in lookup])
    elif spec.kind == "boolean":
        out["share_true"] = round(float(np.mean([bool(v) for v in present])) if len(present)
                                  else 0.0, 3)
    elif spec.kind == "datetime":
        stamps = pd.to_datetime(present)
        out["date_format"] = "YYYY-MM-DD" if spec.datetime_unit == "day" else \
            "YYYY-MM-DDTHH:MM:SS"
        for bound in ("minimum", "maximum"):
            if getattr(spec, bound) is not None:
                out[bound] = _json_value(spec, pd.Timestamp(getattr(spec, bound)))
        if len(stamps):
            nanos = stamps.astype("int64").to_numpy(dtype=float)
            out["quantiles"] = {k: _json_value(spec, pd.Timestamp(int(np.quantile(nanos, q))))
                                for k, q in _QUANTILES.items()}
    else:
        decimals = 0 if spec.kind == "integer" else spec.decimals
        for bound in ("minimum", "maximum"):
            if getattr(spec, bound) is not None:
                out[bound] = _json_value(spec, float(getattr(spec, bound)))
        out["decimals"] = decimals
        if len(present):
            numbers = present.to_numpy(dtype=float)
            digits = 3 if decimals is None else decimals + 1
            out["mean"] = round(float(numbers.mean()), digits)
            out["sd"] = round(float(numbers.std(ddof=1)) if len(numbers) > 1 else 0.0, digits)
            out["quantiles"] = {k: round(float(np.quantile(numbers, q)), digits)
                                for k, q in _QUANTILES.items()}
    return out


def _correlations(data: pd.DataFrame, specs: list[ColumnSpec]) -> list[list[Any]]:
    """The strongest Spearman correlations between numeric-like columns: [a, b, rho]."""
    numeric: dict[str, pd.Series] = {}
    for spec in specs:
        column = data[spec.name]
        if spec.kind in ("numeric", "integer"):
            numeric[spec.name] = pd.to_numeric(column, errors="coerce")
        elif spec.kind == "boolean":
            numeric[spec.name] = column.map(lambda v: float(bool(v)), na_action="ignore")
        elif spec.kind == "datetime":
            stamps = pd.to_datetime(column)
            numeric[spec.name] = stamps.astype("int64").where(stamps.notna()).astype(float)
    if len(numeric) < 2:
        return []
    ranks = pd.DataFrame(numeric).rank()
    matrix = ranks.corr(min_periods=10)
    names = list(matrix.columns)
    pairs = [(names[i], names[j], float(matrix.iloc[i, j])) for i in range(len(names))
             for j in range(i + 1, len(names)) if np.isfinite(matrix.iloc[i, j])]
    pairs = [p for p in pairs if abs(p[2]) >= 0.1]
    pairs.sort(key=lambda p: -abs(p[2]))
    return [[a, b, round(r, 2)] for a, b, r in pairs[:MAX_CORRELATIONS]]


def _missing_rules(data: pd.DataFrame, specs: list[ColumnSpec]) -> list[str]:
    """Missing-value rules that hold in every real row, e.g. a cause of death only when died
    is true: the structure that independent draws would break most visibly."""
    rules: list[str] = []
    groups = [s for s in specs if s.kind in ("categorical", "boolean")]
    min_group = max(5, int(0.02 * len(data)))
    for spec in specs:
        present = data[spec.name].notna()
        if present.all() or not present.any():
            continue
        for group in groups:
            if group.name == spec.name:
                continue
            column = data[group.name]
            for value in column.dropna().unique():
                mask = (column == value).to_numpy()
                shown = _json_value(group, value)
                if mask.sum() >= min_group and not present[mask].any():
                    rules.append(f"'{spec.name}' is null whenever '{group.name}' is {shown!r}.")
                elif present[mask].all() and (~present[~mask]).all() and mask.sum() >= min_group:
                    rules.append(f"'{spec.name}' is present exactly when '{group.name}' is "
                                 f"{shown!r}.")
    return rules[:MAX_RULES]


def _condition_json(spec: ColumnSpec, cond: Condition) -> dict[str, Any]:
    """A condition as the prompt and the JSON schema write it."""
    def value(v: float | None) -> Any:
        if v is None:
            return None
        if spec.kind == "datetime":
            return _json_value(spec, pd.Timestamp(int(v)))
        return int(v) if spec.kind == "integer" else float(v)

    if cond.kind == "equal":
        shown = _json_value(spec, cond.value) if spec.kind in ("categorical", "boolean") \
            else value(cond.value)
        return {"column": cond.column, "equals": shown}
    out: dict[str, Any] = {"column": cond.column}
    if cond.low is not None:
        out["minimum"] = value(cond.low)
    if cond.high is not None:
        out["maximum"] = value(cond.high)
    return out


def _tokens_per_row(profile: dict[str, Any]) -> float:
    """A generous guess of one row's output tokens (numbers cost ~1 token per 2-3 chars)."""
    chars = 2
    for column in profile["columns"]:
        chars += len(column["name"]) + 6
        if column["kind"] == "categorical":
            chars += max((len(str(c)) for c in column.get("categories") or ["x"]), default=1) + 2
        elif column["kind"] == "datetime":
            chars += 21
        elif column["kind"] == "boolean":
            chars += 5
        else:
            chars += len(str(column.get("maximum", 1e6))) + (column.get("decimals") or 0) + 3
    return chars / 2.5
