"""loyalty-cli: customer loyalty analytics from shop, CRM and survey exports.

The library comes first; the ``loyalty`` command is a thin layer over it. Heavy modules are imported
lazily so that the command's help starts fast.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

__version__ = "0.1.0"

# OpenBLAS (under NumPy and SciPy) keeps its idle threads spinning after each threaded call: between the
# model fits' many short dot products they take the cores from the main thread (1M lines on a busy 2-core
# machine: the CLV fit 7-13 s, 1.1 s with this). Read when NumPy loads, so set before anything imports it; the
# same threads split the same sums, so the results do not change. A value in the environment wins.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

_LAZY = {
    "LoyaltyError": "loyalty_cli.errors",
    "DataError": "loyalty_cli.errors",
    "RulesError": "loyalty_cli.errors",
    "ModelError": "loyalty_cli.errors",
    "ExitCode": "loyalty_cli.errors",
    "read_transactions": "loyalty_cli.io.readers",
    "read_surveys": "loyalty_cli.io.readers",
    "read_contacts": "loyalty_cli.io.readers",
    "write_table": "loyalty_cli.io.writers",
    "customer_summary": "loyalty_cli.stage1.customers",
    "btyd_summary": "loyalty_cli.stage1.customers",
    "rfm_scores": "loyalty_cli.metrics.rfm",
    "load_segment_rules": "loyalty_cli.rules.segments",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'loyalty_cli' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
