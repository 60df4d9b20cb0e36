"""The conversation engine behind ``synthpatient ask``, ``synthpatient chat`` and the web app.

A :class:`Conversation` keeps the last request and cohort so that follow-ups work ("now make
them all over 65", "add eGFR", "only women", "export as FHIR"). Every request is shown back
(:attr:`Reply.kind` ``"confirm"``) before anything is generated; :meth:`Conversation.confirm`
generates it. Questions are answered from the knowledge base with citations. Bad requests
get a :attr:`Reply.kind` ``"clarify"`` reply listing what is supported, never a guess.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import ValidationError

from synthpatient.errors import SynthPatientError
from synthpatient.knowledge._kb import KnowledgeBase, load_knowledge_base
from synthpatient.knowledge._model import Condition
from synthpatient.knowledge._request_fields import (
    _ages,
    _count,
    _follow_up,
    _formats,
    _n_observations,
    _named_observations,
    _sex,
    _sex_share,
)
from synthpatient.knowledge._request_filters import _filters
from synthpatient.knowledge._request_numbers import _checked_count, _to_int
from synthpatient.knowledge._request_text import RequestText
from synthpatient.knowledge._vocabulary import load_vocabulary
from synthpatient.knowledge.answers import HELP, answer, looks_like_question
from synthpatient.knowledge.outputs import add_formats, write_cohort
from synthpatient.knowledge.request import (
    MAX_REQUEST_CHARS,
    Clarification,
    CohortRequest,
    _pydantic_message,
    clean_request_text,
    not_understood_message,
    parse_request,
)
from synthpatient.knowledge.sampler import Cohort, CohortSampler

ReplyKind = Literal["confirm", "generated", "answer", "clarify", "exported"]
_YES = {
    "yes",
    "y",
    "ok",
    "okay",
    "go",
    "go ahead",
    "confirm",
    "sure",
    "do it",
    "generate",
    "yes please",
    "proceed",
}
_NO = {"no", "n", "cancel", "stop", "never mind", "nevermind"}
_FOLLOW_UP = re.compile(
    r"^(?:now|then|also|and|instead|only|make (?:them|it)|change|add|"
    r"include|with|without|remove|drop|export|save|as|same|but|just|"
    r"all|exclude|excluding|except|no|not|never|nobody|none|set|limit|restrict|extend|"
    r"shorten)\b"
)
# "change the count to 800", "set the number of patients to 800", "make it 800 patients"
_NEW_COUNT = re.compile(
    r"\b(?:count|number(?:\s+of\s+patients)?|size|total)\s+(?:to|=|:|of)\s+"
    r"(\d[\d,]*(?:\.\d+)?\s*[km]?)\b"
)
Parser = Callable[[str, KnowledgeBase], CohortRequest]


@dataclass
class Reply:
    """What the engine says back: ``text`` to show, plus the request and files when any."""

    kind: ReplyKind
    text: str
    request: CohortRequest | None = None
    files: dict[str, Path] = field(default_factory=dict)


class Conversation:
    """A stateful conversation about cohorts.

    Examples:
        >>> chat = Conversation(out_dir="cohort")
        >>> chat.send("generate 2000 type 2 diabetes patients with 20 observations").text
        >>> chat.confirm().files["provenance"]
        >>> chat.send("which sources did you use?").text
    """

    def __init__(
        self,
        *,
        kb: KnowledgeBase | None = None,
        out_dir: str | Path = "cohort",
        overwrite: bool = False,
        parser: Parser | None = None,
    ) -> None:
        self.kb = kb or load_knowledge_base()
        self.out_dir = Path(out_dir)
        self.overwrite = overwrite
        self.parser = parser or _partial_parser
        self.pending: CohortRequest | None = None
        self.pending_text: str | None = None
        self.last: CohortRequest | None = None
        self.cohort: Cohort | None = None
        self._runs = 0
        # the confirmed request is drawn in partitions by the caller (``ask --engine``), so
        # its count may pass one in-memory draw's limit
        self.partitioned = False
        # where each format of the last cohort was written: "export as FHIR" twice writes once
        self._written: dict[str, Path] = {}
        # the last cohort's folder and request text: an export adds its files there
        self._folder: Path = self.out_dir
        self._last_text: str | None = None
        # a one-shot question after a one-shot request ("which sources did you use?") is
        # answered from the provenance the request left in the output folder
        self._previous = _previous_run(self.out_dir, self.kb)

    # -- entry points --------------------------------------------------------------------
    def send(self, text: str) -> Reply:
        text = text.strip()
        if not text:
            return Reply("clarify", HELP)
        if len(text) > MAX_REQUEST_CHARS:
            return Reply(
                "clarify",
                f"That message is {len(text):,} characters long; keep it "
                f"under {MAX_REQUEST_CHARS:,}.",
            )
        low = _answer_words(text)
        if self.pending is not None and low in _YES:
            return self.confirm()
        if self.pending is not None and low in _NO:
            self.pending = None
            return Reply("answer", "Cancelled; nothing was generated.")
        try:
            formats = _formats(RequestText.of(low))
            if (
                re.search(r"\b(?:export|save|write)\b", low)
                and self.cohort is not None
                and formats
                and not re.search(r"\b\d+\s+\w*\s*patients\b", low)
            ):
                return self._export(formats)
            base = self.pending or self.last
            if base is not None and _FOLLOW_UP.match(low) and not looks_like_question(low):
                return self._propose(self._modified(base, low), text)
            if looks_like_question(low) and not _POLITE_REQUEST.match(low):
                condition, used = (
                    (self.cohort.condition, self.cohort.sources_used)
                    if self.cohort
                    else self._previous
                )
                return Reply(
                    "answer", answer(text, self.kb, condition=condition, sources_used=used)
                )
            return self._propose(self.parser(text, self.kb), text)
        except _AlreadyThere as exc:
            return Reply("answer", str(exc), self.pending or self.last)
        except SynthPatientError as exc:
            return Reply("clarify", str(exc))
        except ValidationError as exc:  # a model built from the text refused a value
            return Reply("clarify", _pydantic_message(exc))

    def confirms(self, text: str) -> bool:
        """Whether ``text`` confirms the request waiting for a yes ("yes", "go ahead", ...):
        the web app runs such a confirmation as a job with progress instead of a message."""
        return self.pending is not None and _answer_words(text) in _YES

    def confirm(self) -> Reply:
        """Generate the pending request and write its files."""
        if self.pending is None:
            return Reply("clarify", "There is no request to confirm. " + HELP)
        request, text = self.pending, self.pending_text
        if request.seed is None:  # always recorded, so the provenance can reproduce the cohort
            request = request.model_copy(update={"seed": secrets.randbelow(2**31)})
        try:
            spec = request.to_spec(self.kb)
            cohort = CohortSampler(self.kb).sample(spec)
            folder = self._next_folder()
            files = write_cohort(
                cohort,
                folder,
                kb=self.kb,
                request=request,
                request_text=text,
                formats=request.formats,
                overwrite=self.overwrite,
            )
        except SynthPatientError as exc:
            return Reply("clarify", str(exc), request)
        self.pending, self.last, self.cohort = None, request, cohort
        self._folder, self._last_text = folder, text
        self._written = dict.fromkeys(request.formats, folder)
        self._runs += 1
        return Reply("generated", self._summary(cohort, folder), request, files)

    # -- helpers -------------------------------------------------------------------------
    def _propose(self, request: CohortRequest, text: str) -> Reply:
        # checks it now, so a bad follow-up is caught here
        request.to_spec(self.kb, partitioned=self.partitioned)
        self.pending, self.pending_text = request, text
        if request.not_understood:
            # named, never dropped: generated only after a yes to leaving them out
            return Reply("clarify", not_understood_message(request, self.kb), request)
        return Reply("confirm", f"I understood: {request.describe(self.kb)}. Generate it?", request)

    def _modified(self, base: CohortRequest, low: str) -> CohortRequest:
        """``base`` changed as a follow-up says; its words are accounted for like a first
        request's (a word not understood is named before anything is generated)."""
        condition = self.kb.conditions[base.condition]
        vocab = load_vocabulary()
        t = RequestText.of(low)
        update: dict = {}
        filters = _filters(t, condition, vocab)
        if filters:
            replaced = {(f.kind, f.key) for f in filters}
            update["filters"] = [f for f in base.filters if (f.kind, f.key) not in replaced]
            update["filters"] += filters
        ages = _ages(t, vocab)
        if ages:
            update["age_min"] = ages.get("age_min", base.age_min)
            update["age_max"] = ages.get("age_max", base.age_max)
            if re.search(r"\ball\b|\bonly\b|\bnow\b", low) and "age_max" not in ages:
                update["age_max"] = 90
        share = _sex_share(t)  # before the sex words: "60% male" is a mix, not men only
        if share is not None:
            update["female_share"], update["sex"] = share, None
        sex = _sex(t, vocab)
        if sex or any(c.meaning == "sex: men and women" for c in t.claims):
            update["sex"], update["female_share"] = sex, None
        years = _follow_up(t)
        if years is not None:
            update["follow_up_years"] = years
        new_count = _NEW_COUNT.search(t.masked())
        if new_count is not None:
            value = _to_int(new_count.group(1).replace(",", "").replace(" ", ""))
            if value is not None:
                t.claim(*new_count.span(), f"count {value:,}", masked=True)
                update["count"] = _checked_count(value)
        n_obs = _n_observations(t)
        if n_obs:
            update["n_observations"] = n_obs
        update.update(self._observations_update(base, condition, t, low))
        formats = _formats(t)
        if formats:
            update["formats"] = formats
        count = _count(t, vocab)
        if count is not None:
            update["count"] = count
        problems = [
            f"'{words}' not understood"
            for words in t.leftovers(vocab.filler | _FOLLOW_UP_WORDS, ("with", "without", "not"))
        ]
        if not update:
            raise Clarification(
                "I could not tell what to change"
                + (f" ({'; '.join(problems)})" if problems else "")
                + ". Try 'now only women', 'make them all over 65', 'add eGFR' or "
                "'export as FHIR'."
            )
        try:
            changed = CohortRequest(**{**base.model_dump(), **update, "seed": base.seed})
        except ValueError as exc:
            raise Clarification(f"That change is not possible: {exc}") from None
        changed._understood = base.understood + t.understood()
        changed._assumptions = base.assumptions + t.assumptions
        changed._not_understood = base.not_understood + t.problems + problems
        return changed

    @staticmethod
    def _observations_update(
        base: CohortRequest, condition: Condition, t: RequestText, low: str
    ) -> dict:
        named = _named_observations(t, condition, load_vocabulary())
        if not named:
            return {}
        keys = base.observation_keys(condition)
        if re.search(r"\b(?:remove|drop|without)\b", low):
            return {"observations": [k for k in keys if k not in named], "n_observations": None}
        new = [k for k in named if k not in keys]
        if not new:  # "add eGFR" when it is already there: said, not asked again
            raise _AlreadyThere(
                f"{', '.join(named)} {'is' if len(named) == 1 else 'are'} already in the "
                "request; nothing to change."
            )
        return {"observations": keys + new, "n_observations": None}

    def _export(self, asked: list[str]) -> Reply:
        assert self.cohort is not None and self.last is not None
        formats = [f for f in asked if f not in self._written]
        if not formats:  # the same files again would be a byte-identical copy
            where = "; ".join(f"{f} in {self._written[f]}" for f in asked)
            return Reply(
                "answer", f"The last cohort is already written ({where}); nothing new to write."
            )
        # beside the last cohort's files, never a second copy of them in a new folder
        request = self.last.model_copy(update={"formats": [*self.last.formats, *formats]})
        folder = self._folder
        try:
            files = add_formats(
                self.cohort,
                folder,
                kb=self.kb,
                request=request,
                request_text=self._last_text,
                formats=formats,
            )
        except SynthPatientError as exc:
            return Reply("clarify", str(exc))
        self.last = request
        self._written.update(dict.fromkeys(formats, folder))
        return Reply(
            "exported",
            f"Added the last cohort as {', '.join(formats)} to {folder}.",
            request,
            files,
        )

    def _next_folder(self) -> Path:
        if self._runs == 0:
            return self.out_dir
        return self.out_dir.with_name(f"{self.out_dir.name}-{self._runs + 1}")

    def _summary(self, cohort: Cohort, folder: Path) -> str:
        from synthpatient.knowledge.realism import check_cohort

        report = check_cohort(cohort)
        failed = [t.what for t in report.targets if not t.ok]
        broken = [r["rule"] for r in report.rules if r["violations"]]
        n_obs = len(cohort.observations)
        history = ""
        if cohort.timeline is not None:
            visits = len(cohort.timeline.encounters)
            judged = [h for h in report.history if h.get("judged", True)]
            off = [h["what"] for h in judged if not h["ok"]]
            unjudged = len(report.history) - len(judged)
            history = (
                f" Histories: {visits:,} visits; {len(judged) - len(off)}/"
                f"{len(judged)} history checks met"
                + (f" (off: {', '.join(off)})" if off else "")
                + (f"; {unjudged} not judged (narrower cohort)" if unjudged else "")
                + "."
            )
        return (
            f"Generated {len(cohort.wide):,} patients with {n_obs} observation"
            f"{'' if n_obs == 1 else 's'} into {folder} (seed {cohort.spec.seed}). Realism: "
            # the report's own line also says how many targets a narrowed cohort leaves
            # unjudged (an over-65 cohort read "0/0 sourced targets met" without it)
            + report.summary()
            + (f"; off target: {', '.join(failed)}" if failed else "")
            + (f"; broken: {', '.join(broken)}" if broken else "")
            + "."
            + history
        )


def _previous_run(
    folder: Path, kb: KnowledgeBase
) -> tuple[Condition, list[str]] | tuple[None, None]:
    """(condition, source ids) recorded in ``folder``'s provenance file, if it has one."""
    import json

    from synthpatient.knowledge.outputs import PROVENANCE_FILE

    try:
        data = json.loads((folder / PROVENANCE_FILE).read_text(encoding="utf-8"))
        condition = kb.conditions[data["knowledge_base"]["condition"]]
        return condition, [s["id"] for s in data["sources"] if s["id"] in kb.sources]
    except (OSError, ValueError, KeyError, TypeError):
        return None, None


def _answer_words(text: str) -> str:
    """A short answer as the word lists hold them: follow-ups are read from the same cleaned
    text as first requests (no terminal escapes), lower case, without closing punctuation."""
    return " ".join(clean_request_text(text)[0].lower().split()).rstrip(".!")


def _partial_parser(text: str, kb: KnowledgeBase) -> CohortRequest:
    """The offline parser, returning what it could not honour instead of refusing: the
    conversation names those parts and waits for a yes."""
    return parse_request(text, kb, partial=True)


class _AlreadyThere(Clarification):
    """A follow-up that asks for what the request already has (answered, not re-proposed)."""


#: A request phrased as a question ("can you generate 500 ...?") is a request, not a question.
_POLITE_REQUEST = re.compile(
    r"^(?:please\s+)?(?:can|could|would|will)\s+(?:you|i|we)\s+(?:please\s+)?(?:get|have|"
    r"generate|make|create|simulate|produce|give|build|draw|synthesi[sz]e|prepare)\b"
)

#: Words of a follow-up that carry no change of their own ("now make them all ...").
_FOLLOW_UP_WORDS = frozenset(
    {
        "now",
        "then",
        "also",
        "instead",
        "change",
        "add",
        "remove",
        "drop",
        "make",
        "them",
        "it",
        "all",
        "only",
        "but",
        "same",
        "again",
        "just",
        "keep",
        "rather",
        "switch",
        "set",
    }
)
