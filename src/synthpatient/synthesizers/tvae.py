"""TVAE (Xu et al. 2019, "Modeling Tabular Data using Conditional GAN", section 4), from the paper.

A variational autoencoder over the same mode-normalised rows as CTGAN (see
``_tabular_transform``):

* the encoder maps a row to a Gaussian posterior over a latent code; the decoder maps a code
  back to a row; the loss is the reconstruction log-likelihood plus the KL divergence to the
  standard normal prior;
* scalars are modelled as Gaussians around ``tanh`` of the decoder's output, with one learned
  standard deviation per scalar (the paper's ``sigma``); one-hots by a softmax and
  cross-entropy;
* unlike the paper's TVAE, ours is *conditional*: both networks also see the conditional
  vector (one category of one discrete column, the row's own), so that sampling can ask the
  decoder for a category natively, as CTGAN does, instead of discarding rows;
* training is counted in optimiser steps and stops early when a validation fidelity score
  stops improving (the best weights are kept).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np

from synthpatient.synthesizers._constraints import Interval, Param, Widths
from synthpatient.synthesizers._deep import DeepSynthesizer, TrainingData
from synthpatient.synthesizers._tabular_transform import Span
from synthpatient.synthesizers._torch import EarlyStopping, PrivateTrainer, activate, import_torch

#: Bounds of the learned output scales: below, the likelihood explodes on a near-constant
#: column; above, the noise swamps the value (scalars live in [-1, 1]).
SIGMA_MIN, SIGMA_MAX = 0.01, 1.0


@cache
def _networks() -> tuple[type, type, type]:
    """The encoder, decoder and VAE classes (built on first use: torch is an optional import)."""
    torch = import_torch()
    nn = torch.nn

    def mlp(n_in: int, dims: Sequence[int]) -> tuple[Any, int]:
        layers: list[Any] = []
        for hidden in dims:
            layers += [nn.Linear(n_in, hidden), nn.ReLU()]
            n_in = hidden
        return nn.Sequential(*layers), n_in

    class Encoder(nn.Module):  # type: ignore[name-defined]  # nn: torch, imported lazily
        def __init__(
            self, data_dim: int, cond_dim: int, dims: Sequence[int], embedding_dim: int
        ) -> None:
            super().__init__()
            self.seq, width = mlp(data_dim + cond_dim, dims)
            self.mu = nn.Linear(width, embedding_dim)
            self.logvar = nn.Linear(width, embedding_dim)

        def forward(self, x: Any, cond: Any) -> tuple[Any, Any]:
            hidden = self.seq(torch.cat([x, cond], dim=1))
            return self.mu(hidden), self.logvar(hidden)

    class Decoder(nn.Module):  # type: ignore[name-defined]  # nn: torch, imported lazily
        def __init__(
            self, embedding_dim: int, cond_dim: int, dims: Sequence[int], data_dim: int
        ) -> None:
            super().__init__()
            self.embedding_dim = embedding_dim
            hidden, width = mlp(embedding_dim + cond_dim, dims)
            self.seq = nn.Sequential(hidden, nn.Linear(width, data_dim))
            # one output scale per dimension; only the scalar slots' are used
            self.sigma = nn.Parameter(torch.full((data_dim,), 0.1))

        def forward(self, z: Any, cond: Any) -> Any:
            return self.seq(torch.cat([z, cond], dim=1))

    class VAE(nn.Module):  # type: ignore[name-defined]  # nn: torch, imported lazily
        """Both halves in one module, so DP-SGD clips one gradient per row over all weights."""

        def __init__(self, encoder: Any, decoder: Any) -> None:
            super().__init__()
            self.encoder, self.decoder = encoder, decoder

    return Encoder, Decoder, VAE


class TVAESynthesizer(DeepSynthesizer):
    """Tabular variational autoencoder (TVAE), our PyTorch implementation of Xu et al. (2019).

    Numbers are mode-normalised by a variational Gaussian mixture, categories one-hot (the
    same transform as :class:`~synthpatient.synthesizers.ctgan.CTGANSynthesizer`). Missing
    numbers get a missing flag, missing categories a category of their own; dates are learned
    as numbers. On small tables a VAE is usually steadier than a GAN and trains faster.

    Conditions: ``{"sex": "female"}`` (one category of a categorical or boolean column) is
    generated natively through the conditional vector the decoder was trained with; any other
    condition (a number, a range, a second category) is met by keeping the rows that satisfy
    it, with an error below 1 in 1,000 accepted.

    Differential privacy (``epsilon`` given) is kept for comparison and is not the recommended
    private choice: on small tables DP-TVAE scores below the marginal-based methods at the same
    budget (``synthpatient benchmark``); use ``AIMSynthesizer`` (``aim``) or ``MSTSynthesizer``.
    It is DP-SGD through opacus on the whole
    autoencoder (it sees real rows through the encoder and the reconstruction loss). Each
    row's gradient is clipped to ``max_grad_norm``, Gaussian noise is added, and rows are
    drawn by Poisson sampling at rate ``min(1, batch_size / n)``; the decoder alone is kept,
    and sampling from it is post-processing. The category frequencies behind the conditional
    vector are released with Gaussian noise (10% of epsilon, composed in the same RDP
    accountant), early stopping is off (it would look at real rows), and preprocessing is as
    for CTGAN: numbers min-max scaled between PUBLIC bounds and categories from the schema,
    private only where the schema declares them (``observed=False``); otherwise a
    :class:`~synthpatient.errors.SynthPatientWarning` says so and
    ``privacy_spent_["preprocessing"]`` names those columns. The spent budget is in
    ``privacy_spent_`` and in the saved manifest.

    Args:
        steps: optimiser steps (the training budget, the same for any table size).
        batch_size: rows per step (the expected Poisson batch in private mode).
        embedding_dim: size of the latent code.
        compress_dims: widths of the encoder's layers.
        decompress_dims: widths of the decoder's layers.
        learning_rate: Adam learning rate.
        loss_factor: weight of the reconstruction term against the KL term (the paper's 2).
        max_modes: most mixture modes per numeric column.
        weight_threshold: mixture modes lighter than this are dropped.
        validation_share: share of rows held out to score checkpoints for early stopping (0:
            every row is trained on and checkpoints are scored against the training rows).
        eval_every: steps between validation checks.
        patience: checks without improvement before training stops.
        epsilon: differential-privacy budget; None trains without DP.
        delta: DP delta; None uses 1/n^1.1 (it must be below 1/n).
        max_grad_norm: per-sample gradient clipping bound of DP-SGD.
        device: "auto" (a GPU when there is one), "cpu" or "cuda".
        progress: show training progress on stderr (a bar on a terminal, otherwise a plain
            line at every tenth of the steps).
        seed: seed for fitting and the default seed for sampling.

    Examples:
        >>> from synthpatient import datasets
        >>> from synthpatient.synthesizers.tvae import TVAESynthesizer
        >>> real = datasets.load("diabetes")
        >>> synth = TVAESynthesizer(seed=0).fit(real)
        >>> synth.sample(500, conditions={"sex": 2})
    """

    key = "tvae"
    _network_prefix = "decoder"
    _parameter_constraints = {
        **DeepSynthesizer._parameter_constraints,
        "embedding_dim": Param(Interval(int, 1, None)),
        "compress_dims": Param(Widths()),
        "decompress_dims": Param(Widths()),
        "learning_rate": Param(Interval(float, 0, 1, closed="neither")),
        "loss_factor": Param(Interval(float, 0, None, closed="neither")),
    }

    def __init__(
        self,
        *,
        steps: int = 1500,
        batch_size: int = 250,
        embedding_dim: int = 128,
        compress_dims: Sequence[int] = (128, 128),
        decompress_dims: Sequence[int] = (128, 128),
        learning_rate: float = 1e-3,
        loss_factor: float = 2.0,
        max_modes: int = 10,
        weight_threshold: float = 0.005,
        validation_share: float = 0.1,
        eval_every: int = 50,
        patience: int = 10,
        epsilon: float | None = None,
        delta: float | None = None,
        max_grad_norm: float = 1.0,
        device: str = "auto",
        progress: bool = True,
        seed: int | None = None,
    ) -> None:
        self.steps = steps
        self.batch_size = batch_size
        self.embedding_dim = embedding_dim
        self.compress_dims = compress_dims
        self.decompress_dims = decompress_dims
        self.learning_rate = learning_rate
        self.loss_factor = loss_factor
        self.max_modes = max_modes
        self.weight_threshold = weight_threshold
        self.validation_share = validation_share
        self.eval_every = eval_every
        self.patience = patience
        self.epsilon = epsilon
        self.delta = delta
        self.max_grad_norm = max_grad_norm
        self.device = device
        self.progress = progress
        super().__init__(seed=seed)

    # -- training ------------------------------------------------------------------------------
    def _train(
        self, data: TrainingData
    ) -> tuple[Any, dict[str, Any], dict[str, Any], dict[str, float] | None]:
        torch = data.torch
        encoder_cls, decoder_cls, vae_cls = _networks()
        config = {
            "embedding_dim": self.embedding_dim,
            "cond_dim": data.sampler.dim,
            "dims": list(self.decompress_dims),
            "data_dim": data.transform.dim,
        }
        decoder = self._build_network(torch, config).to(data.device)
        encoder = encoder_cls(
            data.transform.dim, data.sampler.dim, list(self.compress_dims), self.embedding_dim
        ).to(data.device)
        vae = vae_cls(encoder, decoder)
        optimizer = torch.optim.Adam(vae.parameters(), lr=self.learning_rate, weight_decay=1e-5)
        spans = data.transform.spans
        loss_one = self._row_loss(torch, vae, spans)
        trainer = None
        if data.plan is not None:
            trainer = PrivateTrainer(
                torch,
                vae,
                optimizer,
                data.plan,
                self.max_grad_norm,
                max(1, round(data.plan.sample_rate * len(data.train))),
                data.generator,
            )
        params = dict(vae.named_parameters())
        stopper = EarlyStopping(self.patience)
        n_train = len(data.train)
        step = 0
        for step in range(1, self.steps + 1):
            if trainer is not None and data.plan is not None:  # a trainer comes with its plan
                rows = np.flatnonzero(data.rng.random(n_train) < data.plan.sample_rate)
            else:
                rows = data.rng.integers(0, n_train, min(self.batch_size, n_train))
            cond, _ = data.sampler.from_codes(data.codes[rows], data.rng)
            real = data.train[torch.as_tensor(rows, device=data.device, dtype=torch.long)]
            cond_t = torch.as_tensor(cond, device=data.device)
            eps = torch.randn(
                len(rows), self.embedding_dim, generator=data.generator, device=data.device
            )
            if trainer is not None:
                trainer.step(loss_one, real, cond_t, eps)
            else:
                loss = torch.func.vmap(loss_one, in_dims=(None, 0, 0, 0))(
                    params, real, cond_t, eps
                ).mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            with torch.no_grad():
                decoder.sigma.clamp_(SIGMA_MIN, SIGMA_MAX)
            if data.validation is not None and (step % self.eval_every == 0 or step == self.steps):
                score = self._evaluate(data, decoder)
                data.progress.advance(f"Training TVAE (validation {score:.3f})")
                if stopper.update(step, score, {"decoder": decoder}):
                    break
            else:
                data.progress.advance()
        stopper.restore({"decoder": decoder})
        log = {
            "steps_run": step,
            "best_step": stopper.best_step if stopper.scores else step,
            "validation_scores": [[s, round(v, 5)] for s, v in stopper.scores],
        }
        return decoder, config, log, (trainer.spent() if trainer is not None else None)

    def _row_loss(self, torch: Any, vae: Any, spans: list[Span]) -> Any:
        """The loss of ONE row as a function of the weights, for ``torch.func``: vmapped over a
        batch (its mean is the usual loss) or, in private mode, differentiated per row."""
        scalars = [s.start for s in spans if s.activation == "tanh"]
        onehots = [(s.start, s.stop) for s in spans if s.activation != "tanh"]
        scalar_idx = torch.as_tensor(scalars, dtype=torch.long)
        factor = float(self.loss_factor)

        def loss_one(params: dict[str, Any], row: Any, cond: Any, eps: Any) -> Any:
            x, c = row.unsqueeze(0), cond.unsqueeze(0)
            mu, logvar = torch.func.functional_call(vae.encoder, _sub(params, "encoder."), (x, c))
            z = mu + eps.unsqueeze(0) * torch.exp(0.5 * logvar)
            decoder_params = _sub(params, "decoder.")
            out = torch.func.functional_call(vae.decoder, decoder_params, (z, c))[0]
            sigma = decoder_params["sigma"].index_select(0, scalar_idx.to(row.device))
            error = row.index_select(0, scalar_idx.to(row.device)) - torch.tanh(
                out.index_select(0, scalar_idx.to(row.device))
            )
            recon = (error**2 / (2 * sigma**2)).sum() + torch.log(sigma).sum()
            for start, stop in onehots:
                recon = recon - (torch.log_softmax(out[start:stop], dim=0) * row[start:stop]).sum()
            kl = -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum()
            return factor * recon + kl

        return loss_one

    # -- sampling ------------------------------------------------------------------------------
    def _build_network(self, torch: Any, config: dict[str, Any]) -> Any:
        _, decoder_cls, _ = _networks()
        return decoder_cls(
            int(config["embedding_dim"]),
            int(config["cond_dim"]),
            [int(d) for d in config["dims"]],
            int(config["data_dim"]),
        )

    def _generate_chunk(
        self, torch: Any, network: Any, spans: list[Span], cond: Any, generator: Any
    ) -> Any:
        z = torch.randn(len(cond), network.embedding_dim, generator=generator, device=cond.device)
        raw = network(z, cond)
        # scalars: tanh of the mean plus the learned noise; one-hots: a category drawn from
        # the softmax (Gumbel-softmax's argmax is such a draw)
        noise = torch.randn(raw.shape, generator=generator, device=cond.device) * network.sigma
        out = activate(torch, raw, spans, generator)
        is_scalar = torch.zeros(raw.shape[1], dtype=torch.bool, device=cond.device)
        for span in spans:
            if span.activation == "tanh":
                is_scalar[span.start] = True
        return torch.where(is_scalar, (out + noise).clamp(-1.0, 1.0), out)


def _sub(params: dict[str, Any], prefix: str) -> dict[str, Any]:
    start = len(prefix)
    return {name[start:]: p for name, p in params.items() if name.startswith(prefix)}
