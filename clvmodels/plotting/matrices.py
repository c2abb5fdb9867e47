"""Frequency/recency matrices: the model's expected purchases and probability alive for every
(frequency, recency) of a customer of a given age T (the heat maps of the BTYD literature).

Bounded memory: cells are evaluated chunk by chunk over the grid, each chunk as a (draws x cells) block
that is reduced to its posterior mean at once; only the (frequency x recency) matrix of means is kept.
(Materialising the chain x draw x frequency x recency array of every quantity at once is what makes a
version that broadcasts everything need tens of gigabytes on a small model.)
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError
from ..draws import DEFAULT_CHUNK_BYTES, chunk_rows
from ..units import Duration
from ._common import PLOT_DRAWS, attach_data, duration_text, model_unit, new_axes, unit_label

__all__ = ["frequency_recency_matrix", "plot_frequency_recency_matrix", "plot_expected_purchases_matrix",
           "plot_p_alive_matrix"]

QUANTITIES = ("expected_purchases", "p_alive")


def _grid_from(data, T, max_frequency, max_recency, n_recency):
    if T is None:
        if data is None:
            raise InputError("give the customer age T (in the model's unit) or data= to take it from")
        T = float(np.max(data["T"].to_numpy(float)))
    T = float(T)
    if not T > 0:
        raise InputError(f"T must be positive, got {T}")
    if max_frequency is None:
        if data is None:
            raise InputError("give max_frequency or data= to take it from")
        max_frequency = int(np.max(data["frequency"].to_numpy(float)))
    max_frequency = max(1, int(max_frequency))
    max_recency = T if max_recency is None else min(float(max_recency), T)
    if n_recency is None:
        n_recency = int(min(200, np.ceil(max_recency) + 1))
    recency = np.linspace(0.0, max_recency, max(2, int(n_recency)))
    frequency = np.arange(max_frequency + 1, dtype=float)
    return T, frequency, recency


def frequency_recency_matrix(model, quantity: str = "expected_purchases", *, t=None, T=None,
                             data: pd.DataFrame | None = None, max_frequency: int | None = None,
                             max_recency: float | None = None, n_recency: int | None = None,
                             max_draws: int | None = PLOT_DRAWS,
                             budget_bytes: int = DEFAULT_CHUNK_BYTES) -> pd.DataFrame:
    """Posterior mean of ``quantity`` on a grid of frequency (rows, 0..max_frequency) and recency
    (columns, 0..max_recency in the model's unit) for a customer of age ``T``.

    ``quantity``: ``'expected_purchases'`` (in the next ``t``, default one period of the model's unit,
    e.g. '1W') or ``'p_alive'``. ``T``, ``max_frequency`` default to the largest T and frequency of
    ``data`` (a summary). Cells with frequency 0 and recency > 0 cannot occur (recency is 0 without a
    repeat purchase) and are NaN. Returns a DataFrame (index ``frequency``, columns ``recency``).

    A model with covariates has no one set of parameters: ``data`` (required then) gives the customers'
    covariate columns, and each grid point's value is the average over the customers of their cells'
    values (each cell's matrix weighted by its share of ``data``'s customers): what a customer of that
    frequency, recency and age, of the customers' own mix of covariates, is expected to do.
    """
    if quantity not in QUANTITIES:
        raise ValueError(f"quantity must be one of {QUANTITIES}, got {quantity!r}")
    unit = model_unit(model)
    T, freq, rec = _grid_from(data, T, max_frequency, max_recency, n_recency)
    h = Duration.parse(t if t is not None else (1, unit)).in_unit(unit)
    F, R = np.meshgrid(freq, rec, indexing="ij")
    f, r = F.ravel(), R.ravel()
    Tv = np.full_like(f, T)
    if getattr(model, "has_covariates", False):
        if data is None:
            raise InputError("a model with covariates: give data= (the customers, with their covariate columns): "
                             "the matrix averages over their cells")
        cell_of, models = model.cell_models(data, what="data")
        share = np.bincount(cell_of, minlength=len(models)) / len(cell_of)
    else:
        models, share = [model], np.ones(1)
    out = np.zeros(f.size)
    for m_c, w in zip(models, share):
        if w == 0:
            continue
        sc = m_c.scorer(max_draws)
        S = sc.n_draws
        step = chunk_rows(S, 2, budget_bytes)
        for j in range(0, f.size, step):
            sl = slice(j, j + step)
            if quantity == "p_alive":
                v = sc.p_alive(f[sl], r[sl], Tv[sl])
            else:
                v = sc.expected_purchases(f[sl], r[sl], Tv[sl], h)
            out[sl] += w * v.mean(axis=0)
    out[(f == 0) & (r > 0)] = np.nan
    m = pd.DataFrame(out.reshape(F.shape), index=pd.Index(freq.astype(int), name="frequency"),
                     columns=pd.Index(rec, name="recency"))
    m.attrs["clvmodels"] = {"quantity": quantity, "T": T, "t": h if quantity == "expected_purchases" else None,
                            "time_unit": unit, "n_draws": int(S), "cells": len(models)}
    return m


def plot_frequency_recency_matrix(model, quantity: str = "expected_purchases", *, t=None, T=None,
                                  data: pd.DataFrame | None = None, max_frequency: int | None = None,
                                  max_recency: float | None = None, n_recency: int | None = None,
                                  max_draws: int | None = PLOT_DRAWS, cmap: str = "viridis", ax=None):
    """Heat map of the model's expected purchases (in the next ``t``) or probability alive by
    frequency (rows, growing downwards) and recency (columns) for customers of age ``T``.

    See :func:`frequency_recency_matrix` for the arguments; the matrix drawn is kept as
    ``fig.clvmodels_data['matrix']``. Returns the matplotlib Figure.
    """
    m = frequency_recency_matrix(model, quantity, t=t, T=T, data=data, max_frequency=max_frequency,
                                 max_recency=max_recency, n_recency=n_recency, max_draws=max_draws)
    meta = m.attrs["clvmodels"]
    fig, ax = new_axes(ax, figsize=(7.0, 5.5))
    rec = m.columns.to_numpy(float)
    freq = m.index.to_numpy(float)
    # cell edges halfway between grid points
    def edges(v):
        mid = (v[1:] + v[:-1]) / 2
        return np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])

    vmin, vmax = (0.0, 1.0) if quantity == "p_alive" else (None, None)
    mesh = ax.pcolormesh(edges(rec), edges(freq), m.to_numpy(), cmap=cmap, vmin=vmin, vmax=vmax, shading="flat")
    ax.invert_yaxis()
    unit = unit_label(meta["time_unit"])
    ax.set_xlabel(f"recency: time of the last purchase ({unit} after the first)")
    ax.set_ylabel("frequency (repeat purchases)")
    if quantity == "p_alive":
        label = "probability alive"
        title = f"Probability alive by frequency and recency (T = {meta['T']:.4g} {unit})"
    else:
        nxt = duration_text(meta["t"], meta["time_unit"])
        label = f"expected purchases in the next {nxt}"
        title = f"Expected purchases in the next {nxt} (T = {meta['T']:.4g} {unit})"
    if meta.get("cells", 1) > 1:  # a model with covariates: the customers' mix of cells
        title += f"\naveraged over the customers' covariates ({meta['cells']} cells)"
    fig.colorbar(mesh, ax=ax, label=label)
    ax.set_title(title, fontsize=10)
    attach_data(fig, "matrix", m)
    return fig


def plot_expected_purchases_matrix(model, t=None, **kwargs):
    """Frequency/recency matrix of expected purchases in the next ``t`` (default one period):
    :func:`plot_frequency_recency_matrix` with ``quantity='expected_purchases'``."""
    return plot_frequency_recency_matrix(model, "expected_purchases", t=t, **kwargs)


def plot_p_alive_matrix(model, **kwargs):
    """Frequency/recency matrix of the probability that a customer is alive:
    :func:`plot_frequency_recency_matrix` with ``quantity='p_alive'``."""
    return plot_frequency_recency_matrix(model, "p_alive", **kwargs)
