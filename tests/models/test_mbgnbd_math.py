"""MBG/NBD mathematics (clvmodels.models.mbgnbd.math) and its fused likelihood Op against independent
computations: the generative story integrated over the drop-out probability p with mpmath (the Poisson
rate lambda integrated analytically, as a Gamma-Poisson mixture), 30-digit direct formulas, the
published CDNOW maximum-likelihood estimates (lifetimes' test suite and BTYDplus), simulation, the plain
PyTensor graph and high-precision numerical differentiation.

Nothing here computes a reference through the b -> b + 1 shift the module uses: the references integrate
the story itself (drop-out chances after the first purchase and after each repeat purchase)."""
from __future__ import annotations

import warnings
from pathlib import Path

import mpmath as mp
import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from clvmodels.models.mbgnbd import likelihood as mbl
from clvmodels.models.mbgnbd import math as mbgnbd
from clvmodels.models.mbgnbd.simulate import simulate_summary
from clvmodels.models.triplets import compress

DATA = Path(__file__).parents[1] / "data" / "cdnow_summary.csv"
#: lifetimes' ModifiedBetaGeoFitter test ("params out is close to BTYDplus") on this CDNOW summary
PUBLISHED = (0.525, 6.183, 0.891, 1.614)
#: the maximum-likelihood refit (Nelder-Mead to 1e-10), log-likelihood -9582.1327
MLE = (0.5248379, 6.182991, 0.8913564, 1.6140000)
POINTS = [PUBLISHED, (2.0, 0.5, 3.0, 0.4), (0.05, 60.0, 0.3, 40.0), (0.25, 4.0, 1.0, 2.5)]


@pytest.fixture(scope="module")
def cdnow():
    d = pd.read_csv(DATA)
    return d["x"].to_numpy(float), d["t_x"].to_numpy(float), d["T"].to_numpy(float)


# -- independent references: the story, integrated over p with mpmath ----------------------------------
def _mp_p_integral(a, b, g, scale=1):
    """int_0^1 p^(a-1) (1-p)^(b-1) g(p) dp. The substitutions p = u^(1/a) on (0, 1/2) and
    p = 1 - u^(1/b) on (1/2, 1) absorb the weight's endpoint singularities; breakpoints follow p, also
    at multiples of 1/scale (with (1 - p)^x in g, the mass sits within a few 1/x of p = 0)."""
    half = mp.mpf(1) / 2
    ps = {mp.mpf("1e-8"), mp.mpf("1e-5"), mp.mpf("1e-3"), mp.mpf("1e-2")}
    ps |= {mp.mpf(c) / scale for c in (0.25, 0.5, 1, 2, 4, 8, 16, 32)}
    lo = [mp.mpf(0)] + [q ** a for q in sorted(q for q in ps if q < half)] + [half ** a]
    hi = [mp.mpf(0)] + [q ** b for q in (mp.mpf("1e-6"), mp.mpf("1e-3"))] + [half ** b]
    return (mp.quad(lambda u: (1 - u ** (1 / a)) ** (b - 1) * g(u ** (1 / a)), lo) / a
            + mp.quad(lambda u: (1 - u ** (1 / b)) ** (a - 1) * g(1 - u ** (1 / b)), hi) / b)


def _story(r, alpha, a, b, x, t_x, T):
    """mpmath numbers and the two parts of the likelihood given p (lambda integrated out):
    alive(p) = (1 - p)^(x + 1) (alpha + T)^-(r + x) (survived the x + 1 drop-out chances, alive at T) and
    dead(p) = p (1 - p)^x (alpha + t_x)^-(r + x) (dropped out right after the x-th repeat purchase, or
    after the first purchase when x = 0), up to the common Gamma(r + x) alpha^r / Gamma(r) and, here,
    also (alpha + T)^-(r + x): mpmath's quadrature stops on an *absolute* error of 10^-dps, so the
    integrands are kept of order one."""
    mp.mp.dps = 30
    r, alpha, a, b, t_x, T = (mp.mpf(v) for v in (r, alpha, a, b, t_x, T))
    odds = ((alpha + T) / (alpha + t_x)) ** (r + x)

    def alive(p):
        return (1 - p) ** (x + 1)

    def dead(p):
        return p * (1 - p) ** x * odds

    return r, alpha, a, b, t_x, T, alive, dead


def mp_log_likelihood(r, alpha, a, b, x, t_x, T):
    r, alpha, a, b, t_x, T, alive, dead = _story(r, alpha, a, b, x, t_x, T)
    g = mp.loggamma(r + x) - mp.loggamma(r) + r * mp.log(alpha) - mp.log(mp.beta(a, b)) - (r + x) * mp.log(alpha + T)
    return g + mp.log(_mp_p_integral(a, b, lambda p: alive(p) + dead(p), x + 1))


def mp_posterior(r, alpha, a, b, x, t_x, T, kernel):
    """E[[alive at T] kernel(p) | x, t_x, T]: the alive part of the story weighted by kernel(p), over
    the whole likelihood, both integrated over p."""
    r, alpha, a, b, t_x, T, alive, dead = _story(r, alpha, a, b, x, t_x, T)
    num = _mp_p_integral(a, b, lambda p: alive(p) * kernel(p), x + 1)
    return num / _mp_p_integral(a, b, lambda p: alive(p) + dead(p), x + 1)


def mp_conditional_expectation(r, alpha, a, b, x, t_x, T, t1, t2=None):
    """Expected purchases in (T + t1, T + t2] (or (T, T + t1]): given alive, lambda and p,
    E[Y(t)] = (1 - exp(-lambda p t))/p; lambda ~ Gamma(r + x, alpha + T) integrates it to
    (1 - (1 + p t/(alpha + T))^-(r + x))/p."""
    if t2 is None:
        t1, t2 = 0.0, t1
    A0, R = mp.mpf(alpha) + T, mp.mpf(r) + x
    return mp_posterior(r, alpha, a, b, x, t_x, T,
                        lambda p: ((1 + p * t1 / A0) ** -R - (1 + p * t2 / A0) ** -R) / p)


def mp_future_alive(r, alpha, a, b, x, t_x, T, t):
    A0, R = mp.mpf(alpha) + T, mp.mpf(r) + x
    return mp_posterior(r, alpha, a, b, x, t_x, T, lambda p: (1 + p * t / A0) ** -R)


def mp_new_expectation(r, alpha, a, b, t):
    """E[X(t)] of a new customer: she survives the drop-out chance at time 0 with probability 1 - p and
    then buys (1 - (1 + p t/alpha)^-r)/p on average."""
    mp.mp.dps = 30
    r, alpha, a, b, t = (mp.mpf(v) for v in (r, alpha, a, b, t))
    return _mp_p_integral(a, b, lambda p: (1 - p) * (1 - (1 + p * t / alpha) ** -r) / p) / mp.beta(a, b)


def _mp_nb(R, A0, t, k):
    """P(N = j), j = 0..k, N ~ Poisson(lambda t), lambda ~ Gamma(R, rate A0) (negative binomial)."""
    q = A0 / (A0 + t)
    return [mp.gamma(R + j) / (mp.gamma(R) * mp.factorial(j)) * q ** R * (1 - q) ** j for j in range(k + 1)]


def _mp_alive_count(nb, p, k):
    """P(k purchases | alive, lambda, p) integrated over lambda: Y = min(N, G), G ~ Geometric(p) on
    {1, 2, ...}: (1 - p)^k P(N = k) + [k > 0] p (1 - p)^(k - 1) P(N >= k)."""
    v = (1 - p) ** k * nb[k]
    if k > 0:
        v += p * (1 - p) ** (k - 1) * (1 - mp.fsum(nb[:k]))
    return v


def mp_pmf_new(r, alpha, a, b, t, k):
    mp.mp.dps = 30
    r, alpha, a, b, t = (mp.mpf(v) for v in (r, alpha, a, b, t))
    nb = _mp_nb(r, alpha, t, k)
    return _mp_p_integral(a, b, lambda p: (p if k == 0 else 0) + (1 - p) * _mp_alive_count(nb, p, k)) / mp.beta(a, b)


def mp_conditional_pmf(r, alpha, a, b, x, t_x, T, t, k):
    pa = mp_posterior(r, alpha, a, b, x, t_x, T, lambda p: 1)
    nb = _mp_nb(mp.mpf(r) + x, mp.mpf(alpha) + T, mp.mpf(t), k)
    v = mp_posterior(r, alpha, a, b, x, t_x, T, lambda p: _mp_alive_count(nb, p, k))
    return v + (1 - pa if k == 0 else 0)


# -- likelihood -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("x, t_x, T", [(0, 0.0, 1.0), (0, 0.0, 38.86), (1, 0.5, 1.0), (7, 20.0, 52.0),
                                       (60, 51.0, 52.0), (250, 9000.0, 10_000.0), (3, 9999.0, 10_000.0)])
def test_log_likelihood_is_the_story_integrated(x, t_x, T):
    for params in POINTS:
        got = mbgnbd.log_likelihood(*params, x, t_x, T)
        assert got == pytest.approx(float(mp_log_likelihood(*params, x, t_x, T)), rel=1e-11, abs=1e-11)


def test_customers_with_T_zero_have_likelihood_one():
    for params in POINTS:
        assert mbgnbd.log_likelihood(*params, 0, 0.0, 0.0) == 0.0
        # the story: alive with probability b/(a + b), gone with a/(a + b): together 1
        assert float(mp_log_likelihood(*params, 0, 0.0, 0.0)) == pytest.approx(0.0, abs=1e-20)
        assert mbgnbd.p_alive(*params, 0, 0.0, 0.0) == pytest.approx(params[3] / (params[2] + params[3]), rel=1e-14)


def test_no_repeat_purchase_is_not_proof_of_life():
    """Unlike the BG/NBD (P(alive) = 1 for x = 0), a customer without repeat purchases may have dropped
    out right after her first purchase; the longer she is silent the less likely she is alive."""
    T = np.array([0.0, 1.0, 10.0, 39.0, 100.0])
    pa = mbgnbd.p_alive(*PUBLISHED, 0, 0.0, T)
    assert np.all(np.diff(pa) < 0) and pa[-1] < 0.3
    ref = [float(mp_posterior(*PUBLISHED, 0, 0.0, t, lambda p: 1)) for t in T]
    np.testing.assert_allclose(pa, ref, rtol=1e-12)


def test_cdnow_maximum_likelihood_is_the_published_estimate(cdnow):
    """A refit of the likelihood on the 2,357 CDNOW customers (39 weeks) lands on the estimates of
    lifetimes' ModifiedBetaGeoFitter test (BTYDplus): r 0.525, alpha 6.183, a 0.891, b 1.614."""
    x, tx, T = cdnow
    assert len(x) == 2357 and x.sum() == 2457

    def nll(th):
        return -mbgnbd.log_likelihood(*np.exp(th), x, tx, T).sum()

    res = optimize.minimize(nll, np.log([0.3, 4.0, 0.7, 2.0]), method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-10, "maxiter": 10_000})
    est = np.exp(res.x)
    np.testing.assert_allclose(est, PUBLISHED, rtol=6e-4)  # the published values are rounded to 3 decimals
    np.testing.assert_allclose(est, MLE, rtol=2e-5)
    assert -res.fun == pytest.approx(-9582.1327, abs=1e-3)
    # the BG/NBD's maximum on the same data is -9582.43: the time-zero drop-out fits CDNOW as well
    assert -res.fun > -9582.43


# -- P(alive) and expectations against integration ------------------------------------------------------
CASES = [
    # (r, alpha, a, b, x, t_x, T, t)
    (*PUBLISHED, 2, 30.43, 38.86, 39.0),
    (*PUBLISHED, 0, 0.0, 38.86, 39.0),
    (*PUBLISHED, 0, 0.0, 0.0, 52.0),                 # a new customer
    (*PUBLISHED, 1, 0.5, 1.0, 10_000.0),             # short history, very long horizon
    (0.25, 4.0, 1.0, 2.5, 3, 10.0, 12.0, 520.0),     # a = 1 exactly (removable singularity)
    (0.25, 4.0, 1.0004, 2.5, 0, 0.0, 1.0, 5000.0),   # a within 1e-3 of 1, z near 1
    (2.0, 0.5, 4.0, 0.15, 0, 0.0, 0.5, 10_000.0),
    (0.25, 4.0, 0.8, 2.5, 200, 38.0, 40.0, 52.0),
    (0.25, 4.0, 0.8, 2.5, 1000, 9990.0, 10_000.0, 10_000.0),
    (0.05, 60.0, 0.3, 40.0, 5, 100.0, 300.0, 1000.0),
]


@pytest.mark.parametrize("case", CASES)
def test_p_alive_expectation_and_survival_match_integration(case):
    r, alpha, a, b, x, t_x, T, t = case
    pa = mbgnbd.p_alive(r, alpha, a, b, x, t_x, T)
    assert pa == pytest.approx(float(mp_posterior(r, alpha, a, b, x, t_x, T, lambda p: 1)), rel=1e-12)
    got = mbgnbd.conditional_expected_purchases(r, alpha, a, b, x, t_x, T, t)
    assert np.isfinite(got) and got == pytest.approx(float(mp_conditional_expectation(r, alpha, a, b, x, t_x, T, t)),
                                                     rel=1e-9)
    s = mbgnbd.future_p_alive(r, alpha, a, b, x, t_x, T, np.array([0.0, t]))
    assert s[0] == pytest.approx(pa, rel=1e-14) and s[1] <= s[0]
    assert s[1] == pytest.approx(float(mp_future_alive(r, alpha, a, b, x, t_x, T, t)), rel=1e-10)


def test_window_expectation_adds_up_and_matches_integration(cdnow):
    x, tx, T = cdnow
    whole = mbgnbd.conditional_expected_purchases(*PUBLISHED, x, tx, T, 39.0)
    edges = [0.0, 5.0, 17.5, 26.0, 39.0]
    parts = sum(mbgnbd.conditional_expected_purchases_window(*PUBLISHED, x, tx, T, t1, t2)
                for t1, t2 in zip(edges, edges[1:]))
    np.testing.assert_allclose(parts, whole, rtol=1e-12, atol=1e-15)
    got = mbgnbd.conditional_expected_purchases_window(*PUBLISHED, 2, 30.43, 38.86, 13.0, 39.0)
    assert got == pytest.approx(float(mp_conditional_expectation(*PUBLISHED, 2, 30.43, 38.86, 13.0, 39.0)), rel=1e-10)
    with pytest.raises(ValueError, match="t1 <= t2"):
        mbgnbd.conditional_expected_purchases_window(*PUBLISHED, 2, 30.43, 38.86, 39.0, 13.0)


def test_new_customer_expectation():
    t = np.array([0.0, 0.01, 1.0, 52.0, 520.0, 10_000.0])
    for a in (0.3, 0.891, 0.9995, 1.0, 1.0005, 1.2, 5.0):
        new = mbgnbd.expected_purchases_new(0.525, 6.183, a, 1.614, t)
        assert new[0] == 0.0 and np.all(np.diff(new) > 0)
        # a customer first seen at T: the conditional expectation at (0, 0, 0)
        np.testing.assert_allclose(new, mbgnbd.conditional_expected_purchases(0.525, 6.183, a, 1.614, 0, 0.0, 0.0, t),
                                   rtol=1e-14)
        ref = [float(mp_new_expectation(0.525, 6.183, a, 1.614, ti)) for ti in t[1:]]
        np.testing.assert_allclose(new[1:], ref, rtol=1e-9)
    # the closed form b/(a - 1) [1 - (alpha/(alpha + t))^r 2F1(r, b + 1; a + b; t/(alpha + t))] (mpmath)
    r, alpha, a, b = (mp.mpf(v) for v in PUBLISHED)
    closed = b / (a - 1) * (1 - (alpha / (alpha + 52)) ** r * mp.hyp2f1(r, b + 1, a + b, 52 / (alpha + 52)))
    assert mbgnbd.expected_purchases_new(*PUBLISHED, 52.0) == pytest.approx(float(closed), rel=1e-12)


def test_large_frequencies_and_ages_are_finite():
    x = np.array([0, 0, 1, 10, 100, 1000, 1000])
    T = np.array([0.0, 10_000.0, 10_000.0, 10_000.0, 5_000.0, 10_000.0, 1_000.0])
    tx = np.minimum(T, np.array([0.0, 0.0, 9_000.0, 9_999.0, 4_000.0, 9_990.0, 999.0]))
    for t in (1.0, 52.0, 10_000.0):
        e = mbgnbd.conditional_expected_purchases(*PUBLISHED, x, tx, T, t)
        s = mbgnbd.future_p_alive(*PUBLISHED, x, tx, T, t)
        assert np.all(np.isfinite(e)) and np.all(e >= 0)
        assert np.all((s >= 0) & (s <= 1))
    assert np.all(np.isfinite(mbgnbd.log_likelihood(*PUBLISHED, x, tx, T)))


# -- distribution of counts -----------------------------------------------------------------------------
def test_pmf_new_is_the_story_integrated():
    t, K = 39.0, 12
    for params in (PUBLISHED, (2.0, 0.5, 3.0, 0.4)):
        pmf, tail = mbgnbd.purchases_pmf_new(*params, t, K, return_tail=True)
        for k in range(K + 1):
            assert pmf[k] == pytest.approx(float(mp_pmf_new(*params, t, k)), rel=1e-11)
        assert pmf.sum() + tail == pytest.approx(1.0, abs=1e-14)
        # P(X = 0): dropped out at time 0 (a/(a + b)) or alive and no purchase
        r, alpha, a, b = params
        assert pmf[0] > a / (a + b)


def _chi2_pvalue(observed_counts, expected_counts, min_expected=10.0):
    """Pearson chi-square with bins pooled from the top until each has >= min_expected."""
    obs = list(observed_counts)
    exp = list(expected_counts)
    while len(exp) > 2 and exp[-1] < min_expected:
        # pop first, then add: in ``exp[-2] += exp.pop()`` the target is fetched before the pop and the sum
        # is stored one bin too low
        e_top, o_top = exp.pop(), obs.pop()
        exp[-1] += e_top
        obs[-1] += o_top
    obs, exp = np.array(obs, float), np.array(exp, float)
    stat = ((obs - exp) ** 2 / exp).sum()
    return stats.chi2.sf(stat, len(exp) - 1)


def test_chi_square_helper_pools_the_top_bins():
    rng = np.random.default_rng(0)
    pmf = stats.poisson.pmf(np.arange(30), 3.0)
    pmf[-1] += stats.poisson.sf(29, 3.0)
    counts = np.bincount(rng.poisson(3.0, 50_000), minlength=30)[:30]
    assert _chi2_pvalue(counts, 50_000 * pmf) > 1e-3
    # a mean 2% off is found, and so is mass moved from bin 10 (just below the pooled top bins) to bin 9
    assert _chi2_pvalue(np.bincount(rng.poisson(3.06, 50_000), minlength=30)[:30], 50_000 * pmf) < 1e-3
    moved = counts.copy()
    moved[9], moved[10] = moved[9] + 40, moved[10] - 40
    assert _chi2_pvalue(moved, 50_000 * pmf) < 1e-4


def test_simulated_frequencies_follow_the_pmf_new():
    """The simulator's calibration frequencies at a common T against the model's P(X(T) = k): the
    simulator and the count distribution (and with it the time-zero drop-out) tell the same story."""
    n, T, K = 200_000, 39.0, 40
    sim = simulate_summary(n, *PUBLISHED, T, seed=11)
    pmf, tail = mbgnbd.purchases_pmf_new(*PUBLISHED, T, K, return_tail=True)
    counts = np.bincount(np.minimum(sim["frequency"].to_numpy(), K + 1), minlength=K + 2)
    assert _chi2_pvalue(counts, n * np.append(pmf, tail)) > 1e-3
    # and the BG/NBD's count distribution (no time-zero drop-out) is rejected by the same data
    from clvmodels.models import bgnbd

    pmf_bg, tail_bg = bgnbd.purchases_pmf_new(*PUBLISHED, T, K, return_tail=True)
    assert _chi2_pvalue(counts, n * np.append(pmf_bg, tail_bg)) < 1e-10


def test_conditional_pmf_matches_integration_and_simulation():
    for case in [(*PUBLISHED, 2, 30.43, 38.86, 39.0), (*PUBLISHED, 0, 0.0, 38.86, 39.0), (0.3, 6.0, 0.7, 2.0, 7, 20.0, 52.0, 26.0)]:
        *params, x, tx, T, t = case
        pmf = mbgnbd.conditional_purchases_pmf(*params, x, tx, T, t, 8)
        for k in (0, 1, 2, 5, 8):
            assert pmf[k] == pytest.approx(float(mp_conditional_pmf(*params, x, tx, T, t, k)), rel=1e-10)
    # holdout counts of a simulated base against the sum of the customers' conditional pmfs
    rng = np.random.default_rng(12)
    n, h, K = 100_000, 26.0, 30
    theta = (0.3, 6.0, 0.7, 2.0)
    sim = simulate_summary(n, *theta, rng.uniform(1.0, 52.0, n), holdout=h, seed=13)
    x, tx, T = (sim[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    pmf, tail = mbgnbd.conditional_purchases_pmf(*theta, x, tx, T, h, K, return_tail=True)
    counts = np.bincount(np.minimum(sim["frequency_holdout"].to_numpy(), K + 1), minlength=K + 2)
    assert _chi2_pvalue(counts, np.append(pmf.sum(0), tail.sum())) > 1e-3
    e = mbgnbd.conditional_expected_purchases(*theta, x, tx, T, h)
    var = (pmf @ np.arange(K + 1) ** 2 - (pmf @ np.arange(K + 1)) ** 2).sum()
    assert abs(sim["frequency_holdout"].sum() - e.sum()) < 4 * np.sqrt(var)


def test_pmf_sums_to_one_and_its_mean_is_the_expectation(cdnow):
    x, tx, T = cdnow
    pmf, tail = mbgnbd.conditional_purchases_pmf(*PUBLISHED, x, tx, T, 39.0, 25, return_tail=True)
    assert pmf.shape == (2357, 26) and np.all(pmf >= 0)
    np.testing.assert_allclose(pmf.sum(-1) + tail, 1.0, atol=1e-13)
    pmf = mbgnbd.conditional_purchases_pmf(*PUBLISHED, x, tx, T, 39.0, tail_mass=1e-13)
    np.testing.assert_allclose(pmf @ np.arange(pmf.shape[-1]),
                               mbgnbd.conditional_expected_purchases(*PUBLISHED, x, tx, T, 39.0), rtol=1e-9, atol=1e-12)
    # P(Y = 0) = 1 - P(alive) (1 - ((alpha + T)/(alpha + T + t))^(r + x))
    pa = mbgnbd.p_alive(*PUBLISHED, x, tx, T)
    r, alpha = PUBLISHED[:2]
    np.testing.assert_allclose(pmf[:, 0], 1 - pa * (1 - ((alpha + T) / (alpha + T + 39.0)) ** (r + x)), rtol=1e-12)


def test_count_upper_bound_is_rigorous_and_not_wild(cdnow):
    x, tx, T = cdnow
    for tail in (1e-3, 1e-8, 1e-12):
        K = mbgnbd.purchases_count_upper_bound(*PUBLISHED, x, tx, T, 39.0, tail=tail)
        assert K.shape == x.shape and K.dtype.kind == "i"
        for i in (0, 2, 1515, int(np.argmax(x))):
            _, m_i = mbgnbd.conditional_purchases_pmf(*PUBLISHED, x[i], tx[i], T[i], 39.0, int(K[i]), return_tail=True)
            assert m_i <= tail
            if K[i] > 12:  # not wildly conservative: the mass beyond K - 12 is not yet below the tail
                _, m_lo = mbgnbd.conditional_purchases_pmf(*PUBLISHED, x[i], tx[i], T[i], 39.0, int(K[i]) - 12,
                                                           return_tail=True)
                assert m_lo > tail
    # a new customer (0, 0, 0)
    K = int(mbgnbd.purchases_count_upper_bound(*PUBLISHED, 0, 0.0, 0.0, 52.0, tail=1e-10))
    assert mbgnbd.purchases_pmf_new(*PUBLISHED, 52.0, K, return_tail=True)[1] <= 1e-10
    assert mbgnbd.purchases_count_upper_bound(*PUBLISHED, 5, 3.0, 10.0, 0.0) == 0


def test_shapes_broadcast_draws_against_customers(cdnow):
    x, tx, T = (v[:50] for v in cdnow)
    S = 7
    rng = np.random.default_rng(3)
    p = [np.asarray(v) * rng.uniform(0.9, 1.1, (S, 1)) for v in PUBLISHED]
    assert mbgnbd.log_likelihood(*p, x, tx, T).shape == (S, 50)
    assert mbgnbd.p_alive(*p, x, tx, T).shape == (S, 50)
    e = mbgnbd.conditional_expected_purchases(*p, x, tx, T, 39.0)
    assert e.shape == (S, 50)
    for s in range(S):  # each draw equals the scalar computation
        np.testing.assert_allclose(e[s], mbgnbd.conditional_expected_purchases(*(v[s, 0] for v in p), x, tx, T, 39.0),
                                   rtol=1e-15)
    pmf, tail = mbgnbd.conditional_purchases_pmf(*p, x, tx, T, 39.0, 20, return_tail=True)
    assert pmf.shape == (S, 50, 21) and tail.shape == (S, 50)
    assert mbgnbd.purchases_pmf_new(*PUBLISHED, np.array([1.0, 10.0]), 5).shape == (2, 6)
    assert mbgnbd.expected_purchases_new(*p, np.array([1.0, 10.0, 52.0])).shape == (S, 3)


# -- the fused likelihood Op ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trips(cdnow):
    """CDNOW (2,357 customers) and a simulated base with weights and extreme rows (x up to 300, T = 10,000),
    T = 0 rows included (their log-likelihood is 0)."""
    x, tx, T = cdnow
    rng = np.random.default_rng(1)
    n = 20_000
    s = simulate_summary(n, *PUBLISHED, T=rng.uniform(0.5, 104, n), seed=1)
    xs = np.r_[s["frequency"].to_numpy(float), 200.0, 200.0, 300.0, 1.0, 0.0, 0.0]
    txs = np.r_[s["recency"].to_numpy(float), 9999.5, 5000.0, 9990.0, 9999.0, 0.0, 0.0]
    Ts = np.r_[s["T"].to_numpy(float), 10_000.0, 10_000.0, 10_000.0, 10_000.0, 10_000.0, 0.0]
    w = np.r_[rng.integers(1, 4, n).astype(float), 1.0, 2.0, 1.0, 1.0, 3.0, 5.0]
    return {"cdnow": (compress(x, tx, T), (x, tx, T, np.ones_like(x))),
            "sim": (compress(xs, txs, Ts, weight=w), (xs, txs, Ts, w))}


def _functions(trip, mode="FAST_RUN"):
    import pytensor
    import pytensor.tensor as pt

    th = pt.dvector("theta")
    args = (th[0], th[1], th[2], th[3], trip)
    new = mbgnbd.pt_log_likelihood(*args)
    ref = mbgnbd._pt_log_likelihood_graph(*args)
    return (pytensor.function([th], [new, pt.grad(new, th)], mode=mode),
            pytensor.function([th], [ref, pt.grad(ref, th)], mode=mode))


@pytest.mark.parametrize("which", ["cdnow", "sim"])
def test_op_equals_the_reference_graph_and_the_direct_formula(which, trips):
    trip, (x, tx, T, w) = trips[which]
    f_new, f_ref = _functions(trip)
    n = w.sum()
    assert trip.frequency.max() >= (300 if which == "sim" else 29)
    for th in POINTS:
        (v1, g1), (v0, g0) = f_new(np.array(th)), f_ref(np.array(th))
        assert np.isfinite(v1) and np.all(np.isfinite(g1))
        assert abs(v1 - v0) <= 1e-10 * abs(v0)
        # a gradient component that nearly vanishes (terms of size ~1 per customer cancelling) is held
        # to 1e-11 per unit of customer weight instead
        np.testing.assert_allclose(g1, g0, rtol=1e-10, atol=1e-11 * n)
        assert v1 == pytest.approx(float(np.sum(w * mbgnbd.log_likelihood(*th, x, tx, T))), rel=1e-11)


def test_op_gradient_against_finite_differences(trips):
    """Central differences of the direct per-customer formula, Richardson-extrapolated (error O(h^4))."""
    trip, (x, tx, T, w) = trips["sim"]
    f_new, _ = _functions(trip)

    def total(th):
        return float(np.sum(w * mbgnbd.log_likelihood(*th, x, tx, T)))

    for th in POINTS[:3]:
        _, g = f_new(np.array(th))
        fd = np.empty(4)
        for i in range(4):
            def diff(h):
                up, dn = np.array(th, float), np.array(th, float)
                up[i] += h
                dn[i] -= h
                return (total(up) - total(dn)) / (2 * h)
            h = 1e-3 * th[i]
            fd[i] = (4 * diff(h / 2) - diff(h)) / 3
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-7 * w.sum())


def test_op_against_mpmath_with_extreme_rows():
    """A few weighted rows, x up to 250 with T = 10,000 and a T = 0 row: value against the 30-digit
    likelihood (the story integrated over p) and gradient against mpmath's numerical differentiation of
    the 30-digit closed form, both to 1e-10 relative or better."""
    x = np.array([0, 0, 0, 1, 3, 200, 250, 1, 7], float)
    tx = np.array([0, 0, 0, 0.5, 20.0, 9999.5, 5000.0, 9999.0, 30.0])
    T = np.array([0.0, 10.0, 39.0, 30.0, 38.0, 10_000.0, 10_000.0, 10_000.0, 31.0])
    w = np.array([4.0, 3.0, 1.0, 2.0, 1.0, 1.0, 2.0, 1.0, 5.0])
    trip = compress(x, tx, T, weight=w)
    mp.mp.dps = 30

    def closed(r, alpha, a, b):
        acc = mp.mpf(0)
        for xi, ti, Ti, wi in zip(x, tx, T, w):
            g = mp.gamma(r + xi) / mp.gamma(r) * alpha ** r / mp.beta(a, b)
            L = g * (mp.beta(a, b + xi + 1) / (alpha + Ti) ** (r + xi) + mp.beta(a + 1, b + xi) / (alpha + ti) ** (r + xi))
            acc += wi * mp.log(L)
        return acc

    for th in POINTS:
        val, *grad = mbl._mbgnbd_kernel(*th, *mbl.mbgnbd_data(trip))
        story = sum(wi * mp_log_likelihood(*th, xi, ti, Ti) for xi, ti, Ti, wi in zip(x, tx, T, w) if Ti > 0)
        assert val == pytest.approx(float(story), rel=1e-11)
        mth = [mp.mpf(t) for t in th]
        assert val == pytest.approx(float(closed(*mth)), rel=1e-13)
        for i in range(4):
            gi = float(mp.diff(lambda t: closed(*(mth[:i] + [t] + mth[i + 1:])), mth[i]))
            assert grad[i] == pytest.approx(gi, rel=1e-10, abs=1e-11 * w.sum())


def test_op_rows_with_T_zero_contribute_nothing(trips):
    trip, _ = trips["cdnow"]
    data = mbl.mbgnbd_data(trip)
    x0 = compress(np.zeros(3), np.zeros(3), np.zeros(3), weight=np.array([1.0, 1.0, 1.0]))
    for th in POINTS:
        val, *grad = mbl._mbgnbd_kernel(*th, *mbl.mbgnbd_data(x0))
        # exactly 0 in exact arithmetic; terms of size up to |digamma(0.05)| = 20 cancel here
        assert abs(val) < 1e-13 and np.all(np.abs(grad) < 1e-12)
        assert np.isfinite(mbl._mbgnbd_kernel(*th, *data)[0])


def test_op_python_and_numba_modes_agree_and_one_node_does_both(trips):
    import pytensor
    import pytensor.tensor as pt
    from pytensor.gradient import NullTypeGradError

    trip, _ = trips["sim"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # "Numba will use object mode ..." would fail here
        f_numba, _ = _functions(trip, "FAST_RUN")
    f_py, _ = _functions(trip, "FAST_COMPILE")
    for th in POINTS[:2]:
        a, b = f_numba(np.array(th)), f_py(np.array(th))
        assert a[0] == b[0]
        np.testing.assert_array_equal(a[1], b[1])
    th = pt.dvector("theta")
    ll = mbgnbd.pt_log_likelihood(th[0], th[1], th[2], th[3], trip)
    g = pt.grad(ll, th)
    f = pytensor.function([th], [ll, g], mode="FAST_RUN")
    assert len([nd for nd in f.maker.fgraph.toposort() if isinstance(nd.op, mbl.ModifiedBetaGeoLogLike)]) == 1
    with pytest.raises(NullTypeGradError):
        pt.grad(g[0], th)
