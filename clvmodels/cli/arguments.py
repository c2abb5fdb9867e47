"""The options the commands share: the transaction log's (every command that reads one) and the
sampler's (every command that fits), with their destinations named after the Python API's keywords."""
from __future__ import annotations

import argparse


def add_transaction_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments every command that reads a transaction log shares (summarize, forecast, validate).

    Adds the positional ``transactions`` (one or more CSV/Parquet files, globs or directories; a list)
    and ``--customer-id``, ``--date``, ``--amount``, ``--observation-end``, ``--time-unit``,
    ``--negative-amounts``, ``--zero-amounts``, ``--time-mode``, ``--engine`` and ``--date-format``, whose destinations are the keyword names
    of :func:`clvmodels.data.summarize` (``args.customer_id``, ``args.observation_end``, ...).
    Commands pass them on with :func:`summarize_kwargs`.
    """
    parser.add_argument("transactions", nargs="+", metavar="TRANSACTIONS",
                        help="transaction log: CSV (comma-separated, with a header) or Parquet files, globs "
                             "(quote them) or directories")
    parser.add_argument("--customer-id", default="customer_id", metavar="COL",
                        help="column of customer ids (default: customer_id)")
    parser.add_argument("--date", default="date", metavar="COL", help="column of transaction dates (default: date)")
    parser.add_argument("--amount", default="amount", metavar="COL",
                        help="column of transaction values (default: amount)")
    parser.add_argument("--observation-end", required=True, metavar="DATE",
                        help="last day of the observation period, inclusive (YYYY-MM-DD, or as the dates in "
                             "--date-format); later transactions are an error")
    parser.add_argument("--time-unit", choices=["D", "W", "M"], default="W",
                        help="unit of recency, T and horizons: days, weeks (default) or months")
    parser.add_argument("--negative-amounts", choices=["error", "drop", "net"], default="error",
                        help="negative amounts (returns): report them as bad input (default), drop those rows, "
                             "or net them against the customer's spend")
    parser.add_argument("--zero-amounts", choices=["keep", "drop"], default="keep",
                        help="purchases worth 0 (free items, vouchers): keep them as purchases (default; they "
                             "count in frequency, and customers whose repeat purchases are all worth 0 are left "
                             "out of the spend model's fit) or drop those rows")
    parser.add_argument("--time-mode", choices=["continuous", "periods"], default="continuous",
                        help="continuous time, days / days per unit (default, unbiased), or whole periods as "
                             "lifetimes' freq option (fewer distinct (frequency, recency, T): cheaper fits)")
    parser.add_argument("--engine", choices=["auto", "pandas", "duckdb", "spark"], default="auto",
                        help="summary engine; auto (default): pandas (in memory, fastest) for a log that fits "
                             "comfortably in memory (its estimated need, from the Parquet row counts or the CSV "
                             "size, at most half the memory available), else duckdb (bounded memory, spills to "
                             "disk: logs larger than memory); spark runs "
                             "the summary on Spark (needs clvmodels[spark]; the active Spark session, else a local "
                             "one, else the cluster of --spark-master)")
    parser.add_argument("--date-format", default=None, metavar="FMT",
                        help="strptime format of the dates, e.g. %%Y%%m%%d (default: ISO 8601, YYYY-MM-DD)")
    from .spark_options import add_spark_arguments

    add_spark_arguments(parser)  # --spark-master, --spark-archive


def summarize_kwargs(args: argparse.Namespace) -> dict:
    """The :func:`clvmodels.data.summarize` keyword arguments from :func:`add_transaction_arguments`'s."""
    transactions = args.transactions
    if isinstance(transactions, (list, tuple)) and len(transactions) == 1:
        transactions = transactions[0]
    amount = None if getattr(args, "no_amount", False) else args.amount  # --no-amount: a log without amounts
    return dict(transactions=transactions, customer_id=args.customer_id, date=args.date, amount=amount,
                observation_end=args.observation_end, time_unit=args.time_unit,
                negative_amounts=getattr(args, "negative_amounts", "error"),
                zero_amounts=getattr(args, "zero_amounts", "keep"), engine=getattr(args, "engine", "auto"),
                date_format=getattr(args, "date_format", None), time_mode=getattr(args, "time_mode", "continuous"))


def add_no_amount_argument(p: argparse.ArgumentParser) -> None:
    """``--no-amount``: a transaction log without amounts (summarize, forecast)."""
    p.add_argument("--no-amount", action="store_true",
                   help="the log has no amounts: summarise without the money columns; clv forecast then forecasts "
                        "the purchases only (no CLV columns), or CLV with --spend FILE")


def add_fit_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--method", choices=["nuts", "map", "mode"], default="nuts",
                   help="nuts: NUTS draws (default); map: the posterior mode with draws of its Laplace "
                        "approximation (quick; predictions averaged over them); mode: the posterior mode alone, "
                        "predictions plugged in at it as lifetimes and the papers print them (no parameter "
                        "uncertainty: CLV intervals collapse to the point, purchase count intervals keep the "
                        "customers' own randomness; no R-hat or ESS)")
    p.add_argument("--sampler", choices=["auto", "nutpie", "pymc"], default="auto")
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--tune", type=int, default=1000)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--target-accept", type=float, default=None,
                   help="NUTS target acceptance rate (default: the model's own, 0.8, and 0.95 for the Pareto/NBD, "
                        "whose (s, beta) ridge is curved); raise it (e.g. 0.95) when the fit reports divergent "
                        "transitions")
    p.add_argument("--interval", type=float, default=0.9, help="central interval level (default 0.9)")
    p.add_argument("--quiet", action="store_true", help="no progress output on stderr")


def add_model_argument(p: argparse.ArgumentParser) -> None:
    """``--model``: the transaction model, one of :data:`clvmodels.models.registry.TRANSACTION_MODELS`."""
    from ..models.registry import DEFAULT_MODEL, model_names

    p.add_argument("--model", choices=model_names(), default=None,
                   help=f"transaction model (default {DEFAULT_MODEL}; with --no-fit, the one saved in --model-dir): "
                        "bgnbd, BG/NBD (drop-out only right after a purchase); mbgnbd, MBG/NBD (also at the first "
                        "purchase); pnbd, Pareto/NBD (at any time)")


def add_spend_model_arguments(p: argparse.ArgumentParser) -> None:
    """``--spend-model`` and ``--first-purchase``: which spend model is fitted, and on which purchases
    (:data:`clvmodels.models.registry.SPEND_MODELS`); checked by
    :func:`clvmodels.cli.checks.check_spend_model_options`."""
    from ..models.registry import DEFAULT_SPEND_MODEL, SPEND_MODELS

    p.add_argument("--spend-model", choices=list(SPEND_MODELS), default=None,
                   help=f"spend model (default {DEFAULT_SPEND_MODEL}): gamma_gamma, spend per transaction independent "
                        "of frequency (Fader, Hardie & Lee 2005); gamma_gamma_frequency, its scale times "
                        "(frequency + 1)^gamma, for spend that follows frequency (the SpendCorrelationWarning)")
    p.add_argument("--first-purchase", action="store_true",
                   help="fit the spend model on all purchase occasions, the first included (n = frequency + 1 and "
                        "their mean), not only the repeat purchases: one-time buyers then get an expected spend of "
                        "their own instead of the population mean (CLVTools' remove.first.transaction = FALSE)")


def spend_model_from_args(args: argparse.Namespace, **config):
    """The configured (unfitted) spend model of ``--spend-model`` and ``--first-purchase``."""
    from ..models.registry import DEFAULT_SPEND_MODEL, spend_model

    return spend_model(getattr(args, "spend_model", None) or DEFAULT_SPEND_MODEL,
                       first_purchase=bool(getattr(args, "first_purchase", False)), **config)


def add_models_argument(p: argparse.ArgumentParser) -> None:
    """``--models``: several transaction models, comma-separated (``clv compare``); checked by
    :func:`clvmodels.cli.checks.check_compare` (unknown names and repeats exit 2)."""
    from ..models.registry import model_names

    p.add_argument("--models", default=None, metavar="NAMES",
                   help=f"transaction models to compare, comma-separated, from {', '.join(model_names())} "
                        "(default: all of them)")
