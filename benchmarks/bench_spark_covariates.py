"""score_spark with and without covariates on CDNOW in local mode: seconds per forecast.

The CDNOW calibration summary (2,357 customers, weekly, calibration end 1997-09-30) on a local[2] session
(4 shuffle partitions), joined to simulated attributes: channel (text, 3 levels), income (double, 5
values), member (bool), tenure (long, 2 values). Models: MAP BG/NBD with purchase and drop-out covariates
channel + income (15 cells) and Gamma-Gamma with spend covariates member + tenure (4 cells), against the
same models without covariates. Each round scores both (26 weeks, 40 draws; MAP: one draw) and counts the
rows (persisted scores cleared after each); the first round includes the Python workers' start-up. Prints
one line per forecast: variant, round, seconds, the 1-minute load average before it.

    flock /tmp/s23/bench.lock python benchmarks/bench_spark_covariates.py --rounds 3
"""
from __future__ import annotations

import argparse
import time
import warnings


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    import numpy as np
    import pandas as pd

    from clvmodels import BetaGeoModel, GammaGammaModel
    from clvmodels.data import summarize
    from clvmodels.datasets import load_cdnow_sample
    from clvmodels.spark import local_session, score_spark, summarize_spark

    spark = local_session(2, driver_memory="1g", shuffle_partitions=4, app_name="bench-spark-covariates")
    log = load_cdnow_sample()[["customer_id", "date", "amount"]]
    ids = np.sort(log["customer_id"].unique())
    rng = np.random.default_rng(1)
    att = pd.DataFrame({"customer_id": ids, "channel": rng.choice(["ads", "organic", "tv"], len(ids), p=[.3, .5, .2]),
                        "income": rng.choice([20.0, 35.5, 50.0, 71.25, 90.0], len(ids)),
                        "member": rng.random(len(ids)) < 0.4, "tenure": rng.choice([1, 3], len(ids)).astype(np.int64)})
    kw = dict(observation_end="1998-06-30", calibration_end="1997-09-30", time_unit="W")
    sdf = summarize_spark(spark.createDataFrame(log), **kw).join(spark.createDataFrame(att), "customer_id").persist()
    pdf = summarize(log, engine="pandas", **kw)
    attrs = pdf.attrs
    pdf = pdf.join(att.set_index("customer_id"))
    pdf.attrs = attrs
    m = dict(method="map", seed=3, progressbar=False)
    cfg = dict(purchase_covariates=["channel", "income"], dropout_covariates=["channel", "income"])
    covs = (BetaGeoModel(**m, **cfg).fit(pdf),
            GammaGammaModel(**m, spend_covariates=["member", "tenure"]).fit(pdf))
    plain = (BetaGeoModel(**m).fit(pdf), GammaGammaModel(**m).fit(pdf))
    sdf.count()
    for r in range(args.rounds):
        for name, (bg, gg) in (("plain", plain), ("covariates", covs)):
            with open("/proc/loadavg") as fh:
                load = fh.read().split()[0]
            t0 = time.perf_counter()
            n = score_spark(sdf, bg, gg, "26W", max_draws=40).count()
            dt = time.perf_counter() - t0
            spark.catalog.clearCache()
            sdf.persist()
            sdf.count()
            print(f"{name} round={r} customers={n} seconds={dt:.2f} load={load}", flush=True)


if __name__ == "__main__":
    main()
