"""Pydantic models of the JSON API: what each route takes and returns (the OpenAPI schema)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from synthpatient.web.cohorts import MAX_MESSAGE_CHARS

Condition = Annotated[str, Field(min_length=1, max_length=200)]
Column = Annotated[str, Field(min_length=1, max_length=200)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorOut(BaseModel):
    error: str = Field(description="What went wrong, in one line.")


class LimitsOut(BaseModel):
    max_upload_mb: float
    max_upload_rows: int
    max_upload_columns: int
    min_rows: int
    max_rows: int
    max_fhir_patients: int
    max_message_chars: int
    upload_suffixes: list[str]


class ChatIn(_Model):
    text: str = Field(
        min_length=1,
        max_length=MAX_MESSAGE_CHARS,
        description="A request ('2000 type 2 diabetes patients with 20 "
        "observations'), a follow-up ('now only women', 'add eGFR'), "
        "'yes' to confirm, or a question ('which sources did you use?').",
    )


class MessageOut(BaseModel):
    role: Literal["user", "assistant"]
    text: str
    kind: str | None = Field(
        default=None, description="confirm, generated, answer, clarify or exported"
    )
    request: dict[str, Any] | None = Field(
        default=None,
        description="The parsed request, with a plain 'description', when there is one.",
    )
    result_id: str | None = None


class JobOut(BaseModel):
    id: str
    kind: Literal["chat", "table"]
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    stage: str
    progress: float | None = Field(default=None, description="0 to 1; null when unknown.")
    elapsed_s: float = Field(default=0.0, description="Seconds since the job started.")
    remaining_s: float | None = Field(
        default=None, description="Estimated seconds left at the pace so far; null when unknown."
    )
    cancelling: bool = Field(
        default=False, description="Cancel was asked: it stops at the end of the current step."
    )
    error: str | None = None
    message: MessageOut | None = Field(default=None, description="A chat job's reply, when done.")
    result_id: str | None = Field(default=None, description="The results to show, when done.")


class ColumnOut(BaseModel):
    name: str
    kind: str
    flagged: bool = Field(description="An identifier or free text: never learned, made up fresh.")
    note: str
    role: str | None = Field(
        default=None,
        description="In a table with several rows per patient: patient id, time of the visit, "
        "per patient (one value for all of a patient's visits) or per visit.",
    )
    timeline: str | None = Field(
        default=None, description="Why the column got its role (counts and shares, no values)."
    )


class TimelineOut(BaseModel):
    """A table with several rows per patient, read as patient histories."""

    patient_key: str
    time_column: str | None = Field(description="None: the visits keep their row order.")
    n_patients: int
    n_visits: int
    mean_visits: float
    max_visits: int
    per_patient: list[str] = Field(description="Columns with one value per patient.")
    per_visit: list[str] = Field(description="Columns that change between visits.")
    identifiers: list[str]
    summary: str = Field(description="The same in plain words.")
    time_text: str
    synthesizer: str = Field(description="The generator that keeps each patient's visits together.")


class UploadOut(BaseModel):
    id: str
    filename: str
    size_bytes: int
    n_rows: int
    n_columns: int
    columns: list[ColumnOut]
    flagged: list[str]
    timeline: TimelineOut | None = Field(
        default=None,
        description="Set when the rows repeat a patient id: the table holds patient histories.",
    )
    too_small: dict[str, str] = Field(
        default_factory=dict,
        description="Generators that cannot learn from this few rows, with why.",
    )
    notices: list[str] = Field(
        default_factory=list,
        description="What the user should know, "
        "e.g. that their earliest table was removed to make room.",
    )


class SessionOut(BaseModel):
    created: bool = Field(description="False when the client already had a valid session.")
    cookie: str = Field(description="The cookie that carries the session: send it back.")
    idle_minutes: float = Field(
        description="The session and its files end after this long without a request."
    )
    holds_work: bool = Field(description="Whether it holds uploads, results or a conversation.")


class BundledIn(_Model):
    dataset: Literal["diabetes", "breast_cancer", "pbcseq"] = "diabetes"


class SynthesizerOut(BaseModel):
    key: str
    label: str = Field(description="Its name in words, e.g. 'Gaussian copula'.")
    description: str = Field(default="", description="What it is and when to choose it.")
    available: bool
    reason: str | None = None
    differentially_private: bool = False
    native_conditions: bool = False
    longitudinal: bool = Field(
        default=False,
        description="Learns tables with several rows per patient and counts in patients.",
    )
    min_rows: int = Field(default=1, description="The fewest rows it learns from.")


class GenerateIn(_Model):
    upload_id: str = Field(min_length=1, max_length=64)
    synthesizer: str = Field(default="copula", min_length=1, max_length=40)
    n_rows: int = Field(
        default=1000,
        description="Rows to generate; with a generator that learns patient histories "
        "(sequential), patients, each with their visits (limits: GET /api/limits).",
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        max_length=20,
        description="COLUMN=VALUE or COLUMN=LOW..HIGH, e.g. sex=2 or age=40..65.",
    )
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)
    identifiers: list[Column] = Field(
        default_factory=list, max_length=300, description="More columns to treat as identifiers."
    )
    learn: list[Column] = Field(
        default_factory=list,
        max_length=300,
        description="Flagged columns (identifiers, free text) to learn anyway, as categories: "
        "their real values can then appear in the synthetic rows.",
    )
    target: Column | None = Field(
        default=None,
        description="An outcome column for ML utility (train on synthetic, test on real).",
    )
    holdout: bool = Field(
        default=True,
        description="Keep a quarter of the rows (of the patients, with all their visits, "
        "in a table with several rows per patient) aside to measure privacy against "
        "patients never learned.",
    )
    rules: str = Field(
        default="auto", max_length=40, description="auto, none, or a shipped rule pack."
    )
    epsilon: float | None = Field(
        default=None,
        gt=0,
        le=100,
        description="Differential-privacy budget, for ctgan, tvae and mst.",
    )


class PlotOut(BaseModel):
    title: str
    alt: str
    url: str


class DownloadOut(BaseModel):
    format: str
    label: str
    filename: str
    url: str


class HistoryTableOut(BaseModel):
    name: str
    what: str = Field(description="What one row is.")
    n_rows: int
    downloads: list[DownloadOut]


class CheckOut(BaseModel):
    key: Literal["faithful", "private", "consistent"]
    label: str
    light: Literal["green", "amber", "red", "grey"]
    status: str = Field(description="good, check, poor or not judged (the light in words).")
    text: str
    advice: str | None = Field(default=None, description="What to try, when not green.")


class VerdictOut(BaseModel):
    made: str = Field(description="What was made, in one sentence.")
    light: Literal["green", "amber", "red", "grey"]
    headline: str
    checks: list[CheckOut]


class ResultOut(BaseModel):
    id: str
    kind: Literal["cohort", "table"]
    title: str
    n_rows: int
    n_patients: int | None = Field(
        default=None, description="Set when patients have several rows (visits)."
    )
    summary: str = Field(default="", description="e.g. '300 patients, 4,120 visits'.")
    verdict: VerdictOut | None = Field(
        default=None,
        description="What was made, and whether it is faithful, private and clinically "
        "consistent, each with a traffic light and advice: what the page shows first.",
    )
    tables: list[HistoryTableOut] = Field(
        default_factory=list,
        description="A cohort's history tables (encounters, observations, medications, "
        "conditions), each with its downloads.",
    )
    columns: list[str]
    preview: list[dict[str, Any]]
    plots: list[PlotOut]
    scores: list[dict[str, Any]]
    targets: list[dict[str, Any]]
    rules: list[dict[str, Any]]
    notices: list[str]
    provenance: dict[str, Any]
    downloads: list[DownloadOut]
    distributions: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Per column: label, unit, numeric or not, and bins with the share of "
        "real and synthetic rows (real is null for a cohort).",
    )
    correlations: dict[str, Any] | None = Field(
        default=None,
        description="Spearman correlations of up to 12 numeric columns: their labels and "
        "units, the synthetic matrix and the real one (null for a cohort).",
    )
    timelines: dict[str, Any] | None = Field(
        default=None,
        description="Patient histories: the time axis in words and, per column, a few "
        "synthetic patients' trajectories and real and synthetic quartiles per period.",
    )
    datacard: dict[str, Any] | None = Field(
        default=None,
        description="The data card (as its JSON download): what made the data, the privacy "
        "guarantee, representation, uses and limitations.",
    )
