"""The small causal transformer of the tabular language model (torch, imported lazily).

Tokens: 0 is the start of a row, ``1..K`` mean "<column k> is", and then every column's
value symbols in one block per column. A row in column order ``o`` reads::

    <start> <o1 is> v(o1) <o2 is> v(o2) ... <oK is>            (the last value is predicted)

and the model predicts each value from the position of its column token. There is no
positional embedding: what came before is a *set* of (column, value) pairs, whatever their
order, which is what lets training permute the columns and sampling condition on any subset.
A value's embedding also gets its position on the column's scale (see
``ColumnVocab.positions``), so neighbouring bins share strength.

Each column has its own output: a softmax over its symbols for categories, and for ordered
columns (numbers, dates) a mixture of normals on the column's normal-score scale, integrated
over each symbol's interval (plus a "missing" probability when the column has one). The
model can only give probability to the column's own symbols, in training and sampling alike,
so sampling can only emit a symbol of the fitted vocabulary; and the mixture makes the
conditional of a number smooth, which a table of a few hundred rows needs.

Beside the transformer runs a linear path that moves the mixture means of each ordered
column: by the Gaussian conditional mean of its normal score given the scores read so far
(from the correlation of the training rows' scores, as a Gaussian copula has it, solved for
whichever columns are present, so it is right for any conditioning subset), and by a learned
shift per category or "missing" read before it (they have no score). The transformer then
learns only what is not linear; the linear part carries no dropout, so the strength of a
correlation does not change between training and sampling.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Layout:
    """Where each column's symbols sit in the token vocabulary."""

    n_symbols: tuple[int, ...]

    @property
    def n_columns(self) -> int:
        return len(self.n_symbols)

    @property
    def offsets(self) -> np.ndarray:
        return 1 + self.n_columns + np.concatenate([[0], np.cumsum(self.n_symbols)[:-1]])

    @property
    def n_tokens(self) -> int:
        return 1 + self.n_columns + int(sum(self.n_symbols))

    def column_of_token(self) -> np.ndarray:
        """For each token, the column whose value it is (-1 for start and column tokens)."""
        out = np.full(self.n_tokens, -1, dtype=np.int64)
        for j, (start, size) in enumerate(zip(self.offsets, self.n_symbols, strict=True)):
            out[start : start + size] = j
        return out

    def sequences(self, codes: np.ndarray, orders: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Input tokens (B, 2K) and target tokens (B, K) for rows of symbols in given orders."""
        batch, k = codes.shape
        values = np.take_along_axis(codes, orders, axis=1) + self.offsets[orders]
        tokens = np.zeros((batch, 2 * k), dtype=np.int64)
        tokens[:, 1::2] = 1 + orders
        tokens[:, 2::2] = values[:, :-1]
        return tokens, values


#: Normal components of the mixture an ordered column's value is predicted with.
MIXTURE = 4


# long: its torch modules are defined inside, as torch (the lm extra) is imported lazily
def build_network(
    torch: ModuleType,
    layout: Layout,
    positions: np.ndarray,
    edges: list[np.ndarray | None],
    nullable: list[bool],
    correlation: np.ndarray | None = None,
    *,
    d_model: int,
    n_heads: int,
    n_layers: int,
    dropout: float,
) -> Any:
    """The transformer for ``layout`` (its classes are defined here: torch, the ``lm`` extra,
    must not load with this module).

    Args:
        positions: Each token's place on its column's scale (0 where that means nothing).
        correlation: The columns' normal-score correlation (k x k; identity rows and columns
            for categories), for the linear path; None: the identity, to be replaced by a
            saved model's.
        edges: Per column, the symbols' edges on the normal-score scale (ordered columns), or
            None (categories, predicted by a softmax over their symbols).
        nullable: Per column, whether its last symbol means "missing".
    """
    nn = torch.nn
    k = layout.n_columns
    widest = max(len(e) for e in edges if e is not None) if any(e is not None for e in edges) else 2
    padded = np.full((k, widest), np.inf)
    for j, e in enumerate(edges):
        if e is not None:
            padded[j, : len(e)] = np.clip(e, -1e3, 1e3)

    class TabularTransformer(nn.Module):  # type: ignore[name-defined]  # nn: torch, imported lazily
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(layout.n_tokens, d_model)
            self.scale_direction = nn.Embedding(k + 1, d_model)
            nn.init.normal_(self.embed.weight, std=0.02)
            nn.init.normal_(self.scale_direction.weight, std=0.02)
            layer = nn.TransformerEncoderLayer(
                d_model,
                n_heads,
                dim_feedforward=2 * d_model,
                dropout=dropout,
                batch_first=True,
                norm_first=True,
                activation="gelu",
            )
            self.body = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(d_model)
            self.head = nn.Linear(d_model, layout.n_tokens)  # categories
            self.mixture = nn.Linear(d_model, k * (3 * MIXTURE + 1))  # ordered columns
            self.register_buffer("positions", torch.tensor(positions, dtype=torch.float32))
            column = layout.column_of_token() + 1  # 0: start and column tokens
            self.register_buffer("token_column", torch.tensor(column, dtype=torch.long))
            self.register_buffer("edges", torch.tensor(padded, dtype=torch.float32))
            # the linear path (see the module docstring): the correlation gives the Gaussian
            # conditional mean; token_shift moves the means by a category or "missing"
            self.register_buffer(
                "correlation",
                torch.tensor(
                    np.eye(k) if correlation is None else correlation, dtype=torch.float32
                ),
            )
            self.token_shift = nn.Embedding(layout.n_tokens, k)
            nn.init.zeros_(self.token_shift.weight)
            unscored = np.zeros(layout.n_tokens)
            for j, (start, size) in enumerate(zip(layout.offsets, layout.n_symbols, strict=True)):
                if edges[j] is None:
                    unscored[start : start + size] = 1
                elif nullable[j]:
                    unscored[start + size - 1] = 1
            self.register_buffer("unscored", torch.tensor(unscored, dtype=torch.float32))
            self.register_buffer(
                "scored", torch.tensor((column > 0) & (unscored == 0), dtype=torch.float32)
            )

        def forward(self, tokens: Any, last_only: bool = False) -> Any:
            """Hidden states (B, L, d) under a causal mask, and at each column token (the
            odd positions) the linear shift of that column's mixture means (B, L // 2), or
            at the last one only (B, 1)."""
            positions = self.positions[tokens]
            columns = self.token_column[tokens]
            x = self.embed(tokens) + positions.unsqueeze(-1) * self.scale_direction(columns)
            length = tokens.shape[1]
            causal = torch.triu(
                torch.full((length, length), float("-inf"), device=tokens.device), diagonal=1
            )
            hidden = self.norm(self.body(x, mask=causal, is_causal=True))
            return hidden, self.linear_shift(tokens, last_only)

        def linear_shift(self, tokens: Any, last_only: bool = False) -> Any:
            """(B, S): at each of the S column tokens (or the last), the Gaussian conditional
            mean of that column's score given the scores read before it, plus the learned
            shifts of the categories and "missing" read before it. Nothing here is (B, V, k)
            or larger, so wide tables sample in bounded memory."""
            targets = tokens[:, 1::2] - 1  # (B, S) columns
            values = tokens[:, 2::2][:, : targets.shape[1] - 1]  # (B, V) values read
            n_values = values.shape[1]
            if last_only:
                targets = targets[:, -1:]
                before = torch.ones((1, n_values), device=tokens.device)
            else:  # value v is read before column token s when v < s
                before = (
                    torch.arange(n_values, device=tokens.device).unsqueeze(0)
                    < torch.arange(targets.shape[1], device=tokens.device).unsqueeze(1)
                ).float()  # (S, V)
            weight = self.token_shift.weight[values.unsqueeze(1), targets.unsqueeze(2)]
            learned = (weight * (self.unscored[values].unsqueeze(1) * before)).sum(-1)
            with torch.no_grad():
                read = self.scored[values].unsqueeze(1) * before  # (B, S, V)
                index = (self.token_column[values] - 1).unsqueeze(1).expand_as(read)
                empty = torch.zeros((*targets.shape, k), device=tokens.device)
                seen = empty.scatter_add(2, index, read)
                seen_z = empty.scatter_add(2, index, read * 3 * self.positions[values].unsqueeze(1))
                gaussian = self._conditional_mean(
                    seen.reshape(-1, k), seen_z.reshape(-1, k), targets.reshape(-1)
                )
            return learned + gaussian.reshape(targets.shape)

        def _conditional_mean(self, seen: Any, z: Any, targets: Any) -> Any:
            """E[z_target | the seen scores] under the correlation, for N rows; one solve
            per distinct (seen columns, target), so a batch in one order costs one."""
            keys = torch.cat([seen, torch.nn.functional.one_hot(targets, k).float()], dim=1)
            unique, inverse = torch.unique(keys, dim=0, return_inverse=True)
            mask = unique[:, :k]  # (U, k)
            target = unique[:, k:].argmax(dim=1)
            eye = torch.eye(k, device=seen.device)
            system = mask.unsqueeze(2) * self.correlation * mask.unsqueeze(1) + torch.diag_embed(
                1 - mask
            )  # Sigma_SS, I elsewhere
            rhs = mask * self.correlation[target]  # Sigma_S,target
            coefficients = torch.linalg.solve(system + 1e-6 * eye, rhs)  # (U, k)
            return (coefficients[inverse] * z).sum(dim=1)

        def log_probs(self, hidden: Any, j: int, shift: Any = None) -> Any:
            """(N, n_symbols of column j): log-probabilities of column j's symbols; ``shift``
            (N,) moves an ordered column's mixture means."""
            start, size = int(layout.offsets[j]), layout.n_symbols[j]
            column_edges = edges[j]
            if column_edges is None:
                weight = self.head.weight[start : start + size]
                bias = self.head.bias[start : start + size]
                return torch.log_softmax(hidden @ weight.T + bias, dim=-1)
            width = 3 * MIXTURE + 1
            params = (
                hidden @ self.mixture.weight[j * width : (j + 1) * width].T
                + self.mixture.bias[j * width : (j + 1) * width]
            )
            weights = torch.log_softmax(params[:, :MIXTURE], dim=-1)
            means = params[:, MIXTURE : 2 * MIXTURE]
            if shift is not None:
                means = means + shift.unsqueeze(-1)
            scales = torch.nn.functional.softplus(params[:, 2 * MIXTURE : 3 * MIXTURE]) + 0.02
            cuts = self.edges[j, : len(column_edges)]  # (n_values + 1,)
            z = (cuts.view(1, 1, -1) - means.unsqueeze(-1)) / scales.unsqueeze(-1)
            cdf = torch.special.ndtr(z)  # (N, M, n_values + 1)
            mass = (cdf[..., 1:] - cdf[..., :-1]).clamp_min(1e-12).log()
            values = torch.logsumexp(weights.unsqueeze(-1) + mass, dim=1)
            if not nullable[j]:
                return values
            missing = params[:, -1:]
            return torch.cat(
                [
                    values + torch.nn.functional.logsigmoid(-missing),
                    torch.nn.functional.logsigmoid(missing),
                ],
                dim=-1,
            )

    return TabularTransformer()
