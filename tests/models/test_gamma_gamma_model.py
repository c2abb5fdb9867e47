"""GammaGammaModel against the published CDNOW estimates, with default priors that keep the MLE."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clvmodels import GammaGammaModel
from clvmodels.errors import FitError, InputError
from clvmodels.models.gamma_gamma.model import SpendCorrelationWarning

from ..conftest import CDNOW_GG_MLE

PUBLISHED_SPEND_1_TO_10 = [24.65, 18.91, 35.17, 35.17, 35.17, 71.46, 18.91, 35.17, 27.28, 35.17]


def test_map_with_flat_priors_is_the_mle(cdnow_split):
    m = GammaGammaModel(priors="flat", method="map", progressbar=False).fit(cdnow_split)
    for p, v in CDNOW_GG_MLE.items():
        assert float(f"{m.params_[p]:.3g}") == float(f"{v:.3g}"), p
    assert m.fit_info_["n_customers_fitted"] == 946
    assert m.fit_info_["n_excluded_no_repeat"] == 2357 - 946
    assert m.log_likelihood(cdnow_split, CDNOW_GG_MLE) == pytest.approx(-4055.92, abs=0.01)


def test_default_priors_keep_the_mle_inside_the_90_interval(cdnow_gamma_gamma):
    s = cdnow_gamma_gamma.summary(0.9)
    for p, v in CDNOW_GG_MLE.items():
        assert s.loc[p, "lower"] < v < s.loc[p, "upper"], (p, s.loc[p].to_dict())
    d = cdnow_gamma_gamma.diagnostics_
    assert max(d.r_hat.values()) < 1.01 and d.divergences == 0
    # the correlation the independence assumption needs to be small is measured and stored
    assert cdnow_gamma_gamma.fit_info_["spend_frequency_correlation"] == pytest.approx(0.11, abs=0.01)


def test_expected_spend_matches_published_values(cdnow_gamma_gamma, cdnow_split):
    e = cdnow_gamma_gamma.expected_spend(cdnow_split.loc[1:10])
    np.testing.assert_allclose(e["expected_spend"], PUBLISHED_SPEND_1_TO_10, rtol=0.01)
    assert (e["expected_spend_lower"] < e["expected_spend"]).all() and (e["expected_spend"] < e["expected_spend_upper"]).all()
    new = cdnow_gamma_gamma.expected_spend_new()
    assert new["lower"] < 35.17 < new["upper"]
    # customers without repeat purchases get the population mean, draw by draw
    zero = cdnow_split[cdnow_split["frequency"] == 0].iloc[:3]
    ez = cdnow_gamma_gamma.expected_spend(zero)["expected_spend"]
    assert np.allclose(ez, new["expected_spend"])


def test_correlated_spend_warns_with_the_figure():
    rng = np.random.default_rng(0)
    f = rng.integers(1, 20, 400)
    data = pd.DataFrame({"frequency": f, "monetary_value": f + rng.gamma(2, 4, 400)})
    with pytest.warns(SpendCorrelationWarning, match=r"r = 0\.\d\d"):
        GammaGammaModel(method="map", progressbar=False).fit(data, time_unit="W")


def test_spend_input_errors():
    bad = pd.DataFrame({"frequency": [1, 2, 0], "monetary_value": [-3.0, np.nan, 0.0]})
    with pytest.raises(InputError) as exc:
        GammaGammaModel(method="map", progressbar=False).fit(bad, time_unit="W")
    assert "'monetary_value': missing or non-numeric" in str(exc.value)
    assert "must have a mean spend of 0 or more" in str(exc.value)
    with pytest.raises(FitError, match="at least 2 customers with repeat purchases and positive spend are needed "
                                       "to fit the Gamma-Gamma model; this summary has 0"):
        GammaGammaModel(method="map", progressbar=False).fit(
            pd.DataFrame({"frequency": [0, 0], "monetary_value": [0.0, 0.0]}), time_unit="W")


def test_fit_on_counts_equals_fit_on_customers(cdnow_split):
    """Distinct (frequency, monetary_value) rows with n_customers (what Spark collects) fit the same."""
    rows = cdnow_split[["frequency", "monetary_value"]]
    counts = rows.groupby(["frequency", "monetary_value"]).size().rename("n_customers").reset_index()
    assert len(counts) < len(rows)
    a = GammaGammaModel(priors="flat", method="map", progressbar=False).fit(rows, time_unit="W")
    b = GammaGammaModel(priors="flat", method="map", progressbar=False).fit(counts, time_unit="W")
    np.testing.assert_allclose(a.params_.values, b.params_.values, rtol=1e-6)
    assert b.fit_info_["n_customers_fitted"] == 946 and b.fit_info_["n_customers"] == 2357
    assert b.fit_info_["spend_frequency_correlation"] == pytest.approx(a.fit_info_["spend_frequency_correlation"])
    assert b.log_likelihood(counts, CDNOW_GG_MLE) == pytest.approx(-4055.92, abs=0.01)
