"""Choosing and fitting a purchase model by name."""

from __future__ import annotations

from numpy.typing import ArrayLike

from loyalty_cli.errors import ModelError
from loyalty_cli.models.base import PurchaseModel
from loyalty_cli.models.bgnbd import BGNBDModel, MBGNBDModel
from loyalty_cli.models.names import PURCHASE_MODELS, PurchaseModelName
from loyalty_cli.models.pnbd import ParetoNBDModel

__all__ = ["MODEL_CLASSES", "PURCHASE_MODELS", "PurchaseModelName", "fit_purchase_model"]

#: The class of each purchase model, by name (the names and their order: :data:`PURCHASE_MODELS`).
MODEL_CLASSES: dict[str, type[PurchaseModel]] = {
    "bgnbd": BGNBDModel,
    "pnbd": ParetoNBDModel,
    "mbgnbd": MBGNBDModel,
}


def fit_purchase_model(
    name: PurchaseModelName,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    *,
    weights: ArrayLike | None = None,
    penalizer: float = 0.0,
) -> PurchaseModel:
    """Fit the named purchase model (``"bgnbd"``, ``"pnbd"`` or ``"mbgnbd"``) by maximum likelihood."""
    cls = MODEL_CLASSES.get(name)
    if cls is None:
        raise ModelError(f"Unknown purchase model {name!r}.", hint=f"Choose one of: {', '.join(PURCHASE_MODELS)}.")
    return cls.fit(frequency, recency, T, weights=weights, penalizer=penalizer)
