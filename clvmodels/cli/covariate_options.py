"""``clv forecast --covariates COL,COL --spend-covariates COL,COL --group COL [--customers FILE]``: static
customer covariates (:mod:`clvmodels.models.covariates`) from a customer attributes file keyed by the
customer id, or, without ``--customers``, from columns of the transaction log itself (each customer must
have one value in all her transactions: two different values exit 2 naming the customers).

The file (CSV or Parquet) has the ``--customer-id`` column and the covariate columns; it is read and
checked with the other options, before any work (:func:`check_covariate_options`: the file readable, the
columns there, no customer with two different values); its columns are joined to the summary once the
log is summarised (:func:`attach_covariates`: every customer of the log needs a row, else exit 2 naming
customers). NaN values and, with ``--no-fit``, levels the saved model did not see are refused by the
models' own checks, naming the column and the customers (exit 2).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import InputError, Problem, ProblemCollector


def add_covariate_arguments(p: argparse.ArgumentParser, *, spend: bool = True) -> None:
    """``--covariates``, ``--spend-covariates`` (not with ``spend=False``: ``clv compare`` compares purchase
    models), ``--group``, ``--customers``."""
    p.add_argument("--covariates", default=None, metavar="COLS",
                   help="static customer covariates of the purchase model, comma-separated columns of --customers "
                        "FILE; they enter the purchase rate (alpha_i = alpha exp(-gamma . z_i)) and the drop-out "
                        "(a_i, b_i, or the Pareto/NBD's beta_i), as pymc-marketing's; text columns are categorical "
                        "(reference level: the most frequent), numbers are standardised inside the fit")
    if spend:
        p.add_argument("--spend-covariates", default=None, metavar="COLS",
                       help="static customer covariates of the Gamma-Gamma's scale (v_i = v exp(gamma . z_i); with "
                            "--spend-model gamma_gamma_frequency v_i = v (x_i + 1)^gamma exp(gamma_spend . z_i)), "
                            "comma-separated columns of --customers FILE")
    p.add_argument("--group", default=None, metavar="COL",
                   help="a grouping column of --customers FILE (country, store, cohort): the purchase model's "
                        "parameters, and the spend scale v when a Gamma-Gamma is fitted, get one effect per group, "
                        "partially pooled (hierarchical prior), so a small group borrows strength from the others")
    p.add_argument("--customers", default=None, metavar="FILE",
                   help="customer attributes (CSV or Parquet) with the --customer-id column and the covariate "
                        "columns, one row per customer")


def _cols(text):
    return [c.strip() for c in str(text).split(",") if c.strip()] if text else []


def _read(path: Path):
    import pandas as pd

    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path)
    return pd.read_csv(path, keep_default_na=True)


def check_covariate_options(args, problems: ProblemCollector) -> None:
    """The covariate options: names, the file, its columns, one value per customer; what the file holds
    is kept in ``args.customer_attributes`` (None without covariates)."""
    args.customer_attributes = None
    args.covariates_from_log = None
    purchase, spend = _cols(getattr(args, "covariates", None)), _cols(getattr(args, "spend_covariates", None))
    group = getattr(args, "group", None)
    customers = getattr(args, "customers", None)
    if group and group in purchase:
        problems.add(None, f"--group {group!r} is also one of --covariates: a column is either")
    if group and group in spend and not (getattr(args, "spend", None) or getattr(args, "no_amount", False)):
        problems.add(None, f"--group {group!r} is also one of --spend-covariates: the spend model is pooled by "
                           "the group too, so a column is either")
    for opt, cols in (("--covariates", purchase), ("--spend-covariates", spend)):
        dup = sorted({c for c in cols if cols.count(c) > 1})
        if dup:
            problems.add(None, f"{opt} names {', '.join(dup)} more than once")
    if not (purchase or spend or group):
        if customers:
            problems.add(None, "--customers FILE gives the covariates' columns: add --covariates COLS (and/or "
                               "--spend-covariates COLS)")
        return
    if spend and (getattr(args, "spend", None) or getattr(args, "no_amount", False)):
        problems.add(None, "--spend-covariates are covariates of the Gamma-Gamma spend model: there is none with "
                           "--spend or --no-amount")
    if spend and getattr(args, "spend_model", None) not in (None, "gamma_gamma", "gamma_gamma_frequency"):
        problems.add(None, f"--spend-covariates: the spend model {args.spend_model!r} takes no covariates yet "
                           "(gamma_gamma and gamma_gamma_frequency do)")
    if not customers:  # columns of the transaction log: read (and checked) once it is summarised
        args.covariates_from_log = list(dict.fromkeys([*purchase, *spend, *([group] if group else [])]))
        return
    path = Path(customers)
    if not path.is_file():
        problems.add(None, f"--customers {customers!r}: no such file")
        return
    try:
        df = _read(path)
    except Exception as exc:  # a file pandas cannot read: say which and why
        problems.add(None, f"--customers {customers!r} cannot be read as CSV or Parquet ({type(exc).__name__}: {exc})")
        return
    idcol = getattr(args, "customer_id", "customer_id")
    missing = [c for c in [idcol, *purchase, *spend, *([group] if group else [])] if c not in df.columns]
    if missing:
        problems.add(None, f"--customers {customers!r} has no column{'s' if len(missing) > 1 else ''} "
                           f"{', '.join(map(repr, missing))} (it has {', '.join(map(repr, df.columns[:20]))})")
        return
    cols = list(dict.fromkeys([*purchase, *spend, *([group] if group else [])]))
    df = df[[idcol, *cols]]
    # one value per customer: a customer listed twice with different values is ambiguous
    per = df.drop_duplicates()
    twice = per[idcol].duplicated(keep=False)
    if twice.any():
        ids = list(dict.fromkeys(per.loc[twice, idcol].tolist()))
        problems.add(idcol, f"--customers {customers!r}: {len(ids)} customers have two or more different rows of "
                            f"{', '.join(map(repr, cols))} (a static covariate has one value per customer), e.g. "
                            f"{ids[:5]}", per.loc[twice].head(10), int(twice.sum()))
        return
    args.customer_attributes = per.set_index(idcol)


def log_covariates(args):
    """The covariate columns of the transaction log, one row per customer (indexed by the customer id):
    :class:`InputError` naming a missing column, or the customers whose transactions carry two different
    values of a covariate."""
    import pandas as pd

    from ..data.readers import resolve_source

    cols = args.covariates_from_log
    idcol = args.customer_id
    frames = []
    for path in resolve_source(args.transactions).paths:
        path = Path(path)
        try:
            if path.suffix.lower() in (".parquet", ".pq"):
                frames.append(pd.read_parquet(path, columns=[idcol, *cols]))
            else:
                frames.append(pd.read_csv(path, usecols=[idcol, *cols]))
        except (ValueError, KeyError) as exc:  # a column the log does not have
            raise InputError(f"--covariates/--spend-covariates/--group: the transaction log {str(path)!r} has no "
                             f"column(s) {', '.join(map(repr, cols))} as asked ({exc}); give the covariates in "
                             "--customers FILE instead", what="arguments") from None
    log = pd.concat(frames, ignore_index=True).drop_duplicates()
    twice = log[idcol].duplicated(keep=False)
    if twice.any():
        ids = list(dict.fromkeys(log.loc[twice, idcol].tolist()))
        bad = log.loc[twice].sort_values(idcol)
        changing = [c for c in cols if (bad.groupby(idcol)[c].nunique(dropna=False) > 1).any()]
        raise InputError([Problem(c, f"{len(ids)} customers have two or more different values in their transactions "
                                     f"(a static covariate has one value per customer), e.g. {ids[:5]}",
                                  bad[[idcol, c]].head(10), int(twice.sum())) for c in changing],
                         what="transactions")
    return log.set_index(idcol)


def attach_covariates(args, summary):
    """The summary with the covariate columns of ``--customers`` (or of the log) joined by customer id
    (its attrs kept): :class:`InputError` naming customers of the log without a row in the file."""
    import pandas as pd

    attrs = getattr(args, "customer_attributes", None)
    if attrs is None and getattr(args, "covariates_from_log", None):
        attrs = log_covariates(args)
    if attrs is None:
        return summary
    idx = attrs.index
    if pd.api.types.is_integer_dtype(summary.index.dtype) and not pd.api.types.is_integer_dtype(idx.dtype):
        attrs = attrs[pd.to_numeric(pd.Series(idx.astype(str)), errors="coerce").notna().to_numpy()]
        attrs.index = pd.to_numeric(pd.Series(attrs.index.astype(str))).astype("int64").to_numpy()
    elif not pd.api.types.is_integer_dtype(summary.index.dtype):
        attrs.index = attrs.index.astype(str)
    missing = ~summary.index.isin(attrs.index)
    if missing.any():
        ids = list(summary.index[missing][:5])
        raise InputError(f"--customers {args.customers!r}: {int(missing.sum())} customers of the transaction log "
                         f"have no row (no covariates), e.g. {ids}: give every customer a row", what="arguments")
    out = summary.copy()
    for c in attrs.columns:
        if c in out.columns:
            raise InputError(f"--customers: column {c!r} is also a column of the summary; rename it",
                             what="arguments")
        out[c] = attrs[c].reindex(summary.index).to_numpy()
    out.attrs = dict(summary.attrs)
    return out


def covariate_model_config(args) -> tuple[dict, dict]:
    """The estimators' covariate configuration: (purchase model kwargs, spend model kwargs). ``--group``
    pools both models, the spend model's too when one is fitted (not with --spend or --no-amount)."""
    purchase, spend = _cols(getattr(args, "covariates", None)), _cols(getattr(args, "spend_covariates", None))
    group = getattr(args, "group", None)
    pk = {"purchase_covariates": purchase, "dropout_covariates": purchase} if purchase else {}
    sk = {"spend_covariates": spend} if spend else {}
    if group:
        pk["group"] = group
        if not (getattr(args, "spend", None) or getattr(args, "no_amount", False)):
            sk["group"] = group
    return pk, sk
