"""Scoring: the forecast table for a customer summary from fitted models.

:func:`score` is the one function the notebook API (:func:`clvmodels.forecast`), the CLI
(``clv forecast``) and the Spark scorer (per partition) call, so all three give the same numbers.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .._renamed import renamed_keywords
from . import arrays as engine
from ..errors import InputError
from ..draws import DEFAULT_SCORING_DRAWS, interval_bounds, joint_scorers
from ..units import Duration, discount_rate_per_period
from ..value.clv import _per_customer, _periods, add_cac_columns, check_models_and_data
from ..value.segments import value_segments
from ..value.spend import SuppliedSpend, describe_spend, supplied_spend_values

#: what a forecast without amounts (and without a supplied spend) leaves out, and how to get it
NO_AMOUNTS_NOTE = ("no amounts: CLV columns left out; give --amount COL or --spend FILE for CLV (Python: amount=COL "
                   "or spend=...); no segments either (they rank customers by value)")

#: the fixed columns of the forecast table, in order (plain names are posterior means)
FORECAST_COLUMNS = [
    "customer_id", "frequency", "recency", "T", "monetary_value", "historical_clv", "last_purchase",
    "p_alive", "p_alive_lower", "p_alive_upper",
    "p_any_purchase", "p_any_purchase_lower", "p_any_purchase_upper",
    "expected_purchases", "expected_purchases_lower", "expected_purchases_upper",
    "purchases_lower", "purchases_upper",
    "expected_spend", "expected_spend_lower", "expected_spend_upper",
    "clv", "clv_lower", "clv_upper", "segment",
]


@renamed_keywords(bgnbd_model="purchase_model", gamma_gamma_model="spend_model")
def score(summary: pd.DataFrame, purchase_model, spend_model, horizon, *, discount_rate: float = 0.0,
          margin=1.0, cost_to_serve=0.0, acquisition_cost=None, interval: float = 0.9,
          max_draws: int | None = DEFAULT_SCORING_DRAWS, segment_options: dict | None = None, progress: bool = False,
          segment_summary: bool = False, spend=None) -> pd.DataFrame:
    """The forecast table: one row per customer of ``summary`` (indexed by customer_id) with
    :data:`FORECAST_COLUMNS` (plus CAC columns when ``acquisition_cost`` is given).

    ``horizon`` (e.g. '52W') is both the window of the purchase predictions and the CLV horizon.
    ``p_any_purchase`` is P(at least one purchase in the horizon | data) = 1 - P(X(h) = 0 | data); every
    column's meaning and unit: :func:`column_descriptions`. ``last_purchase`` (date) is copied from the
    summary when it has one (:func:`clvmodels.summarize` gives it).
    Every column comes from the same ``max_draws`` joint posterior draws (default 1,000, evenly thinned;
    None = all) in one pass of :func:`clvmodels.scoring.arrays.score_arrays`.

    Refuses (:class:`~clvmodels.errors.UnitError`) a summary whose recorded time unit
    (``summary.attrs["clvmodels"]["time_unit"]``) is not the models'; a summary without one is trusted.
    Every customer is scored: those first seen at the end of the period (T = 0) as new customers, those
    whose repeat purchases are all worth 0 with the spend expectation at a mean spend of 0. No column
    of the table ever holds NaN or inf: :class:`~clvmodels.errors.FitError` instead, naming the columns.

    ``segment_summary``: also put :func:`segment_summary_from_draws`'s per-segment summary (customers,
    total and mean CLV with intervals from the joint draws, total historical value) in
    ``table.attrs["clvmodels_segments"]``. The interval of a segment's total needs the total at every
    draw, which needs the segments, which need every customer's CLV: so it costs a second pass of the
    CLV computation (without the count intervals), accumulating per-draw totals per segment (memory:
    segments x draws).

    ``spend``: a known spend per purchase (currency) instead of a spend model (``spend_model=None``):
    one number, a column name of ``summary`` or a Series by customer id, refused (naming the customers)
    when missing, NaN, negative or infinite (:func:`clvmodels.value.spend.supplied_spend_values`). The
    CLV is then the discounted expected purchases at the purchase model's draws x the given spend x
    margin - costs; ``expected_spend`` is the value given (its interval is that point) and the CLV
    interval carries the purchase model's uncertainty only. ``table.attrs["clvmodels_clv"]["spend"]``
    says where the spend came from.

    ``spend_model=None`` and no ``spend``: the purchases only (e.g. a summary without amounts): the
    purchase columns (P(alive), P(any purchase), expected purchases and the count interval, with their
    intervals), no spend, CLV or segment columns (there is no value to rank customers by); ``margin``,
    ``cost_to_serve`` and ``acquisition_cost`` must then be left at their defaults.
    """
    bg, gg = purchase_model, spend_model
    if spend is not None and gg is not None:
        raise ValueError("give a spend model or spend (a known spend per customer), not both")
    with_clv = gg is not None or spend is not None
    if not with_clv:
        _check_purchases_only_options(margin, cost_to_serve, acquisition_cost)
    check_models_and_data(bg, gg, summary, "data to score")
    cells = _model_cells(bg, gg, summary)  # models with covariates: checked here, before any work
    if "historical_clv" in summary.columns:  # copied into the table: it must be finite too
        hist = pd.to_numeric(summary["historical_clv"], errors="coerce").to_numpy(float)
        if not np.isfinite(hist).all():
            raise InputError(f"column 'historical_clv' has {int((~np.isfinite(hist)).sum())} missing or non-finite "
                             "values (build the summary with clvmodels.summarize)", what="data to score")
    h = bg._horizon(horizon)
    k0, H = _periods(bg, horizon, None)
    i = discount_rate_per_period(discount_rate, bg.time_unit_)
    d = 1.0 / (1.0 + i)
    margins = _per_customer(margin, summary, "margin")
    costs = _per_customer(cost_to_serve, summary, "cost_to_serve")
    given = None
    if cells is not None:  # one set of parameters per cell of customers: scorers per cell (_score_cells)
        purchases = None
        spend_scorer = values = None
        if gg is not None:
            values = (gg.spend_values(summary) if hasattr(gg, "spend_values")
                      else summary["monetary_value"].to_numpy(float))
        elif spend is not None:
            given = values = supplied_spend_values(spend, summary)
    elif gg is not None:
        purchases, spend_scorer = joint_scorers(bg, gg, max_draws)
        # the spend statistic the spend model scores (Gamma-Gamma: mean of the repeat purchases, or of all
        # occasions with first_purchase=True)
        values = (gg.spend_values(summary) if hasattr(gg, "spend_values")
                  else summary["monetary_value"].to_numpy(float))
    else:  # the purchase model's draws alone, thinned as joint_scorers thins them
        given = None if spend is None else supplied_spend_values(spend, summary)
        purchases = bg.scorer(max_draws)
        spend_scorer = None if spend is None else SuppliedSpend(purchases.n_draws)
        values = given
    x = summary["frequency"].to_numpy(float)
    args = (purchases, spend_scorer, x, summary["recency"].to_numpy(float), summary["T"].to_numpy(float), values)
    kw = dict(h=h, k0=k0, H=H, discount_factor=d, margin=margins, cost=costs, interval=interval, clv=with_clv)
    if cells is not None:
        arr, n_draws = _score_cells(cells, args, kw, max_draws, spend is not None, progress=progress)
    else:
        arr = engine.score_arrays(*args, **kw, progress=progress)
        n_draws = purchases.n_draws
    # the summary's own columns, as far as it has them (a summary without amounts has no money columns)
    base_cols = [c for c in ("frequency", "recency", "T", "monetary_value", "historical_clv") if c in summary.columns]
    table = summary[base_cols].copy()
    if "last_purchase" in summary.columns:  # the date, as summarize() gives it (a summary may not have it)
        table["last_purchase"] = pd.to_datetime(summary["last_purchase"]).astype("datetime64[ns]")
    for c in FORECAST_COLUMNS:
        if c in arr:
            table[c] = arr[c]
    for c in _covariate_columns(bg, gg, summary):  # after the fixed columns (extra, in the order given)
        if c not in table.columns:
            table[c] = summary[c].to_numpy()
    if given is not None:  # the value given, exactly (the engine's mean over draws adds rounding)
        table["expected_spend"] = table["expected_spend_lower"] = table["expected_spend_upper"] = given
    if acquisition_cost is not None:
        add_cac_columns(table, _per_customer(acquisition_cost, summary, "acquisition_cost"))
    if with_clv:  # segments rank customers by value: none without it
        table["segment"] = value_segments(table, **(segment_options or {}))
    table.index.name = "customer_id"
    table = table.reset_index()
    cols = [c for c in FORECAST_COLUMNS if c in table.columns]
    extra = [c for c in table.columns if c not in cols]
    out = table[cols + extra]
    engine.require_finite(out, "forecast table", skip=("customer_id",))
    if segment_summary and with_clv:
        codes = table["segment"].cat.codes.to_numpy().astype(np.int64)
        if cells is not None:
            totals = _score_cells(cells, args, kw, max_draws, spend is not None, groups=codes)
        else:
            totals = engine.score_arrays(*args, **kw, counts=False, groups=codes)["group_clv_draws"]
        out.attrs["clvmodels_segments"] = segment_summary_from_draws(out, totals, interval)
    out.attrs["clvmodels_clv"] = {"horizon": str(Duration.parse(horizon)), "start": None,
                                  "discount_rate_annual": discount_rate, "discount_rate_per_period": i,
                                  "interval": interval, "n_draws": n_draws,
                                  "spend": (describe_spend(spend, given) if with_clv
                                            else {"source": None, "note": NO_AMOUNTS_NOTE})}
    return out


def _model_cells(bg, gg, summary, what: str = "data to score"):
    """Models with covariates: [(positions, purchase model, spend model), ...], one entry per cell of
    customers that share every parameter (:meth:`~clvmodels.models.transaction.TransactionModel.cell_models`:
    their covariates are checked here, naming the column and customers, errors saying ``what``); None when
    neither has any. Also the spend validation's (:func:`clvmodels.validation.spend.validate_spend`)."""
    pc = getattr(bg, "has_covariates", False)
    gc = gg is not None and getattr(gg, "has_covariates", False)
    if not (pc or gc):
        return None
    n = len(summary)
    p_of, p_models = bg.cell_models(summary, what=what) if pc else (np.zeros(n, np.int64), [bg])
    g_of, g_models = gg.cell_models(summary, what=what) if gc else (np.zeros(n, np.int64), [gg])
    key = p_of * len(g_models) + g_of
    return [(np.flatnonzero(key == k), p_models[k // len(g_models)], g_models[k % len(g_models)])
            for k in np.unique(key)]


def covariate_columns(*models) -> list[str]:
    """The covariate columns of fitted models (their designs), in order, each once: the forecast table's
    covariate columns, after the fixed ones."""
    out: list[str] = []
    for m in models:
        design = getattr(m, "covariates_", None) if m is not None else None
        if design is not None:
            out += [c for c in design.covariates if c not in out]
    return out


def _covariate_columns(bg, gg, summary) -> list[str]:
    return [c for c in covariate_columns(bg, gg) if c in summary.columns]


def _score_cells(cells, args, kw, max_draws, supplied: bool, *, groups=None, progress: bool = False):
    """The scoring computation cell by cell, each with its own models' scorers (the same thinned draws:
    every cell model has its model's posterior shape, so draw s is the same joint draw in every cell).
    Per-customer arrays are put back in the customers' order; with ``groups`` (codes per customer) the
    per-draw CLV totals of each group are summed over cells (before any quantile is taken), (G, S)."""
    _, _, x, rec, T, values = args
    n = len(x)
    out: dict[str, np.ndarray] = {}
    totals = None
    n_draws = 0
    for pos, pm, sm in cells:
        if sm is not None:
            purchases, spend_scorer = joint_scorers(pm, sm, max_draws)
        else:
            purchases = pm.scorer(max_draws)
            spend_scorer = SuppliedSpend(purchases.n_draws) if supplied else None
        n_draws = purchases.n_draws
        sub_kw = {k: (v[pos] if isinstance(v, np.ndarray) and v.shape == (n,) else v) for k, v in kw.items()}
        sub = (purchases, spend_scorer, x[pos], rec[pos], T[pos], None if values is None else np.asarray(values)[pos])
        if groups is not None:
            G = int(groups.max()) + 1
            t = engine.score_arrays(*sub, **sub_kw, counts=False, groups=groups[pos])["group_clv_draws"]
            totals = np.zeros((G, t.shape[1])) if totals is None else totals
            totals[:t.shape[0]] += t
            continue
        arr = engine.score_arrays(*sub, **sub_kw, progress=progress)
        for k, v in arr.items():
            if k not in out:
                out[k] = np.empty(n, dtype=v.dtype)
            out[k][pos] = v
    return totals if groups is not None else (out, n_draws)


def _check_purchases_only_options(margin, cost_to_serve, acquisition_cost) -> None:
    """Without a spend there is no CLV: the options that only shape the CLV must be at their defaults
    (a margin of 0.3 asked for and silently dropped would be a CLV the user believes was computed)."""
    bad = []
    if isinstance(margin, (str, pd.Series)) or float(margin) != 1.0:
        bad.append("margin")
    if isinstance(cost_to_serve, (str, pd.Series)) or float(cost_to_serve) != 0.0:
        bad.append("cost_to_serve")
    if acquisition_cost is not None:
        bad.append("acquisition_cost")
    if bad:
        raise InputError(f"{', '.join(bad)} appl{'y' if len(bad) > 1 else 'ies'} to CLV, and there is no CLV without "
                         "a spend (purchases only): leave them out, or give amounts (amount=COL, --amount) or a "
                         "spend per customer (spend=..., --spend FILE)", what="scoring options")


def segment_summary_from_draws(table: pd.DataFrame, totals: np.ndarray, interval: float) -> dict:
    """Per segment of ``table`` (its categorical ``segment`` column, categories in order) and for all
    customers (``"all"``): ``customers``, ``clv_total`` (posterior mean of the segment's total CLV) with
    ``clv_total_lower``/``_upper`` (quantiles of the total over the joint draws: ``totals[g, s]`` is
    segment g's total at draw s), ``clv_mean`` (per customer) with its bounds (the total's over the
    customers), ``historical_clv_total`` (what they have spent so far, when the table has it) and
    ``p_any_purchase_mean``. Currency units. Empty segments are listed with 0 customers and totals 0."""
    lo_q, hi_q = interval_bounds(interval)
    cats = list(table["segment"].cat.categories)
    codes = table["segment"].cat.codes.to_numpy()
    S = totals.shape[1]
    full = np.zeros((len(cats) + 1, S))
    full[:totals.shape[0]] = totals
    full[-1] = totals.sum(axis=0)
    out = {}
    for g, name in enumerate(cats + ["all"]):
        sel = codes == g if name != "all" else np.ones(len(codes), bool)
        n = int(sel.sum())
        tot = full[g]
        row = {"customers": n, "clv_total": float(tot.mean()), "clv_total_lower": float(np.quantile(tot, lo_q)),
               "clv_total_upper": float(np.quantile(tot, hi_q))}
        row.update({"clv_mean": row["clv_total"] / n if n else 0.0,
                    "clv_mean_lower": row["clv_total_lower"] / n if n else 0.0,
                    "clv_mean_upper": row["clv_total_upper"] / n if n else 0.0})
        if "historical_clv" in table.columns:
            row["historical_clv_total"] = float(table["historical_clv"].to_numpy()[sel].sum())
        if "p_any_purchase" in table.columns:
            row["p_any_purchase_mean"] = float(table["p_any_purchase"].to_numpy()[sel].mean()) if n else 0.0
        out[name] = row
    return out


def column_descriptions(columns, *, time_unit: str, horizon, interval: float, currency: str | None = None,
                        spend_source: str | None = None, point_note: str | None = None,
                        covariates=()) -> dict:
    """name -> {"description", "unit"} for the forecast table's ``columns`` (those it has: the fixed
    ones, the CAC columns), with the horizon, the time unit and the currency spelled out. ``currency``:
    the name of the transaction log's currency ('USD', 'EUR'; None: 'currency units of the transaction
    log's amounts'). ``spend_source="supplied"``: the spend per purchase was given per customer (no spend
    model), and ``expected_spend`` and ``clv`` say so. ``point_note``: which model is one point (method
    'mode', or from_params values), added to every interval bound over the parameters, since such a
    bound collapses to the value where only that model's parameters enter. ``covariates``: the models'
    covariate columns (:func:`covariate_columns`), carried as given. Columns this function does not know
    get a description saying so."""
    cur = currency or "currency units of the transaction log's amounts"
    hz = str(Duration.parse(horizon))
    pct = f"{interval:.0%}"
    lo, hi = interval_bounds(interval)
    unit_name = {"D": "days", "W": "weeks", "M": "months", "Y": "years"}.get(str(time_unit), f"periods of {time_unit}")
    win = f"the next {hz} after the end of the observation period"
    base = {
        "customer_id": ("the customer's identifier, as in the transaction log", "identifier"),
        "frequency": ("repeat purchases in the observation period (purchase days after the first)", "purchases"),
        "recency": ("time from the first to the last purchase", unit_name),
        "T": ("time from the first purchase to the end of the observation period", unit_name),
        "monetary_value": ("mean spend per repeat purchase (0 without repeat purchases)", cur),
        "historical_clv": ("total spend so far, first purchase included", cur),
        "last_purchase": ("date of the last purchase in the observation period", "date"),
        "p_alive": ("probability that the customer is still active (has not dropped out) at the end of the "
                    "observation period, posterior mean; BG/NBD gives 1 to every customer without repeat "
                    "purchases", "probability"),
        "p_any_purchase": (f"probability of at least one purchase in {win}, 1 - P(no purchase | data), posterior "
                           "mean", "probability"),
        "expected_purchases": (f"expected number of purchases in {win}, posterior mean", "purchases"),
        "purchases_lower": (f"lower bound of the {pct} predictive interval of the number of purchases in {win}",
                            "purchases"),
        "purchases_upper": (f"upper bound of the {pct} predictive interval of the number of purchases in {win}",
                            "purchases"),
        "expected_spend": ("expected spend per future purchase, posterior mean", cur),
        "clv": (f"customer lifetime value over {win}: discounted margin on expected spend minus cost to serve, "
                "posterior mean", cur),
        "segment": ("marketing segment: at risk, high value, medium value or low value (see the README)", "label"),
        "clv_minus_cac": ("CLV minus the acquisition cost, posterior mean", cur),
        "clv_cac_ratio": ("posterior mean CLV over the acquisition cost (> 1: the customer pays back)", "ratio"),
        "expected_coverage": ("probability mass inside the purchase-count interval", "probability"),
    }
    if spend_source == "supplied":
        base["expected_spend"] = ("spend per future purchase as supplied for the customer (spend=, --spend), not "
                                  "estimated: its interval is that point", cur)
        base["clv"] = (f"customer lifetime value over {win}: discounted margin on the supplied spend times the "
                       "expected purchases, minus cost to serve, posterior mean (the interval carries the purchase "
                       "model's uncertainty only)", cur)
    out = {}
    for c in columns:
        stem, bound = c, None
        for suffix in ("_lower", "_upper"):
            if c.endswith(suffix) and c[:-len(suffix)] in base and c not in base:
                stem, bound = c[:-len(suffix)], suffix[1:]
        if stem in base:
            desc, unit = base[stem]
            if bound is not None:
                q = lo if bound == "lower" else hi
                desc = (f"{bound} bound of the {pct} central credible interval (the {q:g} quantile over the "
                        f"posterior draws) of: {desc.replace(', posterior mean', '')}")
                if point_note:
                    desc += f" ({point_note})"
        elif c in covariates:
            desc, unit = ("customer covariate, as given in the input: the models with covariates take each "
                          "customer's parameters from it (the sidecar's fit_info 'covariates' has its kind, "
                          "mean and sd or levels, and roles)"), "as given"
        else:
            desc, unit = "a column clvmodels does not describe (e.g. carried over from the input)", "unknown"
        out[c] = {"description": desc, "unit": unit}
    return out
