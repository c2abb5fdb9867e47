"""``clv forecast --engine spark --covariates ... --customers FILE``: the summary runs on Spark, the
covariates are joined to it by customer id, and the forecast table is the pandas engine's, cell for cell;
bad covariates exit 2 naming the column, as with the other engines."""
from __future__ import annotations

import os
import shutil

import numpy as np
import pandas as pd
import pytest

pyspark = pytest.importorskip("pyspark")

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark"),
              pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
              pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]

if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):  # pragma: no cover
    pytest.skip("Spark needs Java (17) on the PATH or JAVA_HOME", allow_module_level=True)

from clvmodels.cli import main  # noqa: E402

END = "1997-09-30"
ARGS = ["--observation-end", END, "--method", "map", "--seed", "5", "--max-draws", "50", "--horizon", "26",
        "--covariates", "channel,age", "--spend-covariates", "channel", "--quiet"]


@pytest.fixture(scope="module")
def files(tmp_path_factory, cdnow_transactions):
    d = tmp_path_factory.mktemp("spark-cov")
    log = cdnow_transactions[cdnow_transactions["date"] <= END].reset_index(drop=True)
    log.to_csv(d / "log.csv", index=False)
    ids = np.sort(log["customer_id"].unique())
    rng = np.random.default_rng(0)
    cust = pd.DataFrame({"customer_id": ids, "channel": rng.choice(["ads", "organic", "tv"], len(ids)),
                         "age": rng.choice([25.0, 40.0, 55.0], len(ids))})
    cust.to_csv(d / "customers.csv", index=False)
    nan = cust.copy()
    nan.loc[[2, 9], "age"] = np.nan
    nan.to_csv(d / "nan.csv", index=False)
    return d


def test_forecast_engine_spark_with_covariates_equals_the_pandas_engine(spark, files, tmp_path, capsys):
    tables = {}
    for engine in ("pandas", "spark"):
        out = tmp_path / f"{engine}.csv"
        rc = main(["forecast", str(files / "log.csv"), *ARGS, "--customers", str(files / "customers.csv"),
                   "--engine", engine, "-o", str(out)])
        assert rc == 0, capsys.readouterr().err
        tables[engine] = pd.read_csv(out)
    got, expected = tables["spark"], tables["pandas"]
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12, atol=1e-12)
    assert len(got) == 2357 and list(got.columns[-2:]) == ["channel", "age"]
    # the covariates were used: customers with the same history differ by channel
    same = got[(got["frequency"] == 0) & (got["T"] == got["T"].max())]
    assert same.groupby("channel")["p_any_purchase"].mean().nunique() == 3
    # a NaN covariate: exit 2 naming the column and the customers, no output
    rc = main(["forecast", str(files / "log.csv"), *ARGS, "--customers", str(files / "nan.csv"), "--engine", "spark",
               "-o", str(tmp_path / "bad.csv")])
    err = capsys.readouterr().err
    assert rc == 2 and "column 'age'" in err and "(2 rows)" in err and not (tmp_path / "bad.csv").exists()
