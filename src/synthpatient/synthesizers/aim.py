"""AIM: differentially private synthetic data by adaptive, workload-aware marginal selection.

The mechanism of McKenna, Mullins, Sheldon and Miklau (2022), "AIM: An Adaptive and Iterative
Mechanism for Differentially Private Synthetic Data" (PVLDB 15(11)), written here on top of
``mbi`` (Private-PGM; ``pip install 'synthpatient[dp]'``), whose package holds the estimation
but not AIM's selection loop (that lives in the authors' examples). The steps follow the
paper's Algorithm 1; comments name the section each one comes from.

* The **workload** (what the synthetic table should get right) comes from the schema: every
  2-way marginal of the learned columns, the ``target``'s counted twice, and, when the table
  is large enough for them to stand out of the noise, every 3-way marginal that contains the
  target. The candidates are the workload's downward closure, each weighted by how much it
  overlaps the workload (Sec. 4.2).
* A column that a relation declared in the schema computes exactly (an identity or a ratio)
  is not modelled: the base class derives it after sampling, and no budget is spent on it.
* Every 1-way marginal is measured first (Sec. 4.1, "initialization"), and with them (our
  addition) the target's pair with every other column and the pairs of columns a declared
  relation ties: at a small budget selection cannot find them (every 2-way marginal scores
  below its expected noise) and they are what the schema says matters. Then, round by round,
  the exponential mechanism picks the candidate the current model gets most wrong for its
  weight, net of the noise measuring it would add (Sec. 4.2, "quality score"); it is measured
  with Gaussian noise and the model re-estimated from every measurement so far, warm-started.
* The budget adapts (Sec. 4.4): when a measurement barely changed the model, the noise is
  halved for the rounds that follow; the last round takes exactly what is left. Candidates
  whose model would exceed a share of ``max_model_size`` proportional to the budget spent so
  far are left out (Sec. 4.3), which keeps the junction tree small.

Privacy is accounted in zCDP (each Gaussian measurement of a marginal costs 1/(2 sigma^2),
each exponential-mechanism round epsilon^2/8) and converted to (epsilon, delta) with the
conversion MST uses. Sampling walks the junction tree of the final model, clique by clique, in
an order where each clique shares with the earlier ones only its separator, drawing the new
columns given those already drawn; a saved model samples without JAX.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pandas as pd

from synthpatient.errors import ConditionError, DataError
from synthpatient.schema import Relation, Schema
from synthpatient.synthesizers._conditions import Condition
from synthpatient.synthesizers._constraints import Interval, Param, Text
from synthpatient.synthesizers._marginal_dp import (
    COMPRESS_SIGMAS,
    MarginalSynthesizer,
    draw,
    exactly_derived,
    import_mbi,
    normalized,
    placeholder,
    zcdp_rho,
)
from synthpatient.synthesizers._persistence import expect
from synthpatient.synthesizers.base import Capabilities

#: Share of each round's budget spent on measuring (the rest on selecting), as in the paper.
MEASURE_SHARE = 0.9
#: Mirror-descent iterations per round (warm-started, so few are needed) and for the final
#: model, stopping early once the loss improves by less than ESTIMATE_TOL per block of 50.
ROUND_ITERS = 500
FINAL_ITERS = 5000
ESTIMATE_TOL = 1e-6
#: Values per column the first noise level should leave distinguishable (see default_rounds).
MIN_GROUPS = 4
#: Most planned rounds per column by default (the paper's 16: up to 16 d JAX estimations).
MAX_ROUNDS_PER_COLUMN = 3
#: Fewest and most fine bins per number column when ``n_bins`` is None (see default_bins).
MIN_BINS, MAX_BINS = 4, 32
#: How many times each pair with the target counts in the workload (see _workload_weights).
TARGET_WEIGHT = 2
#: Rows drawn from the current model to count its marginals when scoring candidates.
SCORING_ROWS = 20_000

Clique = tuple[str, ...]


class AIMSynthesizer(MarginalSynthesizer):
    """Differentially private synthesizer: AIM over binned columns, estimated with ``mbi``.

    The recommended private generator (it beats MST at the same budget, see
    ``benchmarks/check_aim.py``). What the guarantee covers is as for
    :class:`~synthpatient.synthesizers.mst.MSTSynthesizer`: every count the model learns from
    and every choice of what to measure is inside the (epsilon, delta) budget; bounds and
    category lists are private only when the schema declares them (otherwise a warning says
    they were read from the data, and ``privacy_spent_`` records it); the number of rows is
    treated as public.

    Args:
        epsilon: Privacy loss bound, > 0 (smaller is more private and noisier).
        delta: Probability that the bound may fail, in (0, 1) and below 1/n for n rows. None
            uses 1e-9, or 1/n^2 when that is smaller.
        n_bins: Equal-width bins per number or date column, >= 2, before rare ones are
            merged. None chooses from the row count and the first noise level (see
            :func:`default_bins`): on the bundled table at epsilon 1, 6 bins; more rows or a
            larger epsilon get more, up to 32.
        target: A column the synthetic table will be used to predict: its 3-way marginals
            join the workload, so that its relations with pairs of other columns are kept.
        rounds: The budget is first planned as this many rounds (the paper's T, which sets
            the first noise level). None uses at most 3 x the number of columns (each round is a JAX
            estimation, seconds on 2 cores), fewer on small tables (see :func:`default_rounds`).
            Annealing usually ends the run sooner.
        max_model_size: Largest model (megabytes of junction-tree tables), >= 1.
        seed: Seed for the noise and for sampling.

    Attributes:
        privacy_spent_: ``{"epsilon", "delta", "rho", "rounds", "derived", "preprocessing",
            "read_from_data"}`` ("derived": the columns computed from declared relations, not
            learned); saved at the top of the model's manifest.
        measured_: The marginals measured, in order, each with its noise standard deviation.

    Examples:
        >>> from synthpatient import datasets
        >>> from synthpatient.synthesizers.aim import AIMSynthesizer
        >>> real = datasets.load("diabetes")
        >>> synth = AIMSynthesizer(epsilon=1.0, target="progression", seed=0).fit(real)
        >>> synth.privacy_spent_["epsilon"]
        1.0
        >>> synth.sample(500, conditions={"sex": 2})
    """

    key = "aim"
    capabilities = Capabilities(
        native_conditions=False,
        range_conditions=True,
        handles_missing=True,
        accepts_epsilon=True,
        differentially_private=True,
        extra="dp",
    )
    min_rows = 10
    _parameter_constraints = {
        "epsilon": Param(Interval(float, 0, None, closed="neither")),
        "delta": Param(Interval(float, 0, 1, closed="neither"), None),
        "n_bins": Param(Interval(int, 2, None), None),
        "target": Param(Text("a column name"), None),
        "rounds": Param(Interval(int, 1, None), None),
        "max_model_size": Param(Interval(float, 1, None)),
    }

    def __init__(
        self,
        *,
        epsilon: float = 1.0,
        delta: float | None = None,
        n_bins: int | None = None,
        target: str | None = None,
        rounds: int | None = None,
        max_model_size: float = 80.0,
        seed: int | None = None,
    ) -> None:
        self.epsilon = epsilon
        self.delta = delta
        self.n_bins = n_bins
        self.target = target
        self.rounds = rounds
        self.max_model_size = max_model_size
        super().__init__(seed=seed)

    # -- fit -----------------------------------------------------------------------------------
    def _fit(self, data: pd.DataFrame, schema: Schema, rng: np.random.Generator) -> None:
        mbi = import_mbi("AIMSynthesizer")
        learned = [s.name for s in schema.learned]
        if self.target is not None and self.target not in learned:
            raise DataError(
                f"The target '{self.target}' of AIMSynthesizer is not a learned column of the "
                f"table. Learned columns: {', '.join(learned)}."
            )
        # columns a declared relation computes exactly cost no budget: the base derives them
        derived = exactly_derived(schema)
        relations = list(schema.relations or ())
        schema = Schema(columns=tuple(s for s in schema.learned if s.name not in derived))
        n_rows, columns = len(data), [s.name for s in schema.learned]
        delta = self._resolve_delta(n_rows)
        rho = zcdp_rho(float(self.epsilon), delta)
        rounds = (
            self.rounds if self.rounds is not None else default_rounds(n_rows, len(columns), rho)
        )
        # Sec. 4.1: the first noise level and selection budget as if there were `rounds` rounds
        sigma = math.sqrt(rounds / (2 * MEASURE_SHARE * rho))
        epsilon_round = math.sqrt(8 * (1 - MEASURE_SHARE) * rho / rounds)
        # the first measurements (every 1-way marginal, then the pairs the schema names) cost
        # 1 / (2 sigma^2) each: they must leave some budget
        pairs = _first_pairs(columns, self.target, relations)
        n_first = len(columns) + len(pairs)
        sigma = max(sigma, math.sqrt(n_first / (2 * MEASURE_SHARE * rho)))
        self._check_enough_rows(n_rows, sigma)

        # Sec. 4.1: every 1-way marginal first, on the fine bins; values too rare to stand out
        # of the noise are then merged (MST's compression, post-processing): at small n it
        # is what keeps each later marginal's cells few enough to be measured at all
        bins = default_bins(n_rows, sigma) if self.n_bins is None else int(self.n_bins)
        first = self._one_way(mbi, data, schema, sigma, COMPRESS_SIGMAS * sigma, rng, bins)
        coders, codes, domain, one_way = first.coders, first.codes, first.domain, first.measurements
        loop = _Loop(mbi, domain, codes, rng)
        loop.measured = [((c.name,), m, sigma) for c, m in zip(coders, one_way, strict=True)]
        # the workload's heaviest parts, named by the schema (public), measured up front
        # rather than left to selection, which at a small budget picks little better than
        # at random: the target's relation with every other column, and the pairs of columns
        # a declared relation ties together (a derived column is a function of their joint)
        for pair in pairs:
            loop.measure(pair, sigma)
        used = n_first / (2 * sigma**2)
        loop.total = first.total
        model = loop.estimate(ROUND_ITERS)
        # a target's 3-way marginals join the workload only when a typical one (MIN_GROUPS
        # values a column) holds cells that stand out of the noise; on small tables at small
        # epsilon they cannot be measured, and choosing them spends rounds on noise
        triples = n_rows / MIN_GROUPS**3 >= COMPRESS_SIGMAS * sigma
        candidates = _workload_weights(columns, self.target, triples=triples)
        n_rounds = 0
        while used < rho:
            remaining = rho - used
            cost = 1 / (2 * sigma**2) + epsilon_round**2 / 8
            if remaining < 2 * cost:  # Sec. 4.4: the last round takes exactly what is left
                sigma = math.sqrt(1 / (2 * MEASURE_SHARE * remaining))
                epsilon_round = math.sqrt(8 * (1 - MEASURE_SHARE) * remaining)
                cost = remaining
            used += cost
            size_limit = float(self.max_model_size) * used / rho
            allowed = loop.small_enough(candidates, size_limit)
            if not allowed:  # nothing fits: the budget of this round is left unspent
                break
            chosen, before = loop.select(allowed, model, epsilon_round, sigma)
            loop.measure(chosen, sigma)
            model = loop.estimate(ROUND_ITERS, warm_start=model)
            after = np.asarray(model.project(chosen).values).ravel()
            n_rounds += 1
            # Sec. 4.4: a measurement that hardly moved the model asks for less noise next time
            if np.abs(after - before).sum() <= math.sqrt(2 / math.pi) * sigma * after.size:
                sigma, epsilon_round = sigma / 2, epsilon_round * 2
        model = loop.estimate(FINAL_ITERS, warm_start=model)
        self._keep_model(mbi, model, domain, coders, loop.total)
        self.measured_ = [[list(clique), float(s)] for clique, _, s in loop.measured]
        self.privacy_spent_ = self._privacy_spent(delta, rho, first.read)
        self.privacy_spent_["rounds"] = n_rounds
        self.privacy_spent_["derived"] = derived
        self.derived_ = derived

    def _keep_model(
        self, mbi: Any, model: Any, domain: Any, coders: list[Any], total: float
    ) -> None:
        self.cliques_, self.marginals_ = _junction_tables(mbi, model, domain)
        self.columns_ = list(domain.attributes)
        self.coders_ = coders
        self.total_ = float(total)

    # -- sample --------------------------------------------------------------------------------
    def _sample(
        self, n_rows: int, rng: np.random.Generator, conditions: list[Condition]
    ) -> pd.DataFrame:
        codes = _sample_codes(self.cliques_, self.marginals_, n_rows, rng)
        rows = {c.name: c.decode(codes[c.name], rng) for c in self.coders_}
        for name in self.derived_:  # computed from the drawn columns by the base class
            rows[name] = placeholder(self.schema_[name], n_rows)
        return pd.DataFrame(rows)[[s.name for s in self.schema_.learned]]

    def _check_conditions(self, conditions: list[Condition]) -> None:
        """A derived column is computed after drawing, so rows cannot be kept by its value."""
        for condition in conditions:
            if condition.column in self.derived_:
                raise ConditionError(
                    f"AIMSynthesizer computes '{condition.column}' from a relation declared in "
                    "the schema after drawing the other columns, so it cannot sample on a "
                    "condition on it; put the condition on the columns it is computed from."
                )

    # -- state ---------------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        state, arrays = self._tables_state()
        state["measured"] = self.measured_
        return state, arrays

    def _set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.derived_ = exactly_derived(self.schema_)
        modelled = [s for s in self.schema_.learned if s.name not in self.derived_]
        self._restore_tables(state, arrays, modelled)
        expect(isinstance(state["measured"], list), "the measured marginals are not a list")
        self.measured_ = [[[str(a) for a in c], float(s)] for c, s in state["measured"]]
        self._check_tables([])
        # sampling draws each clique's new columns given the ones drawn before: the cliques
        # must be in an order where what a clique shares with the earlier ones is all drawn
        seen: set[str] = set()
        for clique in self.cliques_:
            seen |= set(clique)
        expect(seen == set(self.columns_), "the model's cliques do not cover every column")


class _Loop:
    """The measurements of one AIM run and what it needs between rounds."""

    def __init__(
        self, mbi: Any, domain: Any, codes: dict[str, np.ndarray], rng: np.random.Generator
    ) -> None:
        self.mbi, self.domain, self.codes, self.rng = mbi, domain, codes, rng
        self.measured: list[tuple[Clique, Any, float]] = []
        self.total = 1.0
        self.estimator = mbi.estimation.MirrorDescent()

    def counts(self, clique: Clique, codes: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """The counts of a marginal in the data (or in ``codes``), flattened in the order of
        ``clique``."""
        codes = self.codes if codes is None else codes
        shape = [self.domain[a] for a in clique]
        flat = np.ravel_multi_index([codes[a] for a in clique], shape)
        return np.bincount(flat, minlength=int(np.prod(shape))).astype(float)

    def measure(self, clique: Clique, sigma: float) -> None:
        """Sec. 3: the Gaussian mechanism on one marginal (L2 sensitivity 1)."""
        counts = self.counts(clique)
        noisy = counts + self.rng.normal(0.0, sigma, counts.size)
        self.measured.append((clique, self.mbi.LinearMeasurement(noisy, clique, sigma), sigma))

    def estimate(self, iters: int, warm_start: Any = None) -> Any:
        measurements = [m for _, m, _ in self.measured]
        return self.estimator.estimate(
            self.domain,
            measurements,
            known_total=self.total,
            iters=iters,
            tol=ESTIMATE_TOL,
            warm_start=warm_start,
        )

    def small_enough(self, candidates: dict[Clique, float], limit: float) -> dict[Clique, float]:
        """Sec. 4.3: the candidates whose addition keeps the model under ``limit`` megabytes."""
        cliques = [c for c, _, _ in self.measured]
        size = self.mbi.junction_tree.hypothetical_model_size
        return {c: w for c, w in candidates.items() if size(self.domain, cliques + [c]) <= limit}

    def select(
        self, candidates: dict[Clique, float], model: Any, epsilon: float, sigma: float
    ) -> tuple[Clique, np.ndarray]:
        """Sec. 4.2: the exponential mechanism over weighted errors, net of expected noise;
        returns the chosen marginal and the model's estimate of it before measuring.

        A candidate's score is w_r (||M_r(D) - M_r(model)||_1 - sqrt(2/pi) sigma n_r); one
        row moves it by at most w_r, so the sensitivity is the largest weight. The model's
        marginals are counted on SCORING_ROWS rows drawn from it (post-processing, no budget):
        exact inference of every candidate through JAX cost seconds a round, and the draw's
        error is far below the measurement noise.
        """
        cliques, tables = _junction_tables(self.mbi, model, self.domain)
        drawn = _sample_codes(cliques, tables, SCORING_ROWS, self.rng)
        scale = self.total / SCORING_ROWS
        names = list(candidates)
        scores = np.empty(len(names))
        estimates = []
        for k, clique in enumerate(names):
            estimate = self.counts(clique, drawn) * scale
            estimates.append(estimate)
            error = np.abs(self.counts(clique) - estimate).sum()
            bias = math.sqrt(2 / math.pi) * sigma * estimate.size
            scores[k] = candidates[clique] * (error - bias)
        sensitivity = max(candidates.values())
        logits = 0.5 * epsilon / sensitivity * scores
        probabilities = np.exp(logits - logits.max())
        k = int(self.rng.choice(len(names), p=probabilities / probabilities.sum()))
        return names[k], estimates[k]


def default_rounds(n_rows: int, n_columns: int, rho: float) -> int:
    """The paper's T = 16 d, lowered on small tables so that the first, 1-way noise level
    sigma = sqrt(T / (2 * 0.9 rho)) leaves each column at least MIN_GROUPS values that stand
    out of it (COMPRESS_SIGMAS sigma each): with T = 16 d on the bundled 331 training rows at
    epsilon 1, sigma is about 80 and every column collapses into one value. Never below
    d + 1, so that the 1-way measurements leave budget for the rounds, and never above
    MAX_ROUNDS_PER_COLUMN d: every round re-estimates the model through JAX (seconds on 2
    cores), and up to T rounds may run (at epsilon 3 on the bundled table, T = 137 did not finish
    one fit in 12 minutes on a busy machine). The row count is treated as public, as for ``delta``.
    """
    sigma = n_rows / (COMPRESS_SIGMAS * MIN_GROUPS)
    fitting = int(2 * MEASURE_SHARE * rho * sigma**2)
    return max(n_columns + 1, min(MAX_ROUNDS_PER_COLUMN * n_columns, fitting))


def default_bins(n_rows: int, sigma: float) -> int:
    """Fine bins per number column: about n / (2 sigma), between MIN_BINS and MAX_BINS.

    Each fine bin gets its own noise in the 1-way measurement, and a merged group carries the
    noise of all its bins: with more bins than the rows can fill well above the noise, the
    groups' counts, and so the decoded shapes, get noisier (on the bundled table at epsilon
    1, 16 bins scored lower than 6 in ``benchmarks/check_aim.py``). Uses only the row count
    (public, as for ``delta``) and the noise level.
    """
    return int(min(MAX_BINS, max(MIN_BINS, round(n_rows / (2 * sigma)))))


def _first_pairs(columns: list[str], target: str | None, relations: list[Relation]) -> list[Clique]:
    """The 2-way marginals measured with the 1-way ones, each in the columns' order: the
    target with every other column, then every pair of modelled columns that a declared
    identity or ratio relates (its column and its inputs)."""
    pairs = [(target, c) for c in columns if target is not None and c != target]
    for relation in relations:
        if relation.kind in ("identity", "ratio"):
            tied = [c for c in relation.columns if c in columns]
            pairs += list(itertools.combinations(tied, 2))
    out: list[Clique] = []
    for pair in pairs:
        ordered = tuple(sorted(pair, key=columns.index))
        if ordered not in out:
            out.append(ordered)
    return out


def _workload_weights(
    columns: list[str], target: str | None, *, triples: bool = True
) -> dict[Clique, float]:
    """Sec. 4.2: the workload's downward closure, each weighted by sum_s |r & s| over it.

    The workload is every pair of columns, the target's pairs counted TARGET_WEIGHT times
    (the synthetic table is meant to predict it) and, with ``triples``, every 3-way marginal
    that contains the target."""
    workload: list[Clique] = [tuple(p) for p in itertools.combinations(columns, 2)]
    if target is not None:
        others = [c for c in columns if c != target]
        workload += [(target, c) for c in others] * (TARGET_WEIGHT - 1)
        if triples:
            workload += [(target, *pair) for pair in itertools.combinations(others, 2)]
    if not workload:
        workload = [(c,) for c in columns]
    closure: set[Clique] = set()
    for clique in workload:
        for size in range(1, len(clique) + 1):
            closure.update(
                tuple(sorted(s, key=columns.index)) for s in itertools.combinations(clique, size)
            )
    return {r: float(sum(len(set(r) & set(s)) for s in workload)) for r in sorted(closure)}


def _draw_given(
    table: np.ndarray,
    clique: Clique,
    given: list[str],
    name: str,
    codes: dict[str, np.ndarray],
    u: np.ndarray,
) -> np.ndarray:
    """Codes of ``name`` from P(name | given), read off the clique's joint table."""
    keep = [*given, name]
    summed = tuple(i for i, a in enumerate(clique) if a not in keep)
    reduced = table.sum(axis=summed) if summed else table
    present = [a for a in clique if a in keep]
    joint = np.transpose(reduced, [present.index(a) for a in keep])
    if not given:
        return draw(joint, u)
    n_child = joint.shape[-1]
    rows = joint.reshape(-1, n_child)
    fallback = rows.sum(axis=0)
    # a parent combination the model gives no weight falls back on the child's marginal
    rows = np.where(rows.sum(axis=1, keepdims=True) > 0, rows, fallback)
    cdf = np.cumsum(rows, axis=1)
    cdf /= cdf[:, -1:]
    parent = np.ravel_multi_index([codes[a] for a in given], joint.shape[:-1])
    out = np.empty(len(u), dtype=np.int64)
    # by parent value, so memory stays rows x children of one value at a time
    for value in np.unique(parent):
        where = np.flatnonzero(parent == value)
        out[where] = np.searchsorted(cdf[value], u[where], side="right")
    return np.minimum(out, n_child - 1)


def _junction_tables(mbi: Any, model: Any, domain: Any) -> tuple[list[Clique], list[np.ndarray]]:
    """The junction tree's maximal cliques, in sampling order, with their normalised tables."""
    tree, _ = mbi.junction_tree.make_junction_tree(domain, list(model.cliques))
    # depth-first preorder: each clique meets the earlier ones only in its separator
    cliques = [tuple(c) for c in mbi.junction_tree.maximal_cliques(tree)]
    return cliques, [normalized(np.asarray(model.project(c).values)) for c in cliques]


def _sample_codes(
    cliques: list[Clique], tables: list[np.ndarray], n_rows: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Codes of ``n_rows`` rows, clique by clique: each clique's new columns drawn given the
    columns of it already drawn (its separator, in a junction-tree order)."""
    codes: dict[str, np.ndarray] = {}
    for clique, table in zip(cliques, tables, strict=True):
        for name in clique:
            if name not in codes:
                given = [a for a in clique if a in codes]
                codes[name] = _draw_given(table, clique, given, name, codes, rng.random(n_rows))
    return codes
