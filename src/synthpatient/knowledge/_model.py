"""The knowledge base as validated data: sources, conditions, observations, codes.

Every number a cohort is built from lives in the YAML files of ``knowledge/data`` and names
the source it comes from; loading checks that each cited source exists, that codes and units
are present and well formed, and that ranks are unique, so a broken edit fails at load time
with one line saying where.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

LOINC = re.compile(r"^\d{1,7}-\d$")
DIGITS = re.compile(r"^\d+$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Source(_Frozen):
    """A publication or dataset behind numbers of the knowledge base."""

    id: str
    title: str
    publisher: str
    year: int
    table_or_section: str
    supports: str
    url: str | None = None
    verified: bool = Field(description="True only if the figure was read in the source itself.")

    def citation(self) -> str:
        mark = "" if self.verified else " [not verified in the source]"
        return f"{self.title}. {self.publisher}, {self.year}; {self.table_or_section}.{mark}"


class Effects(_Frozen):
    """Additive shifts of a drawn observation by age and sex (value units unless latent)."""

    per_year_of_age: float = 0.0  # added per year above (or taken per year below) age 60
    per_year_after_60: float = 0.0  # added per year above 60 only (e.g. diastolic pressure)
    female_minus_male: float = 0.0  # women get +half, men -half, the mean is kept
    latent_per_year_of_age: float = 0.0  # normal-score shift per year from 60 (keeps marginal)


class Observation(_Frozen):
    """One clinical measurement: what it is (LOINC, UCUM), how it is drawn, what it must match."""

    key: str
    name: str
    loinc: str
    unit: str
    rank: int = Field(ge=1)
    synonyms: tuple[str, ...] = ()
    distribution: dict[str, Any]
    targets: dict[str, Any] = Field(default_factory=dict)
    effects: Effects = Effects()
    category: Literal["laboratory", "vital-signs", "exam", "social-history"] = "laboratory"
    how_generated: str
    sources: tuple[str, ...] = Field(min_length=1)

    @property
    def derived(self) -> bool:
        return self.distribution.get("family") == "derived"

    @field_validator("loinc")
    @classmethod
    def _loinc(cls, value: str) -> str:
        if not LOINC.match(value):
            raise ValueError(f"'{value}' is not a LOINC code (digits, a dash, a check digit)")
        return value


class Comorbidity(_Frozen):
    """A condition patients of the cohort may also have.

    Either ``definition`` (an expression over observations, e.g. ``egfr < 60 or uacr >= 30``:
    the flag follows the values and ``prevalence`` is only a target) or a latent liability
    with loadings ``drivers`` on observations' normal scores, cut at ``prevalence``.
    """

    key: str
    name: str
    snomed: str
    icd10: str | None = None  # billable ICD-10-CM code, when one fits
    synonyms: tuple[str, ...] = ()
    prevalence: float = Field(ge=0, le=1)
    tolerance: float | None = None
    definition: str | None = None
    drivers: dict[str, float] = Field(default_factory=dict)
    sources: tuple[str, ...] = Field(min_length=1)


class TreatmentEffect(_Frozen):
    """A bounded multiplicative effect of a drug on an observation (drawn per patient)."""

    observation: str
    factor_min: float = Field(gt=0)
    factor_max: float = Field(gt=0)


class AgeBand(_Frozen):
    """The ages a drug's sourced share was measured in (e.g. statins, adults 40-75); outside
    them the drug is given at ``share_outside``, which names its own sources."""

    min: int = Field(ge=0)
    max: int = Field(ge=0)
    share_outside: float = Field(ge=0, le=1)
    sources: tuple[str, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _order(self) -> AgeBand:
        if self.min > self.max:
            raise ValueError(f"age band {self.min}-{self.max}: min is above max")
        return self


class Medication(_Frozen):
    """A drug patients of the cohort may take; ``treats`` marks therapy of the condition itself.

    ``drug_class`` names a class of ``drug_classes.yaml``: two drugs of one class, or of two
    classes listed there as conflicting, are never given together. ``share`` is of the whole
    cohort; with ``requires`` it is reached among the patients with that comorbidity only.
    """

    key: str
    name: str
    rxnorm: str
    synonyms: tuple[str, ...] = ()
    share: float = Field(ge=0, le=1)
    treats: bool = False
    drug_class: str | None = None
    ages: AgeBand | None = None  # the share holds in these ages (statins: 40-75)
    requires: str | None = None  # a comorbidity key (e.g. an ACE inhibitor needs hypertension)
    contraindication: str | None = None  # e.g. "egfr < 30": never prescribed where it holds
    drivers: dict[str, float] = Field(default_factory=dict)
    effect: TreatmentEffect | None = None
    sources: tuple[str, ...] = Field(min_length=1)


class DrugConflict(_Frozen):
    """Two drug classes never given together: contraindicated, or a duplicate of one action."""

    a: str
    b: str
    kind: Literal["contraindicated", "duplicate"]
    why: str
    sources: tuple[str, ...] = Field(min_length=1)


class ComorbidityRegimen(_Frozen):
    """The drugs a comorbidity brought into a condition (from ``drug_classes.yaml``) and the
    share of the patients with it that must take at least one of them."""

    comorbidity: str
    medications: tuple[str, ...]
    any_share: float = Field(ge=0, le=1)
    sources: tuple[str, ...] = Field(min_length=1)


class StatusMeans(_Frozen):
    """An observation's mean in treated and in untreated patients, as a source gives them."""

    observation: str
    treated_mean: float
    untreated_mean: float
    tolerance: float = Field(gt=0)
    sources: tuple[str, ...] = Field(min_length=1)


class Treatment(_Frozen):
    """Share of the cohort on any therapy of the condition, and who must be treated."""

    share: float = Field(ge=0, le=1)
    # untreated patients must meet this (the diagnosis rests on their values), others are treated
    untreated_requires: str | None = None
    # who is treated follows these observations' scores (e.g. higher HbA1c), as cited
    drivers: dict[str, float] = Field(default_factory=dict)
    by_status: StatusMeans | None = None
    sources: tuple[str, ...] = Field(min_length=1)


class Correlation(_Frozen):
    """A latent (normal-scores) correlation between two drawn observations."""

    a: str
    b: str
    r: float = Field(gt=-1, lt=1)
    sources: tuple[str, ...] = Field(min_length=1)


class Visits(_Frozen):
    """When a patient is seen: the interval follows one observation against its target."""

    observation: str | None = None  # None: every visit is days_at_target apart
    target: float | None = None
    days_above_target: float = Field(gt=0)
    days_at_target: float = Field(gt=0)
    jitter_days: float = Field(default=0.0, ge=0)
    annual_days: float = Field(default=365.0, gt=0)
    # share of booked visits the patient does not attend; the visit is booked again one
    # interval later (nothing is measured or decided at a missed visit)
    missed_share: float = Field(default=0.0, ge=0, lt=1)
    # which side of the target is worse: "above" (HbA1c, blood pressure) or "below" (eGFR,
    # where lower kidney function calls for more frequent monitoring); "above target" in the
    # rest of the model means on the worse side
    direction: Literal["above", "below"] = "above"
    # finer intervals on the worse side: a value beyond a band's edge (a number written as
    # text) is seen after that band's days, the most extreme band it passes winning (e.g.
    # eGFR below 30: every 104 days); values on the worse side beyond no band keep
    # days_above_target
    days_by_band: dict[str, float] = Field(default_factory=dict)
    sources: tuple[str, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _jitter(self) -> Visits:
        shortest = min(self.days_above_target, self.days_at_target, *self.days_by_band.values())
        if self.jitter_days * 2 >= shortest:
            raise ValueError("jitter_days must be under half of the shortest visit interval")
        for edge, days in self.days_by_band.items():
            float(edge)  # a band edge is a number written as text
            if days <= 0:
                raise ValueError(f"visits: days_by_band {edge} must be positive")
        if self.days_by_band and self.target is None:
            raise ValueError("visits: days_by_band needs an observation and a target")
        if (self.observation is None) != (self.target is None):
            raise ValueError("visits: give both 'observation' and 'target', or neither")
        return self


class Duration(_Frozen):
    """Years since diagnosis at the first visit of a history (a gamma distribution)."""

    mean: float = Field(gt=0)
    sd: float = Field(gt=0)
    min_age_at_diagnosis: float = Field(default=18, ge=0)
    # the youngest age a history may start at (default: min_age_at_diagnosis); type 1 diabetes
    # is diagnosed from childhood on but its histories are of adult care, from 18
    min_age_at_history: float | None = Field(default=None, ge=0)
    sources: tuple[str, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _history_after_diagnosis(self) -> Duration:
        if self.min_age_at_history is not None and (
            self.min_age_at_history < self.min_age_at_diagnosis
        ):
            raise ValueError("duration: min_age_at_history is below min_age_at_diagnosis")
        return self


class Trajectory(_Frozen):
    """How one drawn observation moves within a patient: level + drift + a deviation that
    decorrelates over ``correlation_years`` (AR(1) at any spacing of visits)."""

    observation: str
    schedule: Literal["every_visit", "annual"]
    scale: Literal["linear", "log"] = "linear"
    within_sd: float = Field(ge=0)
    correlation_years: float = Field(gt=0)
    drift_per_year: float = 0.0
    # the first value's deviation drawn given the value (its regression on the cohort's
    # spread), so that the cohort's spread stays the snapshot's at later visits; without it
    # the deviation is independent of the value and the spread widens by the within variance
    stationary: bool = False
    sources: tuple[str, ...] = Field(min_length=1)


class KidneyDecline(_Frozen):
    """A linear per-patient decline of eGFR, faster with albuminuria at the start."""

    observation: str
    albuminuria: str
    slope_by_albuminuria: dict[str, float]  # "<30", "30-300", ">300" (mg/g) -> per year
    slope_sd: float = Field(ge=0)
    # per-year change of the slope while a medication is taken (e.g. an SGLT2 inhibitor slows
    # the decline: +0.95): from the first visit for a drug taken then, else from its start
    slope_change_on: dict[str, float] = Field(default_factory=dict)
    sources: tuple[str, ...] = Field(min_length=1)

    @field_validator("slope_by_albuminuria")
    @classmethod
    def _bands(cls, value: dict[str, float]) -> dict[str, float]:
        if set(value) != {"<30", "30-300", ">300"}:
            raise ValueError("slope_by_albuminuria needs exactly '<30', '30-300' and '>300'")
        return value


class Intensification(_Frozen):
    """How quickly therapy steps up while the visit observation is above target (on the worse
    side: below it for ``visits.direction: below``, where a threshold counts values at or
    below it).

    ``steps`` says which drugs a step-up may start: ``highest`` (type 2 diabetes) a drug of a
    step above the highest one taken; ``count`` (hypertension, where combinations of the
    first-line classes are the next steps) a drug of any step up to the number of stepped drugs
    taken plus one, the lowest such step first (e.g. a second first-line class, then a third,
    then an add-on)."""

    median_years_by_threshold: dict[str, float] = Field(min_length=1)
    effect_onset_days: float = Field(ge=0)
    steps: Literal["highest", "count"] = "highest"
    # results above target in a row before a step-up (2: confirmed at a second visit; a step-up
    # starts the count again, so the next one waits for the new drug's confirmed result)
    confirm_results: int = Field(default=1, ge=1)
    hold_when: str | None = None  # no step-up where it holds (e.g. "diastolic_bp < 70")
    # with ``ceiling_drugs`` stepped drugs taken, another only while ``beyond_ceiling_needs``
    # is one of them (resistant hypertension: above target on 3 classes including a diuretic)
    ceiling_drugs: int | None = Field(default=None, ge=1)
    beyond_ceiling_needs: str | None = None
    sources: tuple[str, ...] = Field(min_length=1)

    @field_validator("median_years_by_threshold")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        for key, years in value.items():
            float(key)  # a threshold is a number written as text
            if years <= 0:
                raise ValueError(f"median years at {key} must be positive")
        return value


class DrugStep(_Frozen):
    """A medication of the guideline's steps and what it does to the visit observation."""

    medication: str
    step: int = Field(ge=1)
    lowering_min: float = Field(ge=0)
    lowering_max: float = Field(ge=0)
    start_contraindication: str | None = None  # never started where it holds
    stop_when: str | None = None  # stopped at the first visit where it holds
    preferred_when: str | None = None  # chosen before others of its step where it holds
    # other observations the drug lowers, as a fraction of its lowering of the visit
    # observation (e.g. diastolic pressure by about 0.6 of the systolic fall)
    also_lowers: dict[str, float] = Field(default_factory=dict)
    # share of patients who stop the drug within a year of starting it, and per year after
    # that (also for a drug taken before the history): non-persistence or side effects; the
    # stop is dated between visits, its effect wears off, and it is not restarted
    discontinuation_first_year: float | None = Field(default=None, ge=0, lt=1)
    discontinuation_per_year: float = Field(default=0.0, ge=0, lt=1)
    sources: tuple[str, ...] = Field(min_length=1)

    @field_validator("also_lowers")
    @classmethod
    def _fractions(cls, value: dict[str, float]) -> dict[str, float]:
        for key, fraction in value.items():
            if not 0 < fraction <= 1:
                raise ValueError(f"also_lowers {key}: a fraction above 0 and at most 1")
        return value


class Complication(_Frozen):
    """A condition that may start during follow-up, at a sourced yearly rate."""

    key: str
    name: str
    snomed: str
    icd10: str
    onset: Literal["event", "annual_review", "definition"]
    rate_per_year: float = Field(default=0.0, ge=0)
    hazard_ratio_per_point: float = Field(default=1.0, gt=0)  # per point above the target
    baseline_share: float = Field(default=0.0, ge=0, le=1)
    comorbidity: str | None = None  # the cohort's comorbidity it is (definition) or feeds
    # an acute event that may happen again (ketoacidosis, severe hypoglycaemia): every event is
    # an encounter and a condition row, and the hazard runs on after the first
    recurrent: bool = False
    # the comorbidity it feeds means an event within this many days before the last visit
    # (e.g. "ketoacidosis in the past year": 365), so it is set from the events at the end
    comorbidity_window_days: float | None = Field(default=None, gt=0)
    # onset "definition" by an expression of measured values (e.g. kidney failure: "egfr <
    # 15"), found at the first visit where it holds, instead of a comorbidity's definition
    definition: str | None = None
    sources: tuple[str, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _window(self) -> Complication:
        if self.definition is not None and self.onset != "definition":
            raise ValueError(f"complication {self.key}: a definition needs onset 'definition'")
        if self.comorbidity_window_days is not None and not (
            self.recurrent and self.onset == "event" and self.comorbidity
        ):
            raise ValueError(
                f"complication {self.key}: comorbidity_window_days needs a recurrent event "
                "that names a comorbidity"
            )
        if self.recurrent and self.onset != "event":
            raise ValueError(f"complication {self.key}: only an 'event' can be recurrent")
        return self


class TimelineCheck(_Frozen):
    """A sourced target range a drawn history is measured against. ``observation`` names what
    a generic measure (``lag1_correlation``, ``test_interval_days``, ``mean_slope``) is taken
    of (default: the visit observation); ``expression`` what ``share_meeting_at_end`` counts
    at each patient's last visit; ``drugs`` the number of stepped drugs that
    ``share_treated_on_at_least`` counts among the patients taking any at the end;
    ``complication`` the events that ``events_per_100_patient_years`` counts."""

    key: str
    what: str
    observation: str | None = None
    expression: str | None = None
    drugs: int | None = Field(default=None, ge=1)
    complication: str | None = None  # what ``events_per_100_patient_years`` counts
    min: float
    max: float
    unit: str = ""
    sources: tuple[str, ...] = Field(min_length=1)


class TimelineSpec(_Frozen):
    """How a condition's patients are followed over time (``<condition>_timeline.yaml``)."""

    visits: Visits
    duration: Duration
    trajectories: tuple[Trajectory, ...]
    derived_schedule: dict[str, Literal["every_visit", "annual"]] = Field(default_factory=dict)
    kidney: KidneyDecline | None = None
    intensification: Intensification | None = None
    drugs: tuple[DrugStep, ...] = ()
    complications: tuple[Complication, ...] = ()
    checks: tuple[TimelineCheck, ...] = ()

    def check_against(self, condition: Condition) -> None:
        """Every key names an observation, medication or comorbidity of ``condition``, and
        every observation moves (a drawn one by a trajectory, a derived one by a schedule)."""
        drawn = {o.key for o in condition.observations if not o.derived}
        derived = {o.key for o in condition.observations if o.derived}
        moving = [t.observation for t in self.trajectories]
        missing = sorted((drawn - set(moving)) | (derived - set(self.derived_schedule)))
        if missing:
            raise ValueError(f"timeline: no trajectory or schedule for {', '.join(missing)}")
        named = set(moving) | {self.visits.observation or next(iter(drawn), "")}
        if self.kidney:
            named |= {self.kidney.observation, self.kidney.albuminuria}
        unknown = sorted((named - drawn) | (set(self.derived_schedule) - derived))
        if unknown:
            raise ValueError(f"timeline: unknown or derived observations {', '.join(unknown)}")
        medications = {m.key for m in condition.medications}
        bad = sorted({d.medication for d in self.drugs} - medications)
        if bad:
            raise ValueError(f"timeline: drugs name unknown medications {', '.join(bad)}")
        lowered = {k for d in self.drugs for k in d.also_lowers}
        checked = {c.observation for c in self.checks if c.observation}
        bad = sorted((lowered - drawn) | (checked - drawn - derived))
        if bad:
            raise ValueError(f"timeline: unknown observations {', '.join(bad)}")
        if self.drugs and (self.intensification is None or self.visits.target is None):
            raise ValueError("timeline: drugs need 'intensification' and a visit target")
        needs = self.intensification.beyond_ceiling_needs if self.intensification else None
        if needs is not None and needs not in {d.medication for d in self.drugs}:
            raise ValueError(f"timeline: beyond_ceiling_needs names no drug step '{needs}'")
        comorbidities = {c.key for c in condition.comorbidities}
        bad = sorted({c.comorbidity for c in self.complications if c.comorbidity} - comorbidities)
        if bad:
            raise ValueError(f"timeline: complications name unknown comorbidities {', '.join(bad)}")
        keys = {c.key for c in self.complications}
        bad = sorted({c.complication for c in self.checks if c.complication} - keys)
        bad += [c.what for c in self.checks if c.key == "events_per_100_patient_years"
                and not c.complication]  # fmt: skip
        if bad:
            raise ValueError(f"timeline: checks name no or unknown complications {', '.join(bad)}")
        if self.kidney and set(self.kidney.slope_change_on) - medications:
            raise ValueError("timeline: kidney slope_change_on names unknown medications")
        for c in self.complications:
            defined = next((x for x in condition.comorbidities if x.key == c.comorbidity), None)
            if c.definition is not None:
                continue
            if c.onset == "definition" and (defined is None or not defined.definition):
                raise ValueError(f"timeline: {c.key} has onset 'definition' but no definition")


class Condition(_Frozen):
    """A cohort specification: who the patients are and what is recorded about them."""

    key: str
    name: str
    snomed: str
    icd10: str
    synonyms: tuple[str, ...]
    populations: tuple[str, ...]
    description: str
    diagnosis: dict[str, Any]
    demographics: dict[str, Any]
    observations: tuple[Observation, ...]
    comorbidities: tuple[Comorbidity, ...] = ()
    medications: tuple[Medication, ...] = ()
    correlations: tuple[Correlation, ...] = ()
    treatment: Treatment | None = None
    # the drug-class conflicts of drug_classes.yaml among this condition's medications (filled
    # in at load time; two medications of one class are a duplicate without being listed)
    conflicts: tuple[DrugConflict, ...] = ()
    regimens: tuple[ComorbidityRegimen, ...] = ()  # also filled in at load time
    timeline: TimelineSpec | None = None  # from <key>_timeline.yaml, when there is one

    @field_validator("snomed")
    @classmethod
    def _snomed(cls, value: str) -> str:
        if not DIGITS.match(value):
            raise ValueError(f"'{value}' is not a SNOMED CT concept id (digits only)")
        return value

    @model_validator(mode="after")
    def _unique(self) -> Condition:
        for what, keys in (
            ("observation", [o.key for o in self.observations]),
            ("observation rank", [o.rank for o in self.observations]),
            ("comorbidity", [c.key for c in self.comorbidities]),
            ("medication", [m.key for m in self.medications]),
        ):
            values: list[object] = list(keys)
            duplicated = sorted({str(k) for k in values if values.count(k) > 1})
            if duplicated:
                raise ValueError(f"duplicate {what}: {', '.join(duplicated)}")
        known = {o.key for o in self.observations}
        drawn = {o.key for o in self.observations if not o.derived}
        unknown = sorted({k for c in self.correlations for k in (c.a, c.b)} - drawn)
        if unknown:
            raise ValueError(
                f"correlations name unknown or derived observations: {', '.join(unknown)}"
            )
        driven: list[Comorbidity | Medication] = [*self.comorbidities, *self.medications]
        treatment = [("treatment", self.treatment.drivers)] if self.treatment else []
        for key, drivers in [*((i.key, i.drivers) for i in driven), *treatment]:
            bad = sorted(set(drivers) - drawn)
            if bad:
                raise ValueError(
                    f"{key}: drivers name unknown or derived observations: {', '.join(bad)}"
                )
        status = self.treatment.by_status if self.treatment else None
        if status is not None and status.observation not in known:
            raise ValueError(f"treatment.by_status: unknown observation '{status.observation}'")
        comorbidities = {c.key for c in self.comorbidities}
        for med in self.medications:
            if med.requires and med.requires not in comorbidities:
                raise ValueError(f"{med.key}: requires unknown comorbidity '{med.requires}'")
            if med.effect and med.effect.observation not in known:
                raise ValueError(
                    f"{med.key}: effect on unknown observation '{med.effect.observation}'"
                )
        if any(m.treats for m in self.medications) and self.treatment is None:
            raise ValueError("medications that treat the condition need a 'treatment' block")
        if self.timeline is not None:
            self.timeline.check_against(self)
        return self

    @property
    def ranked_observations(self) -> list[Observation]:
        return sorted(self.observations, key=lambda o: o.rank)

    def cited_sources(self) -> list[str]:
        """Every source id this condition's numbers cite, in first-use order."""
        ids: list[str] = []

        def add(items: Any) -> None:
            if isinstance(items, dict):
                for key, value in items.items():
                    if key == "sources":
                        ids.extend(value)
                    else:
                        add(value)
            elif isinstance(items, list | tuple):
                for item in items:
                    add(item)

        add(self.model_dump())
        return list(dict.fromkeys(ids))
