"""The commands: ``clv summarize``, ``clv forecast``, ``clv validate``, ``clv compare``, ``clv demo`` and
``clv compile``.

Each command checks every option and path first (:mod:`clvmodels.cli.checks`, exit 2 before any work),
then calls the same functions as the Python API (:func:`clvmodels.summarize`, :func:`clvmodels.forecast`,
:func:`clvmodels.validation.validate_purchases`, :func:`clvmodels.validation.compare_models`), so a notebook and a batch job give the same numbers.
Progress goes to stderr; a run's outputs are staged and put in place together
(:func:`clvmodels.io.staged_outputs`).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..draws import DEFAULT_SCORING_DRAWS
from ..io.atomic import metadata_path, recover, staged_outputs, write_json, write_table
from .arguments import (add_fit_arguments, add_model_argument, add_models_argument, add_no_amount_argument,
                        add_spend_model_arguments, spend_model_from_args,
                        add_transaction_arguments, summarize_kwargs)
from .checks import check_compare, check_demo, check_forecast, check_summarize, check_validate
from .spark_options import start_spark


def add_summarize(sub) -> None:
    p = sub.add_parser(
        "summarize", help="per-customer RFM summary (frequency, recency, T, monetary value, historical CLV)",
        description="Summarise a transaction log into one row per customer: frequency (repeat purchase "
                    "occasions), recency (BTYD: first to last purchase), T, monetary_value, historical_clv, "
                    "time_since_last_purchase (RFM's recency), and with --calibration-end the holdout columns. "
                    "Bad input exits with code 2 and lists every problem; the output is written atomically.")
    add_transaction_arguments(p)
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="summary table, .csv or .parquet")
    p.add_argument("--calibration-end", default=None, metavar="DATE",
                   help="last day of a calibration period (inclusive; YYYY-MM-DD or as --date-format): adds "
                        "holdout columns up to --observation-end")
    p.add_argument("--quiet", action="store_true", help="no progress line on stderr")
    add_no_amount_argument(p)
    p.set_defaults(func=run_summarize)


def run_summarize(args: argparse.Namespace) -> int:
    """``clv summarize``: check the arguments, summarise, write the table and its sidecar together."""
    from ..data import summarize

    paths = check_summarize(args)  # fail before the work, not after
    recover(paths.directories)
    start_spark(args)  # --spark-master: the summary runs on that cluster
    summary = summarize(**summarize_kwargs(args), calibration_end=args.calibration_end)
    meta = dict(summary.attrs.get("clvmodels", {}))
    with staged_outputs():
        write_table(summary, args.output, metadata=meta)
    if not args.quiet:
        print(f"clv summarize: {len(summary):,} customers ({meta.get('engine')} engine, time unit "
              f"{meta.get('time_unit')}) written to {args.output}", file=sys.stderr)
        if str(meta.get("engine_reason", "")).startswith("auto"):  # why --engine auto picked it
            print(f"clv summarize: {meta['engine']} engine: {meta['engine_reason']}", file=sys.stderr)
    return 0


def add_job_commands(sub) -> None:
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
    p.add_argument("--max-draws", type=int, default=DEFAULT_SCORING_DRAWS,
                   help=f"joint posterior draws used for scoring, evenly thinned (default {DEFAULT_SCORING_DRAWS}; "
                        "0 = all)")
    p.add_argument("--report", default=None, help="also write a self-contained HTML report here")
    add_no_amount_argument(p)
    p.add_argument("--spend", default=None, metavar="FILE",
                   help="a known spend per purchase per customer (CSV/Parquet with the --customer-id column and a "
                        "spend column) instead of the Gamma-Gamma model: CLV = discounted expected purchases x spend "
                        "x margin - costs, its interval from the purchase model's draws")
    p.add_argument("--spend-column", default="spend", metavar="COL",
                   help="the spend column of --spend FILE (default: spend)")
    p.add_argument("--currency", default=None, metavar="CODE",
                   help="the amounts' currency, a 3-letter ISO 4217 code (e.g. USD): named in the column "
                        "descriptions and the report")
    p.add_argument("--calibration-end", default=None, metavar="DATE",
                   help="also validate on a holdout: fit the same model a second time, on the transactions up to "
                        "DATE (inclusive), and check its predictions against the holdout after it, as clv validate "
                        "does; the numbers go in the sidecar under 'validation' and in the --report's validation "
                        "section. The forecast table is still the forecast from all data to --observation-end. "
                        "Costs a second fit")
    p.add_argument("--prior-checks", action="store_true",
                   help="add a 'Prior predictive' section to the --report: what the models' priors alone generate "
                        "for these customers (period transactions, tracking, spend) beside the data, before any fit")
    add_mlflow_arguments(p)
    add_model_argument(p)
    add_spend_model_arguments(p)
    add_fit_arguments(p)
    from .covariate_options import add_covariate_arguments

    add_covariate_arguments(p)  # --covariates, --spend-covariates, --customers
    p.set_defaults(func=run_forecast)

    v = sub.add_parser("validate", help="calibration/holdout validation of the purchase (and spend) forecasts")
    add_transaction_arguments(v)
    v.add_argument("--calibration-end", required=True, help="last day of the calibration period (inclusive; YYYY-MM-DD or as --date-format)")
    v.add_argument("--json", required=True, dest="json_out", help="write the metrics here")
    v.add_argument("--table", default=None, help="optional per-customer validation table (.csv/.parquet)")
    add_no_amount_argument(v)
    add_model_argument(v)
    add_spend_model_arguments(v)
    add_fit_arguments(v)
    from .covariate_options import add_covariate_arguments

    add_covariate_arguments(v)  # --covariates, --spend-covariates, --group, --customers
    v.set_defaults(func=run_validate)

    c = sub.add_parser(
        "compare", help="fit several transaction models alike and rank them on the holdout (and PSIS-LOO)",
        description="Fit each of --models on the calibration period with the same settings, score each with "
                    "every number of clv validate plus PSIS-LOO on the calibration data, and rank them by the "
                    "holdout log predictive score (higher is better). Writes one JSON (--json) and optionally a "
                    "side-by-side HTML report (--report), together.")
    add_transaction_arguments(c)
    c.add_argument("--calibration-end", required=True, help="last day of the calibration period (inclusive; YYYY-MM-DD or as --date-format)")
    add_models_argument(c)
    add_no_amount_argument(c)
    c.add_argument("--json", required=True, dest="json_out", help="write the comparison here")
    c.add_argument("--report", default=None, help="also write a self-contained HTML report of the models side by side")
    add_fit_arguments(c)
    from .covariate_options import add_covariate_arguments

    # --covariates, --group, --customers: each model fitted without and with them (name+covariates), ranked together
    add_covariate_arguments(c, spend=False)
    c.set_defaults(func=run_compare)

    d = sub.add_parser("demo", help="the main job on the bundled CDNOW sample: forecast table, models, report")
    d.add_argument("--out", default="out", help="output directory (default ./out)")
    d.add_argument("--quiet", action="store_true")
    d.set_defaults(func=run_demo)

    w = sub.add_parser("compile", help="compile every model's sampler callbacks and scoring kernels into the on-disk "
                                       "caches, so the first forecast after an installation does not (make runs it)")
    w.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="compile in N processes at once (default: every core this process may use)")
    w.set_defaults(func=run_compile)


def add_mlflow_arguments(p) -> None:
    """``--mlflow``, ``--mlflow-experiment``, ``--mlflow-uri`` (the optional extra clvmodels[mlflow])."""
    p.add_argument("--mlflow", action="store_true",
                   help="once the outputs are in place, log the run to MLflow: settings as parameters, diagnostics, "
                        "totals and holdout metrics as metrics, the model files, the table's .meta.json and the "
                        "report as artifacts (needs the extra: pip install \"clvmodels[mlflow]\"). If only the "
                        "logging fails, the outputs stay and the exit code is 3")
    p.add_argument("--mlflow-experiment", default=None, metavar="NAME",
                   help="MLflow experiment (default: $MLFLOW_EXPERIMENT_NAME, else clvmodels); created when missing")
    p.add_argument("--mlflow-uri", default=None, metavar="URI",
                   help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else MLflow's default, "
                        "sqlite:///mlflow.db in the working directory), e.g. http://mlflow:5000")


#: exit code of a run whose outputs are written but whose logging to MLflow failed
EXIT_MLFLOW_FAILED = 3


def _log_to_mlflow(args) -> int:
    """Log a finished forecast run to MLflow (``--mlflow``): 0, or :data:`EXIT_MLFLOW_FAILED` with the reason
    on stderr (the outputs, already in place, are kept)."""
    from ..integrations.mlflow import MlflowLoggingError, log_forecast

    try:
        # from the files now in place: what is logged is what was written (the sidecar with its timings)
        run_id = log_forecast(args.output, model_dir=args.model_dir, report=args.report,
                              experiment=args.mlflow_experiment, tracking_uri=args.mlflow_uri)
    except MlflowLoggingError as exc:
        print(f"clv forecast: {exc}\nclv forecast: the outputs are written and kept ({args.output}); log them later "
              "without refitting with clvmodels.integrations.mlflow.log_forecast(" + repr(str(args.output))
              + ", model_dir=..., report=...)", file=sys.stderr)
        return EXIT_MLFLOW_FAILED
    if not args.quiet:
        print(f"[clv] logged to MLflow: run {run_id}", file=sys.stderr)
    return 0


def run_forecast(args) -> int:
    from ..data import summarize
    from ..pipeline import forecast

    paths, horizon = check_forecast(args)  # every option and path, before any work
    start_spark(args)  # --spark-master: the summary runs on that cluster
    progress = not args.quiet
    tidied = recover(paths.directories)
    if progress and any(tidied.values()):
        print(f"[clv] tidied up after an earlier run that was killed: {tidied['finished']} outputs put in place, "
              f"{tidied['removed']} staged files removed", file=sys.stderr)
    t0 = time.perf_counter()
    if progress:
        print("[clv] summarising transactions", file=sys.stderr, flush=True)
    summary = summarize(**summarize_kwargs(args))
    spend = getattr(args, "spend_values", None)
    if spend is not None:  # every customer of the log has a spend: exit 2 now, not after the fit
        from .checks import check_spend_coverage

        spend = check_spend_coverage(spend, summary, f"--spend {args.spend!r}")
        unused = int((~spend.index.isin(summary.index)).sum())
        if unused and progress:  # said, not silently dropped: they may be customers of another log
            print(f"[clv] note: {unused:,} customers of --spend {args.spend} are not in the transaction log "
                  "(their spends are not used)", file=sys.stderr)
    from .covariate_options import attach_covariates, covariate_model_config

    summary = attach_covariates(args, summary)  # --customers: the covariates' columns (exit 2 if a customer has none)
    t_summary = time.perf_counter() - t0
    holdout = _forecast_holdout_validation(args, progress) if args.calibration_end else None
    # everything below writes into one staged set: put in place together, only when all of it succeeded
    chosen = None  # --spend-model / --first-purchase: the spend model to fit (checked above: not with --no-fit)
    fit_config = dict(method=args.method, sampler=args.sampler, chains=args.chains, draws=args.draws, tune=args.tune,
                      seed=args.seed, target_accept=args.target_accept, progressbar=progress)
    p_cov, s_cov = covariate_model_config(args)  # --covariates / --spend-covariates
    if getattr(args, "spend_model", None) or getattr(args, "first_purchase", False) or (s_cov and not args.no_fit):
        chosen = spend_model_from_args(args, **fit_config, **s_cov)
    purchase_estimator = None
    if p_cov and not args.no_fit:
        from ..models.registry import DEFAULT_MODEL, transaction_model

        purchase_estimator = transaction_model(args.model or DEFAULT_MODEL, **fit_config, **p_cov)
    with staged_outputs():
        res = forecast(summary=summary, horizon=horizon, discount_rate=args.discount_rate,
                       margin=args.margin, cost_to_serve=args.cost_to_serve, acquisition_cost=args.acquisition_cost,
                       interval=args.interval, method=args.method, sampler=args.sampler, chains=args.chains,
                       draws=args.draws, tune=args.tune, seed=args.seed, target_accept=args.target_accept,
                       model_dir=args.model_dir, fit=not args.no_fit, max_draws=args.max_draws or None,
                       model=args.model, progress=progress, spend=spend, currency=getattr(args, "currency", None),
                       spend_model=chosen, purchase_model=purchase_estimator)
        if spend is not None:  # the metadata names the file the spend came from
            res.metadata["spend"] = {**(res.metadata.get("spend") or {}), "given_as": f"--spend {args.spend} "
                                     f"(column {args.spend_column!r})"}
        res.timings["summary"] = t_summary
        t1 = time.perf_counter()
        meta = dict(res.metadata)
        if holdout is not None:
            res.timings["validation"] = holdout["seconds"]
            meta["validation"] = holdout["metrics"]
        meta["timings_seconds"] = {**{k: round(v, 3) for k, v in res.timings.items()}}
        write_table(res.table, args.output, metadata=meta, index=False, sidecar=False)
        # the write time can only be known afterwards: it goes into the JSON beside the table, once
        meta["timings_seconds"]["write"] = round(time.perf_counter() - t1, 3)
        write_json(meta, metadata_path(args.output))
        if args.report:
            from ..report import write_report

            extra = {} if holdout is None else {"validation": holdout, "transactions": _transactions_frame(args)}
            if getattr(args, "prior_checks", False):  # the log gives the prior tracking plot its actual curve
                extra = {**extra, "prior_predictive": True,
                         "transactions": extra["transactions"] if "transactions" in extra else _transactions_frame(args)}
            write_report(res, args.report, **extra)
    if progress:
        print(f"[clv] wrote {len(res.table):,} customers to {args.output} in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr)
        for name, m in ((res.purchase_model.label or type(res.purchase_model).__name__, res.purchase_model),
                        ("Gamma-Gamma", res.spend_model)):
            if m is None:  # no spend model: --spend, or --no-amount
                continue
            d = m.diagnostics_
            status = "ok" if d.ok else "PROBLEMS: " + "; ".join(d.problems)
            print(f"[clv] {name} diagnostics ({d.method}): {status}", file=sys.stderr)
    if getattr(args, "mlflow", False):  # only now: the outputs are in place whatever happens to the logging
        return _log_to_mlflow(args)
    return 0


def _forecast_holdout_validation(args, progress: bool) -> dict:
    """``clv forecast --calibration-end``: the holdout validation of ``clv validate`` beside the forecast.
    Fits the forecast's model (and the Gamma-Gamma) a second time, on the calibration period, validates
    both on the holdout, and returns what the report's validation section takes (``summary``,
    ``purchase_model``, ``spend_model``, ``purchases``, ``spend``) with ``metrics`` (JSON-ready: what
    ``clv validate --json`` writes, plus ``calibration_end``) and ``seconds``."""
    from ..data import summarize
    from ..errors import DataError
    from ..io.atomic import strict_json
    from ..models.registry import DEFAULT_MODEL, transaction_model
    from ..validation import validate_purchases
    from ..validation.spend import validate_spend

    from .covariate_options import attach_covariates, covariate_model_config

    t0 = time.perf_counter()
    summary = summarize(**summarize_kwargs(args), calibration_end=args.calibration_end)
    # the forecast's covariate configuration, fitted again on the calibration customers (their columns joined)
    summary = attach_covariates(args, summary)
    p_cov, s_cov = covariate_model_config(args)
    common = dict(method=args.method, sampler=args.sampler, chains=args.chains, draws=args.draws,
                  tune=args.tune, seed=args.seed, target_accept=args.target_accept, progressbar=progress)
    bg = transaction_model(args.model or DEFAULT_MODEL, **common, **p_cov)
    if progress:
        print(f"[clv] --calibration-end: fitting {bg.label} a second time, on {len(summary):,} customers up to "
              f"{args.calibration_end}, to validate on the holdout (this fit adds to the run time)",
              file=sys.stderr, flush=True)
    bg.fit(summary)
    draws = args.max_draws or None   # the forecast's scoring draws: the report shows the same numbers
    purchases = validate_purchases(bg, summary, interval=args.interval, seed=args.seed or 0, max_draws=draws)
    metrics = {k: v for k, v in purchases.items() if k != "table"}
    metrics.update(model=bg.name, calibration_end=str(args.calibration_end), fit_info={bg.name: bg.fit_info_})
    gg = spend = None
    if "monetary_value" not in summary.columns or getattr(args, "spend", None):
        # no amounts, or a supplied spend: the forecast has no spend model, so there is none to validate
        metrics["spend"] = "not validated: " + ("the log has no amounts" if "monetary_value" not in summary.columns
                                                else "the spend is supplied (--spend), not modelled")
        return {"summary": summary, "purchase_model": bg, "spend_model": None, "purchases": purchases,
                "spend": None, "metrics": strict_json(metrics), "seconds": time.perf_counter() - t0}
    try:  # the spend model says when the data cannot support it; purchases are still validated then
        gg = spend_model_from_args(args, **common, **s_cov).fit(summary)
    except DataError as exc:
        import warnings

        warnings.warn(f"spend is not validated: {exc}", UserWarning, stacklevel=2)
    else:
        spend = validate_spend(bg, gg, summary, interval=args.interval, seed=args.seed or 0, max_draws=draws)
        metrics.update({k: v for k, v in spend.items() if k != "table"})
        metrics["fit_info"]["gamma_gamma"] = gg.fit_info_
    return {"summary": summary, "purchase_model": bg, "spend_model": gg, "purchases": purchases, "spend": spend,
            "metrics": strict_json(metrics), "seconds": time.perf_counter() - t0}


def run_validate(args) -> int:
    from ..data import summarize
    from ..errors import DataError
    from ..models.registry import DEFAULT_MODEL, transaction_model
    from ..validation import validate_purchases
    from ..validation.spend import validate_spend

    paths = check_validate(args)
    recover(paths.directories)
    start_spark(args)  # --spark-master: the summary runs on that cluster
    progress = not args.quiet
    summary = summarize(**summarize_kwargs(args), calibration_end=args.calibration_end)
    from .covariate_options import attach_covariates, covariate_model_config

    summary = attach_covariates(args, summary)  # --customers: the covariates' columns
    p_cov, s_cov = covariate_model_config(args)
    common = dict(method=args.method, sampler=args.sampler, chains=args.chains, draws=args.draws,
                  tune=args.tune, seed=args.seed, target_accept=args.target_accept, progressbar=progress)
    bg = transaction_model(args.model or DEFAULT_MODEL, **common, **p_cov)
    if progress:
        print(f"[clv] fitting {bg.label} on {len(summary):,} calibration customers", file=sys.stderr)
    bg.fit(summary)
    metrics = validate_purchases(bg, summary, interval=args.interval, seed=args.seed or 0)
    table = metrics.pop("table")
    metrics["model"] = bg.name
    metrics["fit_info"] = {bg.name: bg.fit_info_}
    if progress and "monetary_value" in summary.columns:
        print("[clv] fitting Gamma-Gamma", file=sys.stderr)
    try:  # the spend model says when the data cannot support it; purchases are still validated then
        if "monetary_value" not in summary.columns:  # --no-amount: nothing to validate the spend on
            raise DataError("the log has no amounts (--no-amount): the purchases are validated alone")
        gg = spend_model_from_args(args, **common, **s_cov).fit(summary)  # --spend-covariates: per cell
    except DataError as exc:
        import warnings

        warnings.warn(f"spend is not validated: {exc}", UserWarning, stacklevel=2)
        metrics["spend"] = f"not validated: {exc}"
    else:
        spend = validate_spend(bg, gg, summary, interval=args.interval, seed=args.seed or 0)
        table = table.join(spend.pop("table"))
        metrics.update(spend)
        metrics["fit_info"]["gamma_gamma"] = gg.fit_info_
    with staged_outputs():
        write_json(metrics, args.json_out)
        if args.table:
            write_table(table, args.table)
    if progress:
        keys = ["n_customers", "holdout_actual_total", "holdout_predicted_total", "mae", "rmse",
                "interval_coverage", "interval_expected_coverage", "pit_chi2_pvalue", "holdout_log_score"]
        from ..io.atomic import dumps

        print("[clv] " + dumps({k: metrics.get(k) for k in keys}), file=sys.stderr)
    return 0


def _transactions_frame(args):
    """The transaction log as a DataFrame (``customer_id``, ``date``) for the report's tracking plots,
    read and checked by the pandas engine with the command's options (the rows the summary kept)."""
    import numpy as np
    import pandas as pd

    from ..data.checks import parse_period_ends
    from ..data.pandas_engine import read_log
    from ..errors import ProblemCollector

    kw = summarize_kwargs(args)
    problems = ProblemCollector("transactions")
    obs, cal = parse_period_ends(args.observation_end, args.calibration_end, problems, kw["date_format"])
    log = read_log(kw["transactions"], customer_id=kw["customer_id"], date=kw["date"], amount=kw["amount"],
                   observation_end=obs, calibration_end=cal, negative_amounts=kw["negative_amounts"],
                   date_format=kw["date_format"], problems=problems, zero_amounts=kw["zero_amounts"])
    return pd.DataFrame({"customer_id": np.asarray(log.ids), "date": np.asarray(log.day, dtype=np.int64).astype("datetime64[D]")})


def run_compare(args) -> int:
    """``clv compare``: check everything, summarise, fit and score each model, write the JSON (and the
    report) together."""
    from ..data import summarize
    from ..io.atomic import dumps
    from ..validation.compare import run_comparison

    paths, names = check_compare(args)
    recover(paths.directories)
    start_spark(args)  # --spark-master: the summary runs on that cluster
    progress = not args.quiet
    t0 = time.perf_counter()
    summary = summarize(**summarize_kwargs(args), calibration_end=args.calibration_end)
    from .covariate_options import attach_covariates, covariate_model_config

    summary = attach_covariates(args, summary)  # --customers: the covariates' columns (exit 2 if a customer has none)
    p_cov, _ = covariate_model_config(args)
    comparison = run_comparison(summary, names, interval=args.interval, method=args.method, sampler=args.sampler,
                                chains=args.chains, draws=args.draws, tune=args.tune, seed=args.seed,
                                target_accept=args.target_accept, progress=progress, covariates=p_cov or None)
    result = comparison.result
    with staged_outputs():
        if args.report:
            from ..report.compare import write_comparison_report

            if progress:
                print("[clv] drawing the report", file=sys.stderr, flush=True)
            write_comparison_report(comparison, args.report, transactions=_transactions_frame(args))
        result["timings_seconds"] = {"total": round(time.perf_counter() - t0, 3)}
        write_json(result, args.json_out)
    if progress:
        keys = ["holdout_log_score", "holdout_log_score_diff", "holdout_log_score_diff_se", "elpd_loo",
                "elpd_loo_se", "pit_chi2_pvalue", "interval_coverage"]
        for name in result["ranking"]:
            m = result["models"][name]
            print(f"[clv] {m['label']}: " + dumps({k: m.get(k) for k in keys}), file=sys.stderr)
        for name, e in result.get("covariates_effect", {}).items():  # --covariates: do they help?
            if e["holdout_log_score_diff"] is None:
                continue
            print(f"[clv] covariates in {name}: holdout log score {e['holdout_log_score_diff']:+.2f} "
                  f"(se {e['holdout_log_score_diff_se']:.2f}) with them than without", file=sys.stderr)
        print(f"[clv] best: {result['best']} (by {result['criterion_key']}); wrote {args.json_out}"
              f"{' and ' + args.report if args.report else ''}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clv", description="Probabilistic customer lifetime value.")
    sub = parser.add_subparsers(dest="command", required=True)
    add_summarize(sub)  # each adds its subparser and sets `func`
    add_job_commands(sub)
    return parser


def run_compile(args) -> int:
    """Fill the compilation caches: each model fitted and scored once on the bundled sample (clvmodels.warmup)."""
    from ..warmup import default_jobs, warm_up

    jobs = default_jobs() if args.jobs is None else args.jobs
    if jobs < 1:
        print(f"clv compile: --jobs must be at least 1, got {jobs}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    warm_up(jobs=jobs)
    print(f"[clv] compiled every model in {time.perf_counter() - start:.0f} s; later runs load the compiled code",
          file=sys.stderr)
    return 0


def run_demo(args) -> int:
    """Forecast the bundled CDNOW sample from the end of its log (1998-06-30): 52 weeks ahead, 10% a year."""
    from ..datasets import cdnow_sample_path
    from ..io.atomic import make_output_dir

    check_demo(args)
    out = Path(args.out)
    # the demo is a forecast command line, read by the same parser as one typed by hand
    ns = build_parser().parse_args([
        "forecast", str(cdnow_sample_path()), "--observation-end", "1998-06-30", "--time-unit", "W",
        "--horizon", "52", "--discount-rate", "0.1", "--seed", "42", "-o", str(out / "forecast.parquet"),
        "--model-dir", str(out / "models"), "--report", str(out / "report.html"), *(["--quiet"] if args.quiet else [])])
    with staged_outputs():  # the folder too is removed again if the run fails
        make_output_dir(out)
        rc = run_forecast(ns)
    if rc == 0 and not args.quiet:
        import pandas as pd

        table = pd.read_parquet(out / "forecast.parquet")
        cols = ["customer_id", "frequency", "historical_clv", "p_alive", "expected_purchases",
                "purchases_lower", "purchases_upper", "clv", "clv_lower", "clv_upper", "segment"]
        print(table.sort_values("clv", ascending=False)[cols].head(10).to_string(index=False))
        print(f"\nforecast table: {out / 'forecast.parquet'}\nmodels: {out / 'models'}\nreport: {out / 'report.html'}")
    return rc
