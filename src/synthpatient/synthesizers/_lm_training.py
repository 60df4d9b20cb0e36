"""Training of the tabular LM trained from scratch: its network, column orders and loop.

A mixin of :class:`~synthpatient.synthesizers.tabular_lm.TabularLMSynthesizer`, kept apart
so that the synthesizer module holds the parameters, fit/sample flow and state: the network
is built with a linear path seeded from the rows' score correlation, half of every batch is
read with a random subset of columns first, and AdamW runs on a cosine schedule with early
stopping on held-out rows. A fine-tuned ``base_model`` reuses ``_epochs`` and ``_orders``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from synthpatient.synthesizers._lm_network import Layout, build_network
from synthpatient.synthesizers._lm_vocab import ColumnVocab
from synthpatient.synthesizers._progress import progress_bar
from synthpatient.synthesizers._torch import EarlyStopping

#: Optimiser steps when ``epochs`` is None (see ``_epochs``).
DEFAULT_STEPS = 700

#: ... and at most this many passes (on a few hundred rows, more starts to memorise them).
MAX_EPOCHS = 100

#: The learned part of the network's linear path (see ``_lm_network``), and how much larger
#: its step is.
LINEAR_PARAMETERS = ("token_shift.weight",)
LINEAR_STEP = 10.0


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


class LMTraining:
    """Builds and trains the network (mixed into the synthesizer, whose parameters it reads)."""

    # parameters of TabularLMSynthesizer read here
    permuted_share: float
    epochs: int | None
    batch_size: int
    learning_rate: float
    weight_decay: float
    patience: int
    progress: bool

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
        with progress_bar(self.progress, epochs, "Training TabularLMSynthesizer", "epochs") as bar:
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
