"""Tracking plot: repeat transactions of a cohort, actual against the model, across calibration and
holdout (the figures of Fader, Hardie & Lee 2005, "Counting your customers the easy way", figs. 1-2).

The model's curve is the expected number of repeat transactions of the cohort by each date,
``sum_c E[X(t_date - t_first(c))]`` with ``E[X(t)]`` the expected repeat purchases of a customer in the
first ``t`` periods after her first purchase (FHL eq. 9).

Day convention (the summary's): a purchase on calendar day D happens at time ``D - F`` after a first
purchase on day F, and the curve at day D, inclusive, counts the actual repeat purchases on days up to
and including D and the expected ``E[X(D - F)]``: exactly the T that :func:`clvmodels.summarize` gives a
customer with ``observation_end=D`` (T = D - F, a purchase on the end day counted). So the curve at the
observation end is ``sum_c E[X(T_c)]`` over the summary's T, and a customer's first day adds 0. lifetimes'
``expected_cumulative_transactions`` (and, reportedly, BTYD's and pymc-marketing's tracking) puts
``E[X(D + 1 - F)]`` next to the same actual count through day D: one day more exposure than the summary's
T, so its curve at day D is ours at day D + 1 (on CDNOW the two agree to 1.3e-13 relatively every day;
tests/plotting/test_tracking.py).

The curve is computed per posterior draw, so it comes with a credible band (the uncertainty of the
*expected* count; the actual count also has purchase-to-purchase randomness on top, which the band does
not include).

Bounded memory: customers who made their first purchase on the same day share the curve, and the
curve is only needed at whole-day lags ``date - first day``. So the work is one evaluation of
``E[X(lag)]`` per posterior draw and whole-day lag (at most the number of days in the log), chunked
over lags, then per-draw sums over the cohort, chunk by chunk over first-purchase days, weighted by
the number of customers who joined that day: nothing grows with the number of customers.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InputError
from ..draws import DEFAULT_CHUNK_BYTES, chunk_rows
from ._common import (PLOT_DRAWS, period_ends, as_day, attach_data, day_dates, model_unit, new_axes, pct, purchase_days, quantiles,
                      unit_days, unit_label)

__all__ = ["tracking_data", "plot_tracking", "prior_tracking_data"]


def _dates_in_format(transactions: pd.DataFrame, date: str, date_format: str) -> pd.DataFrame:
    """The log with its date column read by ``date_format``, by the summary's own rule
    (:func:`clvmodels.data.pandas_engine.parse_dates`), so the plot and the summary see the same days."""
    from ..data.pandas_engine import parse_dates

    if not isinstance(transactions, pd.DataFrame) or date not in transactions.columns:
        return transactions  # purchase_days says what is wrong
    days, missing, bad, whole = parse_dates(transactions[date], date_format)
    if whole is not None or missing.any() or bad.any():
        n = int((missing | bad).sum()) or len(days)
        raise InputError(f"column {date!r}: {n} dates are missing or do not match date_format={date_format!r}")
    return transactions.assign(**{date: days.astype("datetime64[D]")})


def tracking_data(model, transactions: pd.DataFrame, *, calibration_end, observation_end=None,
                  customer_id: str = "customer_id", date: str = "date", customers=None,
                  interval: float = 0.9, max_draws: int | None = PLOT_DRAWS,
                  budget_bytes: int = DEFAULT_CHUNK_BYTES, date_format: str | None = None,
                  summary: pd.DataFrame | None = None) -> pd.DataFrame:
    """Actual and expected repeat transactions of a cohort per period and cumulated.

    Parameters
    ----------
    model: a fitted transaction model (:class:`~clvmodels.BetaGeoModel` or another of :mod:`clvmodels.models.registry`; fitted on the calibration period).
    transactions: the transaction log (one row per transaction); purchases on the same day merge, as in
        :func:`clvmodels.summarize`, and a customer's first purchase is not a repeat transaction.
    calibration_end: last day of the calibration period (inclusive), in any form :func:`clvmodels.summarize`
        takes (ISO text, text in ``date_format``, a date, Timestamp, datetime64, or a Period: its last day).
    observation_end: last day shown (inclusive, the same forms; default: the last date in the log).
    date_format: strptime format of the log's text dates (as in :func:`clvmodels.summarize`), which the
        ends may use too; default ISO 8601.
    customers: the cohort (ids); default: every customer whose first purchase is on or before
        ``calibration_end``, i.e. the customers the model was fitted on.
    interval: level of the central credible band; max_draws: posterior draws used (thinned evenly).
    summary: for a model with covariates only: the customers' covariate columns, indexed by customer id
        (e.g. the calibration summary it was fitted on); each cell of customers gets its own curve.

    Returns one row per period of the model's time unit (periods are anchored at ``calibration_end``;
    the first may be partial) with ``period_end`` (inclusive date; the cumulative columns count through the
    end of that day, the expected ones as ``sum_c E[X(period_end - first day of c)]``: see the module
    docstring for this convention), ``phase`` ('calibration' or
    'holdout'), ``actual``, ``expected``, ``expected_lower``, ``expected_upper`` (repeat transactions in
    the period) and the same cumulated (``cumulative_actual``, ``cumulative_expected``, ...).
    """
    unit = model_unit(model)
    ud = unit_days(unit)
    cal_end = as_day(calibration_end, "calibration_end", date_format)
    if date_format is not None:
        transactions = _dates_in_format(transactions, date, date_format)
    pdays = purchase_days(transactions, customer_id, date)
    first = pdays.loc[pdays["is_first"], ["customer_id", "day"]]
    if customers is not None:
        cohort = pd.Index(pd.unique(pd.Series(list(customers))))
        unknown = cohort.difference(first["customer_id"])
        if len(unknown):
            raise InputError(f"{len(unknown)} customers of the cohort have no transactions, e.g. {list(unknown[:5])}")
        first = first[first["customer_id"].isin(cohort)]
    else:
        first = first[first["day"] <= cal_end]
    if len(first) == 0:
        raise InputError(f"no customer made a first purchase on or before calibration_end={calibration_end}")
    pdays = pdays[pdays["customer_id"].isin(first["customer_id"])]
    end = (as_day(observation_end, "observation_end", date_format) if observation_end is not None
           else int(pdays["day"].max()))
    if end < cal_end:
        raise InputError(f"observation_end ({day_dates([end])[0].date()}) is before calibration_end "
                         f"({day_dates([cal_end])[0].date()})")
    start_day = int(first["day"].min())
    # day numbers relative to the first cohort day
    f_days = first["day"].to_numpy() - start_day
    r_days = pdays.loc[~pdays["is_first"], "day"].to_numpy() - start_day
    E = int(end - start_day)
    C = int(cal_end - start_day)
    ends = period_ends(0, C, E, ud)
    K = len(ends)

    # actual repeat transactions per period (periods are (ends[k-1], ends[k]])
    r_days = r_days[r_days <= E]
    actual = np.bincount(np.searchsorted(ends, r_days, side="left"), minlength=K)[:K].astype(float)

    if getattr(model, "has_covariates", False):
        # each cell of customers (their covariates: summary's columns, by customer id) with its own curve
        if summary is None:
            raise InputError("a model with covariates: give summary= (the customers' covariate columns, indexed by "
                             "customer id) so each customer's expectation uses her own parameters")
        cell_of, cell_models = model.cell_models(summary.reindex(first["customer_id"].to_numpy()), what="summary")
        groups = [(cm, f_days[cell_of == c]) for c, cm in enumerate(cell_models) if (cell_of == c).any()]
    else:
        groups = [(model, f_days)]
    cum = None
    for cell_model, cell_days in groups:  # per-draw sums added over cells: draw s is one joint draw in all
        # cohort sizes by first day: customers who joined on the same day share the curve E[X(date - day)]
        days, n_by_day = np.unique(cell_days, return_counts=True)
        n_by_day = n_by_day.astype(float)
        sc = cell_model.scorer(max_draws)
        S = sc.n_draws
        # E[X(lag)] per draw at every whole-day lag 0..E (lag 0: no repeat purchase yet), chunked over lags.
        # lag = period end - first day, both calendar days: the summary's T at observation_end = period end
        # (not lifetimes' one day more; see the module docstring), matching the actual count through that day
        e = np.zeros((S, E + 1))
        step = chunk_rows(S, 2, budget_bytes)
        for j in range(1, E + 1, step):
            lag = np.arange(j, min(E + 1, j + step))
            e[:, lag] = sc.expected_purchases_new(lag / ud)
        # per-draw sums over customers, chunk by chunk over first-purchase days:
        # cum[s, k] = sum_day n(day) E_s[X(end_k - day)] for the days on or before end_k
        cum = np.zeros((S, K)) if cum is None else cum
        step = max(1, chunk_rows(S, K, budget_bytes))
        for j in range(0, len(days), step):
            d = days[j:j + step]
            lag = ends[None, :] - d[:, None]                            # (days, period ends)
            w = np.where(lag >= 0, n_by_day[j:j + step, None], 0.0)
            cum += np.einsum("sdk,dk->sk", e[:, np.clip(lag, 0, E)], w)
    per = np.diff(cum, axis=1, prepend=0.0)
    lo_c, hi_c = quantiles(cum, interval)
    lo_p, hi_p = quantiles(per, interval)
    period_end = day_dates(start_day + ends)
    out = pd.DataFrame({
        "period_end": period_end,
        "phase": np.where(ends <= C, "calibration", "holdout"),
        "actual": actual, "expected": per.mean(axis=0), "expected_lower": lo_p, "expected_upper": hi_p,
        "cumulative_actual": np.cumsum(actual), "cumulative_expected": cum.mean(axis=0),
        "cumulative_lower": lo_c, "cumulative_upper": hi_c,
    })
    out.attrs["clvmodels"] = {"calibration_end": str(day_dates([cal_end])[0].date()),
                              "observation_end": str(day_dates([end])[0].date()),
                              "time_unit": unit, "interval": interval, "n_draws": int(S),
                              "n_customers": int(len(first))}
    return out


def plot_tracking(model, transactions: pd.DataFrame, *, calibration_end, observation_end=None,
                  kind: str = "cumulative", customer_id: str = "customer_id", date: str = "date",
                  customers=None, interval: float = 0.9, max_draws: int | None = PLOT_DRAWS, ax=None,
                  date_format: str | None = None, prior=False, summary: pd.DataFrame | None = None,
                  seed: int = 0):
    """Tracking plot of repeat transactions, actual against the model's expectation with its credible
    band, across the calibration and holdout periods (FHL 2005, figs. 1 and 2).

    ``kind``: ``'cumulative'`` (cumulative repeat transactions), ``'incremental'`` (per period of the
    model's time unit, e.g. weekly) or ``'both'`` (two panels; ``ax`` may then be a pair of axes).
    See :func:`tracking_data` for the other arguments and the numbers drawn, which are also kept on the
    figure as ``fig.clvmodels_data['tracking']``. Returns the matplotlib Figure.

    ``prior=True`` (or the result of :func:`clvmodels.prior_predictive`): the band is the prior
    predictive's (:func:`prior_tracking_data`), from the model's priors (it need not be fitted), for the
    customers of ``summary`` (the summary the model would be fitted on; required) over the period it
    covers, which must end at ``calibration_end``; ``max_draws`` prior draws (500 if None) and ``seed``.
    Unlike the posterior band (of the expected count) it includes the randomness of purchasing: it is
    what data the priors generate. With ``prior=False`` and a model with covariates, ``summary`` gives
    the customers' covariate columns (indexed by customer id): see :func:`tracking_data`.
    """
    if kind not in ("cumulative", "incremental", "both"):
        raise ValueError(f"kind must be 'cumulative', 'incremental' or 'both', got {kind!r}")
    if prior is not False:
        if observation_end is not None or customers is not None:
            raise InputError("with prior=..., the cohort and period are the summary's (summary=): leave out "
                             "observation_end and customers")
        data = prior_tracking_data(model, summary, transactions, calibration_end=calibration_end, prior=prior,
                                   customer_id=customer_id, date=date, interval=interval, max_draws=max_draws,
                                   seed=seed, date_format=date_format)
    else:
        data = tracking_data(model, transactions, calibration_end=calibration_end,
                             observation_end=observation_end, customer_id=customer_id, date=date,
                             customers=customers, interval=interval, max_draws=max_draws, date_format=date_format,
                             summary=summary)
    meta = data.attrs["clvmodels"]
    kinds = ["cumulative", "incremental"] if kind == "both" else [kind]
    if kind == "both":
        if ax is None:
            import matplotlib.pyplot as plt

            fig, axs = plt.subplots(2, 1, figsize=(8.0, 7.5), layout="constrained", sharex=True)
            axs = list(axs)
        else:
            axs = list(np.ravel(ax))
            if len(axs) != 2:
                raise ValueError("kind='both' needs two axes")
            fig = axs[0].figure
    else:
        fig, a0 = new_axes(ax, figsize=(8.0, 4.5))
        axs = [a0]
    import matplotlib.dates as mdates

    unit_name = unit_label(meta["time_unit"])
    x = data["period_end"]
    cal = pd.Timestamp(meta["calibration_end"])
    for a, k in zip(axs, kinds):
        if k == "cumulative":
            cols = ("cumulative_actual", "cumulative_expected", "cumulative_lower", "cumulative_upper")
            ylabel = "cumulative repeat transactions"
        else:
            cols = ("actual", "expected", "expected_lower", "expected_upper")
            ylabel = f"repeat transactions per period ({unit_name[:-1]})"
        name = getattr(model, 'label', '') or type(model).__name__
        band = (f"prior predictive, {pct(interval)} interval" if prior is not False
                else f"model, {pct(interval)} credible band")
        a.fill_between(x, data[cols[2]], data[cols[3]], color="C1", alpha=0.3, linewidth=0, label=band, step=None)
        a.plot(x, data[cols[1]], color="C1", linestyle="--",
               label=f"{name} prior predictive mean" if prior is not False else f"model ({name} expectation)")
        a.plot(x, data[cols[0]], color="C0", label="actual")
        a.axvline(cal, color="0.4", linestyle=":", linewidth=1)
        a.annotate("end of the data" if prior is not False else "end of calibration", xy=(cal, 1.0), xycoords=("data", "axes fraction"),
                   xytext=(-4, -4), textcoords="offset points", ha="right", va="top", fontsize=8, color="0.3")
        a.set_ylabel(ylabel)
        a.set_ylim(bottom=0)
        # concise dates ('Feb', 'Mar', ... with the year once) stay legible in a narrow panel
        a.xaxis.set_major_formatter(mdates.ConciseDateFormatter(a.xaxis.get_major_locator()))
        a.legend(loc="upper left", fontsize=8, frameon=False)
    axs[-1].set_xlabel(f"period end (periods of one {unit_name[:-1]})")
    axs[0].set_title(("Prior predictive: tracking" if prior is not False else "Tracking repeat transactions")
                     + f": {meta['n_customers']:,} customers")
    attach_data(fig, "tracking", data)
    return fig


def prior_tracking_data(model, summary: pd.DataFrame, transactions: pd.DataFrame, *,
                        calibration_end=None, prior=True, customer_id: str = "customer_id", date: str = "date",
                        interval: float = 0.9, max_draws: int | None = PLOT_DRAWS, seed: int = 0,
                        date_format: str | None = None) -> pd.DataFrame:
    """The tracking table of :func:`tracking_data` (same columns) from the prior predictive
    (:func:`clvmodels.prior_predictive`, ``max_draws`` draws, 500 if None): ``expected`` and
    ``cumulative_expected`` are the prior predictive means of the cohort's repeat purchases per period and
    cumulated, the bounds its central ``interval``; ``actual`` comes from ``transactions`` (required). The cohort is ``summary``'s customers over
    the period it covers (``phase`` 'calibration' throughout); ``calibration_end``, when given, must be
    that period's end. ``prior`` may be a prior predictive already computed."""
    from .period import prior_predictive_for

    if summary is None and not hasattr(prior, "children"):
        raise InputError("prior=True needs summary=, the customer summary the model would be fitted on "
                         "(its customers and time unit)")
    if date_format is not None and transactions is not None:
        transactions = _dates_in_format(transactions, date, date_format)
    pp = prior_predictive_for(model, summary, prior, max_draws, seed, transactions=transactions,
                              customer_id=customer_id, date=date)
    pred = pp["prior_predictive"]
    if "cumulative_repeat_purchases" not in pred:
        raise InputError("no tracking curve without first-purchase dates: pass the transaction log, or a summary "
                         "with its 'first_purchase' column (clvmodels.summarize gives it)")
    cum = pred["cumulative_repeat_purchases"].values.astype(float)
    period_end = pd.DatetimeIndex(pred["period_end"].values)
    if calibration_end is not None:
        day = as_day(calibration_end, "calibration_end", date_format)
        if day_dates([day])[0] != period_end[-1]:
            raise InputError(f"calibration_end ({day_dates([day])[0].date()}) is not the end of the period the "
                             f"summary covers ({period_end[-1].date()}): the prior predictive is of that period")
    per = np.diff(cum, axis=1, prepend=0.0)
    lo_c, hi_c = quantiles(cum, interval)
    lo_p, hi_p = quantiles(per, interval)
    obs = pp["observed_data"]
    if "cumulative_repeat_purchases" not in obs:
        raise InputError("the actual tracking curve needs the transaction log: pass transactions= (a prior "
                         "predictive computed without it has only the simulated curves)")
    cum_actual = obs["cumulative_repeat_purchases"].values.astype(float)
    out = pd.DataFrame({
        "period_end": period_end, "phase": "calibration",
        "actual": np.diff(cum_actual, prepend=0.0), "expected": per.mean(axis=0), "expected_lower": lo_p,
        "expected_upper": hi_p, "cumulative_actual": cum_actual, "cumulative_expected": cum.mean(axis=0),
        "cumulative_lower": lo_c, "cumulative_upper": hi_c,
    })
    out.attrs["clvmodels"] = {"calibration_end": str(period_end[-1].date()), "observation_end": str(period_end[-1].date()),
                              "time_unit": pp.attrs["time_unit"], "interval": interval, "n_draws": int(cum.shape[0]),
                              "n_customers": int(pp.attrs["n_customers"]), "predictive": "prior"}
    return out
