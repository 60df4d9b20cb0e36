"""Rows written by a chat model behind any OpenAI-compatible API, checked like untrusted input.

OpenAI, Azure OpenAI (v1 API), Ollama, vLLM, llama.cpp's server and LM Studio all serve
``POST {base_url}/chat/completions``. ``fit`` learns, offline, only what a prompt needs: the
schema and summary statistics of each learned column (and, for the ``advanced`` prompt, the
strongest correlations and missing-value rules). ``sample`` asks the model for rows in batches
(bounded concurrency, a seed per request, JSON-schema structured output where the server has
it) and trusts nothing it gets back: every row is parsed robustly, validated against the
fitted schema (types, the exact category vocabulary, bounds, conditions), de-duplicated, and
rejected when it copies a prompt example or a training row. Everything is counted in a
:class:`~synthpatient.llm.costs.GenerationReport` (``last_sample_report_``), cost and time per
1,000 valid unique rows included. What fit learns is in ``_llm_profile``; reading the answers'
rows in ``_llm_rows``. Why: prompt-based generators published so far report rows that
are largely copies of their prompt examples, misspelled categories and cut-off answers (see
``shared/reference/llm-generators.md``); here each of those is caught and measured.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from synthpatient._row_hash import new_key
from synthpatient.errors import GenerationIncompleteError
from synthpatient.llm import prompts
from synthpatient.llm.client import LLMClient, LLMError
from synthpatient.llm.costs import GenerationReport
from synthpatient.schema import Schema
from synthpatient.synthesizers._conditions import Condition
from synthpatient.synthesizers._constraints import (
    API_KEY_ENV,
    URL,
    Boolean,
    Interval,
    Options,
    Param,
    Text,
)
from synthpatient.synthesizers._llm_profile import (
    column_profile,
    correlations,
    json_row,
    missing_rules,
)
from synthpatient.synthesizers._llm_rows import RowKeys
from synthpatient.synthesizers._llm_run import MAX_ROWLESS_ANSWERS, _Outcome, _request_seed, _Run
from synthpatient.synthesizers._persistence import expect
from synthpatient.synthesizers.base import Capabilities, Synthesizer

# GenerationIncompleteError is defined in errors.py and one run's bookkeeping in _llm_run;
# both stay importable from here
__all__ = [
    "MAX_ROWLESS_ANSWERS",
    "STRUCTURED_OUTPUT",
    "GenerationIncompleteError",
    "LLMSynthesizer",
]

STRUCTURED_OUTPUT = ("auto", "json_schema", "json_object", "off")
_HEX_KEY = re.compile(r"[0-9a-f]{16}")


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
        structured_output: ``auto`` (negotiated per server: JSON-schema output, then
            ``json_object`` with the schema beside it (what llama.cpp's server constrains
            to), then plain JSON in text, stepping down whenever the server answers an error,
            of any 4xx/5xx status, that names the option), ``json_schema``, ``json_object``
            or ``off``.
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
        >>> print(synth.last_sample_report_.summary())
    """

    key = "llm"
    capabilities = Capabilities(
        native_conditions=True,
        range_conditions=True,
        handles_missing=True,
        needs_network=True,
        extra="llm",
    )
    min_rows = 10
    endpoint_params = ("base_url", "api_key_env")
    # what the server refused during an earlier sample (set by the run, kept for the next one)
    _structured_output_now: str = "json_schema"  # auto mode: where negotiation ended
    _send_max_tokens: bool = True
    _parameter_constraints = {
        "base_url": Param(
            URL(
                "the server's OpenAI-compatible base URL, starting with http:// "
                "or https:// (e.g. http://localhost:11434/v1 for Ollama)"
            )
        ),
        "model": Param(Text("the name of a model the server knows (e.g. gpt-4o-mini, llama3.1)")),
        "api_key_env": API_KEY_ENV,
        "prompt_level": Param(Options(*prompts.PROMPT_LEVELS)),
        "system_level": Param(Options(*prompts.SYSTEM_LEVELS)),
        "include_examples": Param(Boolean()),
        "n_examples": Param(Interval(int, 1, 50)),
        "rows_per_request": Param(Interval(int, 1, 500)),
        "max_concurrency": Param(Interval(int, 1, 64)),
        "temperature": Param(Interval(float, 0, 2)),
        "timeout_s": Param(Interval(float, 1e-3, 3600)),
        "max_retries": Param(Interval(int, 0, 20)),
        "backoff_s": Param(Interval(float, 0, 60)),
        "price_per_1k_input_tokens": Param(Interval(float, 0, None)),
        "price_per_1k_output_tokens": Param(Interval(float, 0, None)),
        "structured_output": Param(Options(*STRUCTURED_OUTPUT)),
        "max_requests": Param(Interval(int, 1, None), None),
        "reject_training_copies": Param(Boolean()),
    }

    def __init__(
        self,
        *,
        base_url: str | None = None,
        model: str | None = None,
        api_key_env: str = "SYNTHPATIENT_LLM_API_KEY",
        prompt_level: str = "improved",
        system_level: str = "strict",
        include_examples: bool = False,
        n_examples: int = 6,
        rows_per_request: int = 20,
        max_concurrency: int = 4,
        temperature: float = 1.0,
        timeout_s: float = 120.0,
        max_retries: int = 4,
        backoff_s: float = 1.0,
        price_per_1k_input_tokens: float = 0.0,
        price_per_1k_output_tokens: float = 0.0,
        structured_output: str = "auto",
        max_requests: int | None = None,
        reject_training_copies: bool = True,
        seed: int | None = None,
    ) -> None:
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

    # -- fit (offline) -------------------------------------------------------------------------
    def _fit(self, data: pd.DataFrame, schema: Schema, rng: np.random.Generator) -> None:
        specs = schema.learned
        self.columns_ = [s.name for s in specs]
        columns = [column_profile(spec, data[spec.name]) for spec in specs]
        self.profile_ = {
            "columns": columns,
            "correlations": correlations(data, specs),
            "rules": missing_rules(data, specs),
        }
        self.hash_key_ = new_key(rng)
        keys = RowKeys(specs)
        hashes = keys.hashes(keys.frame_keys(data[self.columns_]), self.hash_key_)
        self.training_hashes_ = np.unique(hashes)
        self.examples_: list[dict[str, Any]] = []
        if self.include_examples:
            chosen = np.sort(
                rng.choice(len(data), size=min(self.n_examples, len(data)), replace=False)
            )
            self.examples_ = [json_row(specs, data.iloc[int(i)]) for i in chosen]

    # -- sample --------------------------------------------------------------------------------
    def _sample(
        self, n_rows: int, rng: np.random.Generator, conditions: list[Condition]
    ) -> pd.DataFrame:
        specs = [self.schema_[c] for c in self.columns_]
        run = _Run(self, specs, conditions, n_rows)
        # the base class may call _sample again within one sample() (rows drawn again to
        # keep a relation): those runs are added to the call's one report
        earlier = self.last_sample_report_
        self.last_sample_report_ = run.report
        self.partial_rows_: pd.DataFrame | None = None
        client = LLMClient(
            str(self.base_url),
            model=str(self.model),
            api_key=os.environ.get(self.api_key_env) or None,
            timeout_s=float(self.timeout_s),
            max_retries=self.max_retries,
            backoff_s=float(self.backoff_s),
        )
        base_seed = int(rng.integers(2**31 - 1))
        budget = self.max_requests or 3 * math.ceil(n_rows / self.rows_per_request) + 5
        pool = ThreadPoolExecutor(
            max_workers=self.max_concurrency, thread_name_prefix="synthpatient-llm"
        )
        start = time.perf_counter()
        try:
            index = 0
            while len(run.accepted) < n_rows and run.report.requests < budget and run.fatal is None:
                plan = run.plan(first=index == 0, budget_left=budget - run.report.requests)
                futures = [
                    pool.submit(self._request, client, run, m, _request_seed(base_seed, index + i))
                    for i, m in enumerate(plan)
                ]
                index += len(plan)
                for future in futures:  # in request order: the rows do not depend on timing
                    run.absorb(future.result())
                run.check_progress()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
            client.close()
            run.report.wall_s = time.perf_counter() - start
        run.report.rows_delivered = min(len(run.accepted), n_rows)
        if isinstance(earlier, GenerationReport):
            earlier.add_run(run.report)
            self.last_sample_report_ = earlier
        if len(run.accepted) < n_rows:
            self._fail(run, rng, budget)
        return run.frame(n_rows)

    def _request(self, client: LLMClient, run: _Run, n_rows: int, seed: int) -> _Outcome:
        """One request (in a worker thread); errors come back as values, never raised."""
        messages = prompts.messages(
            self.profile_,
            prompt_level=self.prompt_level,
            system_level=self.system_level,
            n_rows=n_rows,
            conditions=run.conditions_json,
            examples=self.examples_ or None,
        )
        outcome = _Outcome(asked=n_rows, prompt_chars=sum(len(m["content"]) for m in messages))
        while True:
            response_format = run.response_format()
            max_tokens = run.max_tokens(n_rows)
            try:
                outcome.result = client.chat(
                    messages,
                    response_format=response_format,
                    temperature=float(self.temperature),
                    max_tokens=max_tokens,
                    seed=seed,
                )
                return outcome
            except LLMError as exc:
                outcome.failed(exc)
                if response_format is not None and run.drops_response_format(exc):
                    outcome.fallbacks += 1
                    continue
                if max_tokens is not None and run.drops_max_tokens(exc):
                    outcome.fallbacks += 1
                    continue
                outcome.error = exc
                return outcome

    def _fail(self, run: _Run, rng: np.random.Generator, budget: int) -> None:
        """Keep the valid rows obtained, then raise one line saying what happened."""
        report = run.report
        got = len(run.accepted)
        partial = (
            self._finalize(run.frame(got), got, run.conditions, rng)
            if got
            else self._finalize(self._empty_learned(), 0, run.conditions, rng)
        )
        self.partial_rows_ = partial
        kept = (
            f" The {got} valid rows are kept in .partial_rows_ and the run's counts in "
            ".last_sample_report_."
            if got
            else " The run's counts are in .last_sample_report_."
        )
        if run.fatal is not None:
            message = self._explain(run.fatal)
            report.error = message
            if got:
                message += f" Got {got} of {run.n_rows} valid rows before it stopped.{kept}"
            raise GenerationIncompleteError(
                message,
                rows=partial,
                report=report,
                status=run.fatal.status,
                detail=run.fatal.detail,
            )
        reasons = Counter(report.invalid_by_reason)
        reasons.update(
            {
                "duplicate": report.duplicates,
                "example_copy": report.example_copies,
                "training_copy": report.training_copies,
            }
        )
        top = ", ".join(f"{k} {v}" for k, v in reasons.most_common(3) if v) or "none"
        report.error = f"request budget ({budget}) spent"
        raise GenerationIncompleteError(
            f"Only {got} of {run.n_rows} valid rows after {report.requests} requests (the "
            f"budget, max_requests={budget}); {report.rows_parsed} rows were parsed, most "
            f"rejections: {top}.{kept} Raise max_requests, relax the conditions, or try a "
            "stronger model or prompt_level.",
            rows=partial,
            report=report,
        )

    def _explain(self, exc: LLMError) -> str:
        """The client's one-line error, with the hint that fits this synthesizer."""
        message = str(exc)
        if exc.status in (401, 403):
            state = "is set" if os.environ.get(self.api_key_env) else "is not set"
            return f"{message} The key is read from ${self.api_key_env}, which {state}."
        if exc.status == 400 and "context" in exc.detail.lower():
            return (
                f"{message} For this synthesizer: lower rows_per_request, use "
                "prompt_level='basic', or fewer/no example rows."
            )
        return message

    # -- state ---------------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        state = {
            "columns": self.columns_,
            "profile": self.profile_,
            "examples": self.examples_,
            "hash_key": self.hash_key_,
        }
        return state, {"training_hashes": self.training_hashes_}

    def _set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        specs = self.schema_.learned
        self.columns_ = list(state["columns"])
        expect(
            self.columns_ == [s.name for s in specs],
            "the model's columns differ from the schema's learned columns",
        )
        # prompts are built from the profile at sampling time: its shape is checked now
        profile = state["profile"]
        expect(
            isinstance(profile, dict)
            and isinstance(profile.get("columns"), list)
            and isinstance(profile.get("correlations", []), list)
            and isinstance(profile.get("rules", []), list),
            "the model's table profile is not a profile",
        )
        expect(
            len(profile["columns"]) == len(specs)
            and all(
                isinstance(c, dict)
                and c.get("name") == spec.name
                and c.get("kind") == spec.kind
                and (
                    spec.kind != "categorical"
                    or (
                        isinstance(c.get("categories"), list)
                        and len(c["categories"]) == len(spec.categories or ())
                    )
                )
                for c, spec in zip(profile["columns"], specs, strict=False)
            ),
            "the model's table profile does not describe the learned columns",
        )
        self.profile_ = profile
        examples = state["examples"]
        expect(
            isinstance(examples, list)
            and all(isinstance(row, dict) and list(row) == self.columns_ for row in examples),
            "the model's example rows do not have the learned columns",
        )
        self.examples_ = list(examples)
        expect(
            isinstance(state["hash_key"], str) and len(state["hash_key"]) > 0,
            "the model's hash key is missing",
        )
        # a key of another length: training rows hashed the way synthpatient did before the
        # one row hash, which new rows can no longer be compared with
        expect(
            _HEX_KEY.fullmatch(state["hash_key"]) is not None,
            "its training rows were hashed by an older synthpatient; fit the model again "
            "(fitting is offline and sends nothing)",
        )
        self.hash_key_ = state["hash_key"]
        hashes = arrays["training_hashes"]
        expect(
            hashes.ndim == 1 and hashes.dtype == np.uint64,
            "the training rows' hashes are not a list of 64-bit hashes",
        )
        self.training_hashes_ = np.asarray(hashes, dtype=np.uint64)
