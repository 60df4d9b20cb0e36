"""Missing-extra hints give the pip command that matches how synthpatient was installed."""

from __future__ import annotations

import json

import pytest

from synthpatient import _install


class _Dist:
    def __init__(self, record: dict[str, object] | None) -> None:
        self.record = record

    def read_text(self, name: str) -> str | None:
        assert name == "direct_url.json"
        return None if self.record is None else json.dumps(self.record)


@pytest.fixture
def installed_as(monkeypatch: pytest.MonkeyPatch):
    def install(record: dict[str, object] | None) -> None:
        monkeypatch.setattr("importlib.metadata.distribution", lambda name: _Dist(record))
        _install.editable_checkout.cache_clear()

    yield install
    _install.editable_checkout.cache_clear()


def test_an_editable_checkout_gets_pip_install_e_with_its_path(installed_as) -> None:
    installed_as({"url": "file:///home/me/my%20work/synthpatient", "dir_info": {"editable": True}})
    assert _install.install_command("dp") == "pip install -e '/home/me/my work/synthpatient[dp]'"
    deep = _install.install_command("deep")
    # torch's CPU wheel first, as the README installs it, then the checkout's extra
    assert deep.startswith("pip install torch==2.13.0 ")
    assert deep.endswith("pip install -e '/home/me/my work/synthpatient[deep]'")


@pytest.mark.parametrize(
    "record", [None, {"url": "file:///wheels/x.whl", "archive_info": {}}, {"url": "https://x"}]
)
def test_a_wheel_install_gets_the_package_name(installed_as, record) -> None:
    installed_as(record)
    assert _install.install_command("dp") == "pip install 'synthpatient[dp]'"


def test_extra_installed_looks_without_importing() -> None:
    assert _install.extra_installed("core_module_that_does_not_exist") is False
    assert _install.extra_installed("numpy") is True
