"""Conditional expectations: mean holdout purchases by calibration frequency, actual against the
model (Fader, Hardie & Lee 2005, fig. 3).

Customers are binned by their number of repeat purchases in the calibration period (0, 1, ...,
``max_frequency - 1`` and ``max_frequency+``). For each bin the plot shows the actual mean number of
purchases in the holdout period and the model's conditional expectation ``E[Y(t) | x, t_x, T]`` (FHL
eq. 10) averaged over the bin, with a credible interval of that bin mean taken over posterior draws.

Bounded memory: the expectation is evaluated per distinct (frequency, recency, T) triplet and posterior
draw, chunk by chunk over triplets, and each chunk is immediately reduced to per-draw bin sums.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError
from ..models.transaction import check_transaction_data
from ..draws import DEFAULT_CHUNK_BYTES, chunk_rows, distinct
from ._common import PLOT_DRAWS, attach_data, duration_text, model_unit, new_axes, pct, quantiles

__all__ = ["conditional_expectations_data", "plot_conditional_expectations", "holdout_length"]


def holdout_length(summary: pd.DataFrame) -> float:
    """The (single) holdout length of a calibration/holdout summary, in the summary's unit."""
    for c in ("frequency_holdout", "duration_holdout"):
        if c not in summary.columns:
            raise InputError(f"this needs the holdout column '{c}': build the summary with "
                             "clvmodels.summarize(..., calibration_end=...)")
    lengths = np.unique(summary["duration_holdout"].to_numpy(float))
    if len(lengths) != 1:
        raise InputError(f"holdout lengths differ between customers ({lengths[:5]}...); use one split at a time")
    return float(lengths[0])


def frequency_bins(frequency: np.ndarray, max_frequency: int) -> tuple[np.ndarray, list[str]]:
    """Bin index per customer (0..max_frequency, the last bin open-ended) and the bin labels."""
    if int(max_frequency) < 1:
        raise ValueError("max_frequency must be at least 1")
    m = int(max_frequency)
    idx = np.minimum(np.asarray(frequency, dtype=float), m).astype(np.int64)
    labels = [str(k) for k in range(m)] + [f"{m}+"]
    return idx, labels


def conditional_expectations_data(model, summary: pd.DataFrame, *, max_frequency: int = 7,
                                  interval: float = 0.9, max_draws: int | None = PLOT_DRAWS,
                                  budget_bytes: int = DEFAULT_CHUNK_BYTES) -> pd.DataFrame:
    """Mean holdout purchases by calibration frequency, actual and predicted.

    ``summary``: a calibration/holdout summary (``clvmodels.summarize(..., calibration_end=...)``) of the
    customers the model was fitted on. Returns one row per frequency bin (index ``frequency``: '0', '1',
    ..., '7+') with ``n_customers``, ``actual`` (mean holdout purchases), ``expected`` (posterior mean of
    the bin's mean conditional expectation), ``expected_lower``, ``expected_upper`` (central credible
    interval at ``interval``) and the bin totals ``actual_total`` and ``expected_total``.
    """
    model_unit(model)
    check_transaction_data(summary, "summary")
    h = holdout_length(summary)
    x = summary["frequency"].to_numpy(float)
    tx = summary["recency"].to_numpy(float)
    T = summary["T"].to_numpy(float)
    y = summary["frequency_holdout"].to_numpy(float)
    bins, labels = frequency_bins(x, max_frequency)
    nb = len(labels)
    n_bin = np.bincount(bins, minlength=nb).astype(float)
    actual_total = np.bincount(bins, weights=y, minlength=nb)
    # a model with covariates: each cell of customers with its own parameters, the per-draw bin sums
    # added over cells before any mean or quantile (draw s is the same joint draw in every cell)
    cell_of, cell_models = model.cell_models(summary, what="summary")
    sums = None
    for c, cm in enumerate(cell_models):
        rows = cell_of == c
        if not rows.any():
            continue
        d = distinct(x[rows], tx[rows], T[rows])
        # one-hot weights: customers of each distinct triplet per bin (a triplet has one frequency, one bin)
        trip_bin = np.minimum(d.keys[0], int(max_frequency)).astype(np.int64)
        sc = cm.scorer(max_draws)
        S = sc.n_draws
        sums = np.zeros((S, nb)) if sums is None else sums
        step = chunk_rows(S, 2, budget_bytes)
        for j in range(0, len(d), step):
            sl = slice(j, j + step)
            e = sc.expected_purchases(d.keys[0][sl], d.keys[1][sl], d.keys[2][sl], h)
            w = np.zeros((e.shape[1], nb))
            w[np.arange(e.shape[1]), trip_bin[sl]] = d.counts[sl]
            sums += e @ w
    if sums is None:  # no customers: nothing to sum
        S = model.reference_model().scorer(max_draws).n_draws
        sums = np.zeros((S, nb))
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / n_bin
        lo, hi = quantiles(means, interval)
        out = pd.DataFrame({"n_customers": n_bin.astype(np.int64), "actual": actual_total / n_bin,
                            "expected": means.mean(axis=0), "expected_lower": lo, "expected_upper": hi,
                            "actual_total": actual_total, "expected_total": sums.mean(axis=0)},
                           index=pd.Index(labels, name="frequency"))
    out.attrs["clvmodels"] = {"holdout_length": h, "time_unit": model.time_unit_,
                              "interval": interval, "n_draws": int(S)}
    return out


def plot_conditional_expectations(model, summary: pd.DataFrame, *, max_frequency: int = 7,
                                  interval: float = 0.9, max_draws: int | None = PLOT_DRAWS, ax=None):
    """Mean holdout purchases by number of calibration repeat purchases: actual (line) against the
    model's conditional expectation with its credible interval (FHL 2005, fig. 3).

    The number of customers in each bin is printed under its tick. See
    :func:`conditional_expectations_data` for the arguments and the numbers drawn (also kept as
    ``fig.clvmodels_data['conditional_expectations']``). Returns the matplotlib Figure.
    """
    data = conditional_expectations_data(model, summary, max_frequency=max_frequency,
                                          interval=interval, max_draws=max_draws)
    meta = data.attrs["clvmodels"]
    fig, ax = new_axes(ax)
    xs = np.arange(len(data))
    ax.fill_between(xs, data["expected_lower"], data["expected_upper"], color="C1", alpha=0.3, linewidth=0,
                    label=f"model, {pct(interval)} credible interval")
    ax.plot(xs, data["expected"], color="C1", linestyle="--", marker="s", label="model (BG/NBD)")
    ax.plot(xs, data["actual"], color="C0", marker="o", label="actual")
    ax.set_xticks(xs, [f"{lab}\n(n={n:,})" for lab, n in zip(data.index, data["n_customers"])], fontsize=8)
    ax.set_xlabel("repeat purchases in the calibration period (customers per bin)")
    ax.set_ylabel(f"mean purchases in the holdout ({duration_text(meta['holdout_length'], meta['time_unit'])})")
    ax.set_title("Conditional expectations: holdout purchases by calibration frequency")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    attach_data(fig, "conditional_expectations", data)
    return fig
