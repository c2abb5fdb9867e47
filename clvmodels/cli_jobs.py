"""The batch jobs of the CLI: ``clv forecast``, ``clv validate`` and ``clv demo``.

They call the same functions as the Python API (:func:`clvmodels.forecast`,
:func:`clvmodels.validation.validate_purchases`), so a notebook and a batch job give the same numbers.
Progress goes to stderr; tables and JSON are written atomically.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .io.atomic import metadata_path, write_json, write_table


def _add_fit_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--method", choices=["nuts", "map"], default="nuts", help="NUTS (default) or MAP with a Laplace approximation")
    p.add_argument("--sampler", choices=["auto", "nutpie", "pymc"], default="auto")
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--tune", type=int, default=1000)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--interval", type=float, default=0.9, help="central interval level (default 0.9)")
    p.add_argument("--quiet", action="store_true", help="no progress output on stderr")


def _horizon(value: str, unit: str) -> str:
    """--horizon N is in the --time-unit; '52W' style values must agree with it (checked by the model)."""
    try:
        float(value)
        return f"{value}{unit}"
    except ValueError:
        return value


def _check_output(path) -> None:
    """A bad output name fails before the work, not after (exit code 2)."""
    from .errors import InputError
    from .io.atomic import table_format

    try:
        table_format(path)
    except ValueError as exc:
        raise InputError(str(exc), what="arguments") from None


def add_job_commands(sub, add_transaction_arguments) -> None:
    p = sub.add_parser("forecast", help="fit the models and write the per-customer forecast table")
    add_transaction_arguments(p)
    p.add_argument("--horizon", required=True, help="forecast horizon in periods of --time-unit (e.g. 52)")
    p.add_argument("-o", "--output", required=True, help="forecast table, .parquet or .csv")
    p.add_argument("--discount-rate", type=float, default=0.0, help="annual discount rate, e.g. 0.1")
    p.add_argument("--margin", type=float, default=1.0, help="fraction of revenue kept (default 1)")
    p.add_argument("--cost-to-serve", type=float, default=0.0, help="cost per period while a customer is alive")
    p.add_argument("--acquisition-cost", type=float, default=None, help="adds clv_minus_cac and clv_cac_ratio")
    p.add_argument("--model-dir", default=None, help="save the fitted models here (or load them with --no-fit)")
    p.add_argument("--no-fit", action="store_true", help="score with the models in --model-dir, no refit")
    p.add_argument("--max-draws", type=int, default=1000,
                   help="joint posterior draws used for scoring, evenly thinned (default 1000; 0 = all)")
    p.add_argument("--report", default=None, help="also write a self-contained HTML report here")
    _add_fit_arguments(p)
    p.set_defaults(func=run_forecast)

    v = sub.add_parser("validate", help="calibration/holdout validation of the BG/NBD (and spend) forecasts")
    add_transaction_arguments(v)
    v.add_argument("--calibration-end", required=True, help="last day of the calibration period (inclusive)")
    v.add_argument("--json", required=True, dest="json_out", help="write the metrics here")
    v.add_argument("--table", default=None, help="optional per-customer validation table (.csv/.parquet)")
    _add_fit_arguments(v)
    v.set_defaults(func=run_validate)

    d = sub.add_parser("demo", help="the main job on the bundled CDNOW sample: forecast table, models, report")
    d.add_argument("--out", default="out", help="output directory (default ./out)")
    d.add_argument("--quiet", action="store_true")
    d.set_defaults(func=run_demo)


def run_forecast(args) -> int:
    from .cli import summarize_kwargs
    from .data import summarize
    from .pipeline import forecast
    progress = not args.quiet
    _check_output(args.output)
    t0 = time.perf_counter()
    if progress:
        print("[clv] summarising transactions", file=sys.stderr, flush=True)
    summary = summarize(**summarize_kwargs(args))
    t_summary = time.perf_counter() - t0
    res = forecast(summary=summary, horizon=_horizon(args.horizon, args.time_unit), discount_rate=args.discount_rate,
                   margin=args.margin, cost_to_serve=args.cost_to_serve, acquisition_cost=args.acquisition_cost,
                   interval=args.interval, method=args.method, sampler=args.sampler, chains=args.chains, draws=args.draws,
                   tune=args.tune, seed=args.seed, model_dir=args.model_dir, fit=not args.no_fit,
                   max_draws=args.max_draws or None, progress=progress)
    res.timings["summary"] = t_summary
    t1 = time.perf_counter()
    meta = dict(res.metadata)
    meta["timings_seconds"] = {**{k: round(v, 3) for k, v in res.timings.items()}}
    write_table(res.table, args.output, metadata=meta, index=False)
    # the write time can only be known afterwards: it goes into the JSON beside the table
    meta["timings_seconds"]["write"] = round(time.perf_counter() - t1, 3)
    write_json(meta, metadata_path(args.output))
    if args.report:
        from .report import write_report

        write_report(res, args.report)
    if progress:
        print(f"[clv] wrote {len(res.table):,} customers to {args.output} in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr)
        for name, m in (("BG/NBD", res.bgnbd), ("Gamma-Gamma", res.gamma_gamma)):
            d = m.diagnostics_
            status = "ok" if d.ok else "PROBLEMS: " + "; ".join(d.problems)
            print(f"[clv] {name} diagnostics ({d.method}): {status}", file=sys.stderr)
    return 0


def run_validate(args) -> int:
    from .data import summarize
    from .models import BetaGeoModel, GammaGammaModel
    from .validation import validate_purchases
    from .validation.spend import validate_spend

    from .cli import summarize_kwargs

    progress = not args.quiet
    if args.table:
        _check_output(args.table)
    summary = summarize(**summarize_kwargs(args), calibration_end=args.calibration_end)
    common = dict(method=args.method, sampler=args.sampler, chains=args.chains, draws=args.draws,
                  tune=args.tune, seed=args.seed, progressbar=progress)
    if progress:
        print(f"[clv] fitting BG/NBD on {len(summary):,} calibration customers", file=sys.stderr)
    bg = BetaGeoModel(**common).fit(summary)
    metrics = validate_purchases(bg, summary, interval=args.interval, seed=args.seed or 0)
    table = metrics.pop("table")
    if (summary["frequency"] > 0).sum() >= 2:
        if progress:
            print("[clv] fitting Gamma-Gamma", file=sys.stderr)
        gg = GammaGammaModel(**common).fit(summary)
        spend = validate_spend(bg, gg, summary, interval=args.interval, seed=args.seed or 0)
        table = table.join(spend.pop("table"))
        metrics.update(spend)
    write_json(metrics, args.json_out)
    if args.table:
        write_table(table, args.table)
    if progress:
        keys = ["n_customers", "holdout_actual_total", "holdout_predicted_total", "mae", "rmse",
                "interval_coverage", "interval_expected_coverage", "pit_pvalue"]
        print("[clv] " + json.dumps({k: metrics[k] for k in keys}), file=sys.stderr)
    return 0


def run_demo(args) -> int:
    """Forecast the bundled CDNOW sample from the end of its log (1998-06-30): 52 weeks ahead, 10% a year."""
    from .datasets import cdnow_sample_path

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ns = argparse.Namespace(
        transactions=[str(cdnow_sample_path())], date_format=None, customer_id="customer_id", date="date", amount="amount",
        observation_end="1998-06-30", time_unit="W", horizon="52", output=str(out / "forecast.parquet"),
        discount_rate=0.1, margin=1.0, cost_to_serve=0.0, acquisition_cost=None, model_dir=str(out / "models"),
        no_fit=False, max_draws=1000, report=str(out / "report.html"), method="nuts", sampler="auto", chains=4,
        draws=1000, tune=1000, seed=42, interval=0.9, quiet=args.quiet, engine="auto", negative_amounts="error")
    rc = run_forecast(ns)
    if rc == 0 and not args.quiet:
        import pandas as pd

        table = pd.read_parquet(out / "forecast.parquet")
        cols = ["customer_id", "frequency", "historical_clv", "p_alive", "expected_purchases",
                "purchases_lower", "purchases_upper", "clv", "clv_lower", "clv_upper", "segment"]
        print(table.sort_values("clv", ascending=False)[cols].head(10).to_string(index=False))
        print(f"\nforecast table: {out / 'forecast.parquet'}\nmodels: {out / 'models'}\nreport: {out / 'report.html'}")
    return rc
