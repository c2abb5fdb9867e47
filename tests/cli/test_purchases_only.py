"""A log without amounts (summarize(amount=None), clv --no-amount): the summary is the summary with
amounts minus its money columns (pandas and DuckDB, with and without a holdout); the purchases-only
forecast equals the purchase columns of the full forecast on the same log (same seed); the CLI end to
end, with and without the report; --spend FILE and --currency on the command line, and their exit-2
errors before any work."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from clvmodels import forecast, summarize
from clvmodels.cli import main
from clvmodels.data.summary import MONEY_COLUMNS
from clvmodels.errors import InputError

END = "1997-09-30"
FIT = ["--method", "map", "--seed", "5", "--max-draws", "300", "--horizon", "26"]


@pytest.fixture(scope="module")
def log(cdnow_transactions) -> pd.DataFrame:
    return cdnow_transactions[cdnow_transactions["date"] <= END].reset_index(drop=True)


@pytest.fixture(scope="module")
def files(tmp_path_factory, log):
    d = tmp_path_factory.mktemp("logs")
    log.drop(columns=["amount"]).to_csv(d / "no_amount.csv", index=False)
    ids = np.sort(log["customer_id"].unique())
    spend = pd.DataFrame({"customer_id": ids, "price": np.round(np.linspace(4, 40, len(ids)), 2)})
    spend.to_csv(d / "spend.csv", index=False)
    spend.iloc[:-4].to_parquet(d / "spend_short.parquet")
    return d


@pytest.mark.parametrize("source", ["frame", "csv"])
@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
@pytest.mark.parametrize("calibration_end", [None, "1997-06-30"])
def test_the_summary_without_amounts_is_the_summary_minus_its_money_columns(cdnow_transactions, engine,
                                                                           calibration_end, source, tmp_path):
    kw = dict(observation_end="1998-06-30", calibration_end=calibration_end, engine=engine)
    with_amounts = summarize(cdnow_transactions, **kw)
    log = cdnow_transactions.drop(columns=["amount"])
    if source == "csv":  # the engines read files their own way (DuckDB in SQL, pandas with pyarrow)
        log.to_csv(tmp_path / "log.csv", index=False)
        log = str(tmp_path / "log.csv")
    without = summarize(log, amount=None, **kw)
    money = [c for c in MONEY_COLUMNS if c in with_amounts.columns]
    assert set(money) == ({"monetary_value", "historical_clv", "first_purchase_value"}
                          | ({"monetary_value_holdout", "spend_holdout"} if calibration_end else set()))
    pd.testing.assert_frame_equal(with_amounts.drop(columns=money), without)
    attrs = without.attrs["clvmodels"]
    assert attrs["amounts"] is False and attrs["n_zero_amounts"] is None and attrs["engine"] == engine


def test_no_amount_options_that_act_on_amounts_are_refused(cdnow_transactions):
    with pytest.raises(InputError, match="--engine spark"):
        summarize(cdnow_transactions, amount=None, observation_end="1998-06-30", engine="spark")
    with pytest.raises(InputError, match="zero_amounts='drop'"):
        summarize(cdnow_transactions, amount=None, observation_end="1998-06-30", zero_amounts="drop")


def test_the_purchases_only_forecast_is_the_full_forecasts_purchase_columns(log):
    kw = dict(observation_end=END, horizon="26W", method="map", seed=5, max_draws=300, progress=False)
    full = forecast(log, **kw)
    only = forecast(log.drop(columns=["amount"]), amount=None, **kw)
    purchase_cols = ["p_alive", "p_alive_lower", "p_alive_upper", "p_any_purchase", "p_any_purchase_lower",
                     "p_any_purchase_upper", "expected_purchases", "expected_purchases_lower",
                     "expected_purchases_upper", "purchases_lower", "purchases_upper"]
    assert [c for c in only.table.columns if c in purchase_cols] == purchase_cols
    left_out = {"monetary_value", "historical_clv", "expected_spend", "clv", "clv_lower", "clv_upper", "segment"}
    assert not left_out & set(only.table.columns)
    pd.testing.assert_frame_equal(only.table, full.table[list(only.table.columns)])
    assert only.spend_model is None and only.metadata["spend"]["source"] is None
    assert only.metadata["note"].startswith("no amounts: CLV columns left out")
    # the new customer: the same expected purchases, no CLV
    nc, nc_full = only.metadata["new_customer"], full.metadata["new_customer"]
    assert nc["expected_purchases"] == nc_full["expected_purchases"] and "clv" not in nc
    # options that only shape the CLV are refused, before the fit
    with pytest.raises(InputError, match="margin, acquisition_cost apply to CLV"):
        forecast(log.drop(columns=["amount"]), amount=None, margin=0.3, acquisition_cost=10, **kw)


def test_cli_no_amount_end_to_end_with_and_without_the_report(files, tmp_path, capsys):
    out, report = tmp_path / "f.parquet", tmp_path / "r.html"
    rc = main(["forecast", str(files / "no_amount.csv"), "--observation-end", END, "--no-amount", *FIT,
               "-o", str(out), "--report", str(report)])
    err = capsys.readouterr().err
    assert rc == 0 and "no amounts: CLV columns left out; give --amount COL or --spend FILE for CLV" in err
    table = pd.read_parquet(out)
    assert len(table) == 2357 and "clv" not in table.columns and "expected_purchases" in table.columns
    meta = json.loads((tmp_path / "f.parquet.meta.json").read_text())
    assert meta["note"].startswith("no amounts") and "gamma_gamma" not in meta["models"]
    html = report.read_text()
    assert '<h2 id="value">No CLV: purchases only</h2>' in html and "no amounts: CLV columns left out" in html
    assert "CLV distribution" not in html and "No spend model: the transaction log has no amounts" in html
    # without the report, quietly: the same table
    out2 = tmp_path / "f2.csv"
    assert main(["forecast", str(files / "no_amount.csv"), "--observation-end", END, "--no-amount", *FIT,
                 "-o", str(out2), "--quiet"]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(out2)[["customer_id", "expected_purchases", "p_alive"]],
                                  table[["customer_id", "expected_purchases", "p_alive"]], check_dtype=False)
    meta2 = json.loads((tmp_path / "f2.csv.meta.json").read_text())
    assert "clv" not in meta2["columns"] and "expected_purchases" in meta2["columns"] and meta2["segments"] == {}


def test_cli_summarize_no_amount(files, tmp_path, log):
    out = tmp_path / "s.csv"
    assert main(["summarize", str(files / "no_amount.csv"), "--observation-end", END, "--no-amount", "-o", str(out),
                 "--quiet"]) == 0
    s = pd.read_csv(out, index_col="customer_id")
    with_amounts = summarize(log, observation_end=END)
    assert len(s) == 2357 and not set(MONEY_COLUMNS) & set(s.columns)
    assert (s["frequency"] == with_amounts["frequency"]).all() and s["frequency"].sum() == 2457
    np.testing.assert_allclose(s["T"], with_amounts["T"], rtol=1e-15)


def test_cli_without_the_amount_column_suggests_no_amount(files, tmp_path, capsys):
    rc = main(["forecast", str(files / "no_amount.csv"), "--observation-end", END, *FIT, "-o", str(tmp_path / "f.csv")])
    err = capsys.readouterr().err
    assert rc == 2 and "column 'amount'" in err and "--amount" in err and "--no-amount" in err
    assert not (tmp_path / "f.csv").exists()


def test_cli_spend_file_gives_the_python_apis_clv(files, tmp_path, log):
    out = tmp_path / "f.parquet"
    assert main(["forecast", str(files / "no_amount.csv"), "--observation-end", END, "--no-amount", *FIT,
                 "--spend", str(files / "spend.csv"), "--spend-column", "price", "--margin", "0.3",
                 "--currency", "EUR", "-o", str(out), "--report", str(tmp_path / "r.html"), "--quiet"]) == 0
    table = pd.read_parquet(out).set_index("customer_id")
    spend = pd.read_csv(files / "spend.csv").set_index("customer_id")["price"]
    api = forecast(log.drop(columns=["amount"]), amount=None, observation_end=END, horizon="26W", method="map",
                   seed=5, max_draws=300, progress=False, spend=spend, margin=0.3).table.set_index("customer_id")
    for c in ("clv", "clv_lower", "clv_upper", "expected_spend"):
        np.testing.assert_array_equal(table[c].to_numpy(), api[c].to_numpy())
    assert (table["expected_spend"] == spend.loc[table.index]).all()
    meta = json.loads((tmp_path / "f.parquet.meta.json").read_text())
    assert meta["spend"]["source"] == "supplied" and "spend.csv" in meta["spend"]["given_as"]
    assert meta["currency"] == "EUR" and meta["columns"]["clv"]["unit"] == "EUR"
    html = (tmp_path / "r.html").read_text()
    assert "No spend model: the spend per purchase was supplied per customer" in html and "amounts in EUR" in html
    assert '<h2 id="value">Value segments</h2>' in html


@pytest.mark.parametrize("extra, words", [
    (["--spend", "{d}/spend_short.parquet", "--spend-column", "price"],
     "4 customers of the transaction log have no spend (column 'price'), e.g. [2354, 2355, 2356, 2357]"),
    (["--spend", "{d}/spend.csv"], "has no column 'spend' (--spend-column)"),
    (["--spend", "{d}/missing.csv"], "--spend '{d}/missing.csv': no such file"),
    (["--spend", "{d}/spend.csv", "--spend-column", "price", "--currency", "euro"], "--currency 'euro': give a 3-letter"),
    (["--cost-to-serve", "1"], "--cost-to-serve applies to CLV"),
])
def test_cli_spend_and_currency_errors_exit_2_before_the_fit(files, tmp_path, capsys, extra, words):
    d = str(files)
    rc = main(["forecast", f"{d}/no_amount.csv", "--observation-end", END, "--no-amount", *FIT,
               "-o", str(tmp_path / "f.csv"), *[e.format(d=d) for e in extra]])
    err = capsys.readouterr().err
    assert rc == 2 and words.format(d=d) in err
    assert "fitting" not in err and not (tmp_path / "f.csv").exists()


@pytest.mark.parametrize("extra", [["--amount", "price"], ["--zero-amounts", "drop"], ["--negative-amounts", "net"]])
@pytest.mark.parametrize("command", ["summarize", "forecast"])
def test_cli_no_amount_with_an_amount_option_exits_2(files, tmp_path, capsys, command, extra):
    """--no-amount says there are no amounts: an option that reads or treats them contradicts it (exit 2,
    naming both, nothing written), rather than being silently ignored."""
    out = tmp_path / "f.csv"
    args = [command, str(files / "no_amount.csv"), "--observation-end", END, "--no-amount", *extra, "-o", str(out)]
    rc = main(args + (FIT if command == "forecast" else []))
    err = capsys.readouterr().err
    assert rc == 2 and f"{extra[0]} {extra[1]}" in err and "--no-amount contradict" in err
    assert not out.exists()


def test_cli_validate_and_compare_take_no_amount(files, tmp_path, capsys):
    """clv validate --no-amount validates the purchases alone and says the spend was not; clv compare runs."""
    log = str(files / "no_amount.csv")
    common = ["--observation-end", END, "--calibration-end", "1997-06-30", "--no-amount", "--method", "map",
              "--seed", "5"]
    assert main(["validate", log, *common, "--json", str(tmp_path / "v.json")]) == 0
    v = json.loads((tmp_path / "v.json").read_text())
    assert v["spend"].startswith("not validated") and v["holdout_actual_total"] > 0 and "spend_mae" not in v
    err = capsys.readouterr().err  # the CLI says warnings once, as 'clv validate: warning: ...'
    assert "fitting Gamma-Gamma" not in err and "spend is not validated: the log has no amounts" in err
    assert main(["compare", log, *common, "--models", "bgnbd,mbgnbd", "--json", str(tmp_path / "c.json"),
                 "--quiet"]) == 0
    assert set(json.loads((tmp_path / "c.json").read_text())["models"]) == {"bgnbd", "mbgnbd"}


def test_cli_spend_file_customers_outside_the_log_are_said(files, tmp_path, capsys):
    """Spends of customers the log does not have are not used, and the run says how many."""
    spend = pd.read_csv(files / "spend.csv")
    extra = pd.DataFrame({"customer_id": [900001, 900002, 900003], "price": [1.0, 2.0, 3.0]})
    pd.concat([spend, extra]).to_csv(tmp_path / "spend_more.csv", index=False)
    out = tmp_path / "f.parquet"
    assert main(["forecast", str(files / "no_amount.csv"), "--observation-end", END, "--no-amount", *FIT,
                 "--spend", str(tmp_path / "spend_more.csv"), "--spend-column", "price", "-o", str(out),
                 "--report", str(tmp_path / "r.html")]) == 0
    err = capsys.readouterr().err
    assert "3 customers of --spend" in err and "not in the transaction log" in err
    assert len(pd.read_parquet(out)) == 2357
    html = (tmp_path / "r.html").read_text()
    footer = html[html.index("<footer>"):]
    assert "Gamma-Gamma" not in footer and "BG/NBD" in footer  # no spend model, no spend model cited
