"""The tabular language model: its vocabulary, what it learns, copies, conditions, and the
fine-tuning path on a local checkpoint (built here; nothing is downloaded)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")

from synthpatient import ColumnSpec, Schema, Synthesizer  # noqa: E402
from synthpatient.errors import DataError, InvalidParameterError  # noqa: E402
from synthpatient.synthesizers._lm_vocab import ColumnVocab  # noqa: E402
from synthpatient.synthesizers.tabular_lm import TabularLMSynthesizer  # noqa: E402

FAST = {"epochs": 40, "d_model": 32, "progress": False}


def _correlated(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(50, 10, n)
    return pd.DataFrame(
        {
            "x": np.round(x, 1),
            "y": np.round(2 * x + rng.normal(0, 4, n), 1),
            "group": np.where(x + rng.normal(0, 5, n) > 50, "high", "low"),
        }
    )


# -- vocabulary ----------------------------------------------------------------------------------
def test_vocabulary_kinds_and_round_trip():
    schema = Schema.infer(
        pd.DataFrame(
            {"score": [1, 2, 3, 2, 1] * 10, "lab": np.linspace(0, 100, 50), "sex": ["f", "m"] * 25}
        )
    )
    score = ColumnVocab.fit(
        ColumnSpec(name="score", kind="integer"), pd.Series([1, 2, 3, 2, 1] * 10), n_bins=8
    )
    lab = ColumnVocab.fit(schema["lab"], pd.Series(np.linspace(0, 100, 50)), n_bins=8)
    sex = ColumnVocab.fit(schema["sex"], pd.Series(["f", "m"] * 25), n_bins=8)
    assert (score.kind, lab.kind, sex.kind) == ("exact", "bins", "category")
    assert score.decode(score.encode(pd.Series([1, 3])), np.random.default_rng(0)).tolist() == [
        1.0,
        3.0,
    ]
    codes = lab.encode(pd.Series([0.0, 55.0, 100.0]))
    assert codes[0] == 0 and codes[-1] == lab.n_values - 1
    values = lab.decode(np.full(500, codes[1]), np.random.default_rng(0))
    low, high = lab.values[codes[1]], lab.values[codes[1] + 1]
    assert values.between(low, high).all() and values.std() > 0  # spread inside its bin
    ranged = lab.decode(np.full(200, codes[1]), np.random.default_rng(1), low=54.0, high=56.0)
    assert ranged.between(54.0, 56.0).all()
    assert sex.render(0) == "f" and lab.render(0, 1).replace(".", "").isdigit()


def test_missing_values_get_their_own_symbol():
    values = pd.Series([1.5, np.nan, 2.5, np.nan] * 20)
    spec = Schema.infer(values.to_frame("v"))["v"]
    vocab = ColumnVocab.fit(spec, values, n_bins=8)
    codes = vocab.encode(values)
    assert (codes[values.isna().to_numpy()] == vocab.missing_symbol).all()
    assert vocab.decode(codes, np.random.default_rng(0)).isna().sum() == 40
    assert not vocab.allowed("range", low=0, high=10)[vocab.missing_symbol]


def test_heaped_values_are_their_own_symbols():
    # a ratio recorded mostly as whole numbers, some exactly: 3.0 and 4.0 are point masses
    rng = np.random.default_rng(0)
    values = pd.Series(
        np.concatenate([np.full(150, 3.0), np.full(100, 4.0), np.round(rng.uniform(2, 7, 150), 2)])
    )
    vocab = ColumnVocab.fit(Schema.infer(values.to_frame("v"))["v"], values, n_bins=10)
    edges = np.asarray(vocab.values)
    points = [i for i in range(vocab.n_values) if edges[i] == edges[i + 1]]
    assert sorted(edges[points]) == [3.0, 4.0]
    codes = vocab.encode(pd.Series([3.0, 4.0, 3.5, 3.0001]))
    assert list(codes[:2]) == points and codes[2] not in points and codes[3] not in points
    decoded = vocab.decode(np.repeat(points, 50), np.random.default_rng(1))
    assert (decoded.to_numpy() == np.repeat([3.0, 4.0], 50)).all()
    beside = vocab.decode(np.full(200, codes[2]), np.random.default_rng(2))
    assert beside.between(3.0, 4.0).all() and (beside != 3.0).mean() > 0.9
    shares = np.diff(vocab.ranks)
    assert np.allclose(shares[points], [(values == 3.0).mean(), (values == 4.0).mean()])
    counts = np.bincount(vocab.encode(values), minlength=vocab.n_values)
    assert np.allclose(counts / len(values), shares)  # each symbol's share is its rows'


def test_training_orders_are_the_sampling_orders():
    """Half the rows read a subset of columns first; both parts keep the table's order, as
    sampling does (conditioned columns, then the rest)."""
    model = TabularLMSynthesizer(permuted_share=0.5, seed=0)
    orders = model._orders(2000, 6, np.random.default_rng(0))
    assert all(sorted(row) == list(range(6)) for row in orders)
    natural = (orders == np.arange(6)).all(axis=1)
    assert 0.4 < natural.mean() < 0.7  # table order, plus subsets that are a prefix
    for row in orders[~natural]:
        breaks = np.flatnonzero(np.diff(row) < 0)
        assert len(breaks) == 1  # one ascending run for the subset, one for the rest
    assert len({tuple(row) for row in orders}) > 40


def test_calibration_keeps_order_and_gives_the_fitted_distribution():
    rng = np.random.default_rng(0)
    real = pd.Series(rng.lognormal(3, 0.5, 2000))
    vocab = ColumnVocab.fit(Schema.infer(real.to_frame("v"))["v"], real, n_bins=20)
    skewed = pd.Series(rng.normal(0, 1, 3000))  # a wrong shape with a meaningful order
    calibrated = vocab.calibrate(skewed, rng)
    assert (np.argsort(calibrated.to_numpy()) == np.argsort(skewed.to_numpy())).all()
    quantiles = [0.1, 0.5, 0.9]
    assert np.allclose(calibrated.quantile(quantiles), real.quantile(quantiles), rtol=0.08)


# -- what the model learns -----------------------------------------------------------------------
def test_learns_dependence_and_conditions_on_any_column():
    real = _correlated()
    model = TabularLMSynthesizer(seed=0, **FAST).fit(real)
    synthetic = model.sample(1500, seed=1)
    assert synthetic["x"].corr(synthetic["y"]) > 0.7  # real: about 0.98
    shares = pd.crosstab(synthetic["group"], synthetic["x"] > 50, normalize="index")
    assert shares.loc["high", True] > shares.loc["low", True] + 0.3
    # conditioning on the *last* column still moves the first one (permuted training)
    high_y = model.sample(500, conditions={"y": (115, None)}, seed=2)
    assert (high_y["y"] >= 115).all()
    assert high_y["x"].mean() > synthetic["x"].mean() + 4
    low_group = model.sample(300, conditions={"group": "low"}, seed=3)
    assert low_group["x"].mean() < synthetic["x"].mean() - 2


def test_linear_path_carries_a_linear_dependence():
    """The Gaussian conditional mean comes from the scores' correlation, solved for whichever
    columns have been read; the shift by a category is learned (it starts at 0)."""
    import torch

    real = _correlated()
    model = TabularLMSynthesizer(seed=0, **FAST).fit(real)
    network = model.network_
    correlation = network.correlation.numpy()
    assert correlation[0, 1] > 0.9 and correlation[0, 2] == 0  # x, y; "group" is a category
    # E[z_2 | z_S] = Sigma_2S Sigma_SS^-1 z_S, for S = {0} and S = {0, 1}, against numpy
    sigma = np.array([[1.0, 0.6, 0.3], [0.6, 1.0, 0.5], [0.3, 0.5, 1.0]])
    network.correlation = torch.tensor(sigma, dtype=torch.float32)
    seen = torch.tensor([[1.0, 0, 0], [1.0, 1, 0]])
    z = torch.tensor([[0.8, 0, 0], [0.8, -1.2, 0]])
    got = network._conditional_mean(seen, z, torch.tensor([2, 2])).numpy()
    expected = [sigma[2, 0] * 0.8, sigma[2, :2] @ np.linalg.solve(sigma[:2, :2], [0.8, -1.2])]
    assert np.allclose(got, expected, atol=1e-4)
    offsets, shift = model.layout_.offsets, network.token_shift.weight.detach().numpy()
    high, low = (offsets[2] + model.vocabs_[2].values.index(g) for g in ("high", "low"))
    assert shift[high, 0] > shift[low, 0]  # the "high" group moves x up
    assert np.all(shift[offsets[0] : offsets[2]] == 0)  # numbers move nothing through it


def test_category_and_missing_shares_are_corrected_to_the_data():
    """A briefly trained model gets the shares wrong; the prior-shift weights found after
    training give unconditioned samples the data's shares, rare category included."""
    rng = np.random.default_rng(0)
    x = rng.normal(50, 10, 600)
    real = pd.DataFrame(
        {
            "x": np.round(x, 1),
            "group": rng.choice(["a", "b", "c", "rare"], 600, p=[0.5, 0.3, 0.17, 0.03]),
            "lab": np.round(np.where(rng.random(600) < 0.15, np.nan, x + rng.normal(0, 5, 600)), 1),
        }
    )
    model = TabularLMSynthesizer(seed=0, epochs=3, d_model=32, progress=False).fit(real)
    target = real["group"].value_counts(normalize=True)

    def errors(calibrate: bool) -> tuple[float, float]:
        model.calibrate_marginals = calibrate
        rows = model.sample(4000, seed=1)
        shares = rows["group"].value_counts(normalize=True).reindex(target.index, fill_value=0)
        return (
            float((shares - target).abs().max()),
            abs(rows["lab"].isna().mean() - real["lab"].isna().mean()),
        )

    raw, corrected = errors(False), errors(True)
    assert raw[0] > 0.02 and corrected[0] < 0.012  # largest category error
    assert corrected[1] < 0.03
    # conditioned samples are drawn from the model as it is (the target shares are unknown)
    assert model.sample(50, conditions={"group": "rare"}, seed=2)["group"].eq("rare").all()


def test_training_copies_are_redrawn_and_reported():
    rng = np.random.default_rng(0)
    real = pd.DataFrame(
        {
            "a": rng.choice(["p", "q", "r"], 150),
            "b": rng.integers(0, 4, 150),
            "c": rng.choice(["u", "v"], 150),
        }
    )
    real.loc[:5, "a"] = "rare"  # combinations outside the 24 common ones exist only 6 times
    model = TabularLMSynthesizer(seed=0, **{**FAST, "epochs": 15}).fit(real)
    seen = set(map(tuple, real.astype(str).to_numpy()))
    # nearly every combination is in the training data: most rows must be redrawn, then fail
    with pytest.raises(DataError, match="reject_training_copies=False"):
        model.sample(100, seed=0)
    lenient = TabularLMSynthesizer(
        seed=0, reject_training_copies=False, **{**FAST, "epochs": 15}
    ).fit(real)
    rows = lenient.sample(200, seed=0)
    copied = [tuple(r) in seen for r in rows.astype(str).to_numpy()]
    assert len(rows) == 200 and np.mean(copied) > 0.5  # copies allowed when asked
    # on a table with continuous columns copies are rare, and none is delivered
    cont = _correlated(150)
    strict = TabularLMSynthesizer(seed=0, **{**FAST, "epochs": 15}).fit(cont)
    out = strict.sample(500, seed=0)
    merged = (
        out[["x", "y", "group"]].astype(str).merge(cont.astype(str).drop_duplicates(), how="inner")
    )
    assert len(merged) == 0 and strict.last_sample_report_["training_copies_delivered"] == 0


def test_text_form_reads_like_the_issue_asks():
    real = _correlated(60)
    model = TabularLMSynthesizer(seed=0, **{**FAST, "epochs": 2}).fit(real)
    text = model.to_text(real.head(1))[0]
    assert (
        text.startswith("x is ")
        and ", y is " in text
        and text.endswith(f"group is {real.loc[0, 'group']}")
    )


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_heads": 3}, "n_heads"),
        ({"permuted_share": 1.5}, "permuted_share"),
        ({"base_model": ""}, "base_model"),
        ({"epochs": 0}, "epochs"),
    ],
)
def test_bad_parameters_are_one_line_errors(params, match):
    with pytest.raises(InvalidParameterError, match=match) as info:
        TabularLMSynthesizer(**params)
    assert "\n" not in str(info.value)


# -- fine-tuning a local checkpoint --------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """A small GPT-2-shaped causal LM and a byte-level BPE tokenizer, saved the way a user's
    local checkpoint is (save_pretrained): the fine-tuning code path, without any download."""
    transformers = pytest.importorskip("transformers")
    tokenizers = pytest.importorskip("tokenizers")
    folder = tmp_path_factory.mktemp("checkpoint")
    tokenizer = tokenizers.Tokenizer(tokenizers.models.BPE())
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(["x is 50.5, y is 101.2, group is high"] * 10, trainer)
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<|endoftext|>", eos_token="<|endoftext|>"
    )
    config = transformers.GPT2Config(
        vocab_size=len(fast),
        n_positions=128,
        n_embd=32,
        n_layer=1,
        n_head=2,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
    )
    transformers.GPT2LMHeadModel(config).save_pretrained(folder)
    fast.save_pretrained(folder)
    return str(folder)


def test_fine_tunes_a_local_checkpoint_with_constrained_decoding(tiny_checkpoint, tmp_path):
    real = _correlated(80)
    model = TabularLMSynthesizer(
        base_model=tiny_checkpoint,
        epochs=1,
        batch_size=40,
        base_learning_rate=1e-3,
        progress=False,
        seed=0,
    ).fit(real)
    assert model.network_config_["base_model"] == tiny_checkpoint
    rows = model.sample(12, conditions={"group": "low", "y": (90, 110)}, seed=1)
    model.schema_.validate(rows)  # constrained decoding: every row valid
    assert (rows["group"] == "low").all() and rows["y"].between(90, 110).all()
    model.save(tmp_path / "model")
    again = Synthesizer.load(tmp_path / "model").sample(
        12, conditions={"group": "low", "y": (90, 110)}, seed=1
    )
    pd.testing.assert_frame_equal(rows, again)


def test_a_folder_without_a_checkpoint_is_a_one_line_error(tmp_path):
    with pytest.raises(InvalidParameterError, match="config.json") as info:
        TabularLMSynthesizer(base_model=str(tmp_path), progress=False).fit(_correlated(40))
    assert "\n" not in str(info.value)
