"""Step 2-3 of the sampler: the latent Gaussian and the map from scores to sourced marginals.

One normal score per drawn observation plus a liability per comorbidity and medication;
filters are bounds on these dimensions, drawn first from truncated normals, the rest from
the Gaussian conditional on them, so no patient is thrown away.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

from synthpatient.errors import InvalidParameterError
from synthpatient.knowledge._clauses import _compare, _disjunction, _inclusive, _negated
from synthpatient.knowledge._demographics import _age_bands
from synthpatient.knowledge._model import Comorbidity, Condition, Medication, Observation
from synthpatient.knowledge._regimen import exclusive_groups, group_key
from synthpatient.knowledge._spec import Filter

#: The liability that decides who is treated (its drivers are the treatment's, e.g. HbA1c).
TREATED = "treated"

#: Age around which age effects are expressed (years).
PIVOT_AGE = 60

#: A clause of a value-defined comorbidity on latent scores: (dimension, operator, per-patient
#: score at the clause's cut).
_Predicate = tuple[int, str, np.ndarray]
#: Per dimension the lower and upper score bounds per patient, and per comorbidity key the
#: clauses at least one of which must hold.
_Bounds = tuple[dict[int, np.ndarray], dict[int, np.ndarray], dict[str, list[_Predicate]]]


def _nearest_correlation(matrix: np.ndarray) -> np.ndarray:
    """The matrix with negative eigenvalues lifted and unit diagonal restored."""
    eigval, eigvec = np.linalg.eigh(matrix)
    fixed = eigvec @ np.diag(np.clip(eigval, 1e-6, None)) @ eigvec.T
    d = np.sqrt(np.diag(fixed))
    return fixed / np.outer(d, d)


def _truncated_normal(
    mean: np.ndarray, sd: float, low: np.ndarray, high: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Draws from N(mean, sd) restricted to [low, high], by the inverse CDF (no rejection)."""
    a, b = ndtr((low - mean) / sd), ndtr((high - mean) / sd)
    u = a + (b - a) * rng.random(mean.shape[0])
    return mean + sd * ndtri(np.clip(u, 1e-15, 1 - 1e-15))


class _Latent:
    """Normal scores of drawn observations and liabilities of comorbidities and drugs."""

    def __init__(self, condition: Condition, people: dict[str, np.ndarray]) -> None:
        self.condition = condition
        self.people = people
        self.drawn = [o for o in condition.observations if not o.derived]
        keys = [o.key for o in self.drawn]
        index = {k: i for i, k in enumerate(keys)}
        obs_corr = np.eye(len(keys))
        for c in condition.correlations:
            obs_corr[index[c.a], index[c.b]] = obs_corr[index[c.b], index[c.a]] = c.r
        obs_corr = _nearest_correlation(obs_corr)
        liable: list[Comorbidity | Medication | _Group] = [
            c for c in condition.comorbidities if not c.definition
        ]
        liable += list(condition.medications)
        # a group of drugs never taken together is drawn as one choice: its own liability
        # says whether a patient takes one of them, the members' liabilities say which
        self.groups = [_Group.of(members, condition) for members in exclusive_groups(condition)]
        liable += self.groups
        if condition.treatment is not None:
            liable.append(_Group(TREATED, (), dict(condition.treatment.drivers), 0.5))
        self.group_of = {m.key: g for g in self.groups for m in g.members}
        self.names = keys + [f"liability:{x.key}" for x in liable]
        loadings = np.zeros((len(liable), len(keys)))
        for i, item in enumerate(liable):
            for key, weight in item.drivers.items():
                loadings[i, index[key]] = weight
        # liability = w'z + noise with variance 1 - w'Cw, so each liability is N(0, 1)
        cross = loadings @ obs_corr
        between = cross @ loadings.T
        residual = np.clip(1 - np.diag(between), 1e-6, None)
        full = np.block([[obs_corr, cross.T], [cross, between + np.diag(residual)]])
        self.corr = _nearest_correlation(full)
        self.index = {name: i for i, name in enumerate(self.names)}
        age = people["age"].astype(float)
        self.thresholds = {item.key: _liability_threshold(item, condition, age) for item in liable}
        # the normal-score shift of latent age effects is rescaled by the age spread of the
        # condition's population (fixed), so narrowing ages shifts values as it should
        self.age_sd = _age_sd(condition)

    # value <-> score -------------------------------------------------------------------
    def _shift(self, obs: Observation) -> np.ndarray:
        e, age, female = obs.effects, self.people["age"].astype(float), self.people["female"]
        return (
            e.per_year_of_age * (age - PIVOT_AGE)
            + e.per_year_after_60 * np.clip(age - PIVOT_AGE, 0, None)
            + e.female_minus_male * np.where(female, 0.5, -0.5)
        )

    def _latent_age(self, obs: Observation) -> tuple[np.ndarray, float]:
        slope = obs.effects.latent_per_year_of_age
        offset = slope * (self.people["age"].astype(float) - PIVOT_AGE)
        return offset, float(np.sqrt(1 + (slope * self.age_sd) ** 2))

    def to_values(self, scores: np.ndarray) -> dict[str, np.ndarray]:
        values = {}
        for obs in self.drawn:
            offset, scale = self._latent_age(obs)
            z = (scores[:, self.index[obs.key]] + offset) / scale
            values[obs.key] = marginal_quantile(
                obs.distribution, z, self.people["female"]
            ) + self._shift(obs)
        return values

    def liabilities(self, scores: np.ndarray) -> dict[str, tuple[np.ndarray, float | np.ndarray]]:
        """Per comorbidity or drug key: (liability per patient, threshold it must exceed)."""
        return {
            name.removeprefix("liability:"): (
                scores[:, i],
                self.thresholds[name.removeprefix("liability:")],
            )
            for i, name in enumerate(self.names)
            if name.startswith("liability:")
        }

    def score_of(self, obs: Observation, value: float) -> np.ndarray:
        """Per patient, the latent score at which ``obs`` takes ``value``."""
        base = value - self._shift(obs)
        offset, scale = self._latent_age(obs)
        return _score(obs.distribution, base, self.people["female"]) * scale - offset

    # drawing ---------------------------------------------------------------------------
    def draw(self, filters: tuple[Filter, ...], rng: np.random.Generator) -> np.ndarray:
        n = len(self.people["age"])
        low, high, predicates = self._bounds(filters, n)
        constrained = [i for i in range(len(self.names)) if i in low]
        constrained += [i for p in predicates.values() for i, *_ in p if i not in constrained]
        constrained = list(dict.fromkeys(constrained))
        scores = np.empty((n, len(self.names)))
        if constrained:
            self._draw_constrained(scores, constrained, low, high, predicates, rng)
        rest = [i for i in range(len(self.names)) if i not in constrained]
        if rest:
            c = self.corr
            if constrained:
                s_inv = np.linalg.inv(c[np.ix_(constrained, constrained)])
                gain = c[np.ix_(rest, constrained)] @ s_inv
                cond = c[np.ix_(rest, rest)] - gain @ c[np.ix_(constrained, rest)]
                mean = scores[:, constrained] @ gain.T
            else:
                cond, mean = c, 0.0
            chol = np.linalg.cholesky(_nearest_covariance(cond))
            scores[:, rest] = mean + rng.standard_normal((n, len(rest))) @ chol.T
        return scores

    def _bounds(self, filters: tuple[Filter, ...], n: int) -> _Bounds:
        low: dict[int, np.ndarray] = {}
        high: dict[int, np.ndarray] = {}
        predicates: dict[str, list[_Predicate]] = {}
        by_key = {o.key: o for o in self.drawn}

        def narrow(i: int, lo: np.ndarray | float | None, hi: np.ndarray | float | None) -> None:
            if lo is not None:
                low[i] = np.maximum(low.get(i, np.full(n, -np.inf)), lo)
            if hi is not None:
                high[i] = np.minimum(high.get(i, np.full(n, np.inf)), hi)
            low.setdefault(i, np.full(n, -np.inf))
            high.setdefault(i, np.full(n, np.inf))

        def observation(key: str, lo: float | None, hi: float | None) -> None:
            obs = by_key[key]
            # bounds hold after rounding: 59.6 would be written as 60
            half = 0.49 * 10.0 ** -int(obs.distribution.get("decimals", 1))
            narrow(
                self.index[key],
                None if lo is None else self.score_of(obs, lo - half),
                None if hi is None else self.score_of(obs, hi + half),
            )

        comorbidities = {c.key: c for c in self.condition.comorbidities}
        medications = {m.key: m for m in self.condition.medications}
        for f in filters:
            if f.kind == "observation":
                observation(f.key, f.min, f.max)
            elif f.kind == "comorbidity" and comorbidities[f.key].definition:
                # checked when the spec was validated: a definition filtered on is a disjunction
                clauses = _disjunction(str(comorbidities[f.key].definition), self.condition) or []
                if f.present:  # at least one clause holds: a per-patient check on few scores
                    predicates[f.key] = [
                        (
                            self.index[k],
                            op,
                            self.score_of(by_key[k], _inclusive(op, x, by_key[k])[1]),
                        )
                        for k, op, x in clauses
                    ]
                else:  # no clause holds: each is a bound
                    for k, op, x in clauses:
                        observation(k, *_negated(op, x, by_key[k]))
            elif f.kind == "medication" and f.key in self.group_of:
                # a drug of an exclusive group: asked for, everyone takes one of the group
                # (this one, chosen afterwards); asked against, it is left out of the choice
                if f.present:
                    group = self.group_of[f.key]
                    narrow(self.index[f"liability:{group.key}"], self.thresholds[group.key], None)
                    chosen = medications[f.key]
                    if chosen.contraindication:  # never given where contraindicated
                        clause = _disjunction(chosen.contraindication, self.condition)
                        for k, op, x in clause or ():
                            observation(k, *_negated(op, x, by_key[k]))
            else:
                i = self.index[f"liability:{f.key}"]
                t = self.thresholds[f.key]
                narrow(i, t, None) if f.present else narrow(i, None, t)
                med = medications.get(f.key) if f.kind == "medication" else None
                if med and f.present and med.contraindication:
                    clause = _disjunction(med.contraindication, self.condition)
                    for k, op, x in clause or ():
                        observation(k, *_negated(op, x, by_key[k]))
        for i in low:
            if np.any(low[i] >= high[i]):
                raise InvalidParameterError(
                    f"The filters on {self.names[i].removeprefix('liability:')} contradict "
                    f"each other (or the knowledge base's bounds); loosen them."
                )
        return low, high, predicates

    def _draw_constrained(
        self,
        scores: np.ndarray,
        constrained: list[int],
        low: dict[int, np.ndarray],
        high: dict[int, np.ndarray],
        predicates: dict[str, list[_Predicate]],
        rng: np.random.Generator,
    ) -> None:
        """Fills ``scores``' constrained columns in place, each from a normal truncated to its
        bounds and conditional on the columns drawn before it."""
        n = scores.shape[0]
        c = self.corr
        inf = np.full(n, np.inf)

        def once(rows: np.ndarray) -> None:
            for step, i in enumerate(constrained):
                before = constrained[:step]
                if before:
                    gain = c[i, before] @ np.linalg.inv(c[np.ix_(before, before)])
                    mean = scores[np.ix_(rows, np.asarray(before))] @ gain
                    sd = float(np.sqrt(max(c[i, i] - gain @ c[before, i], 1e-9)))
                else:
                    mean, sd = np.zeros(len(rows)), 1.0
                lo = low.get(i, -inf)[rows]
                hi = high.get(i, inf)[rows]
                scores[rows, i] = _truncated_normal(mean, sd, lo, hi, rng)

        rows = np.arange(n)
        once(rows)
        # a value-defined comorbidity asked for ("with CKD"): redraw only the few scores of
        # the patients whose draw met none of its clauses (patients are never discarded)
        for _ in range(1000):
            failing = np.zeros(n, dtype=bool)
            for clauses in predicates.values():
                met = np.zeros(n, dtype=bool)
                for i, op, x in clauses:
                    met |= _compare(scores[:, i], op, x)
                failing |= ~met
            if not failing.any():
                return
            once(np.flatnonzero(failing))
        raise InvalidParameterError("The filters are too narrow to draw patients for; loosen them.")


def _nearest_covariance(matrix: np.ndarray) -> np.ndarray:
    eigval, eigvec = np.linalg.eigh((matrix + matrix.T) / 2)
    return eigvec @ np.diag(np.clip(eigval, 1e-9, None)) @ eigvec.T


class _Group:
    """Drugs of which a patient takes at most one; drawn as one liability at the sum of the
    members' shares (drivers: their share-weighted mean). Also the treatment's liability."""

    def __init__(
        self, key: str, members: tuple[Medication, ...], drivers: dict[str, float], share: float
    ) -> None:
        self.key, self.members, self.drivers, self.share = key, members, drivers, share

    @classmethod
    def of(cls, members: tuple[Medication, ...], condition: Condition) -> _Group:
        shares = [member_share(m, condition) for m in members]
        total = float(sum(shares)) or 1.0
        drivers: dict[str, float] = {}
        for m, s in zip(members, shares, strict=True):
            for k, w in m.drivers.items():
                drivers[k] = drivers.get(k, 0.0) + w * s / total
        return cls(group_key(members), members, drivers, sum(shares))


def member_share(med: Medication, condition: Condition) -> float:
    """A drug's share among the patients who may take it: the treated (a therapy of the
    condition) or those with the comorbidity it requires; the fallback therapy drawn less
    often, since treated patients left without therapy get it too."""
    share = med.share
    if med.requires:
        required = next((c for c in condition.comorbidities if c.key == med.requires), None)
        if required is not None and required.prevalence > 0:
            share = min(1.0, share / required.prevalence)
    if med.treats and condition.treatment and condition.treatment.share > 0:
        share = min(1.0, share / condition.treatment.share)
        first = _fallback_therapy(condition)
        if first is not None and med.key == first.key:
            # others taken as independent: what share of the treated draws no other therapy
            none_other = np.prod(
                [
                    1 - min(1.0, m.share / condition.treatment.share)
                    for m in condition.medications
                    if m.treats and m.key != med.key
                ]
            )
            share = float(np.clip((share - none_other) / (1 - none_other), 0, 1))
    return share


def _liability_threshold(
    item: Comorbidity | Medication | _Group, condition: Condition, age: np.ndarray
) -> float | np.ndarray:
    """The cut of an item's liability (per patient where a drug's share depends on age)."""
    if isinstance(item, Comorbidity):
        share: float | np.ndarray = item.prevalence
    elif isinstance(item, _Group):
        share = min(item.share, 1.0)
    else:
        share = member_share(item, condition)
        if item.ages is not None:
            outside = item.ages.share_outside * share / max(item.share, 1e-12)
            inside = (age >= item.ages.min) & (age <= item.ages.max)
            share = np.where(inside, share, min(outside, 1.0))
    return ndtri(1 - np.clip(share, 1e-9, 1 - 1e-9))


def _fallback_therapy(condition: Condition) -> Medication | None:
    return next((m for m in condition.medications if m.treats and not m.requires), None)


def _age_sd(condition: Condition) -> float:
    bands = _age_bands(condition)
    shares = np.array([s for *_, s in bands]) / sum(s for *_, s in bands)
    mids = np.array([(lo + hi) / 2 for lo, hi, _ in bands])
    within = np.array([(hi - lo + 1) ** 2 / 12 for lo, hi, _ in bands])
    mean = shares @ mids
    return float(np.sqrt(shares @ (within + (mids - mean) ** 2)))


def marginal_quantile(dist: dict, z: np.ndarray, female: np.ndarray) -> np.ndarray:
    """An observation's value at normal scores ``z``: the knowledge base's one marginal, by
    its family (normal, lognormal, quantiles...), by sex where the source gives it."""
    family = dist["family"]
    if family == "normal":
        mean = (
            np.where(female, dist["mean_female"], dist["mean_male"])
            if "mean_female" in dist
            else dist["mean"]
        )
        return mean + dist["sd"] * z
    if family == "lognormal":
        mu, sigma = _lognormal(dist)
        return np.exp(mu + sigma * z)
    if family == "quantiles":  # piecewise-linear quantile function through [value, share]
        points = np.asarray(dist["points"], dtype=float)
        return np.interp(ndtr(z), points[:, 1], points[:, 0])
    raise ValueError(f"unknown distribution family {family!r}")


def _score(dist: dict, value: np.ndarray, female: np.ndarray) -> np.ndarray:
    """The inverse of :func:`_quantile`: the normal score at which the marginal gives value."""
    family = dist["family"]
    if family == "normal":
        mean = (
            np.where(female, dist["mean_female"], dist["mean_male"])
            if "mean_female" in dist
            else dist["mean"]
        )
        return (value - mean) / dist["sd"]
    if family == "lognormal":
        mu, sigma = _lognormal(dist)
        return (np.log(np.clip(value, 1e-12, None)) - mu) / sigma
    points = np.asarray(dist["points"], dtype=float)
    return ndtri(np.clip(np.interp(value, points[:, 0], points[:, 1]), 1e-12, 1 - 1e-12))


def _lognormal(dist: dict) -> tuple[float, float]:
    if "median" in dist:
        return float(np.log(dist["median"])), float(dist["sd_log"])
    sigma = float(np.sqrt(np.log1p((dist["sd"] / dist["mean"]) ** 2)))
    return float(np.log(dist["mean"]) - sigma**2 / 2), sigma
