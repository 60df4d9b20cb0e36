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

from dataclasses import asdict, dataclass
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from synthpatient import _threads
from synthpatient._row_hash import row_hashes
from synthpatient.errors import DataError
from synthpatient.schema import ColumnSpec, Schema
from synthpatient.synthesizers._conditions import Condition
from synthpatient.synthesizers._constraints import Boolean, Interval, Param, Text
from synthpatient.synthesizers._deep import DEVICE
from synthpatient.synthesizers._lm_decoding import CALIBRATION_ROWS, SAMPLE_CHUNK, LMDecoding
from synthpatient.synthesizers._lm_network import Layout
from synthpatient.synthesizers._lm_training import (
    DEFAULT_STEPS,
    LINEAR_PARAMETERS,
    LINEAR_STEP,
    MAX_EPOCHS,
    LMTraining,
)
from synthpatient.synthesizers._lm_vocab import ColumnVocab, default_bins
from synthpatient.synthesizers._persistence import check_sizes, expect
from synthpatient.synthesizers._torch import (
    load_module_arrays,
    make_generator,
    module_arrays,
    seeded,
    torch_seed,
)
from synthpatient.synthesizers.base import Capabilities, Synthesizer, _enforce

# the training and decoding constants live with their code; they stay importable from here
__all__ = [
    "CALIBRATION_ROWS",
    "DEFAULT_STEPS",
    "LINEAR_PARAMETERS",
    "LINEAR_STEP",
    "MAX_EPOCHS",
    "MAX_REDRAWS",
    "MIN_VALIDATION_ROWS",
    "SAMPLE_CHUNK",
    "CopyReport",
    "TabularLMSynthesizer",
    "import_torch",
]

#: Rejecting copies of training rows gives up after this many redraws of the same rows.
MAX_REDRAWS = 30
#: Below this many rows a held-out split is too small to tell when to stop.
MIN_VALIDATION_ROWS = 20


def import_torch() -> ModuleType:
    """torch, imported when first used (the ``lm`` extra), under the package's thread policy
    (``synthpatient._threads``)."""
    return _threads.import_torch(extra="lm", purpose="the tabular language model")


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


class TabularLMSynthesizer(LMTraining, LMDecoding, Synthesizer):
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
        progress: Show training progress on stderr (a bar on a terminal, otherwise a plain
            line at every tenth of the epochs).
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


def _row_hashes(specs: list[ColumnSpec], data: pd.DataFrame) -> np.ndarray:
    """One 64-bit hash per row of the learned columns as delivered (rounded, bounded), so a
    synthetic row equal to a training row has the same hash. Rows are not kept, only these
    (the package's one row hash, under its default key: saved models keep their values)."""
    delivered = pd.DataFrame(
        {spec.name: _enforce(spec, data[spec.name].reset_index(drop=True), None) for spec in specs}
    )
    return row_hashes(delivered, {spec.name: spec.kind for spec in specs}, decimals=None)
