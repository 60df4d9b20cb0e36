"""The shell CTGAN and TVAE share: parameters, the transform, the validation split, the
privacy plan, sampling (natively conditioned on one category) and persistence.

Each subclass adds only its networks and its training step (``ctgan``, ``tvae``); the torch
helpers are in ``_torch``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from types import ModuleType
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from synthpatient.errors import DataError, InvalidParameterError, SynthPatientWarning
from synthpatient.schema import Schema
from synthpatient.synthesizers._conditions import Condition
from synthpatient.synthesizers._constraints import Boolean, Interval, Options, Param, Pattern
from synthpatient.synthesizers._persistence import check_sizes, expect
from synthpatient.synthesizers._progress import progress_bar
from synthpatient.synthesizers._tabular_transform import (
    ConditionalSampler,
    DiscreteColumn,
    Span,
    TabularTransform,
    discrete_codes,
    noisy_counts,
)
from synthpatient.synthesizers._torch import (
    PrivacyPlan,
    ValidationScore,
    default_delta,
    import_opacus,
    import_torch,
    load_module_arrays,
    make_generator,
    module_arrays,
    plan_privacy,
    resolve_device,
    seeded,
    torch_seed,
)
from synthpatient.synthesizers.base import Capabilities, Synthesizer

#: Fewer rows than this are refused: a network fitted on so few patients memorises them.
MIN_TRAINING_ROWS = 50
#: Fewest held-out rows for early stopping; below, checkpoints are scored on the training rows.
MIN_VALIDATION_ROWS = 20
#: Rows generated per forward pass when sampling (bounds memory, not results).
SAMPLE_CHUNK = 8192
DEVICES = ("auto", "cpu", "cuda")
#: Where a network trains and samples: shared by every torch-based synthesizer.
DEVICE = Param(Options(*DEVICES), Pattern(r"cuda:\d+", "'cuda:N'"))
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
    train: Any  # (n, dim) float tensor of transformed training rows
    codes: np.ndarray  # (n, discrete columns) category slots of those rows
    transform: TabularTransform
    sampler: ConditionalSampler
    validation: ValidationScore | None
    plan: PrivacyPlan | None
    rng: np.random.Generator
    generator: Any  # torch.Generator for every noise draw
    progress: Any


class DeepSynthesizer(Synthesizer):
    """Shared shell of :class:`CTGANSynthesizer` and :class:`TVAESynthesizer` (not registered).

    Subclasses set ``_network_prefix``, implement ``_train`` (returns the sampling network and
    its JSON config), ``_build_network`` (rebuild from that config) and ``_generate``
    (transformed rows for given conditional vectors).
    """

    # native: one category, through the conditional vector (see _native_conditions)
    capabilities = Capabilities(
        native_conditions=True,
        range_conditions=True,
        handles_missing=True,
        accepts_epsilon=True,
        extra="deep",
    )
    _network_prefix: ClassVar[str] = "network"
    _parameter_constraints = {
        "steps": Param(Interval(int, 1, None)),
        "batch_size": Param(Interval(int, 2, None)),
        "max_modes": Param(
            Interval(int, 1, None), None, hint="None chooses from the number of rows"
        ),
        "weight_threshold": Param(Interval(float, 0, 1, closed="left")),
        "validation_share": Param(
            Interval(float, 0, 0.5),
            hint="0 trains on every row and scores checkpoints against them",
        ),
        "eval_every": Param(Interval(int, 1, None)),
        "patience": Param(Interval(int, 1, None)),
        "epsilon": Param(
            Interval(float, 0, None, closed="neither"),
            None,
            hint="the privacy budget: 1 to 10 is usual, smaller is more private; "
            "None trains without differential privacy",
        ),
        "delta": Param(
            Interval(float, 0, 1, closed="neither"),
            None,
            hint="below 1/n for n training rows; None uses 1/n^1.1",
        ),
        "max_grad_norm": Param(Interval(float, 0, None, closed="neither")),
        "device": DEVICE,
        "progress": Param(Boolean()),
    }

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

    # -- fit -----------------------------------------------------------------------------------
    def _fit(self, data: pd.DataFrame, schema: Schema, rng: np.random.Generator) -> None:
        name = type(self).__name__
        n_rows = len(data)
        if n_rows < MIN_TRAINING_ROWS:
            raise DataError(
                f"{name} needs at least {MIN_TRAINING_ROWS} rows to learn from; the "
                f"table has {n_rows}. A neural network fitted on so few patients "
                "memorises them or learns noise. Use the Gaussian copula instead "
                "(synthesizer 'copula'), which learns from as few as 10 rows."
            )
        torch = import_torch()
        private = self.epsilon is not None
        delta = self._delta(n_rows)
        device = resolve_device(torch, self.device, name)
        specs = schema.learned
        transform, read_from_data = TabularTransform.fit(
            data,
            specs,
            rng,
            private=private,
            max_modes=self._max_modes(n_rows),
            weight_threshold=self.weight_threshold,
        )
        if read_from_data:
            warnings.warn(
                f"{name}: differential privacy covers training only. The bounds or categories "
                f"of {', '.join(read_from_data)} were read from the data, which is not private. "
                "Declare public minimum/maximum and categories in the schema to avoid this.",
                SynthPatientWarning,
                stacklevel=3,
            )
        matrix = transform.transform(data, specs, rng)
        codes = discrete_codes(transform, data)

        train, n_valid, validation = self._split(matrix, transform, private, rng)
        sampler, plan = self._conditional_sampler(transform, codes[train], private, delta, rng)
        seed = torch_seed(rng)
        with (
            seeded(torch, seed, device),
            progress_bar(self.progress, self.steps, f"Training {name}", "steps") as bar,
        ):
            context = TrainingData(
                torch=torch,
                device=device,
                train=torch.as_tensor(matrix[train], device=device),
                codes=codes[train],
                transform=transform,
                sampler=sampler,
                validation=validation,
                plan=plan,
                rng=rng,
                generator=make_generator(torch, seed, device),
                progress=bar,
            )
            network, config, log, spent = self._train(context)
        # Learned state is set only now: an interrupted fit leaves the instance as it was.
        network.eval()
        self.transform_, self.sampler_, self.network_, self.network_config_ = (
            transform,
            sampler,
            network,
            config,
        )
        self.training_log_ = {
            **log,
            "device": device,
            "validation_rows": int(n_valid),
            "max_modes": self._max_modes(n_rows),
        }
        # epsilon/delta spent, and a caveat in words when a bound was read from the data
        self.privacy_spent_: dict[str, Any] | None = None
        if spent is not None:
            self.privacy_spent_ = dict(spent)
            if read_from_data:
                self.privacy_spent_["preprocessing"] = (
                    "not private: bounds/categories read from the data for columns "
                    f"[{', '.join(read_from_data)}]"
                )

    def _split(
        self,
        matrix: np.ndarray,
        transform: TabularTransform,
        private: bool,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, int, ValidationScore | None]:
        """The training rows, how many rows were held out, and the score that checkpoints
        are judged by (None: private training keeps its last weights)."""
        # Early stopping looks at held-out rows; in private mode that look would itself leak,
        # so private training uses every row and keeps its last weights.
        n_rows = len(matrix)
        n_valid = 0 if private else int(round(n_rows * self.validation_share))
        n_valid = n_valid if n_valid >= MIN_VALIDATION_ROWS else 0
        order = rng.permutation(n_rows)
        valid, train = order[:n_valid], order[n_valid:]
        # With no held-out rows the checkpoints are scored against the training rows: the score
        # compares distributions (marginals, correlations), which copying rows does not game,
        # and a reference of every row is far less noisy than a tenth of a small table.
        reference = valid if n_valid else (None if private else train)
        validation = (
            ValidationScore(transform.numeric(matrix[reference]), transform.is_discrete())
            if reference is not None
            else None
        )
        return train, n_valid, validation

    def _conditional_sampler(
        self,
        transform: TabularTransform,
        codes: np.ndarray,
        private: bool,
        delta: float | None,
        rng: np.random.Generator,
    ) -> tuple[ConditionalSampler, PrivacyPlan | None]:
        """The training-by-sampling sampler over the training rows' ``codes`` and, in private
        mode, the privacy plan (its category counts noised as the plan says)."""
        sizes = [span.dim for _, _, span in transform.conditional_blocks]
        plan = None
        count_std = 0.0
        if private:
            assert self.epsilon is not None and delta is not None
            plan = plan_privacy(
                float(self.epsilon),
                delta,
                self._sample_rate(len(codes)),
                self.steps,
                with_counts=bool(sizes),
            )
            if plan.count_noise_multiplier is not None:
                # one row adds 1 to one count of each discrete column: L2 sensitivity sqrt(J)
                count_std = plan.count_noise_multiplier * math.sqrt(len(sizes))
        sampler = ConditionalSampler(sizes, noisy_counts(codes, sizes, count_std, rng))
        if not private:
            sampler.index_rows(codes)
        return sampler, plan

    def _delta(self, n_rows: int) -> float | None:
        """The DP delta of a private fit (None without ``epsilon``), checked against 1/n."""
        name = type(self).__name__
        if self.epsilon is None:
            if self.delta is not None:
                warnings.warn(
                    f"{name}: 'delta' is only used with 'epsilon'; training without "
                    "differential privacy.",
                    SynthPatientWarning,
                    stacklevel=4,
                )
            return None
        import_opacus()
        delta = self.delta if self.delta is not None else default_delta(n_rows)
        if delta >= 1 / n_rows:
            raise InvalidParameterError(
                f"The 'delta' parameter of {name} must be below 1/n = {1 / n_rows:.3g} for a "
                f"table of {n_rows} rows (a larger delta allows a whole record to leak). "
                f"Got {self.delta!r}. Leave it None for 1/n^1.1 = {default_delta(n_rows):.3g}."
            )
        return float(delta)

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
    def _train(
        self, data: TrainingData
    ) -> tuple[Any, dict[str, Any], dict[str, Any], dict[str, float] | None]:
        """Train; return (sampling network, its config, a training log, privacy spent)."""
        raise NotImplementedError

    def _build_network(self, torch: ModuleType, config: dict[str, Any]) -> Any:
        raise NotImplementedError

    def _generate(
        self,
        torch: ModuleType,
        network: Any,
        spans: list[Span],
        cond: np.ndarray,
        generator: Any,
        device: str,
    ) -> np.ndarray:
        """Transformed rows (activated: tanh scalars, one-hots) for conditional vectors,
        computed in chunks of ``SAMPLE_CHUNK`` rows without gradients."""
        parts = []
        with torch.no_grad():
            for start in range(0, len(cond), SAMPLE_CHUNK):
                chunk = torch.as_tensor(cond[start : start + SAMPLE_CHUNK], device=device)
                parts.append(
                    self._generate_chunk(torch, network, spans, chunk, generator).cpu().numpy()
                )
        return np.concatenate(parts)

    def _generate_chunk(
        self, torch: ModuleType, network: Any, spans: list[Span], cond: Any, generator: Any
    ) -> Any:
        raise NotImplementedError

    # -- sample --------------------------------------------------------------------------------
    def _native_conditions(self, conditions: list[Condition]) -> list[Condition]:
        """One category of a categorical or boolean column goes into the conditional vector
        (the rarest asked for, which rejection would need most rows to meet); the base class
        keeps the rows that meet the others."""
        discrete = self._discrete_blocks()
        native: Condition | None = None
        for cond in conditions:
            if (
                cond.kind == "equal"
                and cond.column in discrete
                and (
                    native is None
                    or self._category_share(cond, discrete) < self._category_share(native, discrete)
                )
            ):
                native = cond
        return [] if native is None else [native]

    def _sample(
        self, n_rows: int, rng: np.random.Generator, conditions: list[Condition]
    ) -> pd.DataFrame:
        torch = import_torch()
        device = str(next(self.network_.parameters()).device)
        generator = make_generator(torch, torch_seed(rng), device)
        if conditions:  # the one category _native_conditions chose
            (native,) = conditions
            d = self._discrete_blocks()[native.column]
            column = self.transform_.conditional_blocks[d][1]
            assert isinstance(column, DiscreteColumn)  # conditional blocks are discrete columns
            cond = self.sampler_.fixed(n_rows, d, column.codes(pd.Series([native.value]))[0])
        else:
            cond = self.sampler_.sample_original(n_rows, rng)
        frame = self.transform_.inverse(
            self._generate(torch, self.network_, self.transform_.spans, cond, generator, device)
        )
        for native in conditions:  # the generator was asked for it; state it exactly
            frame[native.column] = pd.Series([native.value] * n_rows, dtype=object)
        return frame.reset_index(drop=True)

    def _discrete_blocks(self) -> dict[str, int]:
        """Categorical and boolean columns -> their block of the conditional vector."""
        return {
            c.name: d
            for d, (_, c, _) in enumerate(self.transform_.conditional_blocks)
            if isinstance(c, DiscreteColumn)
        }

    def _category_share(self, cond: Condition, discrete: dict[str, int]) -> float:
        d = discrete[cond.column]
        column = self.transform_.conditional_blocks[d][1]
        assert isinstance(column, DiscreteColumn)  # conditional blocks are discrete columns
        return self.sampler_.probability(d, int(column.codes(pd.Series([cond.value]))[0]))

    # -- state ---------------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        transform, arrays = self.transform_.state()
        sampler, sampler_arrays = self.sampler_.state()
        arrays.update(sampler_arrays)
        arrays.update(module_arrays(self._network_prefix, self.network_))
        state = {
            "transform": transform,
            "sampler": sampler,
            "network": self.network_config_,
            "training": self.training_log_,
            "privacy_spent": self.privacy_spent_,
        }
        return state, arrays

    def _set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        torch = import_torch()
        self.transform_ = TabularTransform.from_state(
            state["transform"], arrays, self.schema_.learned
        )
        self.sampler_ = ConditionalSampler.from_state(state["sampler"], arrays, self.transform_)
        self.network_config_ = dict(state["network"])
        expect(
            self.network_config_.get("cond_dim") == self.sampler_.dim
            and self.network_config_.get("data_dim") == self.transform_.dim,
            "the network's input and output sizes do not match the transform",
        )
        check_sizes(self.network_config_, arrays, self._network_prefix)
        network = self._build_network(torch, self.network_config_)
        load_module_arrays(torch, self._network_prefix, network, arrays)
        self.network_ = network.to(resolve_device(torch, self.device, type(self).__name__)).eval()
        self.training_log_ = dict(state["training"])
        expect(
            state["privacy_spent"] is None or isinstance(state["privacy_spent"], dict),
            "the privacy spent is not a record",
        )
        self.privacy_spent_ = state["privacy_spent"]
