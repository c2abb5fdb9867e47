"""The HTML report of a forecast run: one self-contained file (figures embedded as PNG data URIs, CSS
inline, no scripts, no links to fetch), readable offline in any browser.

Sections: data summary; model fit and diagnostics (parameters with intervals, R-hat, ESS, divergences,
trace plots, period transactions); validation (when a calibration/holdout summary is given, or a
separate calibration-period fit, ``validation=``, as ``clv forecast --calibration-end`` gives: holdout
accuracy and interval calibration, conditional expectations, PIT, tracking when the transaction log is
given too); value segments (CLV distribution, historical against predicted); the top customers.
"""
from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import warnings
from typing import Any, Callable

import numpy as np
import pandas as pd

from .. import __version__
from ..errors import InputError
from ..plotting._common import PLOT_DRAWS, duration_text
from ..draws import DEFAULT_SCORING_DRAWS

#: resolution of the report's figures: one figure to a row at natural size, so 8-point text (legends,
#: tick labels) shows 8 * 110 / 72 = 12 CSS pixels high, as readable as the page's own small print
REPORT_DPI = 110

#: section headings, in order (the validation section only appears with a holdout)
SECTIONS = ("Data summary", "Model fit and diagnostics", "Validation", "Value segments", "Top customers")

_CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;color:#1d2330;background:#fff}
main{max-width:1100px;margin:0 auto;padding:24px 32px 48px}
h1{font-size:26px;margin:8px 0 4px} h2{font-size:20px;margin:36px 0 8px;padding-bottom:4px;border-bottom:2px solid #d8dde6}
h3{font-size:16px;margin:20px 0 6px}
p.meta{color:#5a6372;margin:0 0 12px;font-size:13px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}
th,td{padding:4px 10px;border-bottom:1px solid #e3e7ee;text-align:right}
th:first-child,td:first-child{text-align:left} thead th{background:#f3f5f9}
figure{margin:12px 0 20px} figure img{max-width:100%;height:auto;border:1px solid #eef0f4}
figcaption{font-size:12px;color:#5a6372;margin-top:4px}
.ok{color:#1f7a3a;font-weight:600} .bad{color:#b3261e;font-weight:600}
.note{background:#fff6e5;border-left:4px solid #e8a33d;padding:8px 12px;margin:10px 0;font-size:13px}
.grid{display:flex;flex-wrap:wrap;gap:16px} .grid figure{flex:1 1 460px}
footer{margin-top:40px;font-size:12px;color:#5a6372}
.scroll{max-width:100%;overflow-x:auto} thead th{vertical-align:bottom}
.stack figure{flex:1 1 100%}
p.headline{font-size:15px;background:#eef4fb;border-left:4px solid #3d7be8;padding:8px 12px;margin:12px 0}
"""


class _Figures:
    """Renders figures to embedded PNGs; a figure that fails becomes a visible note (and a warning)
    instead of losing the whole report."""

    def __init__(self, dpi: int = 110, enabled: bool = True):
        self.dpi = dpi
        self.enabled = enabled
        self.failures: list[str] = []
        self.seconds: dict[str, float] = {}
        self.count = 0

    def __call__(self, make: Callable[[], Any], caption: str, alt: str) -> str:
        import time

        import matplotlib.pyplot as plt

        if not self.enabled:
            return ""

        try:
            t0 = time.perf_counter()
            fig = make()
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=self.dpi, bbox_inches="tight", facecolor="white")
            plt.close(fig)
            self.seconds[alt] = time.perf_counter() - t0
        except Exception as exc:  # noqa: BLE001 - reported in the document and as a warning
            msg = f"{alt}: {type(exc).__name__}: {exc}"
            self.failures.append(msg)
            warnings.warn(f"report figure not drawn: {msg}", RuntimeWarning, stacklevel=3)
            return f'<p class="note">Figure not drawn ({html.escape(msg)}).</p>'
        self.count += 1
        data = base64.b64encode(buf.getvalue()).decode("ascii")
        return (f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _e(v: Any) -> str:
    return html.escape(str(v))


def _fmt(v: Any) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if not np.isfinite(f):
            return "n/a"
        if f != 0 and (abs(f) >= 1e6 or abs(f) < 1e-3):
            return f"{f:.3g}"
        if abs(f) >= 1000:
            return f"{f:,.0f}"
        return f"{f:,.4g}" if abs(f) < 1 else f"{f:,.2f}"
    if isinstance(v, pd.Timestamp):
        return str(v.date())
    return str(v)


def _fixed(digits: int) -> Callable[[Any], str]:
    def f(v):
        try:
            x = float(v)
        except (TypeError, ValueError):
            return str(v)
        return f"{x:,.{digits}f}" if np.isfinite(x) else "n/a"
    return f


#: column-specific number formats (others: :func:`_fmt`)
COLUMN_FORMATS: dict[str, Callable[[Any], str]] = {
    "customer_id": str,
    "r_hat": _fixed(3), "ess_bulk": _fixed(0), "ess_tail": _fixed(0), "frequency": _fixed(0),
    "purchases_lower": _fixed(0), "purchases_upper": _fixed(0), "customers": _fixed(0),
    "recency": _fixed(2), "T": _fixed(2), "p_alive": _fixed(3), "P(alive), mean": _fixed(3),
    "share of customers": lambda v: f"{float(v):.1%}", "share of predicted CLV": lambda v: f"{float(v):.1%}",
}


def _head(name: str) -> str:
    """A column name as header text that may wrap after an underscore (expected_<wbr>purchases), so a
    table of long field names still fits the page."""
    return _e(name).replace("_", "_<wbr>")


def _table(df: pd.DataFrame, *, index: bool = True) -> str:
    """A DataFrame as an HTML table, every cell escaped and numbers formatted, in a container that
    scrolls sideways (inside the page) should a window be too narrow for it."""
    cols = ([df.index.name or ""] if index else []) + [str(c) for c in df.columns]
    head = "".join(f"<th>{_head(c)}</th>" for c in cols)
    fmts = [COLUMN_FORMATS.get(str(c), _fmt) for c in df.columns]
    rows = []
    for idx, row in zip(df.index, df.itertuples(index=False, name=None)):
        cells = ([f"<td>{_e(_fmt(idx))}</td>"] if index else []) + [f"<td>{_e(f(v))}</td>" for f, v in zip(fmts, row)]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<div class=\"scroll\"><table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"


def _kv(pairs: list[tuple[str, Any]]) -> str:
    rows = "".join(f"<tr><td>{_e(k)}</td><td>{_e(_fmt(v))}</td></tr>" for k, v in pairs)
    return f"<table><tbody>{rows}</tbody></table>"


def _holdout_summary(result, holdout):
    if holdout is None:
        s = result.summary
        return s if isinstance(s, pd.DataFrame) and "frequency_holdout" in s.columns else None
    if not isinstance(holdout, pd.DataFrame) or "frequency_holdout" not in holdout.columns:
        raise InputError("holdout must be a calibration/holdout summary: clvmodels.summarize(..., calibration_end=...)")
    return holdout


# -- sections -----------------------------------------------------------------------------------------
def _label(model) -> str:
    """A model's name in the document ("BG/NBD"), its class name when it has none."""
    return getattr(model, "label", "") or type(model).__name__


def _data_section(result) -> str:
    s = result.summary
    meta = dict(getattr(s, "attrs", {}).get("clvmodels", {}))
    unit = meta.get("time_unit", result.purchase_model.time_unit_)
    x = s["frequency"].to_numpy(float)
    pairs: list[tuple[str, Any]] = [
        ("customers", int(len(s))),
        ("customers with repeat purchases", int((x > 0).sum())),
        ("repeat purchases (frequency total)", float(x.sum())),
        ("time unit", unit),
    ]
    if meta.get("calibration_end"):
        pairs.append(("calibration end (models fitted up to)", meta["calibration_end"]))
    if meta.get("observation_end"):
        pairs.append(("observation end", meta["observation_end"]))
    if "first_purchase" in s.columns:
        fp = pd.to_datetime(s["first_purchase"])
        pairs.append(("first purchases", f"{fp.min().date()} to {fp.max().date()}"))
    pairs += [("mean customer age T", float(s["T"].mean())),
              ("mean frequency", float(x.mean()))]
    rep = s.loc[s["frequency"] > 0, "monetary_value"] if "monetary_value" in s.columns else pd.Series(dtype=float)
    if len(rep):
        pairs.append(("mean repeat-purchase value (repeat customers)", float(rep.mean())))
    if "historical_clv" in s.columns:
        pairs += [("historical value, total", float(s["historical_clv"].sum())),
                  ("historical value, mean per customer", float(s["historical_clv"].mean()))]
    return "<h2 id=\"data\">Data summary</h2>" + _kv(pairs)


def _model_block(name: str, model, interval: float) -> str:
    from ..plotting.posterior import diagnostics_text

    d = model.diagnostics_
    status = ('<span class="ok">diagnostics ok</span>' if d.ok
              else '<span class="bad">diagnostics report problems</span>')
    summ = model.summary(interval).rename(columns={"lower": f"lower ({interval:.0%})",
                                                   "upper": f"upper ({interval:.0%})"})
    if d.method != "nuts":  # no sampler ran: R-hat and ESS do not exist, show none rather than empty columns
        summ = summ.drop(columns=["r_hat", "ess_bulk", "ess_tail"], errors="ignore")
    # the verdict once, in colour (the plain text's own verdict left out)
    out = [f"<h3>{_e(name)}</h3>", f"<p class=\"meta\">{_e(diagnostics_text(model, status=False))} &mdash; {status}</p>",
           _table(summ)]
    if getattr(model, "has_covariates", False):
        out.append(_covariate_block(model, interval))
    if not d.ok:
        items = "".join(f"<li>{_e(p)}</li>" for p in d.problems)
        out.append(f'<div class="note"><b>What to do:</b> the estimates may not be trustworthy. '
                   f"Run more tuning and draws, raise target_accept, or check the priors and the data.<ul>{items}</ul></div>")
    return "".join(out)


def _covariate_block(model, interval: float) -> str:
    """A model's covariate effects: per coefficient the parameter it scales, the mean and interval per unit
    of the column (an indicator: against the reference level) and the factor on the parameter."""
    co = model.coefficients(interval)
    tab = co[["parameter", "column", "mean", "lower", "upper", "multiplier"]].rename(
        columns={"lower": f"lower ({interval:.0%})", "upper": f"upper ({interval:.0%})"})
    design = model.covariates_.describe()
    refs = "; ".join(f"{c}: pooled groups, the population's (no reference level; group_sd is the sd of "
                     "the groups' effects)" if r["kind"] == "categorical" and not r["reference"]
                     else f"{c}: reference level {r['reference']!r}" if r["kind"] == "categorical"
                     else f"{c}: mean {r['mean']:.4g}, sd {r['sd']:.4g}" for c, r in design.iterrows())
    return ("<h4>Covariate effects</h4>"
            "<p class=\"meta\">Each parameter is the base value times exp(sign x coefficient x covariate): "
            "<i>multiplier</i> is the factor on the parameter for one unit more of a numeric covariate, or for "
            "that level rather than the reference one. An interval that excludes 0 says the covariate matters "
            "in this fit; whether it improves predictions is a holdout question. The base parameters above are "
            f"the reference customer's ({_e(refs)}).</p>" + _table(tab))


def _model_section(result, fig: _Figures, max_draws, interval: float) -> str:
    from .. import plotting as P

    bg, gg = result.purchase_model, result.spend_model
    label = _label(bg)
    parts = ["<h2 id=\"fit\">Model fit and diagnostics</h2>", _model_block(f"{label} (purchases and drop-out)", bg, interval),
             _model_block("Gamma-Gamma (spend per transaction)", gg, interval) if gg is not None
             else f'<p class="note">{_e(_no_spend_model_text(result))}</p>']
    if getattr(gg, "description", ""):  # which spend model, on which purchases (first_purchase, frequency effect)
        parts.append(f'<p class="meta">Spend model: {_e(gg.description)}.</p>')
    corr = getattr(gg, "fit_info_", {}).get("spend_frequency_correlation")
    if corr is not None and np.isfinite(corr):
        parts.append(f"<p class=\"meta\">Correlation of frequency and mean repeat spend among repeat customers: "
                     f"{corr:.2f} (the Gamma-Gamma model assumes independence).</p>")
    note = result.metadata.get("parameter_uncertainty", "") if isinstance(result.metadata, dict) else ""
    if note and not note.startswith("posterior draws"):  # a point estimate: say what the intervals carry
        parts.append(f'<div class="note"><b>Point estimate:</b> {_e(note)}.</div>')
    # a model that is one point (method 'mode', or from_params with single values) has no draws to trace
    def traced(m) -> bool:
        return m is not None and m.diagnostics_.chains * m.diagnostics_.draws > 1

    figs = ([fig(lambda: P.plot_trace(bg), f"{label} posterior by chain (left) and draws in order (right).",
                 f"{label} trace plot")] if traced(bg) else []) + (
           [fig(lambda: P.plot_trace(gg), "Gamma-Gamma posterior by chain and trace.", "Gamma-Gamma trace plot")]
           if traced(gg) else []) + [
            fig(lambda: P.plot_period_transactions(bg, result.summary, max_draws=max_draws),
                "Customers by number of repeat purchases in the fitting period: actual and posterior predictive"
                + (" (each cell of customers with its covariates' parameters, summed)."
                   if getattr(bg, "has_covariates", False) else "."), "Period transactions"),
            fig(lambda: P.plot_p_alive_matrix(bg, data=result.summary, max_draws=max_draws),
                "Probability alive by frequency and recency for the oldest customers"
                + (" (averaged over the customers' covariates)." if getattr(bg, "has_covariates", False) else "."),
                "P(alive) matrix")]
    parts.append('<div class="grid stack">' + "".join(figs) + "</div>")
    return "".join(parts)


def _validation_section(result, holdout: pd.DataFrame, transactions, fig: _Figures, max_draws, interval,
                        validation_draws, separate: dict | None = None) -> str:
    from .. import plotting as P
    from ..validation import validate_purchases

    separate = separate or {}
    bg = separate.get("purchase_model", result.purchase_model)
    spend_model = separate.get("spend_model", result.spend_model) if separate else result.spend_model
    parts = ["<h2 id=\"validation\">Validation</h2>"]
    meta = dict(getattr(holdout, "attrs", {}).get("clvmodels", {}))
    cal_end, obs_end = meta.get("calibration_end"), meta.get("observation_end")
    parts.append(f"<p class=\"meta\">Models fitted on the calibration period"
                 f"{' ending ' + _e(cal_end) if cal_end else ''}, checked against the holdout"
                 f"{' up to ' + _e(obs_end) if obs_end else ''}."
                 + (" The numbers below come from a second fit of the same model, on the calibration period only; "
                    "the forecast elsewhere in this report comes from the fit on all the data." if separate else "") + "</p>")
    try:
        v = separate.get("purchases")
        if v is None:
            v = validate_purchases(bg, holdout, interval=interval, max_draws=validation_draws)
    except Exception as exc:  # noqa: BLE001 - shown in the document
        warnings.warn(f"report: purchase validation failed: {exc}", RuntimeWarning, stacklevel=2)
        fig.failures.append(f"validation: {exc}")
        v = None
        parts.append(f'<p class="note">Holdout validation failed ({_e(type(exc).__name__)}: {_e(exc)}).</p>')
    if v is not None:
        pairs = [("customers", v["n_customers"]), ("holdout length", duration_text(v["holdout_length"], v["time_unit"])),
                 ("actual holdout purchases", v["holdout_actual_total"]),
                 ("predicted holdout purchases", v["holdout_predicted_total"]),
                 ("per-customer MAE", v["mae"]), ("per-customer RMSE", v["rmse"]),
                 (f"customers inside their {v['interval']:.0%} predictive interval", v["interval_coverage"]),
                 ("expected share inside (the model's own)", v["interval_expected_coverage"]),
                 ("holdout log predictive score", v["holdout_log_score"]),
                 ("PIT chi-square p-value (non-randomized PIT, seed-free, conservative)", v["pit_chi2_pvalue"]),
                 ("randomized PIT uniformity p-value (changes with the seed)", v["pit_pvalue"])]
        if "spend_holdout" in holdout.columns and (separate.get("spend") is not None or spend_model is not None):
            try:
                from ..validation.spend import validate_spend

                sp = separate.get("spend")
                sp = dict(sp) if sp is not None else validate_spend(bg, spend_model, holdout, interval=interval,
                                                                    max_draws=validation_draws)
                sp.pop("table", None)
                for k in ("spend_holdout_actual_total", "spend_holdout_predicted_total", "spend_mae"):
                    if k in sp:
                        pairs.append((k.replace("_", " "), sp[k]))
                ms = sp.get("mean_spend_holdout") or {}
                if ms.get("customers"):  # the spend model alone: mean spend per transaction of the holdout buyers
                    pairs += [(f"holdout mean spend per transaction, MAE / RMSE ({ms['customers']} buyers)",
                               f"{ms['mae']:.2f} / {ms['rmse']:.2f}"),
                              ("holdout buyers whose mean spend is inside its predictive interval", ms["coverage"])]
            except Exception as exc:  # noqa: BLE001
                parts.append(f'<p class="note">Spend validation failed ({_e(type(exc).__name__)}: {_e(exc)}).</p>')
        parts.append(_kv(pairs))
    figs = [fig(lambda: P.plot_conditional_expectations(bg, holdout, interval=interval, max_draws=max_draws),
                "Mean holdout purchases by calibration frequency: actual and model with credible interval.",
                "Conditional expectations")]
    if v is not None:
        figs.append(fig(lambda: P.plot_pit(v), "PIT of the actual holdout counts: flat when the predictive "
                        "distributions are calibrated.", "PIT histogram"))
    if transactions is not None and cal_end:
        figs.append(fig(lambda: P.plot_tracking(bg, transactions, calibration_end=cal_end, observation_end=obs_end,
                                                kind="both", interval=interval, max_draws=max_draws,
                                                customers=holdout.index, summary=holdout),
                        "Repeat transactions of the cohort, cumulative and per period: actual and model.",
                        "Tracking plot"))
    parts.append('<div class="grid stack">' + "".join(figs) + "</div>")
    return "".join(parts)


#: the heading of the prior predictive section (``render_report(..., prior_predictive=True)``, ``clv forecast
#: --prior-checks``), between the data summary and the model fit; not in :data:`SECTIONS` (only when asked)
PRIOR_SECTION = "Prior predictive"


def _prior_section(result, transactions, fig: _Figures, max_draws, interval: float) -> str:
    """What the models' priors generate at the data's customers before any fit
    (:func:`clvmodels.prior_predictive`), beside the data: a check of the priors, not of the fit."""
    from .. import plotting as P
    from ..plotting.prior import prior_predictive

    bg, gg, summary = result.purchase_model, result.spend_model, result.summary
    draws = 500 if max_draws is None else int(max_draws)
    parts = [f'<h2 id="prior">{PRIOR_SECTION}</h2>',
             '<p class="meta">What the priors alone generate for these customers (each band: '
             f"{draws} parameter sets drawn from the priors, each simulated with the model's own story, purchasing "
             "randomness included), beside the data. Data far outside a band means the priors rule them out and the "
             "fit leans on the priors; very wide bands mean weak priors, so the data decide.</p>"]
    figs = []
    for model, what in ((bg, "purchases"), (gg, "spend")):
        if model is None:
            continue
        label = _label(model) if what == "purchases" else "Gamma-Gamma"
        try:
            pp = prior_predictive(model, summary, draws=draws, seed=0)
        except Exception as exc:  # noqa: BLE001 - shown in the document
            warnings.warn(f"report: prior predictive of the {label} model failed: {exc}", RuntimeWarning, stacklevel=2)
            fig.failures.append(f"prior predictive ({label}): {exc}")
            parts.append(f'<p class="note">Prior predictive of the {_e(label)} model failed '
                         f"({_e(type(exc).__name__)}: {_e(exc)}).</p>")
            continue
        prior = pp["prior"]
        rows = pd.DataFrame({"prior": [repr(pr) for pr in _resolved_priors(model, summary)],
                             "5%": [float(prior[p].quantile(0.05)) for p in model.param_names],
                             "median": [float(prior[p].median()) for p in model.param_names],
                             "95%": [float(prior[p].quantile(0.95)) for p in model.param_names]},
                            index=pd.Index(list(model.param_names), name=f"{label} parameter"))
        parts.append(_table(rows))
        if what == "purchases":
            figs.append(fig(lambda pp=pp: P.plot_period_transactions(model, summary, prior=pp, interval=interval),
                            f"Customers by number of repeat purchases: actual and the {label} prior predictive.",
                            f"{label} prior predictive: period transactions"))
            if transactions is not None and "cumulative_repeat_purchases" in pp["prior_predictive"]:
                # its own prior predictive, with the log for the actual curve (a log that does not fit the
                # summary costs this figure, not the section)
                end = str(pd.Timestamp(pp["prior_predictive"]["period_end"].values[-1]).date())
                figs.append(fig(lambda end=end: P.plot_tracking(model, transactions, calibration_end=end, prior=True,
                                                                summary=summary, interval=interval, max_draws=draws),
                                "Cumulative repeat transactions of the cohort: actual and the prior predictive.",
                                f"{label} prior predictive: tracking"))
        else:
            figs.append(fig(lambda pp=pp, m=model: P.plot_spend_distribution(m, summary, prior=pp, interval=interval),
                            "Customers' mean spend per repeat transaction: actual and the Gamma-Gamma prior predictive.",
                            "Gamma-Gamma prior predictive: spend"))
    parts.append('<div class="grid stack">' + "".join(figs) + "</div>")
    return "".join(parts)


def _resolved_priors(model, summary):
    """The priors a fit on ``summary`` uses, in parameter order."""
    from ..models.base import data_time_unit
    from ..models.priors import resolve_priors

    unit = getattr(model, "time_unit_", None) or data_time_unit(summary) or "W"
    pr = resolve_priors(model.default_priors(unit, summary), model.priors)
    return [pr[p] for p in model.param_names]


def segment_table(table: pd.DataFrame, segments: dict | None = None) -> pd.DataFrame:
    """Customers, predicted and historical value and mean P(alive) per value segment. With ``segments``
    (the forecast metadata's per-segment summary, :func:`clvmodels.scoring.table.segment_summary_from_draws`)
    the totals and means of predicted CLV come with their credible intervals from the joint draws, and a
    last row ``all`` sums every customer."""
    from ..value.segments import SEGMENTS

    if segments:
        rows = {}
        for name, v in segments.items():
            rows[name] = {"customers": v["customers"],
                          "share of customers": v["customers"] / max(segments.get("all", {}).get("customers", 0), 1),
                          "predicted CLV, total": v["clv_total"],
                          "total, interval": f"{_fmt(v['clv_total_lower'])} to {_fmt(v['clv_total_upper'])}",
                          "predicted CLV, mean": v["clv_mean"],
                          "mean, interval": f"{_fmt(v['clv_mean_lower'])} to {_fmt(v['clv_mean_upper'])}"}
            if "p_any_purchase_mean" in v:
                rows[name]["P(any purchase), mean"] = v["p_any_purchase_mean"]
            if "historical_clv_total" in v:
                rows[name]["historical CLV, total"] = v["historical_clv_total"]
        out = pd.DataFrame.from_dict(rows, orient="index")
        out = out[out["customers"] > 0]
        out.index.name = "segment"
        return out
    t = table.copy()
    t["segment"] = t["segment"].astype(str)
    g = t.groupby("segment", observed=True)
    out = pd.DataFrame({"customers": g.size(),
                        "share of customers": g.size() / len(t),
                        "predicted CLV, total": g["clv"].sum(),
                        "share of predicted CLV": g["clv"].sum() / t["clv"].sum() if t["clv"].sum() else np.nan,
                        "predicted CLV, mean": g["clv"].mean(),
                        "P(alive), mean": g["p_alive"].mean()})
    if "p_any_purchase" in t.columns:
        out["P(any purchase), mean"] = g["p_any_purchase"].mean()
    if "historical_clv" in t.columns:
        out["historical CLV, total"] = g["historical_clv"].sum()
    order = [s for s in SEGMENTS if s in out.index] + [s for s in out.index if s not in SEGMENTS]
    out = out.loc[order]
    out.index.name = "segment"
    return out


def _value_section(result, fig: _Figures) -> str:
    from .. import plotting as P

    t = result.table
    clv_meta = dict(result.metadata.get("clv", {})) if isinstance(result.metadata, dict) else {}
    settings = dict(result.metadata.get("settings", {})) if isinstance(result.metadata, dict) else {}
    horizon = clv_meta.get("horizon", settings.get("horizon"))
    rate = clv_meta.get("discount_rate_annual", settings.get("discount_rate"))
    desc = []
    if horizon:
        desc.append(f"horizon {horizon}")
    if rate is not None:
        desc.append(f"annual discount rate {float(rate):.0%}")
    if isinstance(result.metadata, dict) and result.metadata.get("currency"):
        desc.append(f"in {result.metadata['currency']}")
    parts = ["<h2 id=\"value\">Value segments</h2>",
             f"<p class=\"meta\">Predicted CLV: posterior mean per customer ({_e(', '.join(desc) or 'see settings')}). "
             "Segments: high value (top 20% by CLV), medium value (next 30%), low value (the rest; customers "
             "with equal CLVs always share a tier); at risk: valuable customers (top 30% by predicted or historical "
             "value) with a probability of at least one purchase in the horizon (P(any purchase)) or P(alive) "
             f"below 0.5. Intervals: {float(result.metadata.get('interval', 0.9)) if isinstance(result.metadata, dict) else 0.9:.0%} "
             "credible intervals of the segment's total and mean from the joint posterior draws.</p>",
             ("<p class=\"meta\">BG/NBD gives P(alive) = 1 to every customer without a repeat purchase, however long "
             "ago she bought (it lets customers drop out only right after a repeat purchase); P(any purchase) does "
             "fall with the time since her purchase, which is why the at-risk rule uses it.</p>"
              if getattr(result.purchase_model, "name", "") == "bgnbd" else "")]
    if "segment" in t.columns:
        segs = result.metadata.get("segments") if isinstance(result.metadata, dict) else None
        parts.append(_table(segment_table(t, segs)))
    figs = [fig(lambda: P.plot_clv_distribution(t), "Predicted CLV across customers.", "CLV distribution")]
    if "historical_clv" in t.columns:
        figs.append(fig(lambda: P.plot_historical_vs_predicted(t), "Historical spend against predicted CLV.",
                        "Historical against predicted CLV"))
    parts.append('<div class="grid stack">' + "".join(figs) + "</div>")
    return "".join(parts)


TOP_COLUMNS = ["customer_id", "frequency", "recency", "T", "historical_clv", "p_alive", "expected_purchases",
               "purchases_lower", "purchases_upper", "expected_spend", "clv", "clv_lower", "clv_upper", "segment"]


def top_customers_table(table: pd.DataFrame, n: int) -> pd.DataFrame:
    t = table.reset_index() if "customer_id" not in table.columns and table.index.name == "customer_id" else table
    cols = [c for c in TOP_COLUMNS if c in t.columns]
    return t.sort_values("clv", ascending=False, kind="stable").head(int(n))[cols].reset_index(drop=True)


def _headline(result) -> str:
    """The value of a new customer, and the acquisition cost that still pays back, from the forecast's
    metadata (``new_customer``, :func:`clvmodels.value.new_customer_value`); empty when it has none."""
    nc = result.metadata.get("new_customer") if isinstance(result.metadata, dict) else None
    if not nc or "clv" not in nc:  # purchases only: no value
        return ""
    pct = f"{float(nc.get('interval', 0.9)):.0%}"
    first = "first purchase included" if nc.get("include_first_purchase") else "after the first purchase"
    text = (f"A <b>new customer</b> acquired now is worth <b>{_e(_fmt(nc['clv']))}</b> over {_e(nc['horizon'])} "
            f"({pct} credible interval {_e(_fmt(nc['clv_lower']))} to {_e(_fmt(nc['clv_upper']))}; discounted, "
            f"at margin {_e(_fmt(nc.get('margin')))}), from {_e(_fmt(nc['expected_purchases']))} expected repeat "
            f"purchases ({first}). An acquisition cost pays back up to <b>{_e(_fmt(nc['max_acquisition_cost']))}</b> "
            f"(posterior mean; prudent figure, the interval's lower bound: "
            f"{_e(_fmt(nc['max_acquisition_cost_prudent']))}).")
    if "clv_cac_ratio" in nc:
        text += (f" At the acquisition cost of {_e(_fmt(nc['acquisition_cost']))}, CLV/CAC = "
                 f"<b>{_e(_fmt(nc['clv_cac_ratio']))}</b>.")
    return f'<p class="headline" id="new-customer">{text}</p>'


def _top_section(result, fig: _Figures, top_n: int) -> str:
    from .. import plotting as P

    top = top_customers_table(result.table, top_n)
    parts = ["<h2 id=\"top\">Top customers</h2>",
             f"<p class=\"meta\">The {len(top)} customers with the highest predicted CLV, with credible intervals "
             "(clv_lower to clv_upper) and the predictive interval of their purchase count.</p>",
             _table(top, index=False),
             fig(lambda: P.plot_top_customers(result.table, n=min(top_n, 25)),
                 "Top customers: predicted CLV with interval, historical value marked.", "Top customers")]
    return "".join(parts)


def _no_spend_model_text(result) -> str:
    """Why a forecast has no spend model: a supplied spend, or no amounts (the metadata's ``spend``)."""
    spend = (result.metadata.get("spend") or {}) if isinstance(result.metadata, dict) else {}
    if spend.get("source") == "supplied":
        return ("No spend model: the spend per purchase was supplied per customer (" + str(spend.get("given_as", "spend="))
                + "); the CLV intervals carry the purchase model's uncertainty only.")
    return "No spend model: the transaction log has no amounts, so only the purchases are forecast."


def _no_value_section(result, top_n: int) -> str:
    """The report of a purchases-only forecast: why there is no CLV, and the customers expected to buy most."""
    note = (result.metadata.get("note") if isinstance(result.metadata, dict) else None) or (
        "no amounts: CLV columns left out; give --amount COL or --spend FILE for CLV")
    t = result.table
    cols = [c for c in TOP_COLUMNS if c in t.columns]
    top = t.sort_values("expected_purchases", ascending=False, kind="stable").head(int(top_n))[cols]
    return ("<h2 id=\"value\">No CLV: purchases only</h2>"
            f'<p class="note">This forecast has no customer lifetime value, value segments or top customers by value: '
            f"{_e(note)}.</p>"
            f"<h2 id=\"top\">Customers expected to buy most</h2><p class=\"meta\">The {len(top)} customers with the "
            "most expected purchases in the horizon, with P(alive) and the predictive interval of their purchase "
            "count.</p>" + _table(top.reset_index(drop=True), index=False))


def render_report(result, *, holdout: pd.DataFrame | None = None, transactions: pd.DataFrame | None = None,
                  title: str | None = None, top_n: int = 20, max_draws: int | None = PLOT_DRAWS,
                  validation_draws: int | None | str = "run", interval: float | None = None, dpi: int = REPORT_DPI,
                  figures: bool = True, validation: dict | None = None, prior_predictive: bool = False) -> str:
    """The report of a :class:`~clvmodels.pipeline.ForecastResult` as one self-contained HTML string.

    holdout: a calibration/holdout summary (``summarize(..., calibration_end=...)``) of the customers
        the models were fitted on, to add the validation section; by default the result's own summary
        is used when it has holdout columns.
    transactions: the transaction log, to add the tracking plot to the validation section.
    top_n: rows of the top-customers table. max_draws: posterior draws used by the figures (a picture
        needs fewer than a table). validation_draws: draws behind the validation figures' numbers;
        ``"run"`` (default) uses the run's scoring draws (``settings.max_draws`` of the result's
        metadata, else :data:`~clvmodels.predict.DEFAULT_SCORING_DRAWS`), so the report's validation
        gives the numbers ``clv validate`` gives. interval: level of the intervals shown (default: the
        run's). dpi: figure resolution (default :data:`REPORT_DPI`).
    figures: ``False`` leaves the figures out (tables only: quicker, and a much smaller file).
    validation: a holdout validation made apart from the forecast, with models fitted on a calibration
        period while the result's models saw all the data (``clv forecast --calibration-end``): a dict
        with ``summary`` (the calibration/holdout summary), ``purchase_model`` (fitted on its calibration
        period), and optionally ``spend_model``, ``purchases`` (the result of
        :func:`~clvmodels.validation.validate_purchases`, table included, so it is not computed again)
        and ``spend`` (:func:`~clvmodels.validation.spend.validate_spend`'s).
    prior_predictive: add the "Prior predictive" section (:data:`PRIOR_SECTION`, after the data summary):
        what the models' priors generate for the summary's customers before any fit (period transactions,
        tracking when ``transactions`` is given, spend), beside the data (:func:`clvmodels.prior_predictive`,
        ``max_draws`` prior draws, seed 0).
    """
    import matplotlib

    if interval is None:
        interval = float(result.metadata.get("interval", 0.9)) if isinstance(result.metadata, dict) else 0.9
    if validation is not None:
        if not isinstance(validation, dict) or "summary" not in validation or "purchase_model" not in validation:
            raise InputError("validation must be a dict with 'summary' (a calibration/holdout summary) and "
                             "'purchase_model' (fitted on its calibration period)")
        if holdout is not None:
            raise InputError("give holdout or validation, not both: validation carries its own summary")
        holdout = validation["summary"]
    hold = _holdout_summary(result, holdout)
    if validation_draws == "run":
        settings = result.metadata.get("settings", {}) if isinstance(result.metadata, dict) else {}
        validation_draws = settings.get("max_draws", DEFAULT_SCORING_DRAWS)
    fig = _Figures(dpi=dpi, enabled=figures)
    with matplotlib.rc_context({"figure.max_open_warning": 0}):
        body = [_data_section(result)]
        if prior_predictive:
            body.append(_prior_section(result, transactions, fig, max_draws, interval))
        body.append(_model_section(result, fig, max_draws, interval))
        if hold is not None:
            body.append(_validation_section(result, hold, transactions, fig, max_draws, interval, validation_draws,
                                            validation))
        table = getattr(result, "table", None)
        if table is None or "clv" in table.columns:
            body += [_value_section(result, fig), _top_section(result, fig, top_n)]
        else:  # purchases only (no amounts, no supplied spend): no value sections, and why
            body.append(_no_value_section(result, top_n))
    title = title or "Customer lifetime value report"
    now = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    settings = dict(result.metadata.get("settings", {})) if isinstance(result.metadata, dict) else {}
    shown = ", ".join(f"{k} {v}" for k, v in settings.items() if v is not None and k in
                      ("horizon", "discount_rate", "margin", "interval", "method", "chains", "draws"))
    currency = result.metadata.get("currency") if isinstance(result.metadata, dict) else None
    if currency:  # --currency / forecast(currency=): every amount of the report is in it
        shown = f"{shown}, amounts in {currency}" if shown else f"amounts in {currency}"
    versions = result.metadata.get("versions", {}) if isinstance(result.metadata, dict) else {}
    vtext = ", ".join(f"{k} {v}" for k, v in versions.items()) or f"clvmodels {__version__}"
    purchases = getattr(result, "purchase_model", None)
    ref = getattr(purchases, "reference", "")
    references = f"{_label(purchases)}: {ref}. " if ref else ""
    fails = ""
    if fig.failures:
        fails = ('<div class="note"><b>Parts of this report could not be produced:</b><ul>'
                 + "".join(f"<li>{_e(f)}</li>" for f in fig.failures) + "</ul></div>")
    nav = " &middot; ".join(f'<a href="#{a}">{_e(s)}</a>' for a, s in
                            (("data", "Data summary"), ("prior", PRIOR_SECTION), ("fit", "Model fit and diagnostics"),
                             ("validation", "Validation"), ("value", "Value segments"), ("top", "Top customers"))
                            if (a != "validation" or hold is not None) and (a != "prior" or prior_predictive))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body><main>"
        f"<h1>{_e(title)}</h1><p class=\"meta\">Created {_e(now)} by clvmodels {_e(__version__)}"
        f"{' &middot; ' + _e(shown) if shown else ''}</p>{_headline(result)}<p class=\"meta\">{nav}</p>{fails}"
        + "".join(body)
        + f"<footer>{_e(references)}"
        + ("Gamma-Gamma: Fader, Hardie &amp; Lee (2005), Journal of Marketing Research 42(4). "
           if getattr(result, "spend_model", None) is not None else "")
        + f"Versions: {_e(vtext)}.</footer>"
          "</main></body></html>\n")


def write_report(result, path, *, holdout: pd.DataFrame | None = None, **kwargs):
    """Write :func:`render_report` to ``path`` (UTF-8) atomically: on failure the previous file, if
    any, is left as it was. Returns the path."""
    from pathlib import Path

    from ..io.atomic import atomic_path

    text = render_report(result, holdout=holdout, **kwargs)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
