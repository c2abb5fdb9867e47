"""The model protocol is real: a test-only transaction model, the NBD (purchases at a Gamma-distributed
Poisson rate, no drop-out; Ehrenberg 1959), written in this file alone, runs through forecast(), the
forecast table, the tracking plot and holdout validation, and its numbers there equal its own closed
forms. Nothing outside this file knows it exists."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from clvmodels.models.base import BayesianModel
from clvmodels.models.numerics.quantiles import _mixture_interval
from clvmodels.models.priors import Prior
from clvmodels.models.protocol import TripletScores
from clvmodels.draws import interval_bounds


@dataclass(frozen=True)
class NBDDraws:
    """Draws of (r, alpha): lambda ~ Gamma(r, rate alpha), purchases Poisson(lambda), forever."""

    r: np.ndarray
    alpha: np.ndarray

    @classmethod
    def from_mapping(cls, params):
        return cls(np.asarray(params["r"], float), np.asarray(params["alpha"], float))

    @property
    def n_draws(self) -> int:
        return int(self.r.shape[0])

    def _cols(self):
        return tuple(v[:, None] if v.ndim == 1 else v for v in (self.r, self.alpha))

    def rate(self, x, T):
        """E[lambda | x, T] = (r + x)/(alpha + T), per (draw, row)."""
        r, alpha = self._cols()
        return (r + x) / (alpha + T)

    def expected_purchases_new(self, t):
        r, alpha = self._cols()
        return r * np.asarray(t, float) / alpha

    def purchases_pmf(self, x, tx, T, t, max_count):
        return self.count_pmf(x, T, t, max_count)

    def count_pmf(self, x, T, t, K):
        """P(k purchases in the next t | x, T): negative binomial(r + x, (alpha + T)/(alpha + T + t))."""
        r, alpha = self._cols()
        k = np.arange(K + 1)
        return stats.nbinom.pmf(k[None, None, :], (r + x)[..., None], ((alpha + T) / (alpha + T + t))[..., None])

    def score_triplets(self, x, tx, T, *, h, k0=0, H=0, disc=None, want_pv=False, want_alive=False, counts=True,
                       q_lo=0.05, q_hi=0.95, budget_bytes=0):
        x, T = np.asarray(x, float), np.asarray(T, float)
        new = np.r_[True, (x[1:] != x[:-1]) | (T[1:] != T[:-1])] if len(x) else np.zeros(0, bool)
        level_of = (np.cumsum(new) - 1).astype(np.int64)
        lx, lT = x[new], T[new]
        rate = self.rate(lx, lT).T                                  # (levels, S)
        periods = float(np.sum(disc[k0 + 1:H + 1])) if disc is not None and H > k0 else 0.0
        alive = np.ones((len(x), self.n_draws))                     # nobody drops out
        out_counts = None
        if counts:
            K = int(np.max(stats.nbinom.ppf(1 - 1e-10, self._cols()[0] + lx, (self._cols()[1] + lT)
                                            / (self._cols()[1] + lT + h))))
            pmf = np.ascontiguousarray(np.transpose(self.count_pmf(lx, lT, h, K), (1, 0, 2)))  # (levels, S, K+1)
            out_counts = np.empty((len(x), 3))
            _mixture_interval(alive, np.arange(len(x)), level_of, pmf, q_lo, q_hi, out_counts)
        return TripletScores(alive=alive, level_of=level_of, expected=rate * h,
                             pv=rate * periods if want_pv else np.empty((0, 0)),
                             alive_pv=np.full_like(rate, periods) if want_alive else np.empty((0, 0)),
                             counts=out_counts)


class NBDModel(BayesianModel):
    """The NBD as a Bayesian model of the protocol: only what this file defines."""

    param_names = ("r", "alpha")
    required_columns = ("frequency", "recency", "T")
    scorer_class = NBDDraws

    def default_priors(self, time_unit, data=None):
        return {"r": Prior("HalfNormal", sigma=5.0), "alpha": Prior("HalfNormal", sigma=52.0)}

    def _build_model(self, data, priors):
        import pymc as pm
        import pytensor.tensor as pt

        keep = data["T"].to_numpy(float) > 0
        x = data["frequency"].to_numpy(float)[keep]
        T = data["T"].to_numpy(float)[keep]
        with pm.Model() as model:
            r, alpha = (priors[p].create(p) for p in self.param_names)
            pm.Potential("loglike", pt.sum(pt.gammaln(r + x) - pt.gammaln(r) + r * pt.log(alpha)
                                           - (r + x) * pt.log(alpha + T)))
        return model

    # what holdout validation asks of a transaction model
    def expected_purchases(self, data, t, *, interval=0.9, max_draws=None, **_):
        v = self.scorer(max_draws).rate(data["frequency"].to_numpy(float), data["T"].to_numpy(float)) * self._horizon(t)
        lo, hi = interval_bounds(interval)
        return pd.DataFrame({"expected_purchases": v.mean(axis=0), "expected_purchases_lower": np.quantile(v, lo, axis=0),
                             "expected_purchases_upper": np.quantile(v, hi, axis=0)}, index=data.index)

    def purchases_interval(self, data, t, *, interval=0.9, max_draws=1000, observed=None, seed=0, **_):
        sc = self.scorer(max_draws)
        h = self._horizon(t)
        x, T = data["frequency"].to_numpy(float), data["T"].to_numpy(float)
        lo_q, hi_q = interval_bounds(interval)
        pmf = sc.count_pmf(x, T, h, 60).mean(axis=0)              # (rows, K+1), mixture over draws
        cdf = np.cumsum(pmf, axis=1)
        lower, upper = np.argmax(cdf >= lo_q - 1e-12, axis=1), np.argmax(cdf >= hi_q - 1e-12, axis=1)
        ks = np.arange(pmf.shape[1])
        inside = (pmf * ((ks >= lower[:, None]) & (ks <= upper[:, None]))).sum(axis=1)
        out = pd.DataFrame({"purchases_lower": lower, "purchases_upper": upper, "expected_coverage": inside},
                           index=data.index)
        if observed is not None:
            y = np.asarray(observed).astype(int)
            rng = np.random.default_rng(seed)
            f_hi = cdf[np.arange(len(y)), y]
            f_lo = np.where(y > 0, cdf[np.arange(len(y)), np.maximum(y - 1, 0)], 0.0)
            out["pit"] = f_lo + rng.uniform(size=len(y)) * (f_hi - f_lo)
            out["cdf_below"], out["cdf_at"] = f_lo, f_hi
        return out


@pytest.fixture(scope="module")
def nbd_forecast(cdnow_split):
    import clvmodels

    cal = cdnow_split
    res = clvmodels.forecast(summary=cal, horizon="26W", discount_rate=0.1, margin=0.3, method="map", seed=3,
                             max_draws=300, progress=False, purchase_model=NBDModel(method="map", seed=3))
    return res


def test_an_nbd_model_runs_through_forecast_and_its_table_is_its_closed_form(nbd_forecast):
    res = nbd_forecast
    assert isinstance(res.bgnbd, NBDModel)
    t = res.table.set_index("customer_id")
    sc = res.bgnbd.scorer(300)
    gg = res.gamma_gamma.scorer(300)
    x, T = t["frequency"].to_numpy(float), t["T"].to_numpy(float)
    np.testing.assert_array_equal(t["p_alive"], 1.0)                     # the NBD has no drop-out
    np.testing.assert_allclose(t["expected_purchases"], (sc.rate(x, T) * 26).mean(axis=0), rtol=1e-12)
    # CLV: margin x spend x rate x the discounted periods, per joint draw, averaged
    d = 1.0 / (1.1 ** (1 / (365.25 / 7)))
    periods = np.sum(d ** np.arange(1, 27))
    mv = np.where(x > 0, t["monetary_value"].to_numpy(float), 0.0)
    clv = (0.3 * gg.expected_spend(x, mv) * sc.rate(x, T) * periods).mean(axis=0)
    np.testing.assert_allclose(t["clv"], clv, rtol=1e-10)
    # the count interval holds the closed-form mixture's quantiles
    pmf = sc.count_pmf(x[:50], T[:50], 26.0, 80).mean(axis=0)
    cdf = np.cumsum(pmf, axis=1)
    np.testing.assert_array_equal(t["purchases_upper"].to_numpy()[:50], np.argmax(cdf >= 0.95 - 1e-12, axis=1))
    # the NBD's MAP fit on CDNOW: the published NBD estimates (Fader, Hardie & Lee 2005: r 0.385, alpha 12.07)
    assert res.bgnbd.params_["r"] == pytest.approx(0.385, rel=0.02)
    assert res.bgnbd.params_["alpha"] == pytest.approx(12.07, rel=0.02)


def test_an_nbd_model_runs_through_the_tracking_plot_and_holdout_validation(nbd_forecast, cdnow_split,
                                                                           cdnow_transactions):
    from clvmodels.plotting import tracking_data
    from clvmodels.validation import validate_purchases

    nbd = nbd_forecast.bgnbd
    v = validate_purchases(nbd, cdnow_split)
    expected = (nbd.scorer(1000).rate(cdnow_split["frequency"].to_numpy(float), cdnow_split["T"].to_numpy(float))
                * v["holdout_length"]).mean(axis=0).sum()
    assert v["holdout_predicted_total"] == pytest.approx(expected, rel=1e-12)
    assert 0 < v["interval_coverage"] <= 1 and 0 <= v["pit_pvalue"] <= 1
    track = tracking_data(nbd, cdnow_transactions, calibration_end="1997-09-30", observation_end="1998-06-30",
                          max_draws=200)
    # a new customer's expected repeat purchases under the NBD are r t / alpha (no one drops out): the
    # cumulative curve at the end is mean(r/alpha) times the customers' summed ages, in weeks
    sc = nbd.scorer(200)
    first = cdnow_transactions.groupby("customer_id")["date"].min()
    ages = (pd.Timestamp("1998-06-30") - first).dt.days.sum() / 7.0
    assert track["cumulative_expected"].iloc[-1] == pytest.approx(np.mean(sc.r / sc.alpha) * ages, rel=0.01)
