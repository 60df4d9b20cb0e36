"""One ``sample`` call of the LLM synthesizer: its requests' plan, answers and accounting.

:class:`_Run` holds what a call learns as it goes: how many rows to ask for next (at the
yield seen so far), which request options the server refused (``response_format``,
``max_tokens``), and every answer's rows, validated, then rejected when they copy a prompt
example or a training row or repeat an accepted one, each counted in the
:class:`~synthpatient.llm.costs.GenerationReport`.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from synthpatient.llm import prompts
from synthpatient.llm.client import ChatResult, LLMError, LLMRequestError
from synthpatient.llm.costs import GenerationReport
from synthpatient.llm.parsing import parse_rows
from synthpatient.schema import ColumnSpec
from synthpatient.synthesizers._conditions import Condition
from synthpatient.synthesizers._llm_profile import condition_json, tokens_per_row
from synthpatient.synthesizers._llm_rows import NearCopies, RowKeys, RowValidator, rows_frame

if TYPE_CHECKING:
    from synthpatient.synthesizers.llm import LLMSynthesizer


#: words of a server error that mean it does not take our structured-output option
_FORMAT_WORDS = (
    "response_format",
    "response format",
    "json_schema",
    "grammar",
    "structured",
    "schema",
)
#: answers in a row with no JSON rows at all before a run gives up (a model writing prose)
MAX_ROWLESS_ANSWERS = 3


@dataclass
class _Outcome:
    """What one request gave: a chat result or an error, and what it asked for."""

    asked: int
    prompt_chars: int
    result: ChatResult | None = None
    error: LLMError | None = None
    fallbacks: int = 0
    #: why each failed attempt failed (HTTP status, 0 for a timeout), fallbacks' included
    failed_attempts: list[int] = field(default_factory=list)
    #: retries inside failed tries (the client's, before it gave up)
    retried: int = 0

    def failed(self, exc: LLMError) -> None:
        if isinstance(exc, LLMRequestError):
            self.failed_attempts.extend(exc.attempt_statuses)
            self.retried += max(0, len(exc.attempt_statuses) - 1)


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
            model=str(s.model),
            prompt_level=s.prompt_level,
            system_level=s.system_level,
            include_examples=bool(s.examples_),
            rows_requested=self.n_rows,
            structured_output=self._initial_format(),
            price_per_1k_input_tokens=float(s.price_per_1k_input_tokens),
            price_per_1k_output_tokens=float(s.price_per_1k_output_tokens),
        )
        self.conditions_json = [
            condition_json(self.synth.schema_[c.column], c) for c in self.conditions
        ]
        self.keys = RowKeys(self.specs)
        self.validator = RowValidator(self.specs, self.conditions)
        self.seen: set[str] = set()
        self.training = set(self.synth.training_hashes_.tolist())
        examples = [
            values
            for values, _ in (self.validator.check(row, Counter()) for row in self.synth.examples_)
            if values is not None
        ]
        self.example_keys = set(self.keys.keys(examples).tolist()) if examples else set()
        self.near = NearCopies(self.specs, examples)
        self.rowless = 0
        self.send_max_tokens = getattr(self.synth, "_send_max_tokens", True)
        self.tokens_per_row = tokens_per_row(self.synth.profile_)
        #: requests in flight per round; halved when a request times out (a server that
        #: answers one request at a time, as llama.cpp with one slot does, makes concurrent
        #: requests wait, time out and keep running on the server)
        self.concurrency = int(self.synth.max_concurrency)

    # -- request options the server may refuse ---------------------------------------------
    def _initial_format(self) -> str:
        chosen = self.synth.structured_output
        if chosen == "auto":
            return str(getattr(self.synth, "_structured_output_now", "json_schema"))
        return chosen

    def response_format(self) -> dict[str, Any] | None:
        mode = self.report.structured_output
        if mode == "off":
            return None
        strict = prompts.response_format(self.synth.profile_, self.conditions_json)
        if mode == "json_schema":
            return strict
        # llama.cpp's server constrains json_object answers to a schema given beside it;
        # OpenAI-style servers read only the type
        return {"type": "json_object", "schema": strict["json_schema"]["schema"]}

    def drops_response_format(self, exc: LLMError) -> bool:
        """In ``auto`` mode, an error (any 4xx/5xx: llama.cpp answers 500) naming the
        structured-output option steps down json_schema -> json_object with the schema ->
        plain requests, remembered by the synthesizer (not saved)."""
        detail = f"{exc.detail} {exc}".lower()
        if (
            self.synth.structured_output != "auto"
            or exc.status is None
            or exc.status < 400
            or exc.status in (401, 403, 404, 429)
            or "context" in detail
            or not any(word in detail for word in _FORMAT_WORDS)
        ):
            return False
        mode = self.report.structured_output
        self.report.structured_output = "json_object" if mode == "json_schema" else "off"
        self.report.response_format_fallbacks += 1
        self.synth._structured_output_now = self.report.structured_output
        return True

    def max_tokens(self, n_rows: int) -> int | None:
        if not self.send_max_tokens:
            return None
        # an upper bound whatever the tokenizer (see tokens_per_row), plus room for the
        # wrapper object and a model that writes a little prose around it
        return int(math.ceil(n_rows * self.tokens_per_row * 1.25)) + 100

    def drops_max_tokens(self, exc: LLMError) -> bool:
        """Reasoning models refuse ``max_tokens``: stop sending it."""
        if exc.status in (400, 422, 500) and "max_tokens" in exc.detail:
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
        # the pool runs max_concurrency at once; after a timeout the round itself is capped
        cap = 2 * self.concurrency if not self.report.concurrency_reductions else self.concurrency
        k = max(1, min(math.ceil(target / rpr), cap, budget_left))
        return [max(1, min(rpr, math.ceil(target / k)))] * k

    # -- reading answers -------------------------------------------------------------------
    def absorb(self, outcome: _Outcome) -> None:
        """Count one request and keep its good rows."""
        report = self.report
        report.requests += 1
        report.rows_asked += outcome.asked
        attempts = list(outcome.failed_attempts)
        if outcome.error is not None:
            report.failed_requests += 1
            report.retries += outcome.retried
            self._count_attempts(attempts)
            if self.fatal is None:
                self.fatal = outcome.error
            return
        result = outcome.result
        assert result is not None
        report.retries += result.retries + outcome.retried
        self._count_attempts(attempts + list(result.retry_statuses))
        self._count_tokens(outcome, result)
        parsed = parse_rows(result.content)
        truncated = result.finish_reason == "length" or parsed.cut_off
        report.truncated_answers += truncated
        report.malformed_answers += (not truncated) and (
            not parsed.strict or parsed.bad_fragments > 0
        )
        report.wrapped_answers += parsed.wrapped
        report.empty_answers += not parsed.rows
        self.rowless = 0 if parsed.rows or report.rows_parsed else self.rowless + 1
        self._consider(parsed.rows)

    def _count_attempts(self, statuses: list[int]) -> None:
        if 0 in statuses and self.concurrency > 1:
            self.concurrency = max(1, self.concurrency // 2)
            self.report.concurrency_reductions += 1
        for status in statuses:
            if status == 429:
                self.report.rate_limited += 1
            elif status == 0:
                self.report.timeouts += 1
            elif status >= 500:
                self.report.server_errors += 1

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

    def _consider(self, raws: list[dict[str, Any]]) -> None:
        """Validate one answer's parsed rows, then reject copies and duplicates, in the rows'
        order; keep the rest."""
        report = self.report
        valid = []
        for raw in raws:
            report.rows_parsed += 1
            reasons: Counter[str] = Counter()
            values, fixed = self.validator.check(raw, reasons)
            report.spellings_fixed += fixed
            if values is None:
                report.add_invalid(reasons)
                continue
            report.rows_schema_valid += 1
            valid.append(values)
        if not valid:
            return
        keys = self.keys.keys(valid).tolist()
        copies = [False] * len(valid)
        if self.synth.reject_training_copies:
            hashes = self.keys.hashes(np.array(keys, dtype=object), self.synth.hash_key_)
            copies = [h in self.training for h in hashes.tolist()]
        for values, key, copy in zip(valid, keys, copies, strict=True):
            if key in self.example_keys:
                report.example_copies += 1
            elif self.near.is_near(values):
                report.example_copies += 1
                report.example_near_copies += 1
            elif copy:
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
                "server that supports it, or another model."
            )

    def frame(self, n_rows: int) -> pd.DataFrame:
        """The first ``n_rows`` accepted rows, one column per learned column."""
        return rows_frame(self.specs, self.accepted[:n_rows])


def _request_seed(base: int, index: int) -> int:
    """The seed of request ``index``: a function of the run's seed and the index only."""
    return int(np.random.default_rng([base, index]).integers(2**31 - 1))
