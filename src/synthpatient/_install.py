"""How synthpatient was installed, so that a missing-extra hint gives a pip command that works.

A checkout installed with ``pip install -e .`` (as ``make`` and the README do) needs
``pip install -e 'PATH[deep]'``: ``pip install 'synthpatient[deep]'`` would fetch a released
wheel over the checkout. The extras that need torch say to install the CPU wheel first, as the
README does, so that pip does not pull a multi-gigabyte CUDA build.
"""

from __future__ import annotations

import importlib.util
import json
import shlex
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urlparse

#: Extras that pull torch; its CPU wheel goes first (pinned as in the README and Makefile).
TORCH_EXTRAS = frozenset({"deep", "lm", "compare"})
TORCH_FIRST = "pip install torch==2.13.0"


def extra_installed(extra: str) -> bool:
    """Whether the module that stands for ``extra`` can be imported (found, not imported)."""
    from synthpatient._optional import extra_module

    module = extra_module(extra)
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing, or a broken module
        return False


@cache
def editable_checkout() -> Path | None:
    """The source folder of an editable install (``pip install -e``), or None."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        text = distribution("synthpatient").read_text("direct_url.json")
    except PackageNotFoundError:
        return None
    if not text:
        return None
    try:
        record = json.loads(text)
    except ValueError:
        return None
    if not record.get("dir_info", {}).get("editable"):
        return None
    url = urlparse(str(record.get("url", "")))
    return Path(unquote(url.path)) if url.scheme == "file" else None


def install_command(extra: str) -> str:
    """The pip command that installs ``extra`` the way synthpatient itself was installed."""
    checkout = editable_checkout()
    if checkout is not None:
        command = f"pip install -e {shlex.quote(f'{checkout}[{extra}]')}"
    else:
        command = f"pip install 'synthpatient[{extra}]'"
    if extra in TORCH_EXTRAS:
        return f"{TORCH_FIRST} (the CPU wheel), then {command}"
    return command
