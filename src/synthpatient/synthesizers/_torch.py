"""Shared torch helpers for the deep synthesizers (CTGAN, TVAE).

torch and opacus are imported only inside functions, through ``import_optional(...,
extra="deep")``, so that ``import synthpatient`` stays light.

* device choice (``"auto"``, ``"cpu"``, ``"cuda"``; cuda without one falls back with a notice);
* seeding without touching global state: ``seeded`` forks torch's RNG, and every draw made
  while sampling comes from an explicit ``torch.Generator``;
* modules <-> numpy arrays, so that models are saved without pickle or ``torch.save``;
* output activations (tanh, Gumbel-softmax with an explicit generator);
* differential privacy: the noise multiplier for a planned number of steps (opacus' RDP
  accountant), per-sample gradients through ``torch.func`` fed to opacus' ``DPOptimizer``
  (which clips, adds noise and steps), and the spent budget;
* training-loop utilities: a cheap validation fidelity score, early stopping, a progress bar;
* :class:`DeepSynthesizer`, the shell both synthesizers share: parameter checks, the
  transform, the validation split, the privacy plan, conditional sampling and persistence.
  Each subclass adds only its networks and its training step.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from synthpatient._optional import import_optional
from synthpatient.errors import (
    ConditionError,
    DataError,
    InvalidParameterError,
    SynthPatientWarning,
)
from synthpatient.schema import Schema
from synthpatient.synthesizers._conditions import Condition
from synthpatient.synthesizers._params import is_finite_number, is_int
from synthpatient.synthesizers._persistence import check_sizes, expect
from synthpatient.synthesizers._tabular_transform import (
    ConditionalSampler,
    DiscreteColumn,
    Span,
    TabularTransform,
    discrete_codes,
    noisy_counts,
)
from synthpatient.synthesizers.base import MIN_ACCEPTANCE, Capabilities, Synthesizer

#: Share of the privacy budget spent on the category counts behind the conditional vector.
COUNT_BUDGET_SHARE = 0.1
#: Gumbel-softmax temperature of the method.
GUMBEL_TAU = 0.2


def import_torch() -> ModuleType:
    return import_optional("torch", extra="deep", purpose="the deep-learning synthesizers")


def import_opacus() -> ModuleType:
    return import_optional("opacus", extra="deep", purpose="differentially private training")


# -- device and seeds ------------------------------------------------------------------------
def resolve_device(torch: ModuleType, device: str, owner: str) -> str:
    """``"auto"`` -> cuda when there is one; ``"cuda"`` without one -> cpu, with a notice."""
    has_cuda = bool(torch.cuda.is_available())
    if device == "auto":
        return "cuda" if has_cuda else "cpu"
    if device.startswith("cuda") and not has_cuda:
        warnings.warn(f"{owner}: device={device!r} was asked for but no CUDA GPU is available; "
                      "training on the CPU instead.", SynthPatientWarning, stacklevel=4)
        return "cpu"
    return device


def torch_seed(rng: np.random.Generator) -> int:
    """A torch seed drawn from the numpy Generator, so one seed drives both libraries."""
    return int(rng.integers(0, 2**62))


@contextmanager
def seeded(torch: ModuleType, seed: int, device: str) -> Iterator[None]:
    """Seed torch's global RNG (dropout, weight init) inside the block only.

    ``fork_rng`` restores the caller's RNG state on exit, so nothing outside is changed.
    """
    devices = [torch.device(device).index or 0] if device.startswith("cuda") else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def make_generator(torch: ModuleType, seed: int, device: str) -> Any:
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    return generator


# -- modules <-> arrays ----------------------------------------------------------------------
def module_arrays(prefix: str, module: Any) -> dict[str, np.ndarray]:
    """Every tensor of the state dict as a numpy array under ``prefix.name``."""
    return {f"{prefix}.{name}": tensor.detach().cpu().numpy().copy()
            for name, tensor in module.state_dict().items()}


def load_module_arrays(torch: ModuleType, prefix: str, module: Any,
                       arrays: dict[str, np.ndarray]) -> None:
    """Load saved weights, refusing (one line, via ``expect``) any that do not fit a layer."""
    start = len(prefix) + 1
    state = {name[start:]: torch.from_numpy(np.array(value))
             for name, value in arrays.items() if name.startswith(prefix + ".")}
    layers = module.state_dict()
    expect(set(state) == set(layers), f"the network weights '{prefix}.*' are not those of "
           "its layers")
    for name, tensor in layers.items():
        expect(tuple(state[name].shape) == tuple(tensor.shape),
               f"the network weight '{prefix}.{name}' does not have its layer's shape")
    module.load_state_dict(state, strict=True)


def copy_state(module: Any) -> dict[str, Any]:
    return {name: tensor.detach().clone() for name, tensor in module.state_dict().items()}


# -- output activations and losses -----------------------------------------------------------
def gumbel_softmax(torch: ModuleType, logits: Any, generator: Any, tau: float = GUMBEL_TAU) -> Any:
    """Gumbel-softmax with noise from ``generator`` (torch's own draws from the global RNG)."""
    u = torch.rand(logits.shape, generator=generator, device=logits.device)
    # -log(u) > 0; clamp it away from 0 before the outer log (u can round to 1.0 in float32)
    gumbel = -torch.log((-torch.log(u.clamp_min(1e-10))).clamp_min(1e-10))
    return torch.softmax((logits + gumbel) / tau, dim=1)


def activate(torch: ModuleType, raw: Any, spans: list[Span], generator: Any) -> Any:
    """tanh for scalars, Gumbel-softmax for one-hots, as the generator's output layer."""
    parts = []
    for span in spans:
        block = raw[:, span.start:span.stop]
        parts.append(torch.tanh(block) if span.activation == "tanh"
                     else gumbel_softmax(torch, block, generator))
    return torch.cat(parts, dim=1)


def conditional_loss(torch: ModuleType, raw: Any, discrete_spans: list[Span], cond: Any,
                     mask: Any) -> Any:
    """Cross-entropy of the conditioned column's logits against the asked category, so that
    the generator learns to honour the conditional vector."""
    losses = []
    offset = 0
    for span in discrete_spans:
        target = cond[:, offset:offset + span.dim].argmax(dim=1)
        losses.append(torch.nn.functional.cross_entropy(raw[:, span.start:span.stop], target,
                                                        reduction="none"))
        offset += span.dim
    if not losses:
        return raw.new_zeros(())
    return (torch.stack(losses, dim=1) * mask).sum() / raw.shape[0]


# -- validation score and early stopping -----------------------------------------------------
def _ks_complement(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / len(a)
    cdf_b = np.searchsorted(b, grid, side="right") / len(b)
    return 1.0 - float(np.max(np.abs(cdf_a - cdf_b)))


class ValidationScore:
    """A cheap fidelity score of synthetic rows against held-out real rows, in [0, 1].

    Half is the marginals (KSComplement for numbers, TVComplement for categories, both with
    the missing share), half the correlation gap ``1 - mean |r_real - r_synthetic| / 2`` over
    column pairs: the two halves of SDMetrics' QualityReport, on the decoded columns.
    """

    def __init__(self, reference: np.ndarray, is_discrete: np.ndarray) -> None:
        self.reference, self.is_discrete = reference, is_discrete
        self._corr = self._correlation(reference)

    @staticmethod
    def _correlation(values: np.ndarray) -> np.ndarray:
        filled = np.where(np.isnan(values), np.nanmean(values, axis=0), values)
        filled = np.where(np.isnan(filled), 0.0, filled)
        std = filled.std(axis=0)
        centred = (filled - filled.mean(axis=0)) / np.where(std > 0, std, 1.0)
        return (centred.T @ centred) / len(filled)

    def __call__(self, synthetic: np.ndarray) -> float:
        shapes = []
        for j in range(self.reference.shape[1]):
            real, fake = self.reference[:, j], synthetic[:, j]
            real_missing, fake_missing = np.isnan(real), np.isnan(fake)
            if self.is_discrete[j]:
                levels = np.union1d(real[~real_missing], fake[~fake_missing])
                p = np.array([np.mean(real == v) for v in levels] + [real_missing.mean()])
                q = np.array([np.mean(fake == v) for v in levels] + [fake_missing.mean()])
                shapes.append(1.0 - 0.5 * float(np.abs(p - q).sum()))
                continue
            score = 1.0 - abs(real_missing.mean() - fake_missing.mean())
            if (~real_missing).any() and (~fake_missing).any():
                score *= _ks_complement(real[~real_missing], fake[~fake_missing])
            elif (~real_missing).any():
                score = 0.0
            shapes.append(score)
        marginal = float(np.mean(shapes))
        k = self.reference.shape[1]
        if k < 2:
            return marginal
        gap = np.abs(self._corr - self._correlation(synthetic))[np.triu_indices(k, 1)]
        return 0.5 * marginal + 0.5 * (1.0 - float(np.mean(gap)) / 2)


class EarlyStopping:
    """Keeps the best weights seen; says stop after ``patience`` checks without a gain."""

    def __init__(self, patience: int, min_gain: float = 1e-4) -> None:
        self.patience, self.min_gain = patience, min_gain
        self.best_score = -math.inf
        self.best_step = 0
        self.best_state: dict[str, dict[str, Any]] | None = None
        self.scores: list[tuple[int, float]] = []
        self._since_best = 0

    def update(self, step: int, score: float, modules: dict[str, Any]) -> bool:
        """Record ``score`` at ``step``; True when training should stop."""
        self.scores.append((step, score))
        if score > self.best_score + self.min_gain:
            self.best_score, self.best_step, self._since_best = score, step, 0
            self.best_state = {name: copy_state(m) for name, m in modules.items()}
            return False
        self._since_best += 1
        return self._since_best >= self.patience

    def restore(self, modules: dict[str, Any]) -> None:
        if self.best_state is not None:
            for name, module in modules.items():
                module.load_state_dict(self.best_state[name])


# -- progress --------------------------------------------------------------------------------
class _NoProgress:
    def advance(self, description: str | None = None) -> None:
        pass


class _RichProgress:
    def __init__(self, progress: Any, task: Any) -> None:
        self._progress, self._task = progress, task

    def advance(self, description: str | None = None) -> None:
        if description is None:
            self._progress.advance(self._task)
        else:
            self._progress.update(self._task, advance=1, description=description)


@contextmanager
def progress_bar(enabled: bool, total: int, description: str) -> Iterator[_NoProgress | _RichProgress]:
    """A rich progress bar on stderr (so piped stdout stays clean), or nothing."""
    if not enabled:
        yield _NoProgress()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        yield _RichProgress(progress, progress.add_task(description, total=total))


# -- differential privacy --------------------------------------------------------------------
def default_delta(n_rows: int) -> float:
    """1 / n^1.1: below 1/n, as a delta must be (1/n would allow leaking one whole record)."""
    return 1.0 / n_rows ** 1.1


@dataclass(frozen=True)
class PrivacyPlan:
    """Noise for a planned run: DP-SGD steps at a Poisson sampling rate, and (optionally) one
    Gaussian release of the category counts behind the conditional vector."""

    epsilon: float
    delta: float
    sample_rate: float
    steps: int
    noise_multiplier: float
    count_noise_multiplier: float | None

    def history(self) -> list[tuple[float, float, int]]:
        """The accountant's history (noise multiplier, sampling rate, steps) of the plan."""
        counts = ([] if self.count_noise_multiplier is None
                  else [(self.count_noise_multiplier, 1.0, 1)])
        return counts + [(self.noise_multiplier, self.sample_rate, self.steps)]


def _epsilon(history: list[tuple[float, float, int]], delta: float) -> float:
    from opacus.accountants import RDPAccountant

    accountant = RDPAccountant()
    accountant.history = list(history)
    return float(accountant.get_epsilon(delta=delta))


def plan_privacy(epsilon: float, delta: float, sample_rate: float, steps: int, *,
                 with_counts: bool) -> PrivacyPlan:
    """Noise multipliers so that the whole run spends at most (epsilon, delta) by RDP.

    The category counts (when there are categories) get ``COUNT_BUDGET_SHARE`` of epsilon by
    opacus' ``get_noise_multiplier``; the DP-SGD noise is then found by bisection on the
    composed history, so the total, counts included, stays within the budget.
    """
    import_opacus()
    from opacus.accountants.utils import get_noise_multiplier

    count_sigma = None
    if with_counts:
        count_sigma = float(get_noise_multiplier(
            target_epsilon=COUNT_BUDGET_SHARE * epsilon, target_delta=delta, sample_rate=1.0,
            steps=1, accountant="rdp"))
    prefix = [] if count_sigma is None else [(count_sigma, 1.0, 1)]
    low, high = 0.0, 1.0
    while _epsilon(prefix + [(high, sample_rate, steps)], delta) > epsilon:
        low, high = high, high * 2
        if high > 1e4:
            raise ValueError("the privacy budget is too small for this many steps")
    for _ in range(40):  # bisection to well under 1% of the noise
        middle = (low + high) / 2
        if _epsilon(prefix + [(middle, sample_rate, steps)], delta) > epsilon:
            low = middle
        else:
            high = middle
    return PrivacyPlan(epsilon, delta, sample_rate, steps, high, count_sigma)


class PrivateTrainer:
    """DP-SGD for one module: per-sample gradients by ``torch.func``, then opacus'
    ``DPOptimizer`` clips each to ``max_grad_norm``, sums, adds Gaussian noise (from a seeded
    generator) and steps the wrapped optimizer; opacus' RDP accountant counts the steps.

    Per-sample gradients come from ``torch.func`` rather than opacus' hooks because the
    losses here need gradients of gradients (WGAN-GP's penalty) and free parameters (the
    VAE's output scales), which the hooks do not support.
    """

    def __init__(self, torch: ModuleType, module: Any, optimizer: Any, plan: PrivacyPlan,
                 max_grad_norm: float, expected_batch_size: int, generator: Any) -> None:
        import_opacus()
        from opacus.accountants import RDPAccountant
        from opacus.optimizers import DPOptimizer

        self.torch, self.module, self.plan = torch, module, plan
        self.optimizer = DPOptimizer(optimizer, noise_multiplier=plan.noise_multiplier,
                                     max_grad_norm=max_grad_norm,
                                     expected_batch_size=expected_batch_size,
                                     generator=generator)
        self.accountant = RDPAccountant()
        if plan.count_noise_multiplier is not None:
            self.accountant.history.append((plan.count_noise_multiplier, 1.0, 1))
        self.names = [name for name, p in module.named_parameters() if p.requires_grad]

    def step(self, loss_one: Callable[..., Any], *batch: Any) -> None:
        """One DP-SGD step; ``loss_one(params, *row)`` is the loss of one sample."""
        torch = self.torch
        params = {name: p.detach() for name, p in self.module.named_parameters()}
        n = int(batch[0].shape[0])
        if n:
            grads = torch.func.vmap(torch.func.grad(loss_one), in_dims=(None,) + (0,) * len(batch),
                                    randomness="different")(params, *batch)
        else:  # an empty Poisson batch still takes a (pure-noise) step, as the analysis assumes
            grads = {name: p.new_zeros((0, *p.shape)) for name, p in params.items()}
        for name, p in self.module.named_parameters():
            p.grad_sample = grads[name].detach()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.accountant.step(noise_multiplier=self.plan.noise_multiplier,
                             sample_rate=self.plan.sample_rate)

    def spent(self) -> dict[str, float]:
        return {"epsilon": float(self.accountant.get_epsilon(delta=self.plan.delta)),
                "delta": self.plan.delta}


# -- the shared shell of the deep synthesizers -----------------------------------------------
#: Fewer rows than this are refused: a network fitted on so few patients memorises them.
MIN_TRAINING_ROWS = 50
#: Fewest held-out rows for early stopping; below, checkpoints are scored on the training rows.
MIN_VALIDATION_ROWS = 20
#: Rows generated per forward pass when sampling (bounds memory, not results).
SAMPLE_CHUNK = 8192
DEVICES = ("auto", "cpu", "cuda")
#: With ``max_modes=None``, a numeric column gets at most one mixture mode per this many rows.
#: A mode is learned from its own rows only; on small tables, splitting a column into modes
#: leaves the generator too few rows per mode. Measured by benchmarks/bench_deep_modes.py
#: (CTGAN, same budget): diabetes (442 rows) and breast cancer (569 rows) both score clearly
#: higher with one mode than with up to ten.
ROWS_PER_MODE = 1000


@dataclass
class TrainingData:
    """What a subclass's training loop gets: tensors, the transform and the helpers."""

    torch: ModuleType
    device: str
    train: Any                      # (n, dim) float tensor of transformed training rows
    codes: np.ndarray               # (n, discrete columns) category slots of those rows
    transform: TabularTransform
    sampler: ConditionalSampler
    validation: ValidationScore | None
    plan: PrivacyPlan | None
    rng: np.random.Generator
    generator: Any                  # torch.Generator for every noise draw
    progress: Any


class DeepSynthesizer(Synthesizer):
    """Shared shell of :class:`CTGANSynthesizer` and :class:`TVAESynthesizer` (not registered).

    Subclasses set ``_network_prefix``, implement ``_train`` (returns the sampling network and
    its JSON config), ``_build_network`` (rebuild from that config) and ``_generate``
    (transformed rows for given conditional vectors).
    """

    capabilities = Capabilities(native_conditions=True, range_conditions=True,
                                handles_missing=True, differentially_private=True, extra="deep")
    _network_prefix: ClassVar[str] = "network"

    # parameters every deep synthesizer has (set by the subclass's __init__)
    steps: int
    batch_size: int
    max_modes: int | None
    weight_threshold: float
    validation_share: float
    eval_every: int
    patience: int
    epsilon: float | None
    delta: float | None
    max_grad_norm: float
    device: str
    progress: bool

    def _validate_params(self) -> None:
        super()._validate_params()
        self._require("max_modes", self.max_modes is None or (
            is_int(self.max_modes) and self.max_modes >= 1), "an int >= 1, or None to choose from the number of rows")
        for name, low in (("steps", 1), ("batch_size", 2), ("eval_every", 1), ("patience", 1)):
            value = getattr(self, name)
            self._require(name, is_int(value) and value >= low, f"an int >= {low}")
        self._require("weight_threshold", is_finite_number(self.weight_threshold)
                      and 0 <= self.weight_threshold < 1, "a number in [0, 1)")
        self._require("validation_share", is_finite_number(self.validation_share)
                      and 0 <= self.validation_share <= 0.5,
                      "a number in [0, 0.5] (0 trains on every row and scores checkpoints "
                      "against them)")
        self._require("epsilon", self.epsilon is None or (is_finite_number(self.epsilon)
                                                          and 0 < self.epsilon < math.inf),
                      "a finite number > 0 (the privacy budget: 1 to 10 is usual, smaller is "
                      "more private), or None to train without differential privacy")
        self._require("delta", self.delta is None or (is_finite_number(self.delta) and 0 < self.delta < 1),
                      "a number in (0, 1) below 1/n for n training rows, or None for 1/n^1.1")
        self._require("max_grad_norm", is_finite_number(self.max_grad_norm)
                      and 0 < self.max_grad_norm < math.inf, "a finite number > 0")
        self._require("device", isinstance(self.device, str)
                      and (self.device in DEVICES or self.device.startswith("cuda:")),
                      "'auto', 'cpu' or 'cuda'")
        self._require("progress", isinstance(self.progress, bool), "True or False")

    # -- fit -----------------------------------------------------------------------------------
    def _fit(self, data: pd.DataFrame, schema: Schema, rng: np.random.Generator) -> None:
        name = type(self).__name__
        n_rows = len(data)
        if n_rows < MIN_TRAINING_ROWS:
            raise DataError(f"{name} needs at least {MIN_TRAINING_ROWS} rows to learn from; the "
                            f"table has {n_rows}. A neural network fitted on so few patients "
                            "memorises them or learns noise. Use the Gaussian copula instead "
                            "(synthesizer 'copula'), which learns from as few as 10 rows.")
        torch = import_torch()
        private = self.epsilon is not None
        if not private and self.delta is not None:
            warnings.warn(f"{name}: 'delta' is only used with 'epsilon'; training without "
                          "differential privacy.", SynthPatientWarning, stacklevel=3)
        delta = None
        if private:
            import_opacus()
            delta = self.delta if self.delta is not None else default_delta(n_rows)
            if delta >= 1 / n_rows:
                raise InvalidParameterError(
                    f"The 'delta' parameter of {name} must be below 1/n = {1 / n_rows:.3g} for a "
                    f"table of {n_rows} rows (a larger delta allows a whole record to leak). "
                    f"Got {self.delta!r}. Leave it None for 1/n^1.1 = {default_delta(n_rows):.3g}.")
        device = resolve_device(torch, self.device, name)
        specs = schema.learned
        transform, read_from_data = TabularTransform.fit(
            data, specs, rng, private=private, max_modes=self._max_modes(n_rows),
            weight_threshold=self.weight_threshold)
        if read_from_data:
            warnings.warn(
                f"{name}: differential privacy covers training only. The bounds or categories "
                f"of {', '.join(read_from_data)} were read from the data, which is not private. "
                "Declare public minimum/maximum and categories in the schema to avoid this.",
                SynthPatientWarning, stacklevel=3)
        matrix = transform.transform(data, specs, rng)
        codes = discrete_codes(transform, data)

        # Early stopping looks at held-out rows; in private mode that look would itself leak,
        # so private training uses every row and keeps its last weights.
        n_valid = 0 if private else int(round(n_rows * self.validation_share))
        n_valid = n_valid if n_valid >= MIN_VALIDATION_ROWS else 0
        order = rng.permutation(n_rows)
        valid, train = order[:n_valid], order[n_valid:]
        # With no held-out rows the checkpoints are scored against the training rows: the score
        # compares distributions (marginals, correlations), which copying rows does not game,
        # and a reference of every row is far less noisy than a tenth of a small table.
        reference = valid if n_valid else (None if private else train)
        validation = (ValidationScore(transform.numeric(matrix[reference]),
                                      transform.is_discrete())
                      if reference is not None else None)
        sizes = [span.dim for _, _, span in transform.conditional_blocks]
        plan = None
        count_std = 0.0
        if private:
            assert self.epsilon is not None and delta is not None
            plan = plan_privacy(float(self.epsilon), delta, self._sample_rate(len(train)),
                                self.steps, with_counts=bool(sizes))
            if plan.count_noise_multiplier is not None:
                # one row adds 1 to one count of each discrete column: L2 sensitivity sqrt(J)
                count_std = plan.count_noise_multiplier * math.sqrt(len(sizes))
        sampler = ConditionalSampler(sizes, noisy_counts(codes[train], sizes, count_std, rng))
        if not private:
            sampler.index_rows(codes[train])
        seed = torch_seed(rng)
        with seeded(torch, seed, device), progress_bar(
                self.progress, self.steps, f"Training {name}") as bar:
            context = TrainingData(
                torch=torch, device=device,
                train=torch.as_tensor(matrix[train], device=device), codes=codes[train],
                transform=transform, sampler=sampler, validation=validation, plan=plan, rng=rng,
                generator=make_generator(torch, seed, device), progress=bar)
            network, config, log, spent = self._train(context)
        # Learned state is set only now: an interrupted fit leaves the instance as it was.
        network.eval()
        self.transform_, self.sampler_, self.network_, self.network_config_ = (
            transform, sampler, network, config)
        self.training_log_ = {**log, "device": device, "validation_rows": int(n_valid),
                              "max_modes": self._max_modes(n_rows)}
        self.privacy_spent_ = None
        if spent is not None:
            self.privacy_spent_ = dict(spent)
            if read_from_data:
                self.privacy_spent_["preprocessing"] = (
                    "not private: bounds/categories read from the data for columns "
                    f"[{', '.join(read_from_data)}]")

    def _max_modes(self, n_rows: int) -> int:
        """``max_modes``, or when None one mixture mode per ``ROWS_PER_MODE`` rows (1 to 10)."""
        if self.max_modes is not None:
            return int(self.max_modes)
        return int(min(10, max(1, n_rows // ROWS_PER_MODE)))

    def _sample_rate(self, n_train: int) -> float:
        """Poisson sampling rate of private training: ``batch_size / n``, at most 1."""
        return min(1.0, self.batch_size / n_train)

    def _evaluate(self, data: TrainingData, network: Any, n_rows: int = 1000) -> float:
        """Validation score of ``n_rows`` sampled with fixed noise, so checks compare alike."""
        assert data.validation is not None
        torch = data.torch
        network.eval()
        generator = make_generator(torch, 12345, data.device)
        cond = data.sampler.sample_original(n_rows, np.random.default_rng(12345))
        matrix = self._generate(torch, network, data.transform.spans, cond, generator, data.device)
        network.train()
        return data.validation(data.transform.numeric(matrix))

    # -- hooks -----------------------------------------------------------------------------------
    def _train(self, data: TrainingData) -> tuple[Any, dict[str, Any], dict[str, Any],
                                                  dict[str, float] | None]:
        """Train; return (sampling network, its config, a training log, privacy spent)."""
        raise NotImplementedError

    def _build_network(self, torch: ModuleType, config: dict[str, Any]) -> Any:
        raise NotImplementedError

    def _generate(self, torch: ModuleType, network: Any, spans: list[Span], cond: np.ndarray,
                  generator: Any, device: str) -> np.ndarray:
        """Transformed rows (activated: tanh scalars, one-hots) for conditional vectors,
        computed in chunks of ``SAMPLE_CHUNK`` rows without gradients."""
        parts = []
        with torch.no_grad():
            for start in range(0, len(cond), SAMPLE_CHUNK):
                chunk = torch.as_tensor(cond[start:start + SAMPLE_CHUNK], device=device)
                parts.append(self._generate_chunk(torch, network, spans, chunk, generator)
                             .cpu().numpy())
        return np.concatenate(parts)

    def _generate_chunk(self, torch: ModuleType, network: Any, spans: list[Span], cond: Any,
                        generator: Any) -> Any:
        raise NotImplementedError

    # -- sample --------------------------------------------------------------------------------
    def _sample(self, n_rows: int, rng: np.random.Generator,
                conditions: list[Condition]) -> pd.DataFrame:
        torch = import_torch()
        device = str(next(self.network_.parameters()).device)
        discrete = {c.name: d for d, (_, c, _) in enumerate(self.transform_.conditional_blocks)
                    if isinstance(c, DiscreteColumn)}
        native: Condition | None = None
        for cond in conditions:  # the rarest category goes into the vector, the rest are checked
            if cond.kind == "equal" and cond.column in discrete:
                if native is None or self._category_share(cond, discrete) < self._category_share(native, discrete):
                    native = cond
        checked = [c for c in conditions if c is not native]
        fixed = None
        if native is not None:
            column = self.transform_.conditional_blocks[discrete[native.column]][1]
            fixed = (discrete[native.column], column.codes(pd.Series([native.value]))[0])
        generator = make_generator(torch, torch_seed(rng), device)
        parts, n_kept, n_drawn = [], 0, 0
        learned = [c.name for c in self.schema_.learned]
        while n_kept < n_rows:
            needed = n_rows - n_kept
            if checked:
                rate = max(n_kept / n_drawn if n_drawn else 1.0, MIN_ACCEPTANCE)
                needed = int(min(max(needed / rate * 1.2, 256), 20 * n_rows + 1024))
            cond = (self.sampler_.fixed(needed, *fixed) if fixed is not None
                    else self.sampler_.sample_original(needed, rng))
            frame = self.transform_.inverse(self._generate(
                torch, self.network_, self.transform_.spans, cond, generator, device))
            if native is not None:  # the generator was asked for it; state it exactly
                frame[native.column] = pd.Series([native.value] * needed, dtype=object)
            if checked:
                # judge rows as they will be delivered (rounded, bounded), then keep those
                final = self._finalize(frame, needed, [], rng, regenerate_ids=False)[learned]
                mask = np.ones(needed, dtype=bool)
                for cond_ in checked:
                    mask &= cond_.mask(self.schema_[cond_.column], final[cond_.column])
                frame = final.loc[mask]
                n_drawn += needed
                if n_drawn >= 1000 and (n_kept + len(frame)) / n_drawn < MIN_ACCEPTANCE:
                    raise ConditionError(
                        f"Only {n_kept + len(frame)} of {n_drawn} sampled rows met the conditions "
                        f"on {', '.join(c.column for c in checked)}: they are too rare for this "
                        "model (acceptance below 1 in 1,000). Relax the conditions.")
            parts.append(frame)
            n_kept += len(frame)
        return pd.concat(parts, ignore_index=True).iloc[:n_rows].reset_index(drop=True)

    def _category_share(self, cond: Condition, discrete: dict[str, int]) -> float:
        d = discrete[cond.column]
        column = self.transform_.conditional_blocks[d][1]
        return self.sampler_.probability(d, int(column.codes(pd.Series([cond.value]))[0]))

    # -- state ---------------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        transform, arrays = self.transform_.state()
        sampler, sampler_arrays = self.sampler_.state()
        arrays.update(sampler_arrays)
        arrays.update(module_arrays(self._network_prefix, self.network_))
        state = {"transform": transform, "sampler": sampler, "network": self.network_config_,
                 "training": self.training_log_, "privacy_spent": self.privacy_spent_}
        return state, arrays

    def _set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        torch = import_torch()
        self.transform_ = TabularTransform.from_state(state["transform"], arrays,
                                                      self.schema_.learned)
        self.sampler_ = ConditionalSampler.from_state(state["sampler"], arrays, self.transform_)
        self.network_config_ = dict(state["network"])
        expect(self.network_config_.get("cond_dim") == self.sampler_.dim
               and self.network_config_.get("data_dim") == self.transform_.dim,
               "the network's input and output sizes do not match the transform")
        check_sizes(self.network_config_, arrays, self._network_prefix)
        network = self._build_network(torch, self.network_config_)
        load_module_arrays(torch, self._network_prefix, network, arrays)
        self.network_ = network.to(resolve_device(torch, self.device, type(self).__name__)).eval()
        self.training_log_ = dict(state["training"])
        expect(state["privacy_spent"] is None or isinstance(state["privacy_spent"], dict),
               "the privacy spent is not a record")
        self.privacy_spent_ = state["privacy_spent"]
