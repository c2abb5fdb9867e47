"""Peer values for the tracking curve: lifetimes' ``expected_cumulative_transactions`` on the CDNOW sample
with the published BG/NBD parameters (FHL 2005: r 0.243, alpha 4.414, a 0.793, b 2.426 per week).

Run with a lifetimes environment (lifetimes 0.11.3 here), not clvmodels' own:

    python3.12 -m venv benchmarks/.env-lifetimes && benchmarks/.env-lifetimes/bin/pip install lifetimes
    benchmarks/.env-lifetimes/bin/python benchmarks/peer_lifetimes_tracking.py

It reads the CDNOW sample from clvmodels/datasets (the same 6,919 rows as clvmodels.datasets.load_cdnow_sample)
and prints lifetimes' daily cumulative expected and actual repeat transactions at a few dates, which
tests/plotting/test_tracking.py hard-codes. The run is daily (freq="D") with alpha in days (7 x 4.414),
so every day's value is available; E[X(t)] is the same function of t in days as of t / 7 in weeks.

lifetimes' row labelled day D (set_index_date=True) holds the actual repeat transactions on days up to and
including D, and the expected count sum_c E[X(D + 1 - F_c)] over customers whose first purchase day F_c
is before D + 1: its exposure runs through the END of day D (one day more than the summary's T = D - F_c).
"""
from pathlib import Path

import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter
from lifetimes.utils import expected_cumulative_transactions

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}

tx = pd.read_csv(ROOT / "clvmodels/datasets/CDNOW_sample.txt.gz", sep=r"\s+", header=None,
                 names=["original_id", "customer_id", "date", "n_cds", "amount"], dtype={"date": str})
tx["date"] = pd.to_datetime(tx["date"], format="%Y%m%d")
bgf = BetaGeoFitter()
bgf.params_ = pd.Series({**PUBLISHED, "alpha": PUBLISHED["alpha"] * 7.0})  # per day
start, end = tx["date"].min(), pd.Timestamp("1998-06-30")
t = int((end - start).days) + 1   # rows for days start .. end
cum = expected_cumulative_transactions(bgf, tx, "date", "customer_id", t, freq="D", set_index_date=True)
cum.index = cum.index.to_timestamp()
print("rows", len(cum), "first", cum.index[0].date(), "last", cum.index[-1].date())
for day in ["1997-01-01", "1997-01-02", "1997-01-15", "1997-02-11", "1997-03-31", "1997-06-30", "1997-09-29",
            "1997-09-30", "1998-01-31", "1998-06-29", "1998-06-30"]:
    row = cum.loc[pd.Timestamp(day)]
    print(f"{day}: predicted {row['predicted']!r}, actual {int(row['actual'])}")
np.save("/tmp/lifetimes_tracking_daily.npy", cum[["predicted", "actual"]].to_numpy())
