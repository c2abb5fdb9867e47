"""Bundled data: the CDNOW sample of the BTYD literature, its published calibration summary, and the
full CDNOW master log.

Source: the CDNOW data set made public by Fader and Hardie (http://www.brucehardie.com/datasets/),
used in Fader, Hardie & Lee (2005), "Counting your customers the easy way: an alternative to the
Pareto/NBD model", Marketing Science 24(2), and "RFM and CLV: using iso-value curves for customer base
analysis", Journal of Marketing Research 42(4). The sample is 1/10th of the cohort of 23,570 customers
who made their first purchase at CDNOW in the first quarter of 1997: 6,919 transactions of 2,357
customers from 1997-01-01 to 1998-06-30.

Files (in this package):

``CDNOW_sample.txt.gz``
    the original file, gzip-compressed: whitespace-separated, no header, columns customer id (the
    cohort's), sample id (1..2357, the id the published summaries use), date (YYYYMMDD), number of CDs,
    dollar value.
``cdnow_sample.csv``
    the same transactions as ``customer_id,date,amount`` (sample id, ISO date, dollars), for the CLI.
``cdnow_master.csv.gz``
    the full cohort's log (``CDNOW_master.txt``: 69,659 transactions of 23,570 customers from 1997-01-01
    to 1998-06-30) as a gzip-compressed CSV with header ``customer_id,date,amount,n_cds`` (the
    cohort's customer id without its leading zeros, ISO date, dollars as in the original file, number
    of CDs), readable by ``clv summarize`` and every engine. A log shaped like production: 80
    transactions are worth $0 (customer 10244's only repeat purchase among them), most customers
    buy once.
``cdnow_customers_summary_with_transactions.csv``
    the published calibration summary (``ID, x, t_x, T, zbar``): weeks as days / 7, calibration ending
    1997-09-30, purchases on the same day merged, zbar the mean value of the repeat purchases (0 when
    x = 0), rounded half up to two decimals.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

__all__ = ["load_cdnow_sample", "load_cdnow_summary", "cdnow_sample_path", "load_cdnow_master",
           "cdnow_master_path"]

_PKG = "clvmodels.datasets"


def _path(name: str) -> Path:
    # The package is installed as plain files (setuptools package-data), so a real path exists.
    return Path(str(resources.files(_PKG).joinpath(name)))


def load_cdnow_sample() -> pd.DataFrame:
    """The CDNOW sample's 6,919 transactions, one row each.

    Columns: ``customer_id`` (int64, the sample id 1..2357 that the published summaries use),
    ``original_id`` (int64, the customer's id in the full cohort), ``date`` (datetime64, calendar day),
    ``n_cds`` (int64, number of CDs bought) and ``amount`` (float64, dollars).
    """
    df = pd.read_csv(_path("CDNOW_sample.txt.gz"), sep=r"\s+", header=None,
                     names=["original_id", "customer_id", "date", "n_cds", "amount"],
                     dtype={"original_id": "int64", "customer_id": "int64", "date": "str", "n_cds": "int64",
                            "amount": "float64"})
    df["date"] = pd.to_datetime(df["date"], format="%Y%m%d").astype("datetime64[ns]")
    return df[["customer_id", "original_id", "date", "n_cds", "amount"]]


def load_cdnow_summary() -> pd.DataFrame:
    """The published CDNOW calibration summary, indexed by ``ID`` (the sample id), with columns
    ``x`` (repeat purchases), ``t_x`` (recency, weeks), ``T`` (weeks from the first purchase to
    1997-09-30) and ``zbar`` (mean repeat-purchase value, dollars); times and zbar rounded to cents."""
    return pd.read_csv(_path("cdnow_customers_summary_with_transactions.csv"), index_col="ID")


def cdnow_sample_path() -> Path:
    """Path of the CDNOW sample as a CSV with header ``customer_id,date,amount`` (sample id, ISO date,
    dollars), readable by ``clv summarize`` and every summary engine."""
    return _path("cdnow_sample.csv")


def cdnow_master_path() -> Path:
    """Path of the full CDNOW master log as a gzip-compressed CSV with header
    ``customer_id,date,amount,n_cds`` (cohort id, ISO date, dollars, number of CDs): 69,659
    transactions of 23,570 customers, 80 of them worth $0. ``clv summarize`` and every engine read it."""
    return _path("cdnow_master.csv.gz")


def load_cdnow_master() -> pd.DataFrame:
    """The full CDNOW cohort's 69,659 transactions, one row each (23,570 customers, 1997-01-01 to
    1998-06-30; 80 transactions worth $0).

    Columns: ``customer_id`` (int64, the cohort id), ``date`` (datetime64, calendar day), ``n_cds``
    (int64, number of CDs bought) and ``amount`` (float64, dollars), in the original file's order.
    """
    df = pd.read_csv(cdnow_master_path(), dtype={"customer_id": "int64", "date": "str", "amount": "float64",
                                                 "n_cds": "int64"})
    df["date"] = pd.to_datetime(df["date"], format="%Y-%m-%d").astype("datetime64[ns]")
    return df[["customer_id", "date", "n_cds", "amount"]]
