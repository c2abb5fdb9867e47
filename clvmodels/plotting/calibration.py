"""Are the predictive intervals calibrated? Figures for a calibration/holdout split.

- :func:`plot_pit` (numbers: :func:`pit_data`): histogram of the non-randomized probability
  integral transform (PIT) of each customer's actual holdout count under her posterior predictive
  distribution (Czado, Gneiting & Held 2009; :mod:`clvmodels.validation.pit`): each customer's unit of
  mass is spread uniformly over (F(y-1), F(y)), so the same data always draw the same histogram. Flat
  when the predictive distributions are right, U-shaped when the intervals are too narrow,
  hump-shaped when too wide.
- :func:`plot_interval_coverage`: for several interval levels, the share of customers whose actual
  holdout count falls inside the central predictive interval, against the nominal level and against
  the mass the model itself puts inside its (discrete, so wider than nominal) intervals.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from ..models.transaction import check_transaction_data
from ..draws import DEFAULT_CHUNK_BYTES, chunk_rows, distinct, interval_bounds
from ._common import PLOT_DRAWS, attach_data, model_unit, new_axes
from .conditional import holdout_length

__all__ = ["plot_pit", "pit_data", "interval_coverage_data", "plot_interval_coverage"]

#: distinct triplets per block of the coverage computation (each block's pmf is (rows x counts))
_BLOCK = 2000


def predictive_pmf_rows(scorer, x, tx, T, t, budget_bytes: int = DEFAULT_CHUNK_BYTES) -> np.ndarray:
    """Posterior predictive P(Y(t) = k | x, t_x, T), k = 0..K, per row: the mixture over the draws of a
    purchase model's ``scorer`` (``model.scorer(max_draws)``) of the exact conditional distribution. K
    is the largest per-row count with predictive tail mass above 1e-10; rows are processed in chunks so
    draws x rows x counts stays under ``budget_bytes``."""
    S = scorer.n_draws
    K = int(np.max(scorer.count_upper_bound(x, tx, T, t)))
    out = np.empty((len(x), K + 1))
    step = chunk_rows(S, K + 1, budget_bytes)
    for j in range(0, len(x), step):
        sl = slice(j, j + step)
        out[sl] = scorer.purchases_pmf(x[sl], tx[sl], T[sl], t, K).mean(axis=0)
    return out


def _pit_intervals(validation) -> tuple[np.ndarray, np.ndarray]:
    """(F(y-1), F(y)) per customer from a validation result, its table, a pair of arrays, or plain PIT
    values (continuous, or randomized: each a point mass, F(y-1) = F(y))."""
    if isinstance(validation, dict):
        validation = validation.get("table")
    if isinstance(validation, pd.DataFrame):
        if {"cdf_below", "cdf_at"} <= set(validation.columns):
            return validation["cdf_below"].to_numpy(float), validation["cdf_at"].to_numpy(float)
        if "pit" in validation.columns:
            v = validation["pit"].to_numpy(float)
            return v, v
        raise InputError("the table has no 'cdf_below'/'cdf_at' columns: use the result of "
                         "clvmodels.validation.validate_purchases")
    if validation is None:
        raise InputError("expected the result of clvmodels.validation.validate_purchases (or its table)")
    if isinstance(validation, tuple) and len(validation) == 2:
        return np.asarray(validation[0], dtype=float), np.asarray(validation[1], dtype=float)
    v = np.asarray(validation, dtype=float)
    return v, v


def pit_data(validation, *, bins: int = 10, band: float = 0.99) -> pd.DataFrame:
    """The numbers :func:`plot_pit` draws: one row per PIT bin with ``left``, ``right``, ``mass``,
    ``customers`` (the bin's share of customers' PIT mass, times the number of customers),
    ``expected`` (n / bins) and ``lower``/``upper`` (the band). ``attrs["clvmodels"]``: ``chi2``,
    ``pvalue`` (the conservative chi-square test), ``n_customers``, ``band``. See
    :func:`clvmodels.validation.pit.pit_histogram`."""
    from ..validation.pit import pit_histogram

    lo, hi = _pit_intervals(validation)
    keep = np.isfinite(lo) & np.isfinite(hi)
    if not keep.any():
        raise InputError("no PIT values to plot")
    return pit_histogram(lo[keep], hi[keep], bins=bins, band=band)


def plot_pit(validation, *, bins: int = 10, band: float = 0.99, ax=None):
    """Histogram of the non-randomized PIT of the actual holdout counts (Czado, Gneiting & Held
    2009), drawn as outlines in front of the uniform reference (dashed) and the ``band`` range of a
    bin's count under calibration (grey; binomial: conservative, since spreading each customer's mass
    over her PIT interval makes the bins vary less than counts of single values; with 10 bins at 99%
    all ten fall inside with probability at least 90%, by Bonferroni); bins outside the range are
    marked in red (``outside_band`` in ``fig.clvmodels_data['pit']``). ``validation``: the dict returned by
    :func:`clvmodels.validation.validate_purchases`, its ``table`` (``cdf_below``, ``cdf_at``), a
    pair of arrays ``(cdf_below, cdf_at)``, or plain PIT values (each drawn as a point mass). The
    chi-square p-value of uniformity (:func:`clvmodels.validation.pit.pit_chi2`, conservative) is in
    the title. The same data give the same figure whatever the seed. Returns the matplotlib Figure.
    """
    data = pit_data(validation, bins=bins, band=band)
    info = data.attrs["clvmodels"]
    edges = np.append(data["left"].to_numpy(), data["right"].iloc[-1])
    counts = data["customers"].to_numpy()
    lower, upper, expected = data["lower"].iloc[0], data["upper"].iloc[0], data["expected"].iloc[0]
    outside = (counts < lower) | (counts > upper)
    fig, ax = new_axes(ax)
    # the band and the uniform line behind, the bars as outlines in front: a filled block from zero would
    # hide the only part that matters, the bar tops against the band
    ax.axhspan(lower, upper, color="0.82", zorder=1,
               label=f"{band:.0%} range of a bin under calibration (all {len(counts)} inside: "
                     f"at least {max(0.0, 1 - len(counts) * (1 - band)):.0%})")
    ax.axhline(expected, color="0.3", linestyle="--", linewidth=1, zorder=2, label=f"uniform ({expected:,.0f} per bin)")
    ax.stairs(counts, edges, color="C0", linewidth=1.8, zorder=3, label="customers per PIT bin (mass spread)")
    if outside.any():
        mids = 0.5 * (edges[:-1] + edges[1:])
        ax.plot(mids[outside], counts[outside], "o", color="C3", zorder=4, linestyle="none",
                label=f"outside the range ({int(outside.sum())} bin{'s' if outside.sum() != 1 else ''})")
    ax.set_ylim(0, max(float(np.max(counts)), upper) * 1.35)   # headroom for the legend above the bars
    pval = info["pvalue"]
    ax.set_xlim(0, 1)
    ax.set_xlabel("PIT of the actual holdout count (non-randomized)")
    ax.set_ylabel("customers")
    ax.set_title(f"Predictive calibration (PIT): chi-square p = {pval:.3g}", fontsize=10)
    ax.legend(fontsize=8, frameon=False, loc="upper center")
    attach_data(fig, "pit", data.assign(outside_band=outside))
    attach_data(fig, "pvalue", pval)
    return fig


def interval_coverage_data(model, summary: pd.DataFrame, *, levels: Sequence[float] = (0.5, 0.8, 0.9, 0.95),
                           max_draws: int | None = PLOT_DRAWS) -> pd.DataFrame:
    """Coverage of the central predictive intervals of the holdout counts at each level.

    Intervals are those of :meth:`BetaGeoModel.purchases_interval` (smallest counts whose predictive
    CDF reaches each tail), computed once per distinct (frequency, recency, T) from the posterior
    predictive distribution, block by block. Returns one row per level with ``coverage`` (share of
    customers whose actual count lies inside), ``expected_coverage`` (mean predictive mass inside:
    what a calibrated model would show) and ``n_customers``.
    """
    model_unit(model)
    check_transaction_data(summary, "summary")
    h = holdout_length(summary)
    levels = [float(v) for v in levels]
    bounds = [interval_bounds(v) for v in levels]
    y = summary["frequency_holdout"].to_numpy(float).astype(np.int64)
    d = distinct(summary["frequency"].to_numpy(float), summary["recency"].to_numpy(float),
                 summary["T"].to_numpy(float))
    scorer = model.scorer(max_draws)
    # rows in order of frequency, so each block's largest count (its pmf width) stays small
    order = np.argsort(d.keys[0], kind="stable")
    L = len(levels)
    lower = np.empty((len(d), L), dtype=np.int64)
    upper = np.empty((len(d), L), dtype=np.int64)
    mass = np.empty((len(d), L))
    for j in range(0, len(d), _BLOCK):
        sl = order[j:j + _BLOCK]
        pmf = predictive_pmf_rows(scorer, d.keys[0][sl], d.keys[1][sl], d.keys[2][sl], h)
        cdf = np.cumsum(pmf, axis=1)
        ks = np.arange(pmf.shape[1])
        for i, (lo_q, hi_q) in enumerate(bounds):
            lo = np.argmax(cdf >= lo_q - 1e-12, axis=1)
            hi = np.argmax(cdf >= hi_q - 1e-12, axis=1)
            lower[sl, i], upper[sl, i] = lo, hi
            inside = (ks[None, :] >= lo[:, None]) & (ks[None, :] <= hi[:, None])
            mass[sl, i] = (pmf * inside).sum(axis=1)
    lo_c, hi_c = lower[d.inverse], upper[d.inverse]
    covered = (y[:, None] >= lo_c) & (y[:, None] <= hi_c)
    out = pd.DataFrame({"coverage": covered.mean(axis=0), "expected_coverage": mass[d.inverse].mean(axis=0),
                        "n_customers": len(y)}, index=pd.Index(levels, name="level"))
    out.attrs["clvmodels"] = {"holdout_length": h, "n_draws": scorer.n_draws}
    return out


def plot_interval_coverage(model, summary: pd.DataFrame, *, levels: Sequence[float] = (0.5, 0.8, 0.9, 0.95),
                           max_draws: int | None = PLOT_DRAWS, ax=None):
    """Actual coverage of the holdout counts by the central predictive intervals at several levels,
    against the nominal level (diagonal) and the model's own expected coverage. Points on the
    expected-coverage line mean calibrated intervals; below it, intervals too narrow. See
    :func:`interval_coverage_data`. Returns the matplotlib Figure."""
    data = interval_coverage_data(model, summary, levels=levels, max_draws=max_draws)
    fig, ax = new_axes(ax, figsize=(5.5, 5.0))
    lv = data.index.to_numpy(float)
    ax.plot([0, 1], [0, 1], color="0.6", linestyle=":", linewidth=1, label="nominal level")
    ax.plot(lv, data["expected_coverage"], color="C1", linestyle="--", marker="s", label="expected by the model")
    ax.plot(lv, data["coverage"], color="C0", marker="o", label="actual holdout coverage")
    ax.set_xlim(min(lv.min(), 0.4) - 0.05, 1.0)
    ax.set_ylim(min(lv.min(), 0.4) - 0.05, 1.0)
    ax.set_xlabel("interval level")
    ax.set_ylabel("share of customers inside their interval")
    ax.set_title(f"Predictive interval coverage ({data['n_customers'].iloc[0]:,} customers)", fontsize=10)
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    attach_data(fig, "coverage", data)
    return fig
