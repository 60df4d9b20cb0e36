"""Lazy imports of optional dependencies, each reported with the pip command that installs it."""

from __future__ import annotations

import importlib
from types import ModuleType

from synthpatient.errors import MissingExtraError

#: The module whose presence tells that an extra is installed.
EXTRA_MODULES = {
    "deep": "torch",
    "lm": "torch",
    "dp": "mbi",
    "llm": "httpx",
    "scale": "distributed",
}


def extra_module(extra: str) -> str:
    """The module standing for ``extra`` (the extra's own name when it has no entry)."""
    return EXTRA_MODULES.get(extra, extra)


def import_optional(module: str, *, extra: str, purpose: str = "") -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming the extra to install.

    Examples:
        >>> np = import_optional("numpy", extra="core")
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        what = f" for {purpose}" if purpose else ""
        from synthpatient._install import install_command

        # the pip command matches how synthpatient was installed (an editable checkout or not)
        raise MissingExtraError(
            f"The optional dependency '{module}' is needed{what} but is not installed. "
            f"Install it with: {install_command(extra)}"
        ) from exc
