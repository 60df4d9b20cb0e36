"""Constrained decoding of the tabular LM: symbols column by column, then values.

A mixin of :class:`~synthpatient.synthesizers.tabular_lm.TabularLMSynthesizer`: conditions
become masks over each column's symbols, the network is read one column at a time in the
sampling order (in chunks, to bound memory), each symbol's probability can be reweighted
(the prior-shift correction found after training), and symbols decode to values inside their
bin and the condition's range.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from synthpatient.errors import ConditionError
from synthpatient.synthesizers._conditions import Condition
from synthpatient.synthesizers._lm_network import Layout
from synthpatient.synthesizers._lm_vocab import ColumnVocab, prior_shift
from synthpatient.synthesizers._torch import make_generator, torch_seed

#: Rows drawn after training to find the category shares' correction (``_prior_weights``).
CALIBRATION_ROWS = 4000
#: Rows per forward pass when sampling (bounds memory for very large samples).
SAMPLE_CHUNK = 20_000


class LMDecoding:
    """Draws rows from the fitted network (mixed into the synthesizer, whose state it reads)."""

    # parameters and fitted state of TabularLMSynthesizer read here
    temperature: float
    calibrate_marginals: bool
    base_model: str | None
    vocabs_: list[ColumnVocab]
    layout_: Layout
    network_: Any
    symbol_log_weights_: np.ndarray

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
