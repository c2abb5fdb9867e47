"""Transaction logs shaped like production, made in the tests (nothing downloaded): continuous
acquisition with first purchases on every day (both split days included), purchases worth 0, and
one-time buyers."""
from __future__ import annotations

import numpy as np
import pandas as pd

from clvmodels.simulate import simulate_transactions

#: the simulated log's days: 2020-01-01 .. 2020-07-17 (199 days); calibration ends on day 120
START = "2020-01-01"
OBSERVATION_END = "2020-07-17"
CALIBRATION_END = "2020-04-29"


def continuous_acquisition_log(n_customers: int = 3000, seed: int = 11) -> pd.DataFrame:
    """A BG/NBD + Gamma-Gamma log whose first purchases fall on every day of the period, so customers
    are first seen on the calibration end and on the observation end (T = 0), with about 1% of the
    transactions worth 0 (vouchers) and one customer whose only repeat purchase is worth 0.

    Columns customer_id (int), date (ISO text), amount (dollars, cents)."""
    end = pd.Timestamp(OBSERVATION_END) + pd.Timedelta(days=1)  # the simulator's end is exclusive
    days = (end - pd.Timestamp(START)).days
    log = simulate_transactions(n_customers, r=0.3, alpha=6.0, a=0.8, b=2.5, p=6.0, q=4.0, v=15.0, start=START,
                                acquisition_days=days, observation_end=end, time_unit="W", seed=seed)
    rng = np.random.default_rng(seed)
    log["amount"] = np.round(log["amount"], 2)
    log.loc[rng.random(len(log)) < 0.01, "amount"] = 0.0
    # one customer whose repeat purchases are all free: first seen on day 0, then two $0 purchases
    extra = pd.DataFrame({"customer_id": n_customers + 1,
                          "date": pd.to_datetime([START, "2020-02-01", "2020-03-01"]),
                          "amount": [25.0, 0.0, 0.0]})
    log = pd.concat([log, extra], ignore_index=True)
    log["date"] = log["date"].dt.strftime("%Y-%m-%d")
    return log


def earlier_run(folder, n_customers: int = 600):
    """An earlier, successful ``clv forecast`` in ``folder`` (MAP, quick): the log of the CDNOW sample's
    first ``n_customers`` customers as ``log.csv``, and its outputs ``f.parquet`` (with its sidecar),
    ``r.html`` and ``models/``. Returns ``folder``."""
    from pathlib import Path

    from clvmodels.cli import main
    from clvmodels.datasets import cdnow_sample_path

    d = Path(folder)
    full = pd.read_csv(cdnow_sample_path())
    full[full["customer_id"] <= n_customers].to_csv(d / "log.csv", index=False)
    rc = main(["forecast", str(d / "log.csv"), "--observation-end", "1998-06-30", "--time-unit", "W", "--horizon",
               "52", "--method", "map", "--seed", "3", "--max-draws", "100", "--quiet", "-o", str(d / "f.parquet"),
               "--report", str(d / "r.html"), "--model-dir", str(d / "models")])
    assert rc == 0
    return d
