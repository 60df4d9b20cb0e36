"""Warnings reach a command-line user in their words; a library's internal ones do not."""

from __future__ import annotations

import warnings

from synthpatient.cli._errors import handled
from synthpatient.errors import SynthPatientWarning


def test_opacus_internal_order_warning_is_not_shown_but_others_are(capsys) -> None:
    with handled():
        warnings.warn_explicit(
            "Optimal order is the smallest alpha. Please consider expanding the range of alphas",
            UserWarning,
            "rdp.py",
            1,
            module="opacus.accountants.analysis.rdp",
        )
        warnings.warn_explicit("Optimal order is the largest alpha.", UserWarning, "x.py", 1)
    err = capsys.readouterr().err
    assert err.count("Optimal order") == 1 and "largest" in err  # only opacus's is dropped
    # the filter does not outlive the command
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.warn_explicit(
            "Optimal order is the smallest alpha.", UserWarning, "rdp.py", 1, module="opacus.x"
        )
    assert len(caught) == 1


def test_a_warning_naming_python_attributes_names_the_cli_way(capsys) -> None:
    with handled():
        warnings.warn(
            "MSTSynthesizer read bounds from the data. Declare them in the schema (ColumnSpec "
            "minimum/maximum/categories) to keep the guarantee whole.",
            SynthPatientWarning,
            stacklevel=1,
        )
    err = " ".join(capsys.readouterr().err.split())
    assert "ColumnSpec" not in err and "pass it with --schema" in err


def test_the_privacy_accountant_keeps_its_order_note_to_itself() -> None:
    """Python API users do not see opacus's note either: an epsilon whose best RDP order is at
    the end of opacus's range (much noise) is computed without it."""
    import pytest

    pytest.importorskip("opacus")
    from synthpatient.synthesizers._torch import _epsilon, import_opacus

    import_opacus()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # much noise: opacus puts the best order at the largest alpha and says so
        tight = _epsilon([(100.0, 1.0, 1)], 1e-5)
    assert 0 < tight < 0.2
    assert not [w for w in caught if "Optimal order" in str(w.message)]
