"""Fine-tuning a local pretrained causal LM on the rows' text, with constrained decoding.

The comparison GReaT makes: does a model pretrained on language write better rows than one
trained from scratch on the table? Here a row is the same text the scratch model reads,
``"<bos> age is 54.0, sex is 2, bmi is 31.25, ..."``, tokenized by the checkpoint's own
tokenizer one piece at a time (``" age is"`` then ``" 54.0,"``) so that training and decoding
see exactly the same token ids. The loss covers only the value tokens: the ``"<column> is"``
pieces are given at sampling time, in any order, which is what lets sampling condition on any
columns.

Decoding is constrained by a prefix tree of each column's value pieces: at every step only
tokens that continue some value of the fitted vocabulary are allowed, so every row is valid
(GReaT instead parses free text and drops what does not parse). The chosen piece maps back to
the column's symbol, which is then decoded like the scratch model's.

Only ``transformers`` (the ``lm`` extra) is needed, and only local files are read
(``local_files_only=True``): nothing is downloaded.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from synthpatient._optional import import_optional
from synthpatient.errors import InvalidParameterError
from synthpatient.synthesizers._lm_vocab import ColumnVocab
from synthpatient.synthesizers._torch import EarlyStopping, progress_bar

#: Rows per forward pass while decoding.
DECODE_BATCH = 256


class PretrainedBackbone:
    """A local Hugging Face causal LM, its tokenizer, and the pieces of every column."""

    def __init__(
        self,
        path: str,
        model: Any,
        tokenizer: Any,
        vocabs: list[ColumnVocab],
        decimals: dict[str, int | None],
        device: str,
    ) -> None:
        self.path, self.model, self.tokenizer, self.device = path, model, tokenizer, device
        self.vocabs = vocabs
        start = (
            tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        )
        if start is None:
            raise InvalidParameterError(
                f"The tokenizer in '{path}' has neither a beginning- nor "
                "an end-of-text token to start rows with."
            )
        self.start = int(start)
        self.pad = int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else start)
        self.prefixes = [self._ids(f" {v.name} is") for v in vocabs]
        self.values = [
            [self._ids(f" {text},") for text in _unique_renders(v, decimals.get(v.name))]
            for v in vocabs
        ]

    # -- loading -------------------------------------------------------------------------------
    @classmethod
    def load(
        cls, path: str, vocabs: list[ColumnVocab], specs: list[Any], device: str
    ) -> PretrainedBackbone:
        folder = Path(path).expanduser()
        if not (folder / "config.json").is_file():
            raise InvalidParameterError(
                f"base_model '{path}' is not a folder with a pretrained model (no config.json). "
                "Give a local Hugging Face checkpoint folder (save_pretrained output); nothing "
                "is downloaded."
            )
        transformers = import_optional(
            "transformers", extra="lm", purpose="fine-tuning a pretrained language model"
        )
        transformers.utils.logging.set_verbosity_error()  # no load chatter on the console
        transformers.utils.logging.disable_progress_bar()
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(
                str(folder), local_files_only=True
            )
            model = transformers.AutoModelForCausalLM.from_pretrained(
                str(folder), local_files_only=True
            )
        except (OSError, ValueError, KeyError) as exc:
            detail = " ".join(str(exc).split())[:160]
            raise InvalidParameterError(
                f"Cannot load the pretrained model in '{path}' ("
                f"{detail}). It needs a causal LM and its tokenizer."
            ) from None
        decimals = {s.name: s.decimals for s in specs}
        return cls(str(folder), model.to(device), tokenizer, vocabs, decimals, device)

    def _ids(self, text: str) -> list[int]:
        return [int(i) for i in self.tokenizer(text, add_special_tokens=False)["input_ids"]]

    def config(self) -> dict[str, Any]:
        return {
            "base_model": self.path,
            "parameters": int(sum(p.numel() for p in self.model.parameters())),
        }

    # -- training ------------------------------------------------------------------------------
    def _batch(self, torch: Any, codes: np.ndarray, orders: np.ndarray) -> tuple[Any, Any, Any]:
        """Right-padded ids, attention mask and labels (-100 except on value tokens)."""
        rows, labels = [], []
        for row, order in zip(codes, orders, strict=True):
            ids, lab = [self.start], [-100]
            for j in order:
                prefix, value = self.prefixes[j], self.values[j][int(row[j])]
                ids += prefix + value
                lab += [-100] * len(prefix) + value
            rows.append(ids)
            labels.append(lab)
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        target = torch.full((len(rows), width), -100, dtype=torch.long)
        for i, (r, lab) in enumerate(zip(rows, labels, strict=True)):
            ids[i, : len(r)] = torch.tensor(r)
            mask[i, : len(r)] = 1
            target[i, : len(r)] = torch.tensor(lab)
        return ids.to(self.device), mask.to(self.device), target.to(self.device)

    def _loss(self, torch: Any, codes: np.ndarray, orders: np.ndarray) -> Any:
        ids, mask, labels = self._batch(torch, codes, orders)
        return self.model(input_ids=ids, attention_mask=mask, labels=labels).loss

    def fine_tune(
        self, train: np.ndarray, valid: np.ndarray, owner: Any, rng: np.random.Generator
    ) -> dict[str, Any]:
        """Fine-tune with the owner's epochs, batch size, permutation share and patience."""
        torch = import_optional("torch", extra="lm", purpose="the tabular language model")
        optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=owner.base_learning_rate, weight_decay=owner.weight_decay
        )
        k = len(self.vocabs)
        valid_orders = None if not len(valid) else np.tile(np.arange(k), (len(valid), 1))
        stopper = EarlyStopping(owner.patience, min_gain=1e-4)
        n_batches = max(1, math.ceil(len(train) / owner.batch_size))
        epochs = owner._epochs(n_batches)
        epoch = 0
        with progress_bar(owner.progress, epochs, "Fine-tuning the pretrained LM") as bar:
            for epoch in range(1, epochs + 1):
                self.model.train()
                shuffled = train[rng.permutation(len(train))]
                for b in range(n_batches):
                    batch = shuffled[b * owner.batch_size : (b + 1) * owner.batch_size]
                    if not len(batch):
                        continue
                    loss = self._loss(torch, batch, owner._orders(len(batch), k, rng))
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
                    optimizer.step()
                bar.advance()
                if valid_orders is not None:
                    self.model.eval()
                    with torch.no_grad():
                        score = -float(self._loss(torch, valid, valid_orders))
                    if stopper.update(epoch, score, {"model": self.model}):
                        break
        if valid_orders is not None:
            stopper.restore({"model": self.model})
        return {
            "epochs": epoch,
            "best_epoch": stopper.best_step if valid_orders is not None else epoch,
            "validation_nll": None if valid_orders is None else -stopper.best_score,
        }

    def eval(self) -> PretrainedBackbone:
        self.model.eval()
        return self

    # -- decoding ------------------------------------------------------------------------------
    def generate(
        self,
        n_rows: int,
        order: np.ndarray,
        allowed: dict[int, np.ndarray],
        temperature: float,
        generator: Any,
    ) -> np.ndarray:
        """Symbols (n_rows, K), one column at a time in ``order``, each value constrained to the
        column's pieces (and to the symbols a condition allows)."""
        torch = import_optional("torch", extra="lm", purpose="the tabular language model")
        out = np.zeros((n_rows, len(self.vocabs)), dtype=np.int64)
        for start in range(0, n_rows, DECODE_BATCH):
            rows = min(DECODE_BATCH, n_rows - start)
            sequences = [[self.start] for _ in range(rows)]
            for j in order:
                allowed_j = allowed.get(int(j))
                out[start : start + rows, j] = self._decode_column(
                    torch, sequences, int(j), allowed_j, temperature, generator
                )
        return out

    def _decode_column(
        self,
        torch: Any,
        sequences: list[list[int]],
        j: int,
        allowed: np.ndarray | None,
        temperature: float,
        generator: Any,
    ) -> np.ndarray:
        candidates = [s for s in range(len(self.values[j])) if allowed is None or allowed[s]]
        for seq in sequences:
            seq += self.prefixes[j]
        # each row's still-possible symbols and how many of their tokens are already written
        alive = [list(candidates) for _ in sequences]
        depth = 0
        chosen = np.full(len(sequences), -1, dtype=np.int64)
        while (chosen < 0).any():
            active = np.flatnonzero(chosen < 0)
            logits = self._next_logits(torch, [sequences[i] for i in active])
            for row_index, i in enumerate(active):
                options: dict[int, list[int]] = {}
                for s in alive[i]:
                    options.setdefault(self.values[j][s][depth], []).append(s)
                tokens = list(options)
                scores = logits[row_index, tokens] / temperature
                probs = torch.softmax(scores, dim=0)
                pick = tokens[int(torch.multinomial(probs, 1, generator=generator))]
                sequences[i].append(pick)
                alive[i] = options[pick]
                finished = [s for s in alive[i] if len(self.values[j][s]) == depth + 1]
                if finished:
                    chosen[i] = finished[0]
                else:
                    alive[i] = [s for s in alive[i] if len(self.values[j][s]) > depth + 1]
            depth += 1
        return chosen

    def _next_logits(self, torch: Any, sequences: list[list[int]]) -> Any:
        """Next-token logits (rows, vocabulary) for left-padded sequences."""
        width = max(len(s) for s in sequences)
        ids = torch.full((len(sequences), width), self.pad, dtype=torch.long)
        mask = torch.zeros((len(sequences), width), dtype=torch.long)
        for i, seq in enumerate(sequences):
            ids[i, width - len(seq) :] = torch.tensor(seq)
            mask[i, width - len(seq) :] = 1
        positions = (mask.cumsum(dim=1) - 1).clamp_min(0)
        with torch.no_grad():
            output = self.model(
                input_ids=ids.to(self.device),
                attention_mask=mask.to(self.device),
                position_ids=positions.to(self.device),
            )
        return output.logits[:, -1].float().cpu()

    # -- state ---------------------------------------------------------------------------------
    def arrays(self) -> dict[str, np.ndarray]:
        return {
            f"base.{name}": tensor.detach().cpu().numpy().copy()
            for name, tensor in self.model.state_dict().items()
        }

    def load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        torch = import_optional("torch", extra="lm", purpose="the tabular language model")
        state = {
            name[5:]: torch.from_numpy(np.array(value))
            for name, value in arrays.items()
            if name.startswith("base.")
        }
        self.model.load_state_dict(state, strict=False)
        self.model.eval()


def _unique_renders(vocab: ColumnVocab, decimals: int | None) -> list[str]:
    """The symbols' text, with more decimals where two narrow bins would read the same."""
    places = decimals
    for extra in range(6):
        texts = [
            vocab.render(s, None if places is None else places + extra)
            for s in range(vocab.n_symbols)
        ]
        if len(set(texts)) == len(texts):
            return texts
        places = 2 if places is None else places
    return [f"{t} #{s}" for s, t in enumerate(texts)]  # last resort: numbered
