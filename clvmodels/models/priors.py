"""Priors as configuration.

A prior is a PyMC distribution name plus its parameters, e.g. ``Prior("HalfNormal", sigma=5)``. It is
plain data: it can be written to a model file as JSON and read back, and a user can pass their own
(``BetaGeoModel(priors={"r": Prior("Gamma", alpha=1, beta=1)})`` or the dict form
``{"r": {"dist": "Gamma", "alpha": 1, "beta": 1}}``). ``"flat"`` gives an improper flat prior on the
positive reals (``HalfFlat``), under which the MAP estimate is the maximum-likelihood estimate.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pymc as pm


@dataclass(frozen=True)
class Prior:
    """A PyMC distribution by name with keyword parameters (all positive-support for these models)."""

    dist: str
    params: Mapping[str, float] = field(default_factory=dict)

    def __init__(self, dist: str, **params: float):
        if not hasattr(pm, dist):
            raise ValueError(f"unknown PyMC distribution {dist!r} for a prior")
        object.__setattr__(self, "dist", dist)
        object.__setattr__(self, "params", dict(params))

    def create(self, name: str, **kwargs):
        """Add this prior as a free random variable ``name`` to the PyMC model in context (``kwargs``
        go to the distribution, e.g. ``default_transform``/``transform``).

        The parameters enter as shared scalars named ``<name>.<parameter>``, not as constants: the
        compiled posterior then does not depend on their values, so a model refitted with other prior
        values (the Gamma-Gamma's default scale of v follows the data's mean spend) reuses its compiled
        code, in memory and from the on-disk cache (:mod:`clvmodels.models.compiled`)."""
        import pytensor

        params = {k: pytensor.shared(np.asarray(v, dtype=float), name=f"{name}.{k}") for k, v in self.params.items()}
        return getattr(pm, self.dist)(name, **params, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        return {"dist": self.dist, **{k: float(v) for k, v in self.params.items()}}

    @classmethod
    def from_spec(cls, spec: "Prior | Mapping[str, Any] | str") -> "Prior":
        if isinstance(spec, Prior):
            return spec
        if isinstance(spec, str):
            if spec.lower() in ("flat", "halfflat"):
                return cls("HalfFlat")
            raise ValueError(f"a prior given as a string must be 'flat'; got {spec!r}")
        if isinstance(spec, Mapping):
            spec = dict(spec)
            try:
                dist = spec.pop("dist")
            except KeyError:
                raise ValueError(f"a prior dict needs a 'dist' key naming a PyMC distribution; got {spec!r}") from None
            return cls(dist, **spec)
        raise TypeError(f"cannot read a prior from {spec!r}")

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v:g}" for k, v in self.params.items())
        return f"{self.dist}({args})"


def resolve_priors(defaults: Mapping[str, Prior], given: Mapping[str, Any] | str | None) -> dict[str, Prior]:
    """Merge user priors over defaults. ``given="flat"`` makes every prior flat (MAP = MLE)."""
    if given is None:
        return dict(defaults)
    if isinstance(given, str):
        flat = Prior.from_spec(given)
        return {k: flat for k in defaults}
    unknown = set(given) - set(defaults)
    if unknown:
        raise ValueError(f"priors given for unknown parameters {sorted(unknown)}; this model has {list(defaults)}")
    out = dict(defaults)
    out.update({k: Prior.from_spec(v) for k, v in given.items()})
    return out
