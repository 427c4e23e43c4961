"""The memory budget (the ``memory_limit`` setting): a size as people write it, and a default from the machine.

:func:`parse_memory_limit` reads ``1GB``, ``512 MB``, ``1.5GiB`` or a plain number of bytes: KB, MB, GB and TB
are powers of 1000, KiB, MiB, GiB and TiB powers of 1024 (case and spaces do not matter, ``K``/``M``/``G``/``T``
alone are the decimal units); ``none`` (or ``unlimited``, ``off``) is no budget. :func:`default_memory_limit` is
a share of the memory available now (``MemAvailable`` in ``/proc/meminfo``; elsewhere the free pages, or a fixed
fallback). What a budget buys is stage 1's business (:mod:`loyalty_cli.stage1.passes`).
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

from loyalty_cli.errors import ConfigError

#: the setting's name, in messages (:func:`loyalty_cli.errors.setting`)
SETTING = "memory_limit"
#: the share of the available memory a run takes when no budget is given
DEFAULT_SHARE = 0.5
#: the default when the available memory cannot be found
FALLBACK = 2 * 1000**3

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_SIZE = re.compile(r"^(?P<number>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>[a-z]*)$")
_NONE = ("none", "unlimited", "off")
_EXAMPLES = "e.g. 1GB, 512MB, 1.5GiB or a number of bytes"


def parse_memory_limit(value: str | int | float | None) -> int | None:
    """Bytes from ``1GB``, ``512 MB``, ``1.5GiB``, ``2000000000`` (None for ``none``/``unlimited``/``off`` or
    None). A :class:`~loyalty_cli.errors.ConfigError` naming the setting for anything else, and for zero."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ConfigError(SETTING, f"must be a size ({_EXAMPLES}), got {value!r}")
    if isinstance(value, int | float):
        number, unit, shown = float(value), "", repr(value)
    else:
        text = value.strip().lower()
        if text in _NONE:
            return None
        match = _SIZE.match(text)
        if match is None or match["unit"] not in _UNITS:
            raise ConfigError(SETTING, f"must be a size ({_EXAMPLES}) or none, got {value!r}")
        number, unit, shown = float(match["number"]), match["unit"], repr(value)
    if not math.isfinite(number):
        raise ConfigError(SETTING, f"must be a size ({_EXAMPLES}) or none, got {shown}")
    size = number * _UNITS[unit]
    if size < 1:
        raise ConfigError(SETTING, f"must be a size of at least 1 byte ({_EXAMPLES}), got {shown}")
    return int(size)


def format_size(size: int) -> str:
    """``1.5 GB``, ``512 MB``, ``900 kB`` (decimal units, as people read them)."""
    for unit, scale in (("TB", 1000**4), ("GB", 1000**3), ("MB", 1000**2), ("kB", 1000)):
        if size >= scale:
            value = size / scale
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{size} bytes"


def available_memory(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    """The memory a new process can use without swapping, in bytes: ``MemAvailable`` on Linux (the free pages
    elsewhere); None when it cannot be found."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                fields = line.split()
                return int(fields[1]) * (1024 if fields[2:3] == ["kB"] else 1)
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def default_memory_limit(available: int | None = None, *, share: float = DEFAULT_SHARE) -> int:
    """The budget when none is given: ``share`` of the available memory (:func:`available_memory`), or
    :data:`FALLBACK` when that is unknown."""
    found = available if available is not None else available_memory()
    return int(found * share) if found else FALLBACK
