r"""Static (time-invariant) customer covariates: the design every model with covariates shares.

A covariate is a column of the customer summary (so it travels with the summary): numeric, or
categorical when its dtype is object, category, string or bool. What this module does, for every model:

- **checks** (:meth:`CovariateDesign.check`): the column is there, numeric columns hold finite numbers,
  categorical ones no missing values and, at scoring, no level the fit did not see; every problem at
  once, as :class:`~clvmodels.errors.InputError` naming the column and the customers;
- **the design** (:meth:`CovariateDesign.fit`): a numeric covariate is standardised internally,
  z = (value - mean) / sd with the mean and sd (ddof 0) of the fitted customers, recorded; a constant
  one (sd 0) is only centred (z = 0 for everybody: its coefficient is then its prior's, and it says so
  with a warning). A categorical covariate becomes one 0/1 indicator per level but its *reference
  level*: the most frequent level among the fitted customers (ties: the first in sorted order of the
  levels' text), so that the model's base parameters describe the largest group;
- **cells**: the customers split by their distinct row of covariate values (:meth:`CovariateDesign.cells`).
  Every customer of a cell has the same parameters, so the likelihood and the predictions are computed
  per cell over the cell's distinct (frequency, recency, T) triplets with the cell's parameters. With
  categorical covariates there are few cells; a numeric covariate with many distinct values makes one
  cell per distinct value (the cost grows with cells x distinct triplets per cell: benchmarks/README.md);
- the coefficients on the user's scale: a coefficient of a numeric covariate is fitted per standard
  deviation and reported per unit of the column (divided by its sd); an indicator's is the difference
  from the reference level (log scale).

Which parameter a coefficient scales, and with which sign, is the model's (``covariate_links`` of the
model class: e.g. the BG/NBD's alpha_i = alpha exp(-gamma_purchase . z_i)).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from ..draws import interval_bounds
from ..errors import InputError, ProblemCollector

__all__ = ["Covariate", "CovariateDesign", "CovariateModel", "is_categorical", "coefficient_name"]


def is_categorical(series: pd.Series) -> bool:
    """Categorical by dtype: object, category, string or bool (anything else is numeric)."""
    dt = series.dtype
    return (isinstance(dt, pd.CategoricalDtype) or pd.api.types.is_object_dtype(dt)
            or pd.api.types.is_string_dtype(dt) or pd.api.types.is_bool_dtype(dt))


def _level_text(values) -> np.ndarray:
    """Levels compared as text (a level saved in a model file as JSON and a bool/int/str column read back
    from a CSV must match): True -> 'True', 'paid' -> 'paid'."""
    return np.asarray([str(v) for v in values], dtype=object)


def coefficient_name(prefix: str, column: str) -> str:
    """The parameter name of one coefficient: ``purchase_coefficient_alpha[channel=paid]`` (an indicator)
    or ``purchase_coefficient_alpha[basket]`` (a numeric covariate)."""
    return f"{prefix}[{column}]"


@dataclass
class Covariate:
    """One covariate column: ``kind`` 'numeric' (``mean``, ``sd`` of the fitted customers, in the
    column's unit) or 'categorical' (``levels`` as text, sorted, and the ``reference`` level)."""

    name: str
    kind: str
    mean: float = 0.0
    sd: float = 1.0
    levels: list[str] = field(default_factory=list)
    reference: str | None = None

    @property
    def columns(self) -> list[str]:
        """The design columns: the name itself (numeric) or ``name=level`` per non-reference level."""
        if self.kind == "numeric":
            return [self.name]
        return [f"{self.name}={lv}" for lv in self.levels if lv != self.reference]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "mean": self.mean, "sd": self.sd,
                "levels": list(self.levels), "reference": self.reference}


class CovariateDesign:
    """The covariates of a fitted model, per role ('purchase', 'dropout', 'spend'): how to turn summary
    columns into each customer's standardised design row, and customers into cells.

    Build with :meth:`fit` (from the fitted customers) or :meth:`from_dict` (a model file)."""

    def __init__(self, covariates: Mapping[str, Covariate], roles: Mapping[str, Sequence[str]]):
        self.covariates = dict(covariates)
        self.roles = {k: list(v) for k, v in roles.items()}

    # -- building -------------------------------------------------------------------------------
    @staticmethod
    def check_config(roles: Mapping[str, Sequence[str] | None], who: str) -> dict[str, list[str]]:
        """The constructor's covariate lists, normalised: lists of distinct non-empty column names."""
        out = {}
        for role, cols in roles.items():
            if cols is None:
                out[role] = []
                continue
            if isinstance(cols, str):
                cols = [c.strip() for c in cols.split(",") if c.strip()]
            cols = list(cols)
            bad = [c for c in cols if not isinstance(c, str) or not c]
            if bad:
                raise ValueError(f"{who}: {role}_covariates must be column names, got {bad!r}")
            dup = sorted({c for c in cols if cols.count(c) > 1})
            if dup:
                raise ValueError(f"{who}: {role}_covariates names {', '.join(dup)} more than once")
            out[role] = cols
        return out

    @classmethod
    def fit(cls, data: pd.DataFrame, roles: Mapping[str, Sequence[str]], *, what: str = "data",
            weight: np.ndarray | None = None) -> "CovariateDesign":
        """The design of ``data``'s covariate columns (checked first: :meth:`check`); ``weight``: customers
        per row (a summary of distinct rows with ``n_customers``), for the means, sds and level counts."""
        names = _union(roles)
        groups = set(roles.get("group", []))
        cls._check_columns(data, names, what, levels=None)
        w = np.ones(len(data)) if weight is None else np.asarray(weight, float)
        covs = {}
        for c in names:
            s = data[c]
            if c in groups:  # a grouping column: one effect per level, none the reference (pooled)
                levels = sorted(set(_level_text(s.to_numpy())))
                ref = None
                if len(levels) == 1:  # one group: its effect would only duplicate the base parameter
                    warnings.warn(f"group '{c}' has one level ({levels[0]!r}) in the fitted customers: there is "
                                  "nothing to pool, so the model is the one without the group", UserWarning,
                                  stacklevel=4)
                    ref = levels[0]
                covs[c] = Covariate(c, "categorical", levels=levels, reference=ref)
            elif is_categorical(s):
                text = _level_text(s.to_numpy())
                levels = sorted(set(text))
                counts = {lv: float(w[text == lv].sum()) for lv in levels}
                top = max(counts.values())
                ref = next(lv for lv in levels if counts[lv] == top)  # sorted: ties go to the first
                covs[c] = Covariate(c, "categorical", levels=levels, reference=ref)
            else:
                v = pd.to_numeric(s, errors="coerce").to_numpy(float)
                mean = float(np.average(v, weights=w))
                sd = float(np.sqrt(np.average((v - mean) ** 2, weights=w)))
                if not sd > 1e-12 * max(1.0, abs(mean)):
                    warnings.warn(f"covariate '{c}' is constant ({mean:g}) in the fitted customers: it cannot "
                                  "change anything, so its coefficient is left at its prior", UserWarning,
                                  stacklevel=4)
                    sd = 0.0
                covs[c] = Covariate(c, "numeric", mean=mean, sd=sd)
        return cls(covs, roles)

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> "CovariateDesign":
        covs = {d["name"]: Covariate(d["name"], d["kind"], float(d["mean"]), float(d["sd"]), list(d["levels"]),
                                     d["reference"]) for d in spec["covariates"]}
        return cls(covs, spec["roles"])

    def to_dict(self) -> dict[str, Any]:
        return {"covariates": [c.to_dict() for c in self.covariates.values()], "roles": self.roles}

    # -- checks -----------------------------------------------------------------------------------
    @staticmethod
    def _check_columns(data: pd.DataFrame, names: Sequence[str], what: str, levels) -> None:
        problems = ProblemCollector(what=what)
        if not isinstance(data, pd.DataFrame):
            raise InputError(f"{what}: expected a pandas DataFrame, got {type(data).__name__}")
        for c in names:
            if c not in data.columns:
                problems.add(c, "covariate column is missing (covariates are columns of the customer summary)")
                continue
            s = data[c]
            cov = None if levels is None else levels.get(c)
            categorical = is_categorical(s) if cov is None else cov.kind == "categorical"
            if categorical:
                miss = s.isna().to_numpy()
                if miss.any():
                    problems.add(c, "missing values (every customer needs a level of this covariate)",
                                 data.loc[miss, [c]], int(miss.sum()))
                if cov is not None:
                    text = _level_text(s.to_numpy())
                    unseen = ~miss & ~np.isin(text, np.asarray(cov.levels, dtype=object))
                    if unseen.any():
                        lv = sorted(set(text[unseen]))
                        problems.add(c, f"level{'s' if len(lv) > 1 else ''} {', '.join(map(repr, lv[:10]))} not seen "
                                     f"in the fit (it knows {', '.join(map(repr, cov.levels[:20]))}): a model "
                                     "has no coefficient for an unseen level; refit with these customers",
                                     data.loc[unseen, [c]], int(unseen.sum()))
            else:
                v = pd.to_numeric(s, errors="coerce").to_numpy(float)
                bad = ~np.isfinite(v)
                if bad.any():
                    problems.add(c, "missing, non-numeric or infinite values (a numeric covariate; a "
                                 "categorical one must have a text, category or bool dtype)",
                                 data.loc[bad, [c]], int(bad.sum()))
        problems.raise_if_any()

    def check(self, data: pd.DataFrame, what: str = "data") -> None:
        """Every problem with ``data``'s covariate columns at once (missing column, NaN, a categorical
        level the fit did not see): :class:`InputError` naming the column and the customers."""
        self._check_columns(data, list(self.covariates), what, self.covariates)

    # -- the design -----------------------------------------------------------------------------
    def columns(self, role: str) -> list[str]:
        """The design columns of a role, in order (``channel=paid``, ``basket``)."""
        return [col for c in self.roles.get(role, []) for col in self.covariates[c].columns]

    def matrix(self, data: pd.DataFrame, role: str) -> np.ndarray:
        """(rows, k) standardised design of ``role`` (numeric: (value - mean)/sd, 0 when constant;
        categorical: 0/1 indicators of the non-reference levels). ``data`` must have passed :meth:`check`."""
        blocks = []
        for c in self.roles.get(role, []):
            cov = self.covariates[c]
            if cov.kind == "numeric":
                v = pd.to_numeric(data[c], errors="coerce").to_numpy(float) - cov.mean
                blocks.append((v / cov.sd if cov.sd > 0 else np.zeros_like(v))[:, None])
            else:
                text = _level_text(data[c].to_numpy())
                others = [lv for lv in cov.levels if lv != cov.reference]
                blocks.append(np.stack([(text == lv).astype(float) for lv in others], axis=1) if others
                              else np.zeros((len(data), 0)))
        return np.concatenate(blocks, axis=1) if blocks else np.zeros((len(data), 0))

    def scales(self, role: str) -> np.ndarray:
        """Per design column of ``role``: what a coefficient fitted on the standardised scale is divided
        by to be per unit of the user's column (sd; 1 for indicators and constant columns)."""
        out = []
        for c in self.roles.get(role, []):
            cov = self.covariates[c]
            out += [cov.sd if (cov.kind == "numeric" and cov.sd > 0) else 1.0] * len(cov.columns)
        return np.asarray(out, float)

    def cells(self, data: pd.DataFrame) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Customers split by their distinct covariate row: (cell of each row (n,) int64, per role the
        (cells, k) standardised design of each cell). Cells are numbered in the sorted order of their
        design rows (deterministic for the same data)."""
        roles = [r for r in self.roles if self.columns(r)]
        full = {r: self.matrix(data, r) for r in roles}
        if not roles or len(data) == 0:
            return np.zeros(len(data), dtype=np.int64), {r: full[r][:1] for r in roles}
        stacked = np.concatenate([full[r] for r in roles], axis=1)
        uniq, inverse = np.unique(stacked, axis=0, return_inverse=True)
        out, k0 = {}, 0
        for r in roles:
            k = full[r].shape[1]
            out[r] = uniq[:, k0:k0 + k]
            k0 += k
        return inverse.reshape(-1).astype(np.int64), out

    def describe(self) -> pd.DataFrame:
        """One row per covariate: kind, mean and sd (numeric) or levels and reference (categorical), and
        the roles it enters."""
        rows = []
        for c, cov in self.covariates.items():
            rows.append({"covariate": c, "kind": cov.kind,
                         "mean": cov.mean if cov.kind == "numeric" else np.nan,
                         "sd": cov.sd if cov.kind == "numeric" else np.nan,
                         "levels": ", ".join(cov.levels) if cov.kind == "categorical" else "",
                         "reference": cov.reference or "",
                         "roles": ", ".join(r for r, cols in self.roles.items() if c in cols)})
        return pd.DataFrame(rows).set_index("covariate")


def _union(roles: Mapping[str, Sequence[str]]) -> list[str]:
    out: list[str] = []
    for cols in roles.values():
        out += [c for c in cols if c not in out]
    return out


# -- what a model with covariates shares: coefficients, cell parameters, the likelihood over cells ------
@dataclass(frozen=True)
class Link:
    """One parameter a role's coefficients scale: param_i = param exp(sign gamma . z_i). ``prefix`` names
    the coefficients (``purchase_coefficient_alpha``), ``names`` one per design column."""

    role: str
    param: str
    sign: float
    prefix: str
    columns: tuple[str, ...]
    names: tuple[str, ...]


def model_links(design: CovariateDesign, covariate_links: Mapping[str, Sequence[tuple[str, float]]]) -> list[Link]:
    """The model's links (``covariate_links``: role -> ((parameter, sign), ...)) with the design's columns;
    roles without covariates are left out."""
    out = []
    for role, links in covariate_links.items():
        cols = tuple(design.columns(role))
        if not cols:
            continue
        for param, sign in links:
            prefix = f"group_effect_{param}" if role == "group" else f"{role}_coefficient_{param}"
            out.append(Link(role, param, float(sign), prefix, cols, tuple(coefficient_name(prefix, c) for c in cols)))
    return out


def cell_params(base: Mapping[str, np.ndarray], coefs: Mapping[str, np.ndarray], links: Sequence[Link],
                design: CovariateDesign, z: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The parameters of one cell at each draw: param exp(sign sum_j gamma_j z_j), with ``coefs`` on the
    user's scale (per unit of each column) and ``z`` the cell's standardised design row per role (so
    gamma_j z_j = (gamma_j sd_j) (value - mean)/sd_j). Parameters without a link are the base ones."""
    out = {k: np.asarray(v, float) for k, v in base.items()}
    for ln in links:
        scale = design.scales(ln.role)
        eta = 0.0
        for j, name in enumerate(ln.names):
            zj = float(z[ln.role][j])
            if zj != 0.0:
                eta = eta + np.asarray(coefs[name], float) * (scale[j] * zj)
        out[ln.param] = out[ln.param] * np.exp(ln.sign * eta)
    return out


def cell_likelihood_graph(loglike_graph, data_cells, rv: Mapping[str, Any], coef_rv: Mapping[str, Any],
                          links: Sequence[Link], z: Mapping[str, np.ndarray]):
    """The total log-likelihood over cells as a PyTensor scalar: for each cell ``c`` (``data_cells``: a list
    of (c, the cell's triplets), c = 0..cells-1) the model's own fused likelihood at the cell's
    parameters ``rv[p] exp(sign z_c . gamma)`` (coefficients ``coef_rv`` on the standardised scale),
    summed, in one node (:func:`clvmodels.models.numerics.cells_op.cells_total`). The model's Op and
    each cell's data arrays are read off ``loglike_graph(params, triplets)``, the model's own
    likelihood graph (one fused node), so every model with a fused Op gets covariates this way."""
    import pytensor.tensor as pt

    from .numerics.cells_op import cells_total

    n_cells = len(data_cells)
    base, cells = None, []
    probe = {p: pt.scalar(p, dtype="float64") for p in rv}
    for _, trip in data_cells:
        node = loglike_graph(probe, trip).owner
        op_cls = type(node.op)
        if base is None:
            base = op_cls
        P = len(op_cls.param_names)
        cells.append([inp.get_value(borrow=True) for inp in node.inputs[P:]])
    params = {}
    for p in base.param_names:
        vec = pt.ones((n_cells,), dtype="float64") * rv[p]
        for ln in links:
            if ln.param != p:
                continue
            zc = np.asarray(z[ln.role], float)  # (cells, k), standardised
            gamma = pt.stack([coef_rv[n] for n in ln.names])
            vec = vec * pt.exp(ln.sign * pt.dot(pt.as_tensor_variable(zc), gamma))
        params[p] = vec
    return cells_total(base, params, cells, n_cells=n_cells)


# -- simulation: per-customer parameters from given coefficients ----------------------------------------
def simulation_params(params: Mapping[str, float], covariates: pd.DataFrame | None,
                      coefficients: Mapping[str, Mapping[str, float]] | None, signs: Mapping[str, float],
                      n: int) -> dict[str, np.ndarray]:
    """Each customer's parameters for a simulator: ``param_i = param exp(sign sum_j gamma_j z_ij)`` on the
    *raw* covariates (no centring or scaling: the given base parameters are those of a customer with every
    numeric covariate 0 and every indicator 0).

    ``covariates``: a DataFrame of n rows; ``coefficients``: per coefficient group, named as the model's
    (``purchase_coefficient_alpha``, ``dropout_coefficient_a``, ...: the part after ``_coefficient_`` is
    the parameter), a mapping column -> coefficient; a numeric column enters as its value, ``col=level``
    as the indicator of that level of a categorical column. ``signs``: per parameter the model's sign.
    ValueError naming what is unknown or missing."""
    out = {k: np.full(n, float(v)) for k, v in params.items()}
    if not coefficients:
        return out
    if covariates is None or len(covariates) != n:
        raise ValueError(f"coefficients given: give covariates, a DataFrame of {n} rows (one per customer)")
    for group, coefs in coefficients.items():
        param = group.split("_coefficient_")[-1] if "_coefficient_" in group else None
        if param not in signs:
            raise ValueError(f"unknown coefficient group {group!r}: this model has "
                             f"{', '.join(sorted(f'..._coefficient_{p}' for p in signs))}")
        eta = np.zeros(n)
        for col, g in coefs.items():
            name, _, level = col.partition("=")
            if name not in covariates.columns:
                raise ValueError(f"coefficient {group}[{col}]: no column {name!r} in covariates")
            if level:
                z = (_level_text(covariates[name].to_numpy()) == level).astype(float)
            else:
                z = pd.to_numeric(covariates[name], errors="coerce").to_numpy(float)
                if not np.isfinite(z).all():
                    raise ValueError(f"covariate {name!r}: not finite numbers (a categorical one is given as "
                                     f"'{name}=level')")
            eta += float(g) * z
        out[param] = out[param] * np.exp(signs[param] * eta)
    return out


# -- the estimator side: what every model with covariates shares --------------------------------------
class CovariateModel:
    """Mixin of the estimators that take covariates (the transaction models, the Gamma-Gamma): the
    design set up before a fit, the coefficients' priors and names, their rescaling to the user's scale
    after it, model files, :meth:`coefficients`, and the split of customers into cells whose models
    (copies without covariates, at the cell's parameters) every prediction goes through.

    A model provides ``covariate_links`` (role -> ((parameter, sign), ...)), ``_covariate_roles()`` (role
    -> the configured columns) and ``_covariate_fit_mask(data)`` (the rows its likelihood uses)."""

    covariate_links: dict = {}

    def _covariate_fit_mask(self, data: pd.DataFrame) -> np.ndarray:
        return np.ones(len(data), dtype=bool)

    def _check_roles(self, configured: Mapping[str, Sequence[str] | str | None]) -> dict[str, list[str]]:
        """The roles of the constructor's covariate lists (``configured``: role -> columns), checked and
        normalised, with ``'group'`` when the model has a ``group`` column: a column name, not also one of
        its covariates. ValueError when the model takes no covariates (empty ``covariate_links``)."""
        who = type(self).__name__
        roles = CovariateDesign.check_config(configured, who)
        group = getattr(self, "group", None)
        if group is not None:
            if not isinstance(group, str) or not group:
                raise ValueError(f"{who}: group must be a column name, got {group!r}")
            if any(group in cols for cols in roles.values()):
                raise ValueError(f"{who}: {group!r} is both a covariate and the group")
            roles["group"] = [group]
        if any(roles.values()) and not self.covariate_links:
            raise ValueError(f"{who} does not take covariates yet")
        return roles

    def _covariate_params(self) -> dict[str, Any]:
        """The covariate configuration for ``get_params()``: only what is given (a model file without
        covariates reads as before)."""
        out = {}
        for role in self.covariate_links:
            cols = getattr(self, f"{role}_covariates", None) if role != "group" else None
            if cols:
                out[f"{role}_covariates"] = list(cols) if not isinstance(cols, str) else cols
        if getattr(self, "group", None):
            out["group"] = self.group
        return out

    def _coefficient_variables(self, priors) -> dict[str, Any]:
        """Inside a ``pm.Model``: the PyMC variables of every coefficient on the standardised scale
        (name -> variable), what :func:`cell_likelihood_graph` takes as ``coef_rv``. A fixed coefficient
        is its own variable with its prior; a pooled group's effect is ``group_sd_<param> x offset``,
        offset ~ Normal(0, 1) (``<effect>_offset``, non-centred: the sampler sees no funnel between the sd
        and the effects when groups are small), ``group_sd_<param>`` with its prior (HalfNormal(1))."""
        import pymc as pm

        # the coefficients' prior values enter as constants, not shared scalars (Prior.create): the compiled
        # posterior's callback passes every shared value as an argument of one call, and numba compiles no
        # call of more than 30 (cells_op's docstring); the base priors stay shared
        coef = {}
        for ln in self._links:
            if ln.role == "group":
                sd = priors[f"group_sd_{ln.param}"].create(f"group_sd_{ln.param}")
                coef.update({n: sd * pm.Normal(f"{n}_offset", 0.0, 1.0) for n in ln.names})
            else:
                coef.update({n: getattr(pm, priors[n].dist)(n, **{k: float(v) for k, v in priors[n].params.items()})
                             for n in ln.names})
        return coef

    def _setup_design(self, data: pd.DataFrame, what: str, weight: np.ndarray) -> None:
        """Before a fit: the covariate columns checked (every problem at once) and the design of the
        fitted rows (means, sds, levels, reference levels), or no design without covariates."""
        roles = self._covariate_roles()
        self._set_design(None)
        if any(roles.values()):
            CovariateDesign._check_columns(data, _union(roles), what, None)
            keep = self._covariate_fit_mask(data)
            self._set_design(CovariateDesign.fit(data[keep], roles, what=what, weight=np.asarray(weight)[keep]),
                             fitting=True)

    def _derive_draws(self, post: xr.Dataset) -> xr.Dataset:
        """The sampled posterior as the model keeps it (:func:`~clvmodels.models.fitting.run_fit` applies
        this before the diagnostics): each pooled group effect sd x offset in place of its offset, so the
        R-hat, ESS and the diagnostics' problems (and their warning) are the effects' own, and the
        parameter names from now on are the effects'."""
        groups = [ln for ln in getattr(self, "_links", []) if ln.role == "group"]
        if not groups:
            return post
        for ln in groups:
            for n in ln.names:
                post[n] = post[f"group_sd_{ln.param}"] * post[f"{n}_offset"]
        post = post.drop_vars([f"{n}_offset" for ln in groups for n in ln.names])
        self._set_design(self.covariates_)
        return post

    def _finish_covariate_fit(self) -> None:
        """After a fit: the coefficients from the standardised scale to per unit of the user's columns,
        the design in ``fit_info_["covariates"]`` and the cells in ``fit_info_["n_cells"]``. (The pooled
        group effects were derived from their offsets before the diagnostics: :meth:`_derive_draws`.)"""
        if not self.has_covariates:
            return
        for ln in self._links:
            if ln.role == "group":  # log param_g - log param: no scale
                continue
            for n, s in zip(ln.names, self.covariates_.scales(ln.role)):
                self.posterior_[n] = self.posterior_[n] / s
        self._set_design(self.covariates_)
        self.fit_info_["covariates"] = self.covariates_.to_dict()
        self.fit_info_["n_cells"] = int(getattr(self, "_n_cells", 1))

    @property
    def has_covariates(self) -> bool:
        """Whether this fitted model has covariates (its predictions then go per cell of customers)."""
        return getattr(self, "covariates_", None) is not None

    def _set_design(self, design, *, fitting: bool = False) -> None:
        """The design and the parameter names it adds: the coefficients, and with a group the group
        effects and their sds (``group_sd_<param>``). While fitting (``fitting=True``) the names are the
        sampled ones: a group effect is sd x offset, offset ~ Normal(0, 1) (``<effect>_offset``,
        non-centred), replaced by the effects themselves after the fit."""
        self.__dict__.pop("param_names", None)
        self.__dict__.pop("real_params", None)
        self.covariates_ = design
        if design is None:
            self._links = []
            return
        self._links = model_links(design, self.covariate_links)
        fixed = tuple(n for ln in self._links if ln.role != "group" for n in ln.names)
        sds = tuple(f"group_sd_{ln.param}" for ln in self._links if ln.role == "group")
        effects = tuple((f"{n}_offset" if fitting else n) for ln in self._links if ln.role == "group" for n in ln.names)
        self.param_names = tuple(type(self).param_names) + fixed + sds + effects
        self.real_params = tuple(type(self).real_params) + fixed + effects

    def _extra_priors(self):
        from .priors import Prior

        out = {}
        for ln in getattr(self, "_links", []):
            if ln.role == "group":  # the sd of the group effects on log <param>: half a log unit is typical
                out[f"group_sd_{ln.param}"] = Prior("HalfNormal", sigma=1.0)
                continue
            out[ln.prefix] = Prior("Normal", mu=0.0, sigma=1.0)
            out.update({n: Prior("Normal", mu=0.0, sigma=1.0) for n in ln.names})
        return out

    def _finish_priors(self, priors):
        """A coefficient's prior (on the standardised scale): its own when given by name, else its
        group's (``purchase_coefficient_alpha`` given applies to every such coefficient); with
        priors='flat', a flat prior on the real line (not the positive one)."""
        from .priors import Prior

        given = self.priors if isinstance(self.priors, dict) else {}
        for ln in getattr(self, "_links", []):
            if ln.role == "group":
                if isinstance(self.priors, str):  # flat on the sd would leave the pooling improper
                    priors[f"group_sd_{ln.param}"] = Prior("HalfNormal", sigma=1.0)
                continue
            for n in ln.names:
                if isinstance(self.priors, str):
                    priors[n] = priors[ln.prefix] = Prior("Flat")
                elif n not in given:
                    priors[n] = priors[ln.prefix]
        return priors

    @classmethod
    def _saved_param_names(cls, header):
        spec = (header.get("fit_info") or {}).get("covariates")
        if not spec:
            return tuple(cls.param_names)
        links = model_links(CovariateDesign.from_dict(spec), cls.covariate_links)
        return (tuple(cls.param_names) + tuple(n for ln in links if ln.role != "group" for n in ln.names)
                + tuple(f"group_sd_{ln.param}" for ln in links if ln.role == "group")
                + tuple(n for ln in links if ln.role == "group" for n in ln.names))

    def _restore(self, header) -> None:
        spec = (header.get("fit_info") or {}).get("covariates")
        self._set_design(CovariateDesign.from_dict(spec) if spec else None)

    def coefficients(self, interval: float = 0.9) -> pd.DataFrame:
        """The covariate effects: one row per coefficient with the role, the parameter it scales, the
        design column, the posterior mean, sd and central interval per unit of the user's column (an
        indicator's: against the reference level), and ``multiplier``: exp(sign x mean), the factor on the
        parameter for one unit more (an indicator: that level rather than the reference). A pooled group
        (``group=``): a row ``group_sd_<param>`` (the sd of the effects on log <param>, its multiplier
        exp(sd) the factor of a group one sd from the population), then one row per group's effect
        (``group_effect_<param>[country=XX]``: log param_g - log param, its multiplier param_g / param).
        A model whose only covariate is a group of one level has no rows (nothing was fitted)."""
        self._check_fitted()
        if not self.has_covariates:
            raise ValueError(f"this {type(self).__name__} has no covariates")
        lo, hi = interval_bounds(interval)
        rows = []

        def row(name, ln, col, sign):
            v = np.asarray(self.posterior_[name]).ravel()
            return {"coefficient": name, "role": ln.role, "parameter": ln.param, "column": col,
                    "sign": sign, "mean": float(v.mean()), "sd": float(v.std(ddof=1)) if v.size > 1 else 0.0,
                    "lower": float(np.quantile(v, lo)), "upper": float(np.quantile(v, hi)),
                    "multiplier": float(np.exp(sign * v.mean()))}

        for ln in self._links:
            if ln.role == "group":  # the spread of the groups first: exp(sd) is a typical group's factor
                rows.append(row(f"group_sd_{ln.param}", ln, f"sd of the {ln.columns[0].partition('=')[0]} effects",
                                1.0))
            rows += [row(name, ln, col, ln.sign) for col, name in zip(ln.columns, ln.names)]
        cols = ["coefficient", "role", "parameter", "column", "sign", "mean", "sd", "lower", "upper", "multiplier"]
        out = pd.DataFrame(rows, columns=cols).set_index("coefficient")
        out.attrs["interval"] = interval
        return out

    def cell_models(self, data: pd.DataFrame, *, what: str = "data to predict for"):
        """The customers of ``data`` split by their distinct covariate row: (cell of each row, (n,) int64;
        one model per cell, a copy of this one without covariates whose draws are the cell's parameters,
        param exp(sign gamma . z_cell) at each draw). Every prediction of a model with covariates is the
        cell models' predictions, put back in the customers' order. A model without covariates: one cell,
        itself. :class:`InputError` when a covariate is missing, NaN or has a level the fit did not see."""
        self._check_fitted()
        if not self.has_covariates:
            return np.zeros(len(data), dtype=np.int64), [self]
        design = self.covariates_
        design.check(data, what)
        cell_of, z = design.cells(data)
        names = list(type(self).param_names)
        base = {p: self.posterior_[p].values for p in names}
        coefs = {n: self.posterior_[n].values for ln in self._links for n in ln.names}
        models = []
        for c in range(int(cell_of.max()) + 1 if len(cell_of) else 0):
            vals = cell_params(base, coefs, self._links, design, {r: m[c] for r, m in z.items()})
            models.append(self._plain_copy(vals))
        return cell_of, models

    def _plain_copy(self, values: dict[str, np.ndarray]):
        """A copy of this fitted model without covariates, whose draws are ``values`` (chain x draw arrays
        of the base parameters)."""
        import copy

        m = copy.copy(self)
        m.__dict__.pop("param_names", None)
        m.__dict__.pop("real_params", None)
        m.covariates_ = None
        m._links = []
        for role in self._covariate_roles():
            if role != "group":
                setattr(m, f"{role}_covariates", None)
        if hasattr(m, "group"):
            m.group = None
        m.posterior_ = xr.Dataset({p: (("chain", "draw"), values[p]) for p in type(self).param_names},
                                  coords=self.posterior_.coords)
        return m

    def reference_model(self):
        """The model of the *reference customer* (every numeric covariate at the fitted customers' mean,
        every categorical one at its reference level: the base parameters), without covariates; what a
        new customer of unknown covariates is valued with. A model without covariates: itself."""
        self._check_fitted()
        if not self.has_covariates:
            return self
        return self._plain_copy({p: self.posterior_[p].values for p in type(self).param_names})

    def _by_cells(self, method: str, data: pd.DataFrame, *args, observed=None, **kwargs):
        """``method`` of each cell model on its customers, put back in ``data``'s order."""
        cell_of, models = self.cell_models(data)
        parts, pos_all = [], []
        for c, m in enumerate(models):
            pos = np.flatnonzero(cell_of == c)
            if not len(pos):
                continue
            kw = dict(kwargs)
            if observed is not None:
                kw["observed"] = np.asarray(observed)[pos]
            parts.append(getattr(m, method)(data.iloc[pos], *args, **kw))
            pos_all.append(pos)
        order = np.argsort(np.concatenate(pos_all), kind="stable")
        if isinstance(parts[0], xr.DataArray):
            return xr.concat(parts, dim="customer_id").isel(customer_id=order)
        out = pd.concat(parts).iloc[order]
        if method == "purchases_distribution":  # cells differ in their largest count
            counts = sorted(c for c in out.columns if c != "tail")
            out = out[counts + ["tail"]].fillna(0.0)
        return out

    def scorer(self, max_draws: int | None = None):
        if self.has_covariates:
            raise ValueError(f"this {type(self).__name__} has covariates: its customers do not share one set of "
                             "parameters, so it has no single scorer; score per cell (model.cell_models(data)) or "
                             "through the model's methods, clvmodels.score or clvmodels.forecast")
        return super().scorer(max_draws)

    def check_draws(self, draws, data=None, *, method: str = "nuts") -> None:
        """As every model's, and with covariates: each fitted cell's parameters (not only the reference
        customer's) must lie in the range where the formulas were checked."""
        super().check_draws(draws, data, method=method)
        if not self.has_covariates or data is None:
            return
        fitted = data[self._covariate_fit_mask(data)]
        cell_of, z = self.covariates_.cells(fitted)
        base = {p: draws[p] for p in type(self).param_names}
        coefs = {}
        for ln in self._links:  # draws: standardised scale; a group effect as sd x offset while fitting
            for n, s in zip(ln.names, self.covariates_.scales(ln.role)):
                coefs[n] = (np.asarray(draws[n]) / s if n in draws else
                            np.asarray(draws[f"group_sd_{ln.param}"]) * np.asarray(draws[f"{n}_offset"]))
        for c in np.unique(cell_of):
            vals = cell_params(base, coefs, self._links, self.covariates_, {r: m[c] for r, m in z.items()})
            super().check_draws({**draws, **vals}, None, method=method)

