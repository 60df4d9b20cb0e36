"""Every exception and warning synthpatient raises.

Each error subclasses the natural built-in as well as :class:`SynthPatientError`, so callers
can catch either ``synthpatient.errors.SynthPatientError`` or the usual ``ValueError`` /
``KeyError`` / ``FileNotFoundError``::

    SynthPatientError
    ├── DataError (ValueError)                 the table given cannot be used as it is
    │   ├── SchemaValidationError              values break the schema; lists every problem
    │   ├── MixedTypesError                    one column holds numbers and text
    │   ├── UploadTooLargeError                a web upload is over the size limit
    │   └── RuleError                          a clinical rule is invalid or breaks a limit
    │       └── ExpressionError                an expression's syntax, a limit, or its evaluation
    │           └── ExpressionTimeout          an expression went past its time budget
    ├── InvalidParameterError (ValueError)     a constructor or method argument is wrong
    │   └── Clarification                      a cohort request that cannot be carried out as
    │                                          written; the message says what is supported
    ├── ConditionError (ValueError)            a condition names an unknown column or cannot be met
    ├── NotFittedError (ValueError)            sample/save called before fit
    ├── UnknownSynthesizerError (KeyError)     not in the registry
    ├── UnknownMetricError (KeyError)          not in the metric registry
    ├── UnknownDatasetError (KeyError)         not a bundled dataset
    ├── UnknownExporterError (KeyError)        not an output format in the registry
    ├── MissingExtraError (ImportError)        an optional dependency is not installed
    ├── ModelFileError (ValueError)            a saved model folder is missing or damaged
    ├── FileIOError (OSError)                  reading or writing a user file failed
    ├── CapacityError (RuntimeError)           the web app is full (503); nothing was evicted
    ├── BusyError                              a web session already has a job running
    ├── NotFoundError (KeyError)               no such upload, job or result in a web session
    └── LLMError                               an LLM server gave no usable answer
        └── GenerationIncompleteError          fewer valid rows than asked (the rows obtained kept)

    Terminated (BaseException)                 SIGTERM in the command line, unwinding like Ctrl-C

    SynthPatientWarning (UserWarning)          something the user should know, never silent

Messages say what was wrong, what was expected, what was got and what to do. They never
contain a patient's value: only column names, counts and row numbers.
"""

from __future__ import annotations

from typing import Any


class SynthPatientError(Exception):
    """Base class of every synthpatient error."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class DataError(SynthPatientError, ValueError):
    """The table cannot be used as given (empty, duplicate columns, an empty column...)."""


class SchemaValidationError(DataError):
    """Values break the schema. ``problems`` holds every problem found, not just the first."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        n = len(self.problems)
        head = f"The table does not match the schema ({n} problem{'s' if n != 1 else ''}): "
        super().__init__(head + "; ".join(self.problems))


class MixedTypesError(DataError):
    """A column mixes numbers and text, so its type cannot be inferred safely."""


class InvalidParameterError(SynthPatientError, ValueError):
    """A parameter has a wrong type or value."""


class ConditionError(SynthPatientError, ValueError):
    """A sampling condition is malformed, names an unknown column, or cannot be met."""


class NotFittedError(SynthPatientError, ValueError):
    """The synthesizer must be fitted before it can sample or be saved."""


class UnknownSynthesizerError(SynthPatientError, KeyError):
    """The registry has no synthesizer under this key."""


class UnknownMetricError(SynthPatientError, KeyError):
    """The metric registry has no metric under this key."""


class UnknownDatasetError(SynthPatientError, KeyError):
    """There is no bundled dataset under this key."""


class UnknownExporterError(SynthPatientError, KeyError):
    """The exporter registry has no output format under this key or file extension."""


class MissingExtraError(SynthPatientError, ImportError):
    """An optional dependency is missing; the message names the pip command that installs it."""


class ModelFileError(SynthPatientError, ValueError):
    """A saved model folder is missing, incomplete, from another format version, or damaged."""


class FileIOError(SynthPatientError, OSError):
    """A user file could not be read or written."""


class KnowledgeBaseError(SynthPatientError, ValueError):
    """A knowledge-base file is malformed, or cites a source it does not define."""


class SynthPatientWarning(UserWarning):
    """Something the user should know about the data or the result."""


class CapacityError(SynthPatientError, RuntimeError):
    """The server is at a limit it will not break (every session holds someone's work); the
    web app answers 503 and the user is told to try again later."""


class RuleError(DataError):
    """A clinical-consistency rule is invalid, cannot be checked on a table, or breaks a limit
    (expression size, nesting, powers, time budget); the message names the rule."""


class BusyError(SynthPatientError):
    """A web session already has a job running."""


class UploadTooLargeError(DataError):
    """A web upload is over the size limit."""


class NotFoundError(SynthPatientError, KeyError):
    """No such upload, job or result in this web session."""


class LLMError(SynthPatientError):
    """The LLM server could not give a usable answer; the message says why and what to do.

    ``status`` (the HTTP status, None when no answer came) and ``detail`` (the server's own
    message, one line, at most 200 characters) let callers react, e.g. retry without
    ``response_format`` when a server does not support it.
    """

    def __init__(self, message: str, *, status: int | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail


class LLMRequestError(LLMError):
    """A request that failed after its tries. ``attempt_statuses`` holds why each failed
    attempt failed, the last one included (the HTTP status, 0 for a timeout), so that a run
    counts every retry and timeout even when no answer came."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        detail: str = "",
        attempt_statuses: tuple[int, ...] = (),
    ) -> None:
        super().__init__(message, status=status, detail=detail)
        self.attempt_statuses = attempt_statuses


class JobCancelled(Exception):  # noqa: N818  (a request to stop, not an error)
    """Raised inside a web job's work at the first check after the user pressed Cancel."""


class ExpressionError(RuleError):
    """The expression is not valid rule syntax, breaks a limit, or cannot be evaluated."""


class ExpressionTimeout(ExpressionError):
    """Evaluating the expression went past its deadline."""


class Terminated(BaseException):  # noqa: N818  (a signal, like KeyboardInterrupt, not an error)
    """SIGTERM, raised in the main thread so that it unwinds like Ctrl-C.

    A ``BaseException``, so that library code catching ``Exception`` (a benchmark run, a
    conversation turn) cannot swallow it. Only the command line raises it.
    """


class Clarification(InvalidParameterError):
    """The request cannot be carried out as written; the message says what is supported."""


class GenerationIncompleteError(LLMError):
    """Fewer valid rows than asked. ``rows`` holds those obtained (a finished table, possibly
    empty) and ``report`` the run's counts; the synthesizer keeps them too, as
    ``partial_rows_`` and ``last_sample_report_``."""

    def __init__(
        self, message: str, *, rows: Any, report: Any, status: int | None = None, detail: str = ""
    ) -> None:
        super().__init__(message, status=status, detail=detail)
        self.rows = rows
        self.report = report
