"""The purchase models' names, importable without NumPy or SciPy: a command checks its settings (e.g. ``loyalty
churn`` without a model) before it reads anything, and needs the fitting code only when it fits."""

from __future__ import annotations

from typing import Literal

PurchaseModelName = Literal["bgnbd", "pnbd", "mbgnbd"]

#: Names accepted by :func:`loyalty_cli.models.fit_purchase_model`, in this order.
PURCHASE_MODELS: tuple[str, ...] = ("bgnbd", "pnbd", "mbgnbd")
