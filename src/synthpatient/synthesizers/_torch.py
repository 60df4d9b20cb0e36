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
* training-loop utilities: a cheap validation fidelity score, early stopping (the progress
  shown while training is ``_progress.progress_bar``, re-exported here).

:class:`~synthpatient.synthesizers._deep.DeepSynthesizer`, the shell both synthesizers share,
is in ``_deep``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from synthpatient import _threads
from synthpatient._optional import import_optional
from synthpatient.errors import SynthPatientWarning
from synthpatient.synthesizers._persistence import expect
from synthpatient.synthesizers._progress import progress_bar as progress_bar  # re-exported
from synthpatient.synthesizers._tabular_transform import Span

#: Share of the privacy budget spent on the category counts behind the conditional vector.
COUNT_BUDGET_SHARE = 0.1
#: Gumbel-softmax temperature of the method.
GUMBEL_TAU = 0.2


def import_torch() -> ModuleType:
    """torch under the package's thread policy (``synthpatient._threads``)."""
    return _threads.import_torch(extra="deep", purpose="the deep-learning synthesizers")


def import_opacus() -> ModuleType:
    import_torch()  # opacus imports torch: the thread policy has to come first
    return import_optional("opacus", extra="deep", purpose="differentially private training")


# -- device and seeds ------------------------------------------------------------------------
def resolve_device(torch: ModuleType, device: str, owner: str) -> str:
    """``"auto"`` -> cuda when there is one; ``"cuda"`` without one -> cpu, with a notice."""
    has_cuda = bool(torch.cuda.is_available())
    if device == "auto":
        return "cuda" if has_cuda else "cpu"
    if device.startswith("cuda") and not has_cuda:
        warnings.warn(
            f"{owner}: device={device!r} was asked for but no CUDA GPU is available; "
            "training on the CPU instead.",
            SynthPatientWarning,
            stacklevel=4,
        )
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
    return {
        f"{prefix}.{name}": tensor.detach().cpu().numpy().copy()
        for name, tensor in module.state_dict().items()
    }


def load_module_arrays(
    torch: ModuleType, prefix: str, module: Any, arrays: dict[str, np.ndarray]
) -> None:
    """Load saved weights, refusing (one line, via ``expect``) any that do not fit a layer."""
    start = len(prefix) + 1
    state = {
        name[start:]: torch.from_numpy(np.array(value))
        for name, value in arrays.items()
        if name.startswith(prefix + ".")
    }
    layers = module.state_dict()
    expect(
        set(state) == set(layers), f"the network weights '{prefix}.*' are not those of its layers"
    )
    for name, tensor in layers.items():
        expect(
            tuple(state[name].shape) == tuple(tensor.shape),
            f"the network weight '{prefix}.{name}' does not have its layer's shape",
        )
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
        block = raw[:, span.start : span.stop]
        parts.append(
            torch.tanh(block)
            if span.activation == "tanh"
            else gumbel_softmax(torch, block, generator)
        )
    return torch.cat(parts, dim=1)


def conditional_loss(
    torch: ModuleType, raw: Any, discrete_spans: list[Span], cond: Any, mask: Any
) -> Any:
    """Cross-entropy of the conditioned column's logits against the asked category, so that
    the generator learns to honour the conditional vector."""
    losses = []
    offset = 0
    for span in discrete_spans:
        target = cond[:, offset : offset + span.dim].argmax(dim=1)
        losses.append(
            torch.nn.functional.cross_entropy(
                raw[:, span.start : span.stop], target, reduction="none"
            )
        )
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


# -- differential privacy --------------------------------------------------------------------
def default_delta(n_rows: int) -> float:
    """1 / n^1.1: below 1/n, as a delta must be (1/n would allow leaking one whole record)."""
    return 1.0 / n_rows**1.1


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
        counts = (
            [] if self.count_noise_multiplier is None else [(self.count_noise_multiplier, 1.0, 1)]
        )
        return counts + [(self.noise_multiplier, self.sample_rate, self.steps)]


@contextmanager
def _quiet_accountant() -> Iterator[None]:
    """opacus notes when the best RDP order is at the end of its range ("Optimal order is the
    smallest/largest alpha"): the bound is still valid, and nothing a user can act on."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Optimal order is the (smallest|largest) alpha")
        yield


def _epsilon(history: list[tuple[float, float, int]], delta: float) -> float:
    from opacus.accountants import RDPAccountant

    accountant = RDPAccountant()
    accountant.history = list(history)
    with _quiet_accountant():
        return float(accountant.get_epsilon(delta=delta))


def plan_privacy(
    epsilon: float, delta: float, sample_rate: float, steps: int, *, with_counts: bool
) -> PrivacyPlan:
    """Noise multipliers so that the whole run spends at most (epsilon, delta) by RDP.

    The category counts (when there are categories) get ``COUNT_BUDGET_SHARE`` of epsilon by
    opacus' ``get_noise_multiplier``; the DP-SGD noise is then found by bisection on the
    composed history, so the total, counts included, stays within the budget.
    """
    import_opacus()
    from opacus.accountants.utils import get_noise_multiplier

    count_sigma = None
    if with_counts:
        with _quiet_accountant():
            count_sigma = float(
                get_noise_multiplier(
                    target_epsilon=COUNT_BUDGET_SHARE * epsilon,
                    target_delta=delta,
                    sample_rate=1.0,
                    steps=1,
                    accountant="rdp",
                )
            )
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

    def __init__(
        self,
        torch: ModuleType,
        module: Any,
        optimizer: Any,
        plan: PrivacyPlan,
        max_grad_norm: float,
        expected_batch_size: int,
        generator: Any,
    ) -> None:
        import_opacus()
        from opacus.accountants import RDPAccountant
        from opacus.optimizers import DPOptimizer

        self.torch, self.module, self.plan = torch, module, plan
        self.optimizer = DPOptimizer(
            optimizer,
            noise_multiplier=plan.noise_multiplier,
            max_grad_norm=max_grad_norm,
            expected_batch_size=expected_batch_size,
            generator=generator,
        )
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
            grads = torch.func.vmap(
                torch.func.grad(loss_one),
                in_dims=(None,) + (0,) * len(batch),
                randomness="different",
            )(params, *batch)
        else:  # an empty Poisson batch still takes a (pure-noise) step, as the analysis assumes
            grads = {name: p.new_zeros((0, *p.shape)) for name, p in params.items()}
        for name, p in self.module.named_parameters():
            p.grad_sample = grads[name].detach()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.accountant.step(
            noise_multiplier=self.plan.noise_multiplier, sample_rate=self.plan.sample_rate
        )

    def spent(self) -> dict[str, float]:
        with _quiet_accountant():
            epsilon = float(self.accountant.get_epsilon(delta=self.plan.delta))
        return {"epsilon": epsilon, "delta": self.plan.delta}
