"""The package surface: a complete public API, a light import, clear missing-extra errors."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

import synthpatient
from synthpatient._optional import import_optional
from synthpatient.errors import MissingExtraError, UnknownSynthesizerError
from synthpatient.synthesizers import available_synthesizers, make_synthesizer


def test_all_is_sorted_complete_and_importable():
    assert synthpatient.__all__ == sorted(synthpatient.__all__)
    for name in synthpatient.__all__:
        assert getattr(synthpatient, name) is not None
    # every public class or function of the package namespace is listed (submodules aside)
    public = {
        n
        for n, v in vars(synthpatient).items()
        if not n.startswith("_") and not isinstance(v, types.ModuleType)
    }
    assert public - {"annotations", "TYPE_CHECKING", "Any"} <= set(synthpatient.__all__)


def test_import_is_light():
    code = (
        "import sys, synthpatient; heavy = [m for m in ('torch', 'sklearn', 'scipy', 'faker', "
        "'typer', 'sdv', 'httpx') if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_missing_extra_names_the_pip_command():
    # the command for this installation (an editable checkout here): tests/unit/test_install.py
    from synthpatient._install import install_command

    with pytest.raises(MissingExtraError) as info:
        import_optional("a_module_that_is_not_installed", extra="deep")
    assert str(info.value).endswith(f"Install it with: {install_command('deep')}")


def test_unknown_synthesizer_lists_known_ones():
    with pytest.raises(UnknownSynthesizerError) as info:
        make_synthesizer("magic")
    assert isinstance(info.value, KeyError)
    assert all(key in str(info.value) for key in available_synthesizers())
