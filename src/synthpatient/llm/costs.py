"""What a run of LLM requests cost and yielded, counted honestly.

Prompt-based generators are usually reported as "N rows for $X in T minutes" where N counts
every row parsed, copies and cut-off answers included (see the shared reference notes). Here
cost and time are divided by the rows that survived everything: valid against the schema,
unique, and neither a copy of a prompt example nor of a training row. Prices are the user's
(``price_per_1k_input_tokens`` / ``price_per_1k_output_tokens``); nothing is looked up.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any


def token_cost(
    input_tokens: int, output_tokens: int, price_in_per_1k: float, price_out_per_1k: float
) -> float:
    """Cost of a number of tokens at per-1,000-token prices (the user's currency)."""
    return input_tokens / 1000 * price_in_per_1k + output_tokens / 1000 * price_out_per_1k


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _per_1k(value: float, rows: int) -> float | None:
    return value / rows * 1000 if rows else None


@dataclass
class GenerationReport:
    """One ``sample()`` call of :class:`~synthpatient.synthesizers.llm.LLMSynthesizer`.

    Rows flow: ``rows_parsed`` (row objects read from answers) -> ``rows_schema_valid`` (types,
    vocabulary, bounds, conditions) -> minus ``duplicates``, ``example_copies`` and
    ``training_copies`` (``example_copies`` includes ``example_near_copies``: rows within a
    column or two of an example, or spliced from two) -> ``rows_accepted`` ->
    ``rows_delivered`` (at most the rows asked).
    Rates divide by ``rows_parsed`` (valid-row rate) or ``rows_schema_valid`` (the others).
    """

    model: str
    prompt_level: str
    system_level: str
    include_examples: bool
    rows_requested: int
    structured_output: str = "off"
    requests: int = 0
    failed_requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    server_errors: int = 0
    timeouts: int = 0
    response_format_fallbacks: int = 0
    #: times the requests in flight were halved after a timeout
    concurrency_reductions: int = 0
    truncated_answers: int = 0
    malformed_answers: int = 0
    wrapped_answers: int = 0
    empty_answers: int = 0
    rows_asked: int = 0
    rows_parsed: int = 0
    rows_schema_valid: int = 0
    invalid_by_reason: dict[str, int] = field(default_factory=dict)
    spellings_fixed: int = 0
    duplicates: int = 0
    example_copies: int = 0
    example_near_copies: int = 0
    training_copies: int = 0
    rows_accepted: int = 0
    rows_delivered: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    tokens_estimated: bool = False
    latency_s: float = 0.0
    wall_s: float = 0.0
    price_per_1k_input_tokens: float = 0.0
    price_per_1k_output_tokens: float = 0.0
    error: str | None = None

    def add_invalid(self, reasons: Counter[str]) -> None:
        """Merge rejected rows counted by reason."""
        for reason, count in reasons.items():
            self.invalid_by_reason[reason] = self.invalid_by_reason.get(reason, 0) + count

    def add_run(self, other: GenerationReport) -> None:
        """Add a later run of the same ``sample()`` call (rows drawn again, e.g. to replace
        rows that broke a relation): every count, token and second is summed; the rows asked
        and delivered stay the call's own."""
        for name, value in asdict(other).items():
            own = name in ("rows_requested", "rows_delivered") or name.startswith("price_")
            if own or isinstance(value, bool):
                continue
            if isinstance(value, int | float):
                setattr(self, name, getattr(self, name) + value)
        self.add_invalid(Counter(other.invalid_by_reason))
        self.tokens_estimated |= other.tokens_estimated
        self.structured_output = other.structured_output
        self.error = self.error or other.error

    # -- derived figures ---------------------------------------------------------------------
    @property
    def cost(self) -> float:
        return token_cost(
            self.input_tokens,
            self.output_tokens,
            self.price_per_1k_input_tokens,
            self.price_per_1k_output_tokens,
        )

    @property
    def valid_row_rate(self) -> float | None:
        return _rate(self.rows_schema_valid, self.rows_parsed)

    @property
    def duplicate_rate(self) -> float | None:
        return _rate(self.duplicates, self.rows_schema_valid)

    @property
    def example_copy_rate(self) -> float | None:
        return _rate(self.example_copies, self.rows_schema_valid)

    @property
    def training_copy_rate(self) -> float | None:
        return _rate(self.training_copies, self.rows_schema_valid)

    @property
    def yield_rate(self) -> float | None:
        """Accepted (valid, unique, novel) rows per parsed row."""
        return _rate(self.rows_accepted, self.rows_parsed)

    @property
    def cost_per_1k_rows(self) -> float | None:
        """Cost per 1,000 delivered rows (valid, unique, not copies)."""
        return _per_1k(self.cost, self.rows_delivered)

    @property
    def seconds_per_1k_rows(self) -> float | None:
        """Wall-clock seconds per 1,000 delivered rows (valid, unique, not copies)."""
        return _per_1k(self.wall_s, self.rows_delivered)

    def to_dict(self) -> dict[str, Any]:
        """Every count and the derived rates, JSON-ready."""
        out = asdict(self)
        for name in (
            "cost",
            "valid_row_rate",
            "duplicate_rate",
            "example_copy_rate",
            "training_copy_rate",
            "yield_rate",
            "cost_per_1k_rows",
            "seconds_per_1k_rows",
        ):
            out[name] = getattr(self, name)
        return out

    def summary(self) -> str:
        """One paragraph a person can read."""

        def pct(value: float | None) -> str:
            return "n/a" if value is None else f"{100 * value:.1f}%"

        def money(value: float | None) -> str:
            return "n/a" if value is None else f"{value:.4f}"

        invalid = ", ".join(f"{k} {v}" for k, v in sorted(self.invalid_by_reason.items()))
        per_1k_s = self.seconds_per_1k_rows
        examples = ", with real example rows" if self.include_examples else ""
        halved = (
            f", requests in flight halved {self.concurrency_reductions} times"
            if self.concurrency_reductions
            else ""
        )
        text = (
            f"{self.rows_delivered} of {self.rows_requested} rows delivered by {self.model} "
            f"(prompt {self.prompt_level}, system {self.system_level}, structured output "
            f"{self.structured_output}{examples}) "
            f"from {self.requests} requests ({self.retries} retries: {self.rate_limited} rate "
            f"limits, {self.server_errors} server errors, {self.timeouts} timeouts"
            f"{halved}; "
            f"{self.failed_requests} failed). Answers: {self.truncated_answers} cut off, "
            f"{self.malformed_answers} malformed, {self.wrapped_answers} wrapped in prose, "
            f"{self.empty_answers} without rows. Rows: {self.rows_parsed} parsed, valid-row rate "
            f"{pct(self.valid_row_rate)}"
            f"{' (invalid: ' + invalid + ')' if invalid else ''}"
            f"{f', {self.spellings_fixed} spellings fixed' if self.spellings_fixed else ''}"
            f", duplicate rate "
            f"{pct(self.duplicate_rate)}, copy-of-example rate {pct(self.example_copy_rate)} "
            f"({self.example_near_copies} near copies or splices), "
            f"training-copy rate {pct(self.training_copy_rate)}. Tokens: {self.input_tokens} in, "
            f"{self.output_tokens} out{' (estimated)' if self.tokens_estimated else ''}; cost "
            f"{money(self.cost)} ({money(self.cost_per_1k_rows)} per 1,000 valid unique rows at "
            f"{self.price_per_1k_input_tokens:g}/{self.price_per_1k_output_tokens:g} per 1,000 "
            f"input/output tokens); {self.wall_s:.1f} s wall time ("
            f"{'n/a' if per_1k_s is None else f'{per_1k_s:.1f}'} s per 1,000 valid unique rows)."
        )
        if self.error:
            text += f" Stopped early: {self.error}"
        return text
