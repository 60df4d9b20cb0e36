"""Sourced targets measured on a cohort, and which of them a narrowed cohort can be judged by.

The knowledge base's targets describe the whole population of a condition. A cohort narrowed
by a filter ("HbA1c above 9"), an age range or a sex is another population: its figures are
judged only against targets conditioned on the narrowing where the sources allow it (the bands
of the filtered value itself, when the filter follows their edges: "HbA1c above 9" must have
every patient in the "> 9" band), and every other target is listed as not judged, with why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from synthpatient.knowledge._model import Condition

if TYPE_CHECKING:
    from synthpatient.knowledge.sampler import Cohort

#: Tolerance for prevalences and drug shares that the knowledge base gives none for.
DEFAULT_SHARE_TOLERANCE = 0.05


@dataclass(frozen=True)
class TargetCheck:
    what: str
    target: float
    measured: float
    tolerance: float
    kind: str  # "at least" for correlations and orders, "within" otherwise
    sources: tuple[str, ...]
    # for a share of an observation's values: the observation and the interval (on the grid
    # its values are written to) the share counts, so a filter can condition the target
    observation: str | None = None
    interval: tuple[float, float] | None = None

    @property
    def ok(self) -> bool:
        if self.kind == "at least":
            return self.measured >= self.target
        return abs(self.measured - self.target) <= self.tolerance + 1e-12


@dataclass(frozen=True)
class Unjudged:
    """A target a narrowed cohort cannot be judged by: measured, shown, but not passed or
    failed, since no source gives the figure for that narrower population."""

    what: str
    target: float
    measured: float
    why: str


def sourced_targets(cohort: Cohort) -> tuple[list[TargetCheck], list[str], list[Unjudged]]:
    """(targets judged, targets that could not be measured, targets not judged)."""
    condition, wide = cohort.condition, cohort.wide
    checks, skipped = observation_targets(condition, wide)
    checks += share_targets(condition, wide)
    checks += status_targets(condition, wide)
    spec = cohort.spec
    narrowing = [f.describe() for f in spec.filters]
    if spec.sex is not None:
        narrowing.append(f"{spec.sex} only")
    if spec.female_share is not None:
        narrowing.append(f"{spec.female_share:.0%} women")
    if (spec.age_min, spec.age_max) != (18, 90):
        narrowing.append(f"aged {spec.age_min}-{spec.age_max}")
    if not narrowing:
        return checks, skipped, []
    judged, unjudged = _conditioned(cohort, checks, "; ".join(narrowing))
    return judged, skipped, unjudged


def _conditioned(
    cohort: Cohort, checks: list[TargetCheck], narrowing: str
) -> tuple[list[TargetCheck], list[Unjudged]]:
    """Targets conditioned on the cohort's observation filters where the sourced figures
    allow it; the others not judged."""
    spec = cohort.spec
    filters = {f.key: f for f in spec.filters if f.kind == "observation"}
    only_values = len(filters) == len(spec.filters) and spec.sex is None
    only_values &= spec.female_share is None
    only_values &= (spec.age_min, spec.age_max) == (18, 90)
    by_key = {o.key: o for o in cohort.condition.observations}
    judged: list[TargetCheck] = []
    unjudged: list[Unjudged] = []
    why = f"no source gives this figure for a cohort narrowed to {narrowing}"
    for t in checks:
        f = filters.get(t.observation or "")
        if only_values and f is not None and t.interval is not None:
            step = 10.0 ** -int(by_key[f.key].distribution.get("decimals", 1))
            siblings = [c for c in checks if c.observation == t.observation and c.interval]
            target = _conditioned_share(t, siblings, f.min, f.max, step)
            if target is not None:
                judged.append(
                    TargetCheck(
                        f"{t.what} given {f.describe()}",
                        target,
                        t.measured,
                        t.tolerance,
                        t.kind,
                        t.sources,
                        t.observation,
                        t.interval,
                    )
                )
                continue
        unjudged.append(Unjudged(t.what, t.target, t.measured, why))
    return judged, unjudged


def _conditioned_share(
    t: TargetCheck,
    siblings: list[TargetCheck],
    low: float | None,
    high: float | None,
    step: float,
) -> float | None:
    """The share of ``t``'s interval among patients inside [low, high], from the sourced
    shares of the intervals that partition the values (``siblings``); None when the filter
    cuts through one of them (the sources do not say how its share splits)."""
    lo = -np.inf if low is None else low - step / 2
    hi = np.inf if high is None else high + step / 2

    def inside(interval: tuple[float, float]) -> bool | None:
        a, b = interval[0] - step / 2, interval[1] + step / 2
        eps = step * 1e-6  # values sit on a grid of ``step``; compare its half-steps loosely
        if a >= lo - eps and b <= hi + eps:
            return True
        if b <= lo + eps or a >= hi - eps:
            return False
        return None  # cut through

    parts = [(s, inside(s.interval)) for s in siblings if s.interval is not None]
    if any(flag is None for _, flag in parts):
        return None
    total = sum(s.target for s, flag in parts if flag)
    complete = abs(sum(s.target for s, _ in parts) - 1) < 0.02  # the intervals cover all
    if not complete or total <= 0:
        # one threshold (share below 60): the rest of the values are its complement
        if len(parts) == 1 and t.interval is not None:
            return 1.0 if parts[0][1] else 0.0
        return None
    assert t.interval is not None
    return (t.target / total) if inside(t.interval) else 0.0


def observation_targets(
    condition: Condition, wide: pd.DataFrame
) -> tuple[list[TargetCheck], list[str]]:
    """Each observation's sourced targets (bands, mean, shares below/above a threshold,
    correlations) measured on ``wide``; and the targets it could not measure, named."""
    checks: list[TargetCheck] = []
    skipped: list[str] = []
    for obs in condition.observations:
        t = obs.targets
        if not t:
            continue
        if obs.key not in wide:
            skipped.append(obs.key)
            continue
        x, src = wide[obs.key].to_numpy(dtype=float), obs.sources
        step = 10.0 ** -int(obs.distribution.get("decimals", 1))
        present = x[~np.isnan(x)]
        for band, share in t.get("bands", {}).items():
            interval = _band_interval(band, step)
            checks.append(
                TargetCheck(
                    f"{obs.key} {band}",
                    share,
                    _share_in(present, interval),
                    t["tolerance"],
                    "within",
                    src,
                    obs.key,
                    interval,
                )
            )
        if "mean" in t:
            checks.append(
                TargetCheck(
                    f"{obs.key} mean",
                    t["mean"],
                    float(present.mean()),
                    t["tolerance_mean"],
                    "within",
                    src,
                )
            )
        for threshold, share in t.get("share_below", {}).items():
            interval = (-np.inf, float(threshold) - step)
            checks.append(
                TargetCheck(
                    f"{obs.key} < {threshold}",
                    share,
                    _share_in(present, interval),
                    t["tolerance"],
                    "within",
                    src,
                    obs.key,
                    interval,
                )
            )
        for threshold, share in t.get("share_above", {}).items():
            interval = (float(threshold), np.inf)
            checks.append(
                TargetCheck(
                    f"{obs.key} >= {threshold}",
                    share,
                    _share_in(present, interval),
                    t["tolerance"],
                    "within",
                    src,
                    obs.key,
                    interval,
                )
            )
        checks += _relations(obs.key, x, wide, t, src)
        for other, r in t.get("correlation_with", {}).items():
            other_values = wide[other].to_numpy(dtype=float) if other in wide else None
            if other_values is None or x.std() == 0 or other_values.std() == 0:
                skipped.append(f"r({obs.key}, {other})")  # absent or constant (narrowed)
            else:
                measured = float(np.corrcoef(x, other_values)[0, 1])
                checks.append(
                    TargetCheck(f"r({obs.key}, {other})", r, measured, 0.0, "at least", src)
                )
    return checks, skipped


def _relations(
    key: str, x: np.ndarray, wide: pd.DataFrame, t: dict[str, Any], src: tuple[str, ...]
) -> list[TargetCheck]:
    """Directions a source gives (higher in women, rising with age), as 'at least 0'."""
    out = []
    female = (wide["sex"] == "female").to_numpy()
    ok = ~np.isnan(x)
    if t.get("higher_in_women") and female[ok].any() and (~female[ok]).any():
        gap = float(x[ok & female].mean() - x[ok & ~female].mean())
        out.append(TargetCheck(f"{key} women minus men (mean)", 0.0, gap, 0.0, "at least", src))
    age = wide["age"].to_numpy(float)
    if t.get("rises_with_age") and age[ok].std() > 0:
        r = float(np.corrcoef(age[ok], x[ok])[0, 1])
        out.append(TargetCheck(f"r(age, {key})", 0.0, r, 0.0, "at least", src))
    return out


def _band_interval(band: str, step: float) -> tuple[float, float]:
    """An HbA1c-style band ('<7', '7-7.9', '8-9' closed, '>9') as a closed interval of the
    values written with ``step``."""
    if band.startswith("<"):
        return (-np.inf, float(band[1:]) - step)
    if band.startswith(">"):
        return (float(band[1:]) + step, np.inf)
    low, high = (float(v) for v in band.split("-"))
    return (low, high)


def _share_in(x: np.ndarray, interval: tuple[float, float]) -> float:
    half = 1e-9
    return float(((x >= interval[0] - half) & (x <= interval[1] + half)).mean())


def share_targets(condition: Condition, wide: pd.DataFrame) -> list[TargetCheck]:
    """Comorbidity prevalences, the treated share, drug shares (in the ages a source gives
    them for) and the share of the patients with a comorbidity that its drugs reach."""
    checks = [
        TargetCheck(
            f"{c.key} prevalence",
            c.prevalence,
            float(wide[c.key].mean()),
            c.tolerance or DEFAULT_SHARE_TOLERANCE,
            "within",
            c.sources,
        )
        for c in condition.comorbidities
    ]
    if condition.treatment is not None:
        checks.append(
            TargetCheck(
                "treated share",
                condition.treatment.share,
                float(wide["treated"].mean()),
                DEFAULT_SHARE_TOLERANCE,
                "within",
                condition.treatment.sources,
            )
        )
    age = wide["age"].to_numpy(float)
    for m in condition.medications:
        on = wide[f"on_{m.key}"].to_numpy(bool)
        what = f"{m.key} share"
        if m.ages is not None:  # the sourced share is of these ages only
            inside = (age >= m.ages.min) & (age <= m.ages.max)
            on = on[inside]
            what = f"{m.key} share (ages {m.ages.min}-{m.ages.max})"
        measured = float(on.mean()) if len(on) else float("nan")
        checks.append(
            TargetCheck(what, m.share, measured, DEFAULT_SHARE_TOLERANCE, "within", m.sources)
        )
    for r in condition.regimens:
        with_it = wide[r.comorbidity].to_numpy(bool)
        on_any = wide[[f"on_{k}" for k in r.medications]].to_numpy(bool).any(axis=1)
        checks.append(
            TargetCheck(
                f"any {r.comorbidity} drug among patients with {r.comorbidity}",
                r.any_share,
                float(on_any[with_it].mean()) if with_it.any() else float("nan"),
                DEFAULT_SHARE_TOLERANCE,
                "within",
                r.sources,
            )
        )
    return checks


def status_targets(condition: Condition, wide: pd.DataFrame) -> list[TargetCheck]:
    """An observation's mean in treated and untreated patients, and their order, as cited."""
    status = condition.treatment.by_status if condition.treatment else None
    if status is None or status.observation not in wide or "treated" not in wide:
        return []
    x = wide[status.observation].to_numpy(float)
    treated = wide["treated"].to_numpy(bool)
    mean: dict[str, Any] = {
        "treated": float(np.nanmean(x[treated])) if treated.any() else float("nan"),
        "untreated": float(np.nanmean(x[~treated])) if (~treated).any() else float("nan"),
    }
    key, src = status.observation, status.sources
    sign = 1.0 if status.treated_mean >= status.untreated_mean else -1.0
    return [
        TargetCheck(
            f"{key} mean, treated",
            status.treated_mean,
            mean["treated"],
            status.tolerance,
            "within",
            src,
        ),
        TargetCheck(
            f"{key} mean, untreated",
            status.untreated_mean,
            mean["untreated"],
            status.tolerance,
            "within",
            src,
        ),
        TargetCheck(
            f"{key} treated {'above' if sign > 0 else 'below'} untreated (difference)",
            0.0,
            sign * (mean["treated"] - mean["untreated"]),
            0.0,
            "at least",
            src,
        ),
    ]
