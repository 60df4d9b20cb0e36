"""Refuse a request for more rows than this machine could ever hold, before any work starts.

Asking anyway ends in a MemoryError at best and, with the kernel's overcommit, in the process
being killed at worst; both lose the user's time without a word on what to do.
"""

from __future__ import annotations

import os

from synthpatient.errors import InvalidParameterError


def check_rows_fit(n_rows: int, n_columns: int, *, label: str = "n_rows") -> None:
    """Refuse ``n_rows`` whose table alone (8 bytes a cell) exceeds this machine's memory.

    A lower bound, so refusing is never wrong. ``label`` names the option in the message
    (``--rows`` on the command line).
    """
    memory = physical_memory()
    needed = n_rows * max(n_columns, 1) * 8
    if memory is None or needed <= memory:
        return
    raise InvalidParameterError(
        f"{label} {n_rows:,} does not fit in memory: the table alone needs about "
        f"{size_text(needed)} ({n_columns} columns) and this machine has {size_text(memory)}. "
        "Ask for fewer rows, or sample in batches (several runs with different seeds)."
    )


def physical_memory() -> int | None:
    """Bytes of physical memory, or None where the system does not say (no preflight)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def size_text(n_bytes: float) -> str:
    """``1536`` -> ``'1.5 KB'``."""
    units = ("bytes", "KB", "MB", "GB", "TB", "PB")
    power = 0
    while n_bytes >= 1024 and power < len(units) - 1:
        n_bytes /= 1024
        power += 1
    return f"{n_bytes:,.0f} bytes" if power == 0 else f"{n_bytes:,.1f} {units[power]}"
