"""BG/NBD mathematics against published values and independent computations: numerical integration over
the posterior of (lambda, p) with mpmath, high-precision direct formulas, simulations of the generative
story, and finite differences."""
from __future__ import annotations

from pathlib import Path

import mpmath as mp
import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from clvmodels.models import bgnbd
from clvmodels.models.triplets import compress
from clvmodels.simulate import simulate_summary

DATA = Path(__file__).parents[1] / "data" / "cdnow_summary.csv"
# the BTYD walkthrough's CDNOW estimates (REFERENCE.md)
WALK = (0.2425982, 4.413684, 0.7929899, 2.426167)
PUBLISHED = (0.243, 4.414, 0.793, 2.426)          # Fader, Hardie & Lee (2005), table
MLE = (0.2426, 4.4136, 0.7929, 2.4259)            # maximum-likelihood refit, log-likelihood -9582.43


@pytest.fixture(scope="module")
def cdnow():
    d = pd.read_csv(DATA)
    return d["x"].to_numpy(float), d["t_x"].to_numpy(float), d["T"].to_numpy(float)


# -- independent references (mpmath) ------------------------------------------------------------------
def _mp_posterior_integrals(r, alpha, a, b, x, t_x, T, kernel):
    """E[kernel(p) | data, alive] * P(alive), integrating lambda analytically and p with mpmath quad.

    With the common factor alpha^r Gamma(r + x)/(Gamma(r) B(a, b) (alpha + T)^(r + x)) removed, the
    likelihood (FHL eq. 6) is den = B(a, b + x) + [x > 0] B(a + 1, b + x - 1) ((alpha + T)/(alpha + t_x))^(r + x),
    and the alive part weighted by kernel is int p^(a-1) (1-p)^(b+x-1) kernel(p) dp.
    """
    mp.mp.dps = 30
    r, alpha, a, b, t_x, T = (mp.mpf(v) for v in (r, alpha, a, b, t_x, T))
    B = b + x
    den = mp.beta(a, B)
    if x > 0:
        den += mp.beta(a + 1, B - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x)
    # substitutions that absorb the weight's endpoint singularities: p = s^(1/a) on (0, 1/2) and
    # p = 1 - s^(1/B) on (1/2, 1), so the quadrature sees smooth integrands; breakpoints follow p
    half = mp.mpf(1) / 2
    lo = [mp.mpf(0)] + [q ** a for q in (mp.mpf("1e-6"), mp.mpf("1e-4"), mp.mpf("1e-2"))] + [half ** a]
    hi = [mp.mpf(0)] + [q ** B for q in (mp.mpf("1e-6"), mp.mpf("1e-3"))] + [half ** B]
    num = (mp.quad(lambda u: (1 - u ** (1 / a)) ** (B - 1) * kernel(u ** (1 / a)), lo) / a
           + mp.quad(lambda u: (1 - u ** (1 / B)) ** (a - 1) * kernel(1 - u ** (1 / B)), hi) / B)
    return num / den


def mp_conditional_expectation(r, alpha, a, b, x, t_x, T, t):
    """E[Y(t) | x, t_x, T]: given alive with lambda, p: E[Y] = (1 - exp(-lambda p t))/p; integrating
    lambda ~ Gamma(r + x, alpha + T): (1 - (1 + p t/(alpha + T))^-(r + x))/p."""
    A0 = mp.mpf(alpha) + T
    R = mp.mpf(r) + x
    return _mp_posterior_integrals(r, alpha, a, b, x, t_x, T, lambda p: (1 - (1 + p * t / A0) ** -R) / p)


def mp_future_alive(r, alpha, a, b, x, t_x, T, t):
    A0 = mp.mpf(alpha) + T
    R = mp.mpf(r) + x
    return _mp_posterior_integrals(r, alpha, a, b, x, t_x, T, lambda p: (1 + p * t / A0) ** -R)


def mp_log_likelihood(r, alpha, a, b, x, t_x, T):
    """FHL eq. 6 evaluated directly at 50 digits (no overflow there)."""
    mp.mp.dps = 50
    r, alpha, a, b, t_x, T = (mp.mpf(v) for v in (r, alpha, a, b, t_x, T))
    g = mp.gamma(r + x) / mp.gamma(r) * alpha**r
    L = mp.beta(a, b + x) / mp.beta(a, b) * g / (alpha + T) ** (r + x)
    if x > 0:
        L += mp.beta(a + 1, b + x - 1) / mp.beta(a, b) * g / (alpha + t_x) ** (r + x)
    return float(mp.log(L))


# -- published point values ----------------------------------------------------------------------------
def test_log_likelihood_reference_values():
    ll = bgnbd.log_likelihood(0.25, 4.0, 0.8, 2.5, np.array([0, 200]), np.array([0.0, 38.0]), 40.0)
    assert ll[0] == pytest.approx(-0.59947382, abs=1e-8)
    assert ll[1] == pytest.approx(100.7957, abs=1e-4)  # overflows a naive implementation
    assert ll[1] == pytest.approx(mp_log_likelihood(0.25, 4.0, 0.8, 2.5, 200, 38.0, 40.0), rel=1e-13)


@pytest.mark.parametrize("x, t_x, T", [(0, 0.0, 1.0), (1, 0.5, 1.0), (7, 20.0, 52.0), (60, 51.0, 52.0),
                                       (1000, 9000.0, 10_000.0), (3, 9999.0, 10_000.0)])
def test_log_likelihood_matches_high_precision(x, t_x, T):
    for params in (PUBLISHED, (2.0, 0.5, 3.0, 0.4), (0.05, 60.0, 0.3, 40.0)):
        got = bgnbd.log_likelihood(*params, x, t_x, T)
        assert got == pytest.approx(mp_log_likelihood(*params, x, t_x, T), rel=1e-12, abs=1e-10)


def test_cdnow_log_likelihood(cdnow):
    x, tx, T = cdnow
    assert len(x) == 2357 and x.sum() == 2457
    assert bgnbd.log_likelihood(*PUBLISHED, x, tx, T).sum() == pytest.approx(-9582.4, abs=0.1)
    assert bgnbd.log_likelihood(*MLE, x, tx, T).sum() == pytest.approx(-9582.43, abs=0.01)


def test_cdnow_mle_refit(cdnow):
    """The published estimates are the maximum of this likelihood: a refit from them lands on the MLE."""
    x, tx, T = cdnow

    def nll(th):
        return -bgnbd.log_likelihood(*np.exp(th), x, tx, T).sum()

    res = optimize.minimize(nll, np.log(PUBLISHED), method="Nelder-Mead",
                            options={"xatol": 1e-9, "fatol": 1e-9, "maxiter": 4000})
    assert -res.fun == pytest.approx(-9582.43, abs=0.01)
    np.testing.assert_allclose(np.exp(res.x), MLE, rtol=2e-3)


def test_walkthrough_reference_values():
    assert bgnbd.expected_purchases_new(*WALK, 52.0) == pytest.approx(1.444005, abs=1e-6)
    assert bgnbd.conditional_expected_purchases(*WALK, 26, 30.85714, 31.0, 52.0) == pytest.approx(25.7565, abs=1e-4)
    assert bgnbd.p_alive(*WALK, 26, 30.85714, 31.0) == pytest.approx(0.968852, abs=1e-6)


# -- expectations against numerical integration --------------------------------------------------------
CASES = [
    # (r, alpha, a, b, x, t_x, T, t)
    (*WALK, 26, 30.85714, 31.0, 52.0),
    (*WALK, 0, 0.0, 38.86, 39.0),
    (*WALK, 2, 30.43, 38.86, 39.0),
    (*WALK, 1, 0.5, 1.0, 10_000.0),         # short history, very long horizon
    (0.25, 4.0, 1.0, 2.5, 3, 10.0, 12.0, 520.0),       # a = 1 exactly (removable singularity)
    (0.25, 4.0, 1.0004, 2.5, 0, 0.0, 1.0, 5000.0),     # a within 1e-3 of 1, z near 1
    (0.25, 4.0, 1.3, 2.5, 0, 0.0, 2.0, 200.0),
    (2.0, 0.5, 4.0, 0.15, 0, 0.0, 0.0, 10_000.0),      # integer c - a - b, z = 1 - 5e-5
    (0.25, 4.0, 0.8, 2.5, 200, 38.0, 40.0, 52.0),
    (0.25, 4.0, 0.8, 2.5, 1000, 9990.0, 10_000.0, 10_000.0),
    (0.05, 60.0, 0.3, 40.0, 5, 100.0, 300.0, 1000.0),
]


@pytest.mark.parametrize("case", CASES)
def test_conditional_expectation_matches_integration(case):
    r, alpha, a, b, x, t_x, T, t = case
    got = bgnbd.conditional_expected_purchases(r, alpha, a, b, x, t_x, T, t)
    ref = float(mp_conditional_expectation(r, alpha, a, b, x, t_x, T, t))
    assert np.isfinite(got) and got == pytest.approx(ref, rel=1e-9)


@pytest.mark.parametrize("case", CASES)
def test_future_p_alive_matches_integration(case):
    r, alpha, a, b, x, t_x, T, t = case
    got = bgnbd.future_p_alive(r, alpha, a, b, x, t_x, T, np.array([0.0, t]))
    assert got[0] == pytest.approx(bgnbd.p_alive(r, alpha, a, b, x, t_x, T), rel=1e-14)
    assert got[1] == pytest.approx(float(mp_future_alive(r, alpha, a, b, x, t_x, T, t)), rel=1e-10)
    assert got[1] <= got[0]


def test_new_customer_expectation_is_conditional_at_zero_history():
    t = np.array([0.0, 0.01, 1.0, 52.0, 520.0, 10_000.0])
    for a in (0.3, 0.8, 0.9995, 1.0, 1.0005, 1.2, 5.0):
        new = bgnbd.expected_purchases_new(0.25, 4.0, a, 2.5, t)
        cond = bgnbd.conditional_expected_purchases(0.25, 4.0, a, 2.5, 0, 0.0, 0.0, t)
        np.testing.assert_allclose(new, cond, rtol=1e-14)
        assert new[0] == 0.0 and np.all(np.diff(new) > 0)
        ref = [float(mp_conditional_expectation(0.25, 4.0, a, 2.5, 0, 0.0, 0.0, ti)) for ti in t[1:]]
        np.testing.assert_allclose(new[1:], ref, rtol=1e-9)


def test_expectation_accurate_across_a_equal_one():
    # the closed form has (a - 1) in a denominator: its replacements near a = 1 (regular series,
    # interpolation across a = 1 for z > 0.9) against integration, on both sides and at a = 1
    a = 1.0 + np.array([-0.3, -3e-3, -1e-3, -1e-4, -1e-8, 0.0, 1e-8, 1e-4, 1e-3, 3e-3, 0.3])
    for t in (10.0, 52.0, 2000.0):
        e = bgnbd.conditional_expected_purchases(0.25, 4.0, a, 2.5, 2, 20.0, 30.0, t)
        ref = [float(mp_conditional_expectation(0.25, 4.0, ai, 2.5, 2, 20.0, 30.0, t)) for ai in a]
        np.testing.assert_allclose(e, ref, rtol=1e-9)


def test_expectation_where_a_plus_b_is_one():
    # x = 0 and a + b = 1 make c = a + b - 1 = 0: a pole of the 2F1 but not of E[X(t)]
    t = np.array([1.0, 10.0, 52.0, 1000.0])
    at = bgnbd.expected_purchases_new(0.25, 4.0, 0.6, 0.4, t)
    near = 0.5 * (bgnbd.expected_purchases_new(0.25, 4.0, 0.6, 0.4 + 1e-7, t)
                  + bgnbd.expected_purchases_new(0.25, 4.0, 0.6, 0.4 - 1e-7, t))
    assert np.all(np.isfinite(at))
    np.testing.assert_allclose(at, near, rtol=1e-9)


def test_window_expectation(cdnow):
    x, tx, T = cdnow
    w = bgnbd.conditional_expected_purchases_window(*WALK, x, tx, T, 13.0, 39.0)
    whole = bgnbd.conditional_expected_purchases(*WALK, x, tx, T, 39.0)
    first = bgnbd.conditional_expected_purchases(*WALK, x, tx, T, 13.0)
    np.testing.assert_allclose(first + w, whole, rtol=1e-12, atol=1e-15)
    # additivity over several windows
    edges = [0.0, 5.0, 17.5, 26.0, 39.0]
    parts = sum(bgnbd.conditional_expected_purchases_window(*WALK, x, tx, T, t1, t2) for t1, t2 in zip(edges, edges[1:]))
    np.testing.assert_allclose(parts, whole, rtol=1e-12, atol=1e-15)
    # one window against integration of (1 + p t1/A0)^-R - (1 + p t2/A0)^-R over p
    r, alpha, a, b = WALK
    A0, R = mp.mpf(alpha) + 38.86, mp.mpf(r) + 2
    ref = _mp_posterior_integrals(r, alpha, a, b, 2, 30.43, 38.86,
                                  lambda p: ((1 + p * 13 / A0) ** -R - (1 + p * 39 / A0) ** -R) / p)
    got = bgnbd.conditional_expected_purchases_window(*WALK, 2, 30.43, 38.86, 13.0, 39.0)
    assert got == pytest.approx(float(ref), rel=1e-10)


def test_large_frequencies_and_ages_are_finite():
    x = np.array([0, 1, 10, 100, 1000, 1000])
    T = np.array([10_000.0, 10_000.0, 10_000.0, 5_000.0, 10_000.0, 1_000.0])
    tx = np.minimum(T, np.array([0.0, 9_000.0, 9_999.0, 4_000.0, 9_990.0, 999.0]))
    for t in (1.0, 52.0, 10_000.0):
        e = bgnbd.conditional_expected_purchases(*PUBLISHED, x, tx, T, t)
        s = bgnbd.future_p_alive(*PUBLISHED, x, tx, T, t)
        assert np.all(np.isfinite(e)) and np.all(e >= 0)
        assert np.all((s >= 0) & (s <= 1))
    assert np.all(np.isfinite(bgnbd.log_likelihood(*PUBLISHED, x, tx, T)))


# -- distribution of counts -----------------------------------------------------------------------------
def test_pmf_sums_to_one_and_mean_is_expectation(cdnow):
    x, tx, T = cdnow
    pmf, tail = bgnbd.conditional_purchases_pmf(*WALK, x, tx, T, 39.0, 25, return_tail=True)
    assert pmf.shape == (2357, 26) and np.all(pmf >= 0)
    np.testing.assert_allclose(pmf.sum(-1) + tail, 1.0, atol=1e-13)
    # with K chosen for a 1e-12 tail, the mean matches eq. 10 (up to the truncated tail's share)
    pmf = bgnbd.conditional_purchases_pmf(*WALK, x, tx, T, 39.0, tail_mass=1e-13)
    mean = pmf @ np.arange(pmf.shape[-1])
    np.testing.assert_allclose(mean, bgnbd.conditional_expected_purchases(*WALK, x, tx, T, 39.0), rtol=1e-9, atol=1e-12)
    # P(Y = 0) = 1 - P(alive) + P(alive) NB(0) B-ratio(0) = 1 - P(alive) (1 - ((alpha+T)/(alpha+T+t))^(r+x))
    pa = bgnbd.p_alive(*WALK, x, tx, T)
    r, alpha = WALK[0], WALK[1]
    np.testing.assert_allclose(pmf[:, 0], 1 - pa * (1 - ((alpha + T) / (alpha + T + 39.0)) ** (r + x)), rtol=1e-12)


@pytest.mark.parametrize("params", [PUBLISHED, (0.25, 4.0, 1.0, 2.5), (3.0, 0.5, 4.0, 40.0), (0.05, 60.0, 0.3, 0.4)])
def test_pmf_mean_matches_expectation_across_parameters(params):
    x = np.array([0, 1, 4, 30, 300])
    T = np.array([1.0, 10.0, 52.0, 100.0, 400.0])
    tx = np.array([0.0, 2.0, 50.0, 90.0, 399.0])
    for t in (1.0, 52.0, 500.0):
        pmf, tail = bgnbd.conditional_purchases_pmf(*params, x, tx, T, t, tail_mass=1e-13, return_tail=True)
        assert np.all(tail <= 1e-13)
        np.testing.assert_allclose(pmf.sum(-1) + tail, 1.0, atol=1e-12)
        mean = pmf @ np.arange(pmf.shape[-1])
        np.testing.assert_allclose(mean, bgnbd.conditional_expected_purchases(*params, x, tx, T, t), rtol=1e-8)


def test_pmf_new_customer_is_eq8():
    r, alpha, a, b = PUBLISHED
    t, K = 39.0, 12
    pmf = bgnbd.purchases_pmf_new(r, alpha, a, b, t, K)
    mp.mp.dps = 30
    for k in range(K + 1):  # FHL eq. 8, term by term in mpmath
        r_, al_, a_, b_ = (mp.mpf(v) for v in (r, alpha, a, b))
        g = lambda j: mp.gamma(r_ + j) / (mp.gamma(r_) * mp.factorial(j)) * (al_ / (al_ + t)) ** r_ * (t / (al_ + t)) ** j
        v = mp.beta(a_, b_ + k) / mp.beta(a_, b_) * g(k)
        if k > 0:
            v += mp.beta(a_ + 1, b_ + k - 1) / mp.beta(a_, b_) * (1 - mp.fsum(g(j) for j in range(k)))
        assert pmf[k] == pytest.approx(float(v), rel=1e-12)


def _chi2_pvalue(observed_counts, expected_counts, min_expected=10.0):
    """Pearson chi-square with bins pooled from the top until each has >= min_expected."""
    obs = list(observed_counts)
    exp = list(expected_counts)
    while len(exp) > 2 and exp[-1] < min_expected:
        e, o = exp.pop(), obs.pop()  # (exp[-2] += exp.pop() would read [-2] before the pop, write it after)
        exp[-1] += e
        obs[-1] += o
    obs, exp = np.array(obs, float), np.array(exp, float)
    stat = ((obs - exp) ** 2 / exp).sum()
    return stats.chi2.sf(stat, len(exp) - 1)


def test_pmf_new_matches_simulation():
    n, T = 200_000, 39.0
    sim = simulate_summary(n, *PUBLISHED, T, seed=11)
    K = 40
    pmf, tail = bgnbd.purchases_pmf_new(*PUBLISHED, T, K, return_tail=True)
    counts = np.bincount(np.minimum(sim["frequency"].to_numpy(), K + 1), minlength=K + 2)
    expected = n * np.append(pmf, tail)
    assert _chi2_pvalue(counts, expected) > 1e-3


def test_conditional_pmf_matches_simulation():
    """Holdout counts of a simulated base against the sum over customers of their conditional pmfs:
    a test of the conditioning (P(alive), the posterior of lambda and p) and of eq. 8 together."""
    rng = np.random.default_rng(12)
    n, h = 100_000, 26.0
    sim = simulate_summary(n, 0.3, 6.0, 0.7, 2.0, rng.uniform(1.0, 52.0, n), holdout=h, seed=13)
    trip = compress(sim["frequency"].to_numpy(), sim["recency"].to_numpy(), sim["T"].to_numpy())
    assert len(trip) == n  # continuous times: every customer is a triplet of her own
    K = 30
    pmf, tail = bgnbd.conditional_purchases_pmf(0.3, 6.0, 0.7, 2.0, sim["frequency"].to_numpy(), sim["recency"].to_numpy(),
                                                sim["T"].to_numpy(), h, K, return_tail=True)
    expected = np.append(pmf.sum(0), tail.sum())
    counts = np.bincount(np.minimum(sim["frequency_holdout"].to_numpy(), K + 1), minlength=K + 2)
    assert _chi2_pvalue(counts, expected) > 1e-3
    # and the totals: sum of conditional expectations against the simulated holdout purchases
    e = bgnbd.conditional_expected_purchases(0.3, 6.0, 0.7, 2.0, sim["frequency"], sim["recency"], sim["T"], h)
    var = (pmf @ np.arange(K + 1) ** 2 - (pmf @ np.arange(K + 1)) ** 2).sum()
    assert abs(sim["frequency_holdout"].sum() - e.sum()) < 4 * np.sqrt(var)


def test_count_upper_bound(cdnow):
    x, tx, T = cdnow
    for tail in (1e-3, 1e-8, 1e-12):
        K = bgnbd.purchases_count_upper_bound(*WALK, x, tx, T, 39.0, tail=tail)
        assert K.shape == x.shape and K.dtype.kind == "i"
        _, mass = bgnbd.conditional_purchases_pmf(*WALK, x, tx, T, 39.0, int(K.max()), return_tail=True)
        assert np.all(mass <= tail)
        # per element too, and not wildly conservative: the mass beyond K - 10 is not already negligible
        for i in (0, 1515, int(np.argmax(x))):
            _, m_i = bgnbd.conditional_purchases_pmf(*WALK, x[i], tx[i], T[i], 39.0, int(K[i]), return_tail=True)
            assert m_i <= tail
    assert bgnbd.purchases_count_upper_bound(*WALK, 5, 3.0, 10.0, 0.0) == 0


def test_shapes_broadcast_draws_against_customers(cdnow):
    x, tx, T = cdnow
    S = 7
    rng = np.random.default_rng(3)
    p = [np.asarray(v) * rng.uniform(0.9, 1.1, (S, 1)) for v in WALK]
    n = 50
    assert bgnbd.log_likelihood(*p, x[:n], tx[:n], T[:n]).shape == (S, n)
    assert bgnbd.p_alive(*p, x[:n], tx[:n], T[:n]).shape == (S, n)
    e = bgnbd.conditional_expected_purchases(*p, x[:n], tx[:n], T[:n], 39.0)
    assert e.shape == (S, n)
    for s in range(S):  # each draw equals the scalar computation
        np.testing.assert_allclose(e[s], bgnbd.conditional_expected_purchases(*(v[s, 0] for v in p), x[:n], tx[:n], T[:n], 39.0), rtol=1e-15)
    pmf, tail = bgnbd.conditional_purchases_pmf(*p, x[:n], tx[:n], T[:n], 39.0, 20, return_tail=True)
    assert pmf.shape == (S, n, 21) and tail.shape == (S, n)
    # horizons on their own axis
    ks = np.arange(0, 53, dtype=float)
    cum = bgnbd.conditional_expected_purchases(p[0][:, :, None], p[1][:, :, None], p[2][:, :, None], p[3][:, :, None],
                                               x[None, :n, None], tx[None, :n, None], T[None, :n, None], ks)
    assert cum.shape == (S, n, 53) and np.all(np.diff(cum, axis=-1) >= 0)
    assert bgnbd.purchases_pmf_new(*PUBLISHED, np.array([1.0, 10.0]), 5).shape == (2, 6)


# -- the PyTensor likelihood ----------------------------------------------------------------------------
def _compile_pt(trip):
    import pytensor
    import pytensor.tensor as pt

    r, alpha, a, b = (pt.dscalar(n) for n in ("r", "alpha", "a", "b"))
    ll = bgnbd.pt_log_likelihood(r, alpha, a, b, trip)
    return pytensor.function([r, alpha, a, b], [ll, *pt.grad(ll, [r, alpha, a, b])])


def _fd_gradient(f, theta, rel=1e-6):
    g = np.zeros(len(theta))
    for i in range(len(theta)):
        h = rel * theta[i]
        up, dn = list(theta), list(theta)
        up[i] += h
        dn[i] -= h
        g[i] = (f(up) - f(dn)) / (2 * h)
    return g


def test_pt_log_likelihood_cdnow(cdnow):
    x, tx, T = cdnow
    trip = compress(x, tx, T)
    assert trip.weight.sum() == 2357 and len(trip) < 2357
    fn = _compile_pt(trip)
    for theta in (MLE, (2.0, 0.5, 3.0, 0.4)):
        val, *grad = fn(*theta)
        total = lambda th: bgnbd.log_likelihood(*th, x, tx, T).sum()
        assert val == pytest.approx(total(theta), rel=1e-12)
        np.testing.assert_allclose(grad, _fd_gradient(total, list(theta)), rtol=1e-5, atol=1e-4)
    # at the MLE the gradient vanishes (up to the 4-5 digits of the rounded estimates)
    _, *grad = fn(*MLE)
    assert np.all(np.abs(grad) < 5.0)


def test_pt_log_likelihood_simulated_base_with_weights():
    rng = np.random.default_rng(21)
    n = 30_000
    sim = simulate_summary(n, 0.25, 4.0, 0.8, 2.5, rng.integers(7, 365, n) / 7.0, seed=22)
    rec = np.floor(sim["recency"].to_numpy() * 7) / 7  # whole days, in weeks: many shared triplets
    x, T = sim["frequency"].to_numpy(float), sim["T"].to_numpy()
    w = rng.integers(1, 4, n).astype(float)  # e.g. an aggregated summary's n_customers
    trip = compress(x, rec, T, weight=w)
    assert len(trip) < n / 2
    fn = _compile_pt(trip)
    theta = (0.3, 5.0, 0.9, 3.0)
    val, *grad = fn(*theta)
    total = lambda th: float(np.sum(w * bgnbd.log_likelihood(*th, x, rec, T)))
    assert val == pytest.approx(total(theta), rel=1e-12)
    np.testing.assert_allclose(grad, _fd_gradient(total, list(theta)), rtol=1e-5)


# -- triplets ---------------------------------------------------------------------------------------------
def test_compress_round_trip_and_levels():
    rng = np.random.default_rng(4)
    n = 50_000
    x = rng.poisson(1.0, n).astype(float)
    T = rng.integers(1, 60, n) / 7.0
    tx = np.where(x > 0, np.floor(rng.uniform(0, 1, n) * T * 7) / 7, 0.0)
    w = rng.uniform(0.5, 2.0, n)
    tr = compress(x, tx, T, weight=w)
    # every customer maps back to her own row
    np.testing.assert_array_equal(tr.frequency[tr.inverse], x)
    np.testing.assert_array_equal(tr.recency[tr.inverse], tx)
    np.testing.assert_array_equal(tr.T[tr.inverse], T)
    assert tr.n_customers == n and tr.weight.sum() == pytest.approx(w.sum())
    # rows are distinct and sorted by (frequency, T, recency)
    keys = np.stack([tr.frequency, tr.T, tr.recency], axis=1)
    assert len(np.unique(keys, axis=0)) == len(tr)
    assert np.all(np.lexsort((tr.recency, tr.T, tr.frequency)) == np.arange(len(tr)))
    # level factorisations
    np.testing.assert_array_equal(tr.x_levels[tr.x_index], tr.frequency)
    np.testing.assert_array_equal(tr.T_levels[tr.T_index], tr.T)
    np.testing.assert_array_equal(tr.recency_levels[tr.recency_index], tr.recency)
    np.testing.assert_allclose(tr.x_weight, [w[x == lv].sum() for lv in tr.x_levels])
    # per-row values expand to customers
    vals = bgnbd.p_alive(*PUBLISHED, tr.frequency, tr.recency, tr.T)
    np.testing.assert_array_equal(tr.expand(vals), bgnbd.p_alive(*PUBLISHED, x, tx, T))


def test_compress_exact_keys_extra_and_errors():
    x = np.array([1.0, 1.0, 1.0, 0.0, 0.0])
    tx = np.array([0.5, 0.5, 0.5 + 1e-15, 0.0, -0.0])
    T = np.array([2.0, 2.0, 2.0, 3.0, 3.0])
    tr = compress(x, tx, T)
    assert len(tr) == 3  # values differing in the last bit are different keys; -0.0 == 0.0
    np.testing.assert_array_equal(tr.weight, [2.0, 2.0, 1.0])
    h = np.array([1.0, 2.0, 1.0, 1.0, 1.0])
    tr2 = compress(x, tx, T, h)
    assert len(tr2) == 4 and len(tr2.extra) == 1
    np.testing.assert_array_equal(tr2.extra[0][tr2.inverse], h)
    with pytest.raises(ValueError):
        compress(x, tx, np.array([2.0, np.nan, 2.0, 3.0, 3.0]))
    with pytest.raises(ValueError):
        compress(x, tx, T[:4])
    with pytest.raises(ValueError):
        compress(x, tx, T, weight=-np.ones(5))
    empty = compress(np.zeros(0), np.zeros(0), np.zeros(0))
    assert len(empty) == 0 and empty.n_customers == 0


@pytest.mark.slow
def test_compress_ten_million_customers_is_fast():
    import time

    rng = np.random.default_rng(5)
    n = 10_000_000
    x = rng.poisson(0.8, n).astype(float)
    T = rng.integers(1, 365, n).astype(float)
    tx = np.where(x > 0, np.floor(rng.uniform(0, 1, n) * T), 0.0)
    t0 = time.perf_counter()
    tr = compress(x, tx, T)
    elapsed = time.perf_counter() - t0
    assert tr.n_customers == n and tr.weight.sum() == n
    assert elapsed < 30.0  # about 3-5 s on two shared cores
