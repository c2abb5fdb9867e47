"""The transaction models by name: what ``--model`` on the command line and ``model=`` in Python choose
from. A model is registered by its import path, so choosing one imports only that model's package.

Add a model: one line here (its :attr:`~clvmodels.models.transaction.TransactionModel.name` and
``module:Class``); nothing else outside its package changes.
"""
from __future__ import annotations

import importlib

#: name -> "module:Class", in the order the CLI lists them (the first is the default)
TRANSACTION_MODELS: dict[str, str] = {
    "bgnbd": "clvmodels.models.bgnbd:BetaGeoModel",
    "mbgnbd": "clvmodels.models.mbgnbd:ModifiedBetaGeoModel",
    "pnbd": "clvmodels.models.pareto_nbd:ParetoNBDModel",
}

DEFAULT_MODEL = "bgnbd"

#: the spend models by name (``--spend-model``): the Gamma-Gamma, and the Gamma-Gamma whose scale depends on
#: the number of purchase occasions; both take ``first_purchase`` (``--first-purchase``)
SPEND_MODELS: dict[str, str] = {
    "gamma_gamma": "clvmodels.models.gamma_gamma:GammaGammaModel",
    "gamma_gamma_frequency": "clvmodels.models.gamma_gamma:GammaGammaFrequencyModel",
}
DEFAULT_SPEND_MODEL = "gamma_gamma"


def spend_model(name: str = DEFAULT_SPEND_MODEL, **config):
    """A new spend model called ``name`` (:data:`SPEND_MODELS`) configured with ``config`` (e.g.
    ``first_purchase=True`` and the sampler settings); ``ValueError`` naming the choices otherwise."""
    key = str(name).strip().lower()
    if key not in SPEND_MODELS:
        raise ValueError(f"unknown spend model {name!r}: choose one of {', '.join(SPEND_MODELS)}")
    module, cls = SPEND_MODELS[key].split(":")
    return getattr(importlib.import_module(module), cls)(**config)


def model_names() -> list[str]:
    """The registered transaction models' names, the default first."""
    return list(TRANSACTION_MODELS)


def transaction_model_class(name: str):
    """The class of the transaction model called ``name`` (``ValueError`` naming the choices otherwise)."""
    key = str(name).strip().lower()
    if key not in TRANSACTION_MODELS:
        raise ValueError(f"unknown transaction model {name!r}: choose one of {', '.join(TRANSACTION_MODELS)}")
    module, cls = TRANSACTION_MODELS[key].split(":")
    return getattr(importlib.import_module(module), cls)


def transaction_model(name_or_model=DEFAULT_MODEL, **config):
    """A transaction model: an instance given is returned as it is; a name gives a new instance of that
    model configured with ``config`` (the estimator's constructor arguments)."""
    if not isinstance(name_or_model, str):
        return name_or_model
    return transaction_model_class(name_or_model)(**config)


def import_models() -> None:
    """Import every registered model's package (a model file names its class; loading needs it)."""
    for name in TRANSACTION_MODELS:
        transaction_model_class(name)
