"""Buy-till-you-die purchase models, the Gamma-Gamma spend model and predicted CLV.

* :mod:`~loyalty_cli.models.bgnbd`: BG/NBD (Fader, Hardie & Lee 2005, Marketing Science 24(2); stable
  likelihood of Fader & Hardie's "#NUM!" note) and MBG/NBD (Batislam, Denizel & Filiztekin 2007).
* :mod:`~loyalty_cli.models.pnbd`: Pareto/NBD (Schmittlein, Morrison & Colombo 1987; Fader & Hardie 2005
  note "Deriving the Pareto/NBD model"), likelihood in log space.
* :mod:`~loyalty_cli.models.gamma_gamma`: Gamma-Gamma spend (Fader, Hardie & Lee 2005, JMR 42(4);
  Fader & Hardie 2013 note).
* :mod:`~loyalty_cli.models.clv`: discounted CLV over months (a last partial month pro rata) with explicit
  time units.
* :mod:`~loyalty_cli.models.checks`: the input checks.
* :mod:`~loyalty_cli.models.fitting`: compression to patterns, the ML fitter.

Inputs are per customer in one time unit (weeks usual): frequency = repeat purchase periods, recency =
age at the last purchase, T = age at the end of the observation. Every failure is a
:class:`loyalty_cli.errors.ModelError` with a hint.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from loyalty_cli.models.names import PURCHASE_MODELS, PurchaseModelName

if TYPE_CHECKING:
    from loyalty_cli.models.base import PurchaseModel
    from loyalty_cli.models.bgnbd import BGNBDModel, MBGNBDModel
    from loyalty_cli.models.checks import check_rfm
    from loyalty_cli.models.clv import DAYS_PER_MONTH, discounted_clv, month_ends
    from loyalty_cli.models.fitting import MLEFit, compress, fit_mle
    from loyalty_cli.models.gamma_gamma import GammaGammaModel, SpendModel, fit_gamma_gamma
    from loyalty_cli.models.pnbd import ParetoNBDModel
    from loyalty_cli.models.purchase import MODEL_CLASSES, fit_purchase_model

#: where each name lives: imported on first use, so that the names of the models (:mod:`.names`) come without
#: NumPy and SciPy (``loyalty churn`` checks its ``model`` setting and fits nothing without one)
_LAZY = {
    "DAYS_PER_MONTH": "clv",
    "BGNBDModel": "bgnbd",
    "GammaGammaModel": "gamma_gamma",
    "MBGNBDModel": "bgnbd",
    "MLEFit": "fitting",
    "MODEL_CLASSES": "purchase",
    "ParetoNBDModel": "pnbd",
    "PurchaseModel": "base",
    "SpendModel": "gamma_gamma",
    "check_rfm": "checks",
    "compress": "fitting",
    "discounted_clv": "clv",
    "fit_gamma_gamma": "gamma_gamma",
    "fit_mle": "fitting",
    "fit_purchase_model": "purchase",
    "month_ends": "clv",
}

__all__ = [
    "DAYS_PER_MONTH",
    "BGNBDModel",
    "GammaGammaModel",
    "MBGNBDModel",
    "MLEFit",
    "MODEL_CLASSES",
    "PURCHASE_MODELS",
    "ParetoNBDModel",
    "PurchaseModel",
    "PurchaseModelName",
    "SpendModel",
    "check_rfm",
    "compress",
    "discounted_clv",
    "fit_gamma_gamma",
    "fit_mle",
    "fit_purchase_model",
    "month_ends",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
