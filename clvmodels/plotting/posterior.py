"""Posterior and trace plots of a fitted model's parameters, with its sampler diagnostics.

The densities and traces are drawn by ArviZ (``arviz_plots``, matplotlib backend); each panel's title
adds the parameter's R-hat and bulk/tail effective sample size, and the figure's title the fit method,
draws, divergences and any problem the diagnostics found (R-hat above 1.01, too few effective draws,
divergent transitions). After a MAP fit the draws come from a Laplace approximation, not a sampler,
so there are no sampler diagnostics and the title says so.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..draws import interval_bounds
from ._common import attach_data, new_axes_row, pct

__all__ = ["plot_trace", "plot_posterior", "plot_posterior_comparison", "diagnostics_text"]


def _names(model, var_names) -> list[str]:
    model._check_fitted()
    names = list(model.param_names) if var_names is None else [var_names] if isinstance(var_names, str) else list(var_names)
    unknown = [v for v in names if v not in model.param_names]
    if unknown:
        raise ValueError(f"{type(model).__name__} has no parameter {unknown[0]!r}; its parameters: {list(model.param_names)}")
    return names


def _param_label(model, name: str) -> str:
    d = model.diagnostics_
    if d.method != "nuts":  # no sampler: no R-hat or ESS to show
        return name
    return f"{name}   R-hat {d.r_hat.get(name, np.nan):.3f}   ESS bulk {d.ess_bulk.get(name, np.nan):,.0f}" \
           f" / tail {d.ess_tail.get(name, np.nan):,.0f}"


def diagnostics_text(model, *, status: bool = True) -> str:
    """One line describing the fit and its diagnostics (used in figure titles and the report);
    ``status=False`` leaves out the verdict ("diagnostics ok" or the problems), for a caller that
    shows it itself."""
    d = model.diagnostics_
    name = type(model).__name__
    if d.method == "map":
        head = f"{name}: MAP with a Laplace approximation ({d.draws:,} draws; no sampler diagnostics)"
    elif d.method == "mode":
        head = (f"{name}: the posterior mode alone (method 'mode': predictions plugged in at it, no parameter "
                "uncertainty; no R-hat or ESS, nothing was sampled)")
    elif d.method == "fixed":
        head = (f"{name}: parameter values given (from_params, {d.draws:,} draw{'s' if d.draws != 1 else ''}), "
                "not fitted: no R-hat or ESS")
    else:
        head = (f"{name}: NUTS ({d.sampler}), {d.chains} chains x {d.draws:,} draws, "
                f"{d.divergences} divergences, {d.seconds:.1f} s")
    if not status:
        return head
    verdict = "diagnostics ok" if d.ok else "PROBLEMS: " + "; ".join(d.problems)
    return f"{head} - {verdict}"


def _finish(fig, model, pc, names):
    try:
        fig.set_layout_engine("constrained")
    except RuntimeError:  # a figure with colorbars cannot switch engines; keep its layout
        pass
    fig.suptitle(diagnostics_text(model), fontsize=9, color="black" if model.diagnostics_.ok else "C3")
    attach_data(fig, "diagnostics", model.diagnostics_.to_dict())
    attach_data(fig, "summary", model.summary())
    attach_data(fig, "plot_collection", pc)
    attach_data(fig, "var_names", names)
    return fig


def plot_trace(model, *, var_names: Sequence[str] | str | None = None, compact: bool = True, figsize=None):
    """Trace plot: per parameter, the posterior density of each chain (left) and the draws in sampling
    order (right), drawn by ArviZ's ``plot_trace_dist``; titles carry R-hat and ESS, the figure title
    the method, divergences and any diagnostic problem.

    Well-mixed chains overlap in the densities and look like stationary noise in the traces.
    ``model``: a fitted :class:`~clvmodels.BetaGeoModel` or :class:`~clvmodels.GammaGammaModel`.
    Returns the matplotlib Figure (ArviZ lays out its own grid, so no ``ax`` argument).
    """
    import arviz_plots as azp

    names = _names(model, var_names)
    figsize = figsize or (10.0, 1.9 * len(names) + 0.8)
    pc = azp.plot_trace_dist(model.idata(), var_names=names, compact=compact, backend="matplotlib",
                             figure_kwargs={"figsize": figsize})
    fig = pc.viz["figure"].item()
    for v in names:
        ax_dist = pc.viz["plot"][v].sel(column="dist").item()
        ax_dist.set_title(_param_label(model, v), fontsize=8)
        pc.viz["plot"][v].sel(column="trace").item().set_title("")
    return _finish(fig, model, pc, names)


def plot_posterior(model, *, var_names: Sequence[str] | str | None = None, interval: float = 0.9,
                   reference: Mapping[str, float] | None = None, figsize=None):
    """Posterior density of each parameter with its mean and central credible interval (ArviZ's
    ``plot_dist``), R-hat and ESS in the titles, and optional ``reference`` values (e.g. published
    maximum-likelihood estimates) drawn as vertical lines. Returns the matplotlib Figure.
    """
    import arviz_plots as azp

    names = _names(model, var_names)
    interval_bounds(interval)
    cols = 2 if len(names) == 4 else min(3, len(names))
    rows = -(-len(names) // cols)
    figsize = figsize or (4.0 * cols, 2.6 * rows + 0.6)
    pc = azp.plot_dist(model.idata(), var_names=names, ci_prob=interval, ci_kind="eti", point_estimate="mean",
                       backend="matplotlib", col_wrap=cols, figure_kwargs={"figsize": figsize})
    fig = pc.viz["figure"].item()
    for v in names:
        ax = pc.viz["plot"][v].item()
        ax.set_title(_param_label(model, v), fontsize=8)
        if reference and v in reference:
            ax.axvline(float(reference[v]), color="C3", linestyle="--", linewidth=1)
            ax.annotate(f"reference {float(reference[v]):.4g}", xy=(float(reference[v]), 0.95),
                        xycoords=("data", "axes fraction"), fontsize=7, color="C3", ha="left")
    fig.supxlabel(f"bar: {pct(interval)} equal-tailed credible interval; point: posterior mean", fontsize=8)
    return _finish(fig, model, pc, names)


def plot_posterior_comparison(models: Mapping[str, object], *, var_names: Sequence[str] | str | None = None,
                              interval: float = 0.9, bins: int = 40, axes=None):
    """Posterior densities of the same parameters under several fits (e.g. different priors, or NUTS
    against MAP), one panel per parameter, one histogram per fit, with each fit's central interval as
    a bar under the densities (a circle at its mean; one row per fit, in the legend's order).
    ``models``: ``{label: fitted model}``. Returns the matplotlib Figure; the
    per-fit summaries are kept as ``fig.clvmodels_data['summaries']``.
    """
    if not models:
        raise ValueError("give at least one fitted model")
    first = next(iter(models.values()))
    names = _names(first, var_names)
    fig, axs = new_axes_row(len(names), axes, figsize=(3.2 * len(names), 3.6))
    lo_q, hi_q = interval_bounds(interval)
    rows = []
    tops = np.zeros(len(names))
    for i, (label, m) in enumerate(models.items()):
        draws = m.draws_()
        for j, (ax, v) in enumerate(zip(axs, names)):
            x = draws[v]
            dens, _, _ = ax.hist(x, bins=bins, density=True, histtype="step", color=f"C{i}", label=label)
            tops[j] = max(tops[j], float(np.max(dens)))
            lo, hi = np.quantile(x, [lo_q, hi_q])
            rows.append({"fit": label, "parameter": v, "mean": float(x.mean()), "lower": float(lo), "upper": float(hi)})
    # the interval bars go in a strip below the densities, inside the axes (in data units, so nothing
    # draws them outside the plotting area where they would be clipped away): one row per fit
    n = len(models)
    for j, (ax, v) in enumerate(zip(axs, names)):
        step = 0.08 * tops[j]
        for i, label in enumerate(models):
            r = next(r for r in rows if r["fit"] == label and r["parameter"] == v)
            y = -step * (i + 1)
            ax.plot([r["lower"], r["upper"]], [y, y], color=f"C{i}", linewidth=3, solid_capstyle="butt",
                    label="_interval")
            ax.plot([r["mean"]], [y], "o", color="white", markeredgecolor=f"C{i}", markersize=4, label="_mean")
        ax.set_ylim(-step * (n + 0.7), tops[j] * 1.05)
        ax.axhline(0, color="0.6", linewidth=0.6)
        ax.set_title(v)
        ax.set_yticks([])
    axs[0].legend(fontsize=8, frameon=False)
    fig.suptitle(f"Posterior under {len(models)} fits (bars below: {pct(interval)} equal-tailed intervals, "
                 "circles: means)", fontsize=10)
    attach_data(fig, "summaries", pd.DataFrame(rows))
    return fig
