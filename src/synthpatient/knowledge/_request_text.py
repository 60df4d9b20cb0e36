"""A request's text with a record of what each span became: nothing is dropped unseen.

Every reader of the offline parser finds its phrases through :class:`RequestText` and
*claims* the span it used, with what it meant ("count 500", "filter: on sglt2i"). What is
left unclaimed, once filler words are set aside, is reported back as not understood; what a
reader recognised but cannot honour is recorded as a problem. Spans that hold a clinical
number ("stage 3", "HbA1c over 9", "over 65") are masked before the count is looked for, so
such numbers are never read as a number of patients.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache

from synthpatient.errors import Clarification
from synthpatient.knowledge._kb import _words

# characters a phrase of the vocabulary may contain (as ``_words`` keeps them); any other
# character is blanked in ``norm`` so that offsets stay those of ``low``
_NOT_WORD = re.compile(r"[^a-z0-9.\-]")
_TOKEN = re.compile(r"[a-z0-9](?:[a-z0-9.\-']*[a-z0-9])?")
#: The letter that stands for a condition's name in the text the count is read from, so that
#: "500 diabetics" keeps a word after the number but "type 2 diabetes" loses its digit.
CONDITION_MARK = "q"


@dataclass(frozen=True)
class Claim:
    start: int
    end: int
    meaning: str
    masked: bool  # hidden from the count reader (it holds a clinical number)
    condition: bool = False  # a name of the cohort's condition


@dataclass
class RequestText:
    """The lower-cased request (``low``), its word view (``norm``, same offsets) and claims."""

    low: str
    norm: str = field(init=False)
    claims: list[Claim] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    assumptions: list[str] = field(default_factory=list)  # how a word was read, said back

    @classmethod
    def of(cls, text: str) -> RequestText:
        low = " ".join(text.lower().split())
        # "a thousand" -> "1 thousand" (same length: offsets are kept)
        low = re.sub(r"\ba(?= (?:hundred|thousand|million)\b)", "1", low)
        return cls(low)

    def __post_init__(self) -> None:
        self.norm = _NOT_WORD.sub(" ", self.low)  # the word view, same offsets as ``low``

    # -- finding and claiming ------------------------------------------------------------
    def find(self, phrase: str) -> Iterator[re.Match[str]]:
        """Every mention of a vocabulary phrase (word boundaries; spaces or hyphens between
        its words)."""
        return phrase_pattern(phrase).finditer(self.norm)

    def claim(
        self,
        start: int,
        end: int,
        meaning: str,
        *,
        masked: bool = False,
        condition: bool = False,
    ) -> None:
        self.claims.append(Claim(start, end, meaning, masked, condition))

    def is_claimed(self, start: int, end: int, *, but_condition: bool = False) -> bool:
        """Whether a reader used any of these characters (``but_condition``: a reader other
        than the condition's, whose names may also carry a filter, such as "HFrEF")."""
        return any(
            c.start < end and start < c.end and not (but_condition and c.condition)
            for c in self.claims
        )

    def problem(self, message: str) -> None:
        if message not in self.problems:
            self.problems.append(message)

    def masked(self) -> str:
        """``low`` with clinical-number spans blanked and condition names as a mark word."""
        chars = list(self.low)
        for c in self.claims:
            if c.masked:
                chars[c.start : c.end] = " " * (c.end - c.start)
            elif c.condition:
                chars[c.start : c.end] = CONDITION_MARK * (c.end - c.start)
        return "".join(chars)

    def understood(self) -> list[tuple[str, str]]:
        """(words of the request, what they became), in the order of the text."""
        seen: dict[tuple[str, str], None] = {}
        for c in sorted(self.claims, key=lambda c: (c.start, c.end)):
            seen.setdefault((self.low[c.start : c.end].strip(), c.meaning))
        return list(seen)

    def leftovers(self, filler: Iterable[str], cues: Iterable[str] = ()) -> list[str]:
        """Runs of unclaimed words that are not filler, as written (a cue word just before a
        run, such as 'without' or 'with', is shown with it)."""
        filler = set(filler)
        cues = set(cues)
        runs: list[list[re.Match[str]]] = []
        previous_content = False
        tokens = list(_TOKEN.finditer(self.low))
        for i, token in enumerate(tokens):
            word = token.group(0)
            if i and re.search(r"[,;:()]", self.low[tokens[i - 1].end() : token.start()]):
                previous_content = False  # punctuation ends a part
            if self.is_claimed(*token.span()) or word in filler:
                previous_content = False
                continue
            if not previous_content:
                run = [token]
                if (
                    i
                    and tokens[i - 1].group(0) in cues
                    and not self.is_claimed(*tokens[i - 1].span())
                ):
                    run.insert(0, tokens[i - 1])
                runs.append(run)
            else:
                runs[-1].append(token)
            previous_content = True
        return [self.low[run[0].start() : run[-1].end()] for run in runs]


@cache
def phrase_pattern(phrase: str) -> re.Pattern[str]:
    words = _words(phrase).split()
    body = r"(?:\s+|\s*-\s*)".join(re.escape(w) for w in words)
    return re.compile(rf"(?<![a-z0-9]){body}(?![a-z0-9])")


def check_language(text: str, languages: dict[str, frozenset[str]], english: set[str]) -> None:
    """A :class:`Clarification` when ``text`` is not English: mostly another script, or more
    function words of another language than of English (no model, a word count)."""
    letters = [ch for ch in text if ch.isalpha()]
    if letters:
        latin = sum("LATIN" in unicodedata.name(ch, "") for ch in letters)
        if latin / len(letters) < 0.5:
            raise Clarification(_not_english("written in another script"))
    words = re.findall(r"[^\W\d_]+", text.lower())
    english_hits = sum(w in english for w in words)
    for language, markers in languages.items():
        own = [w for w in words if w in markers and w not in english]
        if len(set(own)) >= 2 and len(own) > english_hits:
            raise Clarification(_not_english(f"it reads as {language.capitalize()}"))


def _not_english(why: str) -> str:
    return (
        f"I only understand requests in English, and this one is not ({why}). Please ask "
        "in English, e.g. 'generate 500 type 2 diabetes patients aged 40 to 65'."
    )
