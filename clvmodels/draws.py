"""Posterior-draw utilities shared by the per-customer predictions (not the predictions themselves).

The per-customer forecast paths are elsewhere: :func:`clvmodels.scoring.arrays.score_arrays` (behind
:func:`clvmodels.scoring.score`, and so the notebook API, ``clv forecast`` and the Spark scorer, and
:func:`clvmodels.value.customer_lifetime_value`) and :mod:`clvmodels.models.triplet_scores` (behind
``BetaGeoModel.predict``). This module holds what they and the models' per-quantity methods share:

- :func:`flatten_draws` (flat, evenly thinned posterior draws), :data:`DEFAULT_SCORING_DRAWS` (the one
  default number of scoring draws), :func:`joint_scorers` / :func:`joint_draws` (paired draws of a
  transaction and a spend model);
- :func:`distinct` (customers compressed to the distinct rows of the columns a quantity depends on, so
  identical customers share one computation) and :func:`chunk_rows` (rows per chunk within a memory budget);
- :func:`reduce_over_draws`: posterior mean and central interval of a quantity per distinct row, chunk
  by chunk (the models' per-quantity methods such as ``p_alive`` and ``expected_spend``, and the plots);
- :func:`require_finite`: no NaN or inf in a forecast (:class:`~clvmodels.errors.FitError` otherwise).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np
import pandas as pd

from ._renamed import renamed_keywords

#: bytes of float64 work per chunk (draws x rows x per-row width); keeps peak memory bounded
DEFAULT_CHUNK_BYTES = 64 * 2**20
#: the joint posterior draws behind every per-customer forecast unless a caller asks otherwise: the
#: notebook API (score, forecast, customer_lifetime_value, predict), ``clv forecast``, the report's
#: validation and the Spark scorer all default to it, so they give equal numbers by default. 1,000
#: evenly thinned draws pin a 90% interval's bounds to about 1% of their width.
DEFAULT_SCORING_DRAWS = 1000


@dataclass(frozen=True)
class Distinct:
    """Distinct rows of some key columns: ``keys[j][i]`` is column j of distinct row i;
    ``inverse[c]`` is customer c's distinct row; ``counts[i]`` the customers sharing row i."""

    keys: tuple[np.ndarray, ...]
    inverse: np.ndarray
    counts: np.ndarray

    def __len__(self) -> int:
        return len(self.counts)


def distinct(*columns: np.ndarray) -> Distinct:
    """Compress aligned columns to their distinct rows (exact equality of values)."""
    cols = [np.asarray(c) for c in columns]
    n = len(cols[0])
    if n == 0:
        return Distinct(tuple(c[:0] for c in cols), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    # factorize each column, then combine codes into one int64 key (mixed radix), then factorize that
    codes, levels = [], []
    for c in cols:
        code, uniq = pd.factorize(c, sort=True)
        codes.append(code.astype(np.int64))
        levels.append(np.asarray(uniq))
    # combine codes pairwise, re-factorizing after each step so the int64 key cannot overflow
    inverse = codes[0]
    for code, lev in zip(codes[1:], levels[1:]):
        inverse = pd.factorize(inverse * len(lev) + code, sort=True)[0].astype(np.int64)
    uniq_key = np.arange(inverse.max() + 1)
    first = np.zeros(len(uniq_key), dtype=np.int64)
    first[inverse[::-1]] = np.arange(n - 1, -1, -1)  # index of first occurrence of each distinct row
    counts = np.bincount(inverse, minlength=len(uniq_key)).astype(np.int64)
    return Distinct(tuple(c[first] for c in cols), inverse.astype(np.int64), counts)


def flatten_draws(posterior, names: list[str], max_draws: int | None = None, seed: int = 0) -> dict[str, np.ndarray]:
    """Posterior draws as flat (S,) arrays per parameter, optionally thinned to ``max_draws`` evenly."""
    out = {}
    for p in names:
        out[p] = np.asarray(posterior[p]).reshape(-1).astype(float)
    s = len(out[names[0]])
    if max_draws is not None and s > max_draws:
        idx = np.linspace(0, s - 1, max_draws).round().astype(int)
        out = {k: v[idx] for k, v in out.items()}
    return out


def chunk_rows(n_draws: int, width: int = 1, budget_bytes: int = DEFAULT_CHUNK_BYTES) -> int:
    """Rows per chunk so that n_draws x rows x width float64 values fit in ``budget_bytes``."""
    return max(1, int(budget_bytes // (8 * max(1, n_draws) * max(1, width))))


def interval_bounds(interval: float) -> tuple[float, float]:
    if not 0 < interval < 1:
        raise ValueError(f"interval must be in (0, 1), e.g. 0.9; got {interval}")
    tail = (1.0 - interval) / 2.0
    return tail, 1.0 - tail


def reduce_over_draws(
    fn: Callable[..., np.ndarray],
    params: Mapping[str, np.ndarray],
    keys: tuple[np.ndarray, ...],
    interval: float = 0.9,
    budget_bytes: int = DEFAULT_CHUNK_BYTES,
    progress: bool = False,
    desc: str = "predicting",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Posterior mean and central interval of ``fn`` per distinct row, chunk by chunk.

    ``fn(params2d, *key_chunks)`` gets each parameter as an (S, 1) array and the key columns of a chunk
    as (rows,) arrays, and returns an (S, rows) array of the quantity per draw.
    Returns (mean, lower, upper), each of shape (len(keys[0]),).
    """
    lo_q, hi_q = interval_bounds(interval)
    p2 = {k: np.asarray(v, dtype=float)[:, None] for k, v in params.items()}
    s = len(next(iter(p2.values())))
    n = len(keys[0])
    mean = np.empty(n)
    lower = np.empty(n)
    upper = np.empty(n)
    step = chunk_rows(s, 3, budget_bytes)  # the block, its sort for quantiles, and temporaries
    for start in _progress(range(0, n, step), progress, desc, total=-(-n // step)):
        sl = slice(start, min(n, start + step))
        block = fn(p2, *(k[sl] for k in keys))
        mean[sl] = block.mean(axis=0)
        q = np.quantile(block, [lo_q, hi_q], axis=0)
        lower[sl], upper[sl] = q[0], q[1]
    return mean, lower, upper


def draws_for_rows(fn, params: Mapping[str, np.ndarray], keys: tuple[np.ndarray, ...]) -> np.ndarray:
    """The full (S, rows) array of ``fn`` over draws (for notebook users asking for the draws)."""
    p2 = {k: np.asarray(v, dtype=float)[:, None] for k, v in params.items()}
    return fn(p2, *keys)


def _progress(iterable, enabled: bool, desc: str, total: int | None = None):
    if not enabled or (total is not None and total <= 1):
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, leave=False)


def require_finite(columns: dict, what: str = "forecast", *, skip: tuple[str, ...] = ()) -> None:
    """The last guard before numbers leave the library: every value of every column is finite.

    ``columns``: name -> array (or a DataFrame); numeric columns not in ``skip`` are checked. Raises
    :class:`FitError` naming the columns, how many customers, the likely cause and what to do; a
    table with NaN or inf is never handed on (written, segmented, summed)."""
    names, bad_rows = [], None
    for name in columns:
        if name in skip:
            continue
        v = np.asarray(columns[name])
        if v.dtype.kind not in "fiu":
            continue
        bad = ~np.isfinite(v.astype(float, copy=False))
        if bad.any():
            names.append(name)
            bad_rows = bad if bad_rows is None else (bad_rows | bad)
    if not names:
        return
    n_bad, n = int(bad_rows.sum()), len(bad_rows)
    from .errors import FitError

    raise FitError(
        f"the {what} would hold NaN or infinite values in {', '.join(names)} for {n_bad} of {n} customers; "
        "refusing to return it. The models' parameter draws are where their formulas fail: typically a fit "
        "on a small base with flat or very wide priors (parameters drifting to huge values), or a model file "
        "from another source. Refit with the default priors (or proper priors via priors=), on more data, "
        "and check the fits' diagnostics")


@renamed_keywords(bgnbd_model="purchase_model", gamma_gamma_model="spend_model")
def joint_scorers(purchase_model, spend_model, max_draws: int | None = DEFAULT_SCORING_DRAWS):
    """:func:`joint_draws` as the models' scorers (:mod:`clvmodels.models.protocol`), for the engine."""
    pb, pg = joint_draws(purchase_model, spend_model, max_draws)
    return purchase_model.scorer_class.from_mapping(pb), spend_model.scorer_class.from_mapping(pg)


def joint_draws(bgnbd_model, gamma_gamma_model, max_draws: int | None = DEFAULT_SCORING_DRAWS):
    """The same number of draws from both posteriors (evenly thinned to ``max_draws``; None = as many
    as the smaller posterior has), paired by index: the two posteriors are independent, so each pair
    is a draw from the joint posterior. Returns two dicts of (S,) arrays."""
    for m in (bgnbd_model, gamma_gamma_model):
        if getattr(m, "has_covariates", False):  # its customers do not share one set of draws
            m.scorer()  # raises, saying how such a model is scored
    s_bg = bgnbd_model.posterior_.sizes["chain"] * bgnbd_model.posterior_.sizes["draw"]
    s_gg = gamma_gamma_model.posterior_.sizes["chain"] * gamma_gamma_model.posterior_.sizes["draw"]
    S = min(s_bg, s_gg, max_draws or max(s_bg, s_gg))
    return bgnbd_model.draws_(S), gamma_gamma_model.draws_(S)
