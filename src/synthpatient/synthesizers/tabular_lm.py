"""``TabularLMSynthesizer``: a small causal language model trained on the rows themselves.

Rows are text, ``"age is 54, sex is female, bmi is 31.2, ..."``, over a vocabulary built from
the data (see ``_lm_vocab``), so training needs no download and works offline. For half of
every batch a random subset of the columns is read first, so the model learns each column
given any subset of the others, and sampling can condition on any columns (REaLTabFormer can
only condition on the leading ones). Sampling reads the conditioned columns first and the rest
in the table's order, which is exactly the family of orders trained on; the other half of
every batch keeps the table's order, which unconditioned sampling uses, so that one is learned
best.

Decoding is constrained by the schema: at each column the model can only emit one of that
column's symbols, numbers are drawn inside their bin, the column's bounds and precision, so
every row is valid by construction. Rows identical to a training row are rejected (by
default) and the share that had to be redrawn is reported in ``last_sample_report_`` (a
:class:`CopyReport`).

With ``base_model=PATH`` the same rows are used to fine-tune a local pretrained causal LM
(a Hugging Face checkpoint folder, e.g. GPT-2; the ``lm`` extra brings ``transformers``) on
the text form, decoded under the same constraints, so the two can be compared. Nothing is
ever downloaded: a missing or incomplete folder is a one-line error.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from synthpatient._optional import import_optional
from synthpatient._row_hash import row_hashes
from synthpatient.errors import ConditionError, DataError
from synthpatient.schema import ColumnSpec, Schema
from synthpatient.synthesizers._conditions import Condition
from synthpatient.synthesizers._constraints import Boolean, Interval, Param, Text
from synthpatient.synthesizers._deep import DEVICE
from synthpatient.synthesizers._lm_network import Layout, build_network
from synthpatient.synthesizers._lm_vocab import ColumnVocab, default_bins, prior_shift
from synthpatient.synthesizers._persistence import check_sizes, expect
from synthpatient.synthesizers._torch import (
    EarlyStopping,
    load_module_arrays,
    make_generator,
    module_arrays,
    progress_bar,
    seeded,
    torch_seed,
)
from synthpatient.synthesizers.base import Capabilities, Synthesizer, _enforce

#: Rejecting copies of training rows gives up after this many redraws of the same rows.
MAX_REDRAWS = 30
#: Below this many rows a held-out split is too small to tell when to stop.
MIN_VALIDATION_ROWS = 20
#: Optimiser steps when ``epochs`` is None (see ``_epochs``).
DEFAULT_STEPS = 700
#: ... and at most this many passes (on a few hundred rows, more starts to memorise them).
MAX_EPOCHS = 100
#: The learned part of the network's linear path (see ``_lm_network``), and how much larger
#: its step is.
LINEAR_PARAMETERS = ("token_shift.weight",)
LINEAR_STEP = 10.0
#: Rows drawn after training to find the category shares' correction (``_prior_weights``).
CALIBRATION_ROWS = 4000
#: Rows per forward pass when sampling (bounds memory for very large samples).
SAMPLE_CHUNK = 20_000


def import_torch():  # type: ignore[no-untyped-def]
    return import_optional("torch", extra="lm", purpose="the tabular language model")


@dataclass
class CopyReport:
    """``last_sample_report_`` of the tabular LM: how many sampled rows copied a training row
    exactly and were redrawn (none is delivered). Read by field or by key
    (``report["rows_redrawn"]``)."""

    rows: int
    training_copies_first_draw: int
    training_copy_rate_first_draw: float
    rows_redrawn: int
    training_copies_delivered: int = 0

    def summary(self) -> str:
        if not self.rows_redrawn:
            return ""
        return (
            f"{self.rows_redrawn} sampled rows copied a training row exactly and were "
            "redrawn; none is delivered."
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __getitem__(self, name: str) -> Any:
        return self.to_dict()[name]


class TabularLMSynthesizer(Synthesizer):
    """A causal transformer trained from scratch on the table's rows serialised as text.

    Args:
        n_bins: Quantile bins per numeric column with many distinct values (None: about
            1.5 sqrt(n), 8 to 100). Columns with at most this many distinct values keep them.
        d_model, n_layers, n_heads, dropout: The transformer's size and its dropout (0.3: a few
            hundred rows are otherwise learned by heart).
        epochs: Passes over the training rows (None: about 700 optimiser steps, 3 to 100
            passes: 100 for 442 rows, 3 for 100,000). Longer training raises the quality
            score on the training rows and memorises them (benchmarks/check_tabular_lm.py).
        batch_size, learning_rate, weight_decay: The optimiser (AdamW; the learning rate
            decays to 0 on a cosine over the planned steps).
        validation_share: Rows held out to stop training when their likelihood stops improving
            (0, the default: train ``epochs`` passes on every row; on small tables every row
            counts more than the stopping point).
        patience: Epochs without a better held-out likelihood before stopping.
        permuted_share: Share of each batch read with a random subset of columns first (the
            rest keep the table's order); 0 gives up the quality of conditioning on columns
            other than the leading ones.
        temperature: Sampling temperature (1 samples the learned distribution).
        reject_training_copies: Redraw rows identical to a training row (the share redrawn is
            reported in ``last_sample_report_``).
        calibrate_marginals: For samples without conditions, keep the order the model gave
            each numeric column's values but give them the column's fitted distribution (as a
            copula does), and reweight each category's (and each "missing") probability by a
            factor fixed after training so that the shares match the data's: the model then
            supplies how columns go together, the data each column's shape, and rare
            categories keep their share (the reweighting is for the model trained from
            scratch; a fine-tuned ``base_model`` gets the numeric part). Under conditions the
            target shapes are unknown, so it is skipped.
        base_model: A local folder with a pretrained causal LM to fine-tune instead of
            training from scratch (see ``_lm_pretrained``); None trains from scratch.
        base_learning_rate: The learning rate for fine-tuning ``base_model`` (pretrained
            weights need a far smaller step than a model trained from scratch).
        device: ``"cpu"``, ``"cuda"`` or ``"auto"``.
        progress: Show a progress bar while training.
        seed: Seed for training and (by default) sampling.

    Examples:
        >>> lm = TabularLMSynthesizer(seed=0).fit(real)
        >>> lm.sample(1000, conditions={"sex": 2, "bmi": (30, None)})
    """

    key = "tabular_lm"
    # the fitted network: a torch module, or a PretrainedBackbone for ``base_model`` (torch is
    # imported lazily, so no torch type can be named here)
    network_: Any
    capabilities = Capabilities(
        native_conditions=True,
        range_conditions=True,
        handles_missing=True,
        fine_tunes=True,
        extra="lm",
    )
    min_rows = 20
    _parameter_constraints = {
        "n_bins": Param(Interval(int, 2, None), None, hint="None chooses from the number of rows"),
        "d_model": Param(Interval(int, 8, None)),
        "n_layers": Param(Interval(int, 1, None)),
        "n_heads": Param(Interval(int, 1, None)),
        "dropout": Param(Interval(float, 0, 1)),
        "epochs": Param(Interval(int, 1, None), None, hint="None for about 700 optimiser steps"),
        "batch_size": Param(Interval(int, 2, None)),
        "learning_rate": Param(Interval(float, 0, None, closed="neither")),
        "weight_decay": Param(Interval(float, 0, None)),
        "validation_share": Param(Interval(float, 0, 0.5)),
        "patience": Param(Interval(int, 1, None)),
        "permuted_share": Param(Interval(float, 0, 1)),
        "temperature": Param(Interval(float, 0, None, closed="neither")),
        "reject_training_copies": Param(Boolean()),
        "calibrate_marginals": Param(Boolean()),
        "base_model": Param(Text("the path of a local pretrained model folder"), None),
        "base_learning_rate": Param(Interval(float, 0, None, closed="neither")),
        "device": DEVICE,
        "progress": Param(Boolean()),
    }

    def __init__(
        self,
        *,
        n_bins: int | None = None,
        d_model: int = 64,
        n_layers: int = 2,
        n_heads: int = 4,
        dropout: float = 0.3,
        epochs: int | None = None,
        batch_size: int = 64,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-4,
        validation_share: float = 0.0,
        patience: int = 20,
        permuted_share: float = 0.5,
        temperature: float = 1.0,
        reject_training_copies: bool = True,
        calibrate_marginals: bool = True,
        base_model: str | None = None,
        base_learning_rate: float = 5e-5,
        device: str = "cpu",
        progress: bool = True,
        seed: int | None = None,
    ) -> None:
        self.n_bins = n_bins
        self.d_model = d_model
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.validation_share = validation_share
        self.patience = patience
        self.permuted_share = permuted_share
        self.temperature = temperature
        self.reject_training_copies = reject_training_copies
        self.calibrate_marginals = calibrate_marginals
        self.base_model = base_model
        self.base_learning_rate = base_learning_rate
        self.device = device
        self.progress = progress
        super().__init__(seed=seed)

    def _validate_params(self) -> None:
        super()._validate_params()
        self._require(
            "n_heads", self.d_model % self.n_heads == 0, f"a divisor of d_model ({self.d_model})"
        )

    # -- fit -----------------------------------------------------------------------------------
    def _fit(self, data: pd.DataFrame, schema: Schema, rng: np.random.Generator) -> None:
        torch = import_torch()
        specs = schema.learned
        n_bins = self.n_bins or default_bins(len(data))
        vocabs = [ColumnVocab.fit(spec, data[spec.name], n_bins) for spec in specs]
        codes = np.column_stack([v.encode(data[v.name]) for v in vocabs])
        layout = Layout(tuple(v.n_symbols for v in vocabs))
        n_valid = int(round(len(data) * self.validation_share))
        n_valid = n_valid if n_valid >= MIN_VALIDATION_ROWS else 0
        order = rng.permutation(len(data))
        valid, train = codes[order[:n_valid]], codes[order[n_valid:]]
        device = self._device(torch)
        seed = torch_seed(rng)
        if self.base_model is not None:
            from synthpatient.synthesizers._lm_pretrained import PretrainedBackbone

            backbone = PretrainedBackbone.load(self.base_model, vocabs, specs, device)
            with seeded(torch, seed, device):
                log = backbone.fine_tune(train, valid, self, rng)
            network, config = backbone, backbone.config()
        else:
            config = {
                "d_model": self.d_model,
                "n_heads": self.n_heads,
                "n_layers": self.n_layers,
                "dropout": self.dropout,
            }
            with seeded(torch, seed, device):
                network = self._build(torch, vocabs, layout, config, train).to(device)
                log = self._train(torch, network, layout, train, valid, rng, device)
        network.eval()
        # learned state only now: an interrupted fit leaves the instance as it was (and an
        # interruption while finding the category weights below leaves them neutral)
        self.vocabs_, self.layout_, self.network_, self.network_config_ = (
            vocabs,
            layout,
            network,
            config,
        )
        self.symbol_log_weights_ = np.zeros(int(sum(layout.n_symbols)))
        self.training_log_ = {
            **log,
            "validation_rows": int(n_valid),
            "n_bins": n_bins,
            "device": device,
        }
        self.row_hashes_ = (
            _row_hashes(specs, data)
            if self.reject_training_copies
            else np.zeros(0, dtype=np.uint64)
        )
        if self.base_model is None:
            self.symbol_log_weights_ = self._prior_weights(torch, codes, rng)

    def _device(self, torch: Any) -> str:
        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        return str(self.device)

    @classmethod
    def _build(
        cls,
        torch: Any,
        vocabs: list[ColumnVocab],
        layout: Layout,
        config: dict[str, Any],
        codes: np.ndarray | None = None,
    ) -> Any:
        """The network; ``codes`` (the training rows' symbols) give the linear path its
        correlation (a saved model's is loaded instead)."""
        return build_network(
            torch,
            layout,
            cls._positions(vocabs, layout),
            [v.score_edges() if v.is_ordered else None for v in vocabs],
            [v.nullable for v in vocabs],
            None if codes is None else _score_correlation(vocabs, codes),
            **config,
        )

    @staticmethod
    def _positions(vocabs: list[ColumnVocab], layout: Layout) -> np.ndarray:
        positions = np.zeros(layout.n_tokens)
        for vocab, start in zip(vocabs, layout.offsets, strict=True):
            positions[start : start + vocab.n_symbols] = vocab.positions()
        return positions

    def _orders(self, n_rows: int, k: int, rng: np.random.Generator) -> np.ndarray:
        """Column orders for a batch: the table's order, or for ``permuted_share`` of the rows
        a random subset of columns first and then the others, each part in the table's order.

        That is exactly the order sampling uses (the conditioned columns, then the rest), so
        the model learns only the orders it will be asked for, not all k! of them; fully
        random orders cost unconditioned samples much of their pair fidelity."""
        orders = np.tile(np.arange(k), (n_rows, 1))
        permuted = rng.random(n_rows) < self.permuted_share
        if permuted.any():
            orders[permuted] = self._subset_first(int(permuted.sum()), k, rng)
        return orders

    @staticmethod
    def _subset_first(n_rows: int, k: int, rng: np.random.Generator) -> np.ndarray:
        """``n_rows`` orders: a random subset of the ``k`` columns (of any size), then the rest,
        each part in the table's order."""
        first = rng.random((n_rows, k)) < rng.random((n_rows, 1))
        return np.argsort(~first, axis=1, kind="stable")

    def _epochs(self, n_batches: int) -> int:
        if self.epochs is not None:
            return int(self.epochs)
        return int(min(MAX_EPOCHS, max(3, math.ceil(DEFAULT_STEPS / n_batches))))

    def _loss(
        self,
        torch: Any,
        network: Any,
        layout: Layout,
        codes: np.ndarray,
        orders: np.ndarray,
        device: str,
    ) -> Any:
        """Mean negative log-likelihood per value of rows ``codes`` read in ``orders``."""
        tokens, _ = layout.sequences(codes, orders)
        hidden, shifts = network(torch.as_tensor(tokens, device=device))
        hidden = hidden[:, 1::2]  # at the column tokens, where shifts are
        rows = torch.arange(len(codes), device=device)
        where = torch.as_tensor(np.argsort(orders, axis=1), device=device)  # column -> step
        targets = torch.as_tensor(codes, device=device)
        total = 0.0
        for j in range(layout.n_columns):  # every row has every column exactly once
            log_probs = network.log_probs(hidden[rows, where[:, j]], j, shifts[rows, where[:, j]])
            total = total - log_probs[rows, targets[:, j]].sum()
        return total / codes.size

    def _train(
        self,
        torch: Any,
        network: Any,
        layout: Layout,
        train: np.ndarray,
        valid: np.ndarray,
        rng: np.random.Generator,
        device: str,
    ) -> dict[str, Any]:
        # the linear path's shifts have to travel to about 1 in a few hundred steps, so they
        # take ten times the step, without decay (which would shrink every difference)
        linear = [p for n, p in network.named_parameters() if n in LINEAR_PARAMETERS]
        rest = [p for n, p in network.named_parameters() if n not in LINEAR_PARAMETERS]
        optimizer = torch.optim.AdamW(
            [
                {"params": rest},
                {"params": linear, "lr": LINEAR_STEP * self.learning_rate, "weight_decay": 0.0},
            ],
            lr=self.learning_rate,
            weight_decay=self.weight_decay,
        )
        k = layout.n_columns
        # held-out rows are scored in the table's order and in one fixed subset-first order
        # each, so the stopping point suits both unconditioned and conditioned sampling
        valid_orders = (
            None
            if not len(valid)
            else np.concatenate(
                [np.tile(np.arange(k), (len(valid), 1)), self._subset_first(len(valid), k, rng)]
            )
        )
        stopper = EarlyStopping(self.patience, min_gain=1e-4)
        n_batches = max(1, math.ceil(len(train) / self.batch_size))
        epochs = self._epochs(n_batches)
        # cosine decay to zero over the planned steps: the last steps refine rather than jitter
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * n_batches)
        epoch = 0
        with progress_bar(self.progress, epochs, "Training TabularLMSynthesizer") as bar:
            for epoch in range(1, epochs + 1):
                network.train()
                shuffled = train[rng.permutation(len(train))]
                for b in range(n_batches):
                    batch = shuffled[b * self.batch_size : (b + 1) * self.batch_size]
                    if not len(batch):
                        continue
                    loss = self._loss(
                        torch, network, layout, batch, self._orders(len(batch), k, rng), device
                    )
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
                    optimizer.step()
                    schedule.step()
                bar.advance()
                if valid_orders is not None:
                    network.eval()
                    with torch.no_grad():
                        score = -float(
                            self._loss(
                                torch,
                                network,
                                layout,
                                np.concatenate([valid, valid]),
                                valid_orders,
                                device,
                            )
                        )
                    if stopper.update(epoch, score, {"network": network}):
                        break
        if valid_orders is not None:
            stopper.restore({"network": network})
        return {
            "epochs": epoch,
            "best_epoch": stopper.best_step if valid_orders is not None else epoch,
            "validation_nll": None if valid_orders is None else -stopper.best_score,
        }

    # -- sample --------------------------------------------------------------------------------
    def _sample(
        self, n_rows: int, rng: np.random.Generator, conditions: list[Condition]
    ) -> pd.DataFrame:
        torch = import_torch()
        allowed, ranges = self._condition_masks(conditions)
        k = len(self.vocabs_)
        conditioned = [j for j in range(k) if j in allowed]
        order = np.array(conditioned + [j for j in range(k) if j not in allowed])
        generator = make_generator(torch, torch_seed(rng), "cpu")
        learned = [c.name for c in self.schema_.learned]
        frame = self._draw(torch, n_rows, order, allowed, ranges, rng, generator)
        if self.calibrate_marginals and not conditions and n_rows > 1:
            for vocab in self.vocabs_:
                frame[vocab.name] = vocab.calibrate(frame[vocab.name], rng)
        redrawn = n_copies = 0
        if self.reject_training_copies and len(self.row_hashes_):
            for _ in range(MAX_REDRAWS):
                copies = self._copies(frame, rng)
                if not copies.any():
                    break
                if redrawn == 0:
                    n_copies = int(copies.sum())
                redrawn += int(copies.sum())
                fresh = self._draw(torch, int(copies.sum()), order, allowed, ranges, rng, generator)
                rows = np.flatnonzero(copies)
                for name in learned:
                    frame.loc[rows, name] = fresh[name].to_numpy()
            else:
                if self._copies(frame, rng).any():
                    raise DataError(
                        f"After {MAX_REDRAWS} redraws some sampled rows still copy training rows "
                        "exactly (the table has few distinct rows). Pass "
                        "reject_training_copies=False to accept copies, or add columns."
                    )
        self.last_sample_report_ = CopyReport(
            rows=n_rows,
            training_copies_first_draw=n_copies,
            training_copy_rate_first_draw=n_copies / max(n_rows, 1),
            rows_redrawn=redrawn,
        )
        return frame

    def _condition_masks(
        self, conditions: list[Condition]
    ) -> tuple[dict[int, np.ndarray], dict[int, tuple[Any, Any]]]:
        index = {v.name: j for j, v in enumerate(self.vocabs_)}
        allowed: dict[int, np.ndarray] = {}
        ranges: dict[int, tuple[Any, Any]] = {}
        for cond in conditions:
            j = index[cond.column]
            mask = self.vocabs_[j].allowed(cond.kind, cond.value, cond.low, cond.high)
            if not mask.any():
                raise ConditionError(
                    f"No value of '{cond.column}' the model learned falls in "
                    "the condition's range; widen the range."
                )
            allowed[j] = mask
            if cond.kind == "range":
                ranges[j] = (cond.low, cond.high)
            elif self.vocabs_[j].kind != "category":
                ranges[j] = (float(cond.value), float(cond.value))
        return allowed, ranges

    def _draw(
        self,
        torch: Any,
        n_rows: int,
        order: np.ndarray,
        allowed: dict[int, np.ndarray],
        ranges: dict[int, tuple[Any, Any]],
        rng: np.random.Generator,
        generator: Any,
    ) -> pd.DataFrame:
        weights = self.symbol_log_weights_ if self.calibrate_marginals and not allowed else None
        codes = np.zeros((0, len(self.vocabs_)), dtype=np.int64)
        if n_rows:
            codes = np.concatenate(
                [
                    self._symbols(
                        torch, min(SAMPLE_CHUNK, n_rows - start), order, allowed, generator, weights
                    )
                    for start in range(0, n_rows, SAMPLE_CHUNK)
                ]
            )
        columns = {}
        for j, vocab in enumerate(self.vocabs_):
            low, high = ranges.get(j, (None, None))
            columns[vocab.name] = vocab.decode(codes[:, j], rng, low=low, high=high)
        return pd.DataFrame(columns)

    def _symbols(
        self,
        torch: Any,
        n_rows: int,
        order: np.ndarray,
        allowed: dict[int, np.ndarray],
        generator: Any,
        weights: np.ndarray | None = None,
        targets: dict[int, tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> np.ndarray:
        """Column symbols (n_rows, K), drawn one column at a time in ``order``; each symbol's
        probability is multiplied by ``exp(weights)`` (one per symbol of every column). With
        ``targets`` (column: the group of each symbol, each group's share), the weights of
        those columns are found first, in ``weights``, from the rows being drawn."""
        layout = self.layout_
        if self.base_model is not None:
            return self.network_.generate(n_rows, order, allowed, self.temperature, generator)
        device = str(next(self.network_.parameters()).device)
        offsets = layout.offsets
        tokens = torch.zeros((n_rows, 1), dtype=torch.long, device=device)
        out = np.zeros((n_rows, layout.n_columns), dtype=np.int64)
        with torch.no_grad():
            for j in order:
                column_token = torch.full((n_rows, 1), 1 + int(j), dtype=torch.long, device=device)
                tokens = torch.cat([tokens, column_token], dim=1)
                hidden, shifts = self.network_(tokens, last_only=True)
                logits = self.network_.log_probs(hidden[:, -1], int(j), shifts[:, -1]).float().cpu()
                if j in allowed:
                    logits[:, ~torch.as_tensor(allowed[j])] = -math.inf
                probs = torch.softmax(logits / self.temperature, dim=1)
                if weights is not None:
                    part = slice(
                        int(offsets[j] - offsets[0]),
                        int(offsets[j] - offsets[0]) + layout.n_symbols[j],
                    )
                    if targets is not None and int(j) in targets:
                        weights[part] = prior_shift(probs.numpy(), *targets[int(j)])
                    probs = probs * torch.as_tensor(np.exp(weights[part]), dtype=probs.dtype)
                    probs = probs / probs.sum(dim=1, keepdim=True)
                symbol = torch.multinomial(probs, 1, generator=generator).squeeze(1)
                out[:, j] = symbol.numpy()
                tokens = torch.cat(
                    [tokens, (symbol + int(offsets[j])).unsqueeze(1).to(device)], dim=1
                )
        return out

    def _prior_weights(self, torch: Any, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Log-weights on every symbol so that unconditioned samples have the training shares
        of each category and of "missing" (numbers get their shape from ``calibrate``).

        A model trained with dropout on a few hundred rows gets a category's share a point or
        two wrong, and a rare category's by far more. This is the prior-shift correction of a
        classifier's probabilities (Saerens, Latinne and Decaestecker, Neural Computation
        2002), found column by column in sampling order on ``CALIBRATION_ROWS`` drawn rows, so
        each column's weights allow for the corrected columns before it. The weights are
        fixed, so a sample of any size, even one row, is drawn from the same model.
        """
        weights = np.zeros(int(sum(self.layout_.n_symbols)))
        targets: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for j, vocab in enumerate(self.vocabs_):
            found = np.bincount(codes[:, j], minlength=vocab.n_symbols) / len(codes)
            if vocab.kind == "category":
                targets[j] = (np.arange(vocab.n_symbols), found)
            elif vocab.nullable:
                groups = np.r_[np.zeros(vocab.n_values, dtype=np.int64), 1]
                targets[j] = (groups, np.array([1 - found[-1], found[-1]]))
        if targets:
            generator = make_generator(torch, torch_seed(rng), "cpu")
            self._symbols(
                torch,
                CALIBRATION_ROWS,
                np.arange(len(self.vocabs_)),
                {},
                generator,
                weights,
                targets,
            )
        return weights

    def _copies(self, frame: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
        """Which rows, as they will be delivered (rounded, bounded), copy a training row."""
        final = self._finalize(frame, len(frame), [], rng, regenerate_ids=False)
        hashes = _row_hashes(self.schema_.learned, final)
        return np.isin(hashes, self.row_hashes_)

    # -- text form -----------------------------------------------------------------------------
    def to_text(self, data: pd.DataFrame) -> list[str]:
        """Rows as the text the model reads: ``"age is 54, sex is 2, bmi is 31.2"`` (binned
        numbers read as their bin's middle)."""
        from synthpatient.synthesizers._lm_vocab import row_texts

        self._check_fitted("to_text")
        codes = np.column_stack([v.encode(data[v.name]) for v in self.vocabs_])
        return row_texts(
            self.vocabs_, codes, decimals={s.name: s.decimals for s in self.schema_.learned}
        )

    # -- state ---------------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        arrays = {"row_hashes": self.row_hashes_, "symbol_log_weights": self.symbol_log_weights_}
        if self.base_model is not None:
            arrays.update(self.network_.arrays())
        else:
            arrays.update(module_arrays("network", self.network_))
        state = {
            "vocabs": [v.to_dict() for v in self.vocabs_],
            "network": self.network_config_,
            "training": self.training_log_,
        }
        return state, arrays

    def _set_state(self, state: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        torch = import_torch()
        specs = self.schema_.learned
        expect(
            len(state["vocabs"]) == len(specs),
            "the model has not one vocabulary per learned column",
        )
        self.vocabs_ = [
            ColumnVocab.from_dict(v, spec) for v, spec in zip(state["vocabs"], specs, strict=True)
        ]
        self.layout_ = Layout(tuple(v.n_symbols for v in self.vocabs_))
        self.network_config_ = dict(state["network"])
        if self.base_model is None:  # sizes checked before anything is built from them
            check_sizes(self.network_config_, arrays, "network")
            config = self.network_config_
            expect(
                int(config["n_heads"]) >= 1
                and int(config["d_model"]) % int(config["n_heads"]) == 0
                and 0 <= float(config["dropout"]) < 1,
                "the network's heads, width or dropout are not a valid combination",
            )
        n_symbols = int(sum(self.layout_.n_symbols))
        weights = arrays.get("symbol_log_weights", np.zeros(n_symbols))
        expect(
            np.shape(weights) == (n_symbols,)
            and np.shape(arrays["row_hashes"]) == (np.size(arrays["row_hashes"]),),
            "the symbol weights do not fit the vocabularies",
        )
        device = self._device(torch)
        if self.base_model is not None:
            from synthpatient.synthesizers._lm_pretrained import PretrainedBackbone

            backbone = PretrainedBackbone.load(
                self.base_model, self.vocabs_, self.schema_.learned, device
            )
            backbone.load_arrays(arrays)
            self.network_ = backbone
        else:
            network = self._build(torch, self.vocabs_, self.layout_, self.network_config_)
            load_module_arrays(torch, "network", network, arrays)
            self.network_ = network.to(device).eval()
        self.training_log_ = dict(state["training"])
        self.row_hashes_ = np.asarray(arrays["row_hashes"], dtype=np.uint64)
        self.symbol_log_weights_ = np.asarray(weights, dtype=float)


def _score_correlation(vocabs: list[ColumnVocab], codes: np.ndarray) -> np.ndarray:
    """The correlation of the rows' normal scores (each symbol's place on its column's scale,
    as the model reads it), pairwise over the rows where both are present; categories get
    identity rows and columns (their effect is learned instead)."""
    from synthpatient.synthesizers._gaussian import estimate_correlation

    scores = np.full(codes.shape, np.nan)
    for j, vocab in enumerate(vocabs):
        if vocab.is_ordered:
            present = codes[:, j] != vocab.missing_symbol if vocab.nullable else slice(None)
            scores[present, j] = 3 * vocab.positions()[codes[present, j]]
    return estimate_correlation(scores)


def _row_hashes(specs: list[ColumnSpec], data: pd.DataFrame) -> np.ndarray:
    """One 64-bit hash per row of the learned columns as delivered (rounded, bounded), so a
    synthetic row equal to a training row has the same hash. Rows are not kept, only these
    (the package's one row hash, under its default key: saved models keep their values)."""
    delivered = pd.DataFrame(
        {spec.name: _enforce(spec, data[spec.name].reset_index(drop=True), None) for spec in specs}
    )
    return row_hashes(delivered, {spec.name: spec.kind for spec in specs}, decimals=None)
