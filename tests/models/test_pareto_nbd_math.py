"""The Pareto/NBD mathematics (clvmodels.models.pareto_nbd.math and the tail integral of .likelihood)
against independent computations: the closed form of Fader, Hardie & Lee's note (differences of Gauss
hypergeometric functions, in mpmath at 40 digits, where their cancellation is harmless), the death-time
integral and the mixtures over lambda and mu integrated by mpmath, the published CDNOW figures, and
simulation from the story."""
from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from clvmodels.models.pareto_nbd import math as pnbd
from clvmodels.models.pareto_nbd.likelihood import _tail
from clvmodels.models.pareto_nbd.simulate import simulate_summary

mp.mp.dps = 40

#: the published maximum-likelihood estimates on CDNOW (FHL 2005) and BTYD's own fit in its walkthrough
PUBLISHED = (0.553, 10.578, 0.606, 11.669)
BTYD = (0.5533971, 10.5801985, 0.6060625, 11.6562237)


# -- mpmath references ------------------------------------------------------------------------------------
def mp_log_tail(a, b, alpha, beta, t):
    """log int_t^inf (alpha + tau)^-a (beta + tau)^-b dtau by Euler's integral of 2F1 (base the larger of
    alpha, beta): (A + t)^-M / M 2F1(e_B, M; M + 1; (A - B)/(A + t)), M = a + b - 1."""
    a, b, alpha, beta, t = (mp.mpf(v) for v in (a, b, alpha, beta, t))
    M = a + b - 1
    if alpha >= beta:
        A, c, eB = alpha + t, (alpha - beta) / (alpha + t), b
    else:
        A, c, eB = beta + t, (beta - alpha) / (beta + t), a
    return -M * mp.log(A) - mp.log(M) + mp.log(mp.hyp2f1(eB, M, M + 1, c))


def mp_log_tail_grad(a, b, alpha, beta, t):
    args = [mp.mpf(v) for v in (a, b, alpha, beta)]
    out = []
    for i in range(4):
        def f(v, i=i):
            w = list(args)
            w[i] = v
            return mp_log_tail(*w, t)
        out.append(mp.diff(f, args[i]))
    return out


def mp_A0(r, alpha, s, beta, x, tx, T):
    """FHL note's A_0 (section 3): a difference of two 2F1 terms."""
    r, alpha, s, beta, x, tx, T = (mp.mpf(v) for v in (r, alpha, s, beta, x, tx, T))
    m = r + s + x
    if alpha >= beta:
        f = lambda t: mp.hyp2f1(m, s + 1, m + 1, (alpha - beta) / (alpha + t)) / (alpha + t) ** m  # noqa: E731
    else:
        f = lambda t: mp.hyp2f1(m, r + x, m + 1, (beta - alpha) / (beta + t)) / (beta + t) ** m  # noqa: E731
    return f(tx) - f(T)


def mp_log_likelihood(r, alpha, s, beta, x, tx, T):
    """FHL note (section 3): L = Gamma(r + x) alpha^r beta^s / Gamma(r)
    [(alpha + T)^-(r+x) (beta + T)^-s + s/(r + s + x) A_0]."""
    r, alpha, s, beta, x, tx, T = (mp.mpf(v) for v in (r, alpha, s, beta, x, tx, T))
    c = mp.loggamma(r + x) - mp.loggamma(r) + r * mp.log(alpha) + s * mp.log(beta)
    alive = (alpha + T) ** -(r + x) * (beta + T) ** -s
    return c + mp.log(alive + s / (r + s + x) * mp_A0(r, alpha, s, beta, x, tx, T))


def mp_log_likelihood_death_time(r, alpha, s, beta, x, tx, T):
    """The same likelihood from the story with the death time kept: the survivor's term plus
    s int_{t_x}^{T} (alpha + tau)^-(r+x) (beta + tau)^-(s+1) dtau, integrated by mpmath's quadrature."""
    r, alpha, s, beta, x, tx, T = (mp.mpf(v) for v in (r, alpha, s, beta, x, tx, T))
    c = mp.loggamma(r + x) - mp.loggamma(r) + r * mp.log(alpha) + s * mp.log(beta)
    f = lambda u: (alpha + u) ** -(r + x) * (beta + u) ** -(s + 1)  # noqa: E731
    pts = [tx] + [tx + (T - tx) * mp.mpf(2) ** -j for j in range(40, 0, -1)] + [T] if T > tx else [tx, T]
    dead = s * mp.quad(f, pts) if T > tx else 0
    return c + mp.log((alpha + T) ** -(r + x) * (beta + T) ** -s + dead)


def mp_p_alive(r, alpha, s, beta, x, tx, T):
    r, alpha, s, beta, x, tx, T = (mp.mpf(v) for v in (r, alpha, s, beta, x, tx, T))
    alive = (alpha + T) ** -(r + x) * (beta + T) ** -s
    return alive / (alive + s / (r + s + x) * mp_A0(r, alpha, s, beta, x, tx, T))


def mp_gamma_mean(s, rate, g):
    """E[g(mu)] for mu ~ Gamma(s, rate), by quadrature over v = log(mu) (for small s the mass spreads
    over many decades below the mean, P(mu < m) ~ (rate m)^s: in v the density is e^(s v - rate e^v),
    smooth, with an exponential left tail)."""
    s, rate = mp.mpf(s), mp.mpf(rate)
    v0 = mp.log(s / rate)
    f = lambda v: mp.exp(s * (v + mp.log(rate)) - rate * mp.exp(v) - mp.loggamma(s)) * g(mp.exp(v))  # noqa: E731
    span = int(45 / s) + 10
    pts = [v0 - k for k in range(span, 0, -10)] + [v0, v0 + 2, v0 + 4, v0 + 8]
    with mp.workdps(25):
        # the left tail below v0 - span holds less than e^-45 of the mass, the right one beyond
        # v0 + 8 (mu 3000 times the mean) nothing in double precision
        return mp.quad(f, pts)


def mp_alive_expected(R, A0, s, B0, t1, t2=None):
    """E[purchases in (t1, t2] | alive now] = E[lambda] E[int_{t1}^{t2} e^(-mu u) du] with lambda ~
    Gamma(R, A0), mu ~ Gamma(s, B0), the inner expectation by quadrature over mu (t2 = None: (0, t1])."""
    if t2 is None:
        t1, t2 = 0, t1
    t1, t2 = mp.mpf(t1), mp.mpf(t2)
    g = lambda m: -mp.exp(-m * t1) * mp.expm1(-m * (t2 - t1)) / m  # noqa: E731 (no 1 - e^-x cancellation)
    return mp.mpf(R) / A0 * mp_gamma_mean(s, B0, g)


def mp_nb(k, R, q):
    return mp.exp(mp.loggamma(R + k) - mp.loggamma(R) - mp.loggamma(k + 1)) * q ** R * (1 - q) ** k


def mp_alive_pmf(R, A0, s, B0, t, ks):
    """P(k | alive now) for k in ``ks``: the count is NB(R, A0/(A0 + U)) given U = min(remaining lifetime,
    t), the lifetime Lomax(s, B0) (the exponential with rate mu ~ Gamma(s, B0)), integrated by mpmath
    (25 digits)."""
    out = []
    with mp.workdps(25):
        R, A0, s, B0, t = (mp.mpf(v) for v in (R, A0, s, B0, t))
        pts = [0] + [t * mp.mpf(2) ** -j for j in range(20, 0, -1)] + [t]
        for k in ks:
            atom = (B0 / (B0 + t)) ** s * mp_nb(k, R, A0 / (A0 + t))
            f = lambda u: mp_nb(k, R, A0 / (A0 + u)) * s / B0 * (B0 / (B0 + u)) ** (s + 1)  # noqa: E731
            out.append(float(atom + mp.quad(f, pts)))
    return np.array(out)


def _some_counts(K, n=7):
    """A few counts spread over 0..K (the mpmath reference is slow per count)."""
    return np.unique(np.r_[0, 1, np.linspace(0, K, n).round().astype(int)])


def _chi2_pvalue(observed_counts, expected_counts, min_expected=5.0):
    """Pearson chi-square with bins pooled from the top until each has >= min_expected."""
    obs = list(observed_counts)
    exp = list(expected_counts)
    while len(exp) > 2 and exp[-1] < min_expected:
        e_top, o_top = exp.pop(), obs.pop()
        exp[-1] += e_top
        obs[-1] += o_top
    obs, exp = np.array(obs, float), np.array(exp, float)
    return stats.chi2.sf(((obs - exp) ** 2 / exp).sum(), len(exp) - 1)


@pytest.fixture(scope="module")
def cdnow(cdnow_split):
    s = cdnow_split
    return s["frequency"].to_numpy(float), s["recency"].to_numpy(float), s["T"].to_numpy(float)


# -- the tail integral --------------------------------------------------------------------------------------
def _tail_cases():
    """Hand-picked extremes and a log-uniform random spread: frequencies to 1,000, alpha << beta,
    alpha >> beta, alpha == beta, t = 0, tiny and huge t, exponents below one and around one."""
    cases = [
        (0.55, 1.606, 10.578, 11.669, 0.0), (29.55, 1.606, 10.578, 11.669, 30.0), (250.55, 1.606, 10.578, 11.669, 38.9),
        (1000.5, 0.6, 10.578, 11.669, 5.0), (0.3, 1.5, 0.01, 10.0, 0.0), (0.3, 1.5, 10.0, 0.01, 0.0),
        (200.3, 1.5, 0.01, 10.0, 0.0), (200.3, 1.5, 10.0, 0.01, 0.0), (1.0, 2.0, 5.0, 5.0, 3.0), (7.0, 0.6, 3.0, 3.0, 0.0),
        (0.05, 1.01, 1e-3, 1e3, 0.0), (5.0, 1.01, 1e3, 1e-3, 0.0), (1.2, 0.6, 1.0, 1000.0, 0.0), (3.0, 0.02, 50.0, 1.0, 0.0),
        (0.6, 20.0, 1.0, 100.0, 1.0), (2.0, 1.0, 10.0, 20.0, 1e-6), (2.0, 1.0, 10.0, 20.0, 1e4), (1.5, 0.5, 1e-6, 1e8, 0.0),
        (5000.5, 1.6, 1e8, 1e-6, 1e5), (1.0005, 0.003, 1e-6, 2.0, 0.0),
    ]
    rng = np.random.default_rng(11)
    for _ in range(25):
        x = float(rng.choice([0, 1, 3, 10, 30, 100, 300, 1000]))
        r, s = 10 ** rng.uniform(-2, 1.3, 2)
        alpha, beta = 10 ** rng.uniform(-3, 4, 2)
        t = 0.0 if rng.uniform() < 0.3 else float(10 ** rng.uniform(-3, 4))
        cases.append((r + x, s + 1, alpha, beta, t) if rng.uniform() < 0.5 else (r + x + 1, s, alpha, beta, t))
    return cases


@pytest.mark.parametrize("case", _tail_cases())
def test_tail_integral_and_its_gradient_match_mpmath(case):
    a, b, alpha, beta, t = case
    got = _tail(a, b, alpha, beta, t, True)
    ref = mp_log_tail(*case)
    assert abs(got[0] - float(ref)) <= 1e-13 * max(1.0, abs(float(ref))), (got[0], float(ref))
    # the value alone (no gradient accumulators) is the same number
    assert _tail(a, b, alpha, beta, t, False)[0] == pytest.approx(got[0], rel=1e-15, abs=1e-15)
    g = mp_log_tail_grad(*case)
    # each derivative against the size of its terms: d/da is -log(alpha + tau) on average, d/d alpha
    # -a/(alpha + tau) on average
    scale = [max(1.0, abs(math.log(alpha + t)), abs(math.log(beta + t))),
             max(1.0, abs(math.log(alpha + t)), abs(math.log(beta + t))),
             max(abs(float(g[2])), a / (alpha + t) / 1e3), max(abs(float(g[3])), b / (beta + t) / 1e3)]
    for i in range(4):
        assert abs(got[1 + i] - float(g[i])) <= 1e-12 * scale[i], (i, got[1 + i], float(g[i]))


CORNERS = [(r + x, s + 1.0, alpha, beta, t) for r in (1e-3, 1e3) for s in (1e-3, 1e3)
           for alpha, beta in ((1e-6, 1e8), (1e8, 1e-6), (1e-6, 1e-6)) for x, t in ((0.0, 0.0), (1e4, 1e5))]


@pytest.mark.parametrize("case", CORNERS)
def test_tail_integral_at_the_corners_of_the_reliable_range(case):
    """r and s at 1e-3 and 1e3, alpha and beta at 1e-6 and 1e8 (ParetoNBDModel.reliable_range),
    frequency 10,000 at T = 1e5: the value to 1e-13, the gradient to 1e-10 of the size of its terms (with
    r + s + x small, M = a + b - 1 is small and d/d beta = (1 - b)/(beta + t) - (...)/(alpha + t) sums terms
    of size 1/(beta + t) to a result M times smaller: about 1e-16/M relative is lost there)."""
    a, b, alpha, beta, t = case
    got = _tail(a, b, alpha, beta, t, True)
    ref = float(mp_log_tail(*case))
    assert abs(got[0] - ref) <= 1e-13 * max(1.0, abs(ref))
    g = [float(v) for v in mp_log_tail_grad(*case)]
    logs = max(1.0, abs(math.log(alpha + t)), abs(math.log(beta + t)))
    scale = [logs, logs, max(abs(g[2]), a / (alpha + t)), max(abs(g[3]), b / (beta + t))]
    for i in range(4):
        assert abs(got[1 + i] - g[i]) <= 1e-10 * scale[i], (i, got[1 + i], g[i])


def test_tail_integral_is_continuous_where_the_series_hands_over_to_the_quadrature():
    """c = (beta - alpha)/(beta + t) = 1/2 is where the series stops and the split quadrature starts:
    both sides agree with mpmath and with each other."""
    alpha, beta = 2.0, 10.0
    t_split = 2 * (beta - alpha) - beta  # (beta - alpha)/(beta + t) = 1/2
    for a, b in [(1.55, 1.6), (30.55, 1.6), (0.3, 0.8)]:
        below = _tail(a, b, alpha, beta, t_split * (1 + 1e-12), True)   # c just below 1/2: the series
        above = _tail(a, b, alpha, beta, t_split * (1 - 1e-12), True)   # c just above: the quadrature
        for v, tt in ((below, t_split * (1 + 1e-12)), (above, t_split * (1 - 1e-12))):
            assert v[0] == pytest.approx(float(mp_log_tail(a, b, alpha, beta, tt)), rel=1e-14, abs=1e-14)
            g = [float(d) for d in mp_log_tail_grad(a, b, alpha, beta, tt)]
            np.testing.assert_allclose(v[1:], g, rtol=1e-13)
        # the two sides differ by no more than the functions do over 2e-12 relative in t
        np.testing.assert_allclose(below, above, rtol=1e-11)


def test_tail_integral_outside_its_domain_is_nan_not_a_hang():
    for args in [(math.nan, 1.0, 1.0, 1.0, 0.0), (1.0, 1.0, math.inf, 1.0, 0.0), (0.2, 0.3, 1.0, 2.0, 0.0),
                 (1.0, 1.0, -1.0, 1.0, 0.0), (1.0, 1.0, 1.0, 1.0, math.nan)]:
        assert all(math.isnan(v) for v in _tail(*args, True)), args


# -- the likelihood and P(alive) --------------------------------------------------------------------------------
LIK_CASES = [
    (0, 0.0, 38.86), (1, 0.5, 1.0), (2, 30.43, 38.86), (7, 20.0, 52.0), (26, 30.86, 31.0), (5, 30.0, 30.0),
    (250, 38.0, 39.0), (600, 9000.0, 10000.0), (3, 1e-4, 2e-4), (0, 0.0, 1e-5), (12, 9999.0, 10000.0),
]
LIK_PARAMS = [PUBLISHED, (0.3, 0.01, 0.8, 20.0), (0.3, 20.0, 0.8, 0.01), (2.0, 5.0, 1.0, 5.0), (0.05, 100.0, 5.0, 1e-3)]


@pytest.mark.parametrize("theta", LIK_PARAMS)
def test_log_likelihood_and_p_alive_match_the_closed_form_and_the_death_time_integral(theta):
    x, tx, T = (np.array(c, float) for c in zip(*LIK_CASES))
    ll = pnbd.log_likelihood(*theta, x, tx, T)
    pa = pnbd.p_alive(*theta, x, tx, T)
    for i, case in enumerate(LIK_CASES):
        ref = float(mp_log_likelihood(*theta, *case))
        assert abs(ll[i] - ref) <= 1e-12 * max(1.0, abs(ref)), (case, ll[i], ref)
        # (P(alive) is exp of a difference of two logs of size (r + x) log(alpha + T): where that is in
        # the thousands and P(alive) tiny, its relative accuracy is that of the logs, about 1e-12)
        assert pa[i] == pytest.approx(float(mp_p_alive(*theta, *case)), rel=1e-11, abs=1e-300), case
        if case[0] < 100:  # the plain quadrature of the death-time integral, for moderate frequencies
            assert abs(ll[i] - float(mp_log_likelihood_death_time(*theta, *case))) <= 1e-12 * max(1.0, abs(ref))


def test_lifetimes_overflow_case():
    """lifetimes' ParetoNBDFitter test_overflow_error: alpha = 0.008 far below beta = 2.8 and frequencies
    of 400 and 500, where its A_0 overflowed: the likelihood is finite and equals mpmath's."""
    theta = (10.465, 7.98565181e-03, 3.0516, 2.820)
    x, tx, T = np.array([400.0, 500.0, 500.0]), np.array([5.0, 1.0, 4.0]), np.array([6.0, 37.0, 37.0])
    ll = pnbd.log_likelihood(*theta, x, tx, T)
    for i in range(3):
        assert ll[i] == pytest.approx(float(mp_log_likelihood(*theta, x[i], tx[i], T[i])), rel=1e-13)
    pa = pnbd.p_alive(*theta, x, tx, T)
    assert np.all((pa >= 0) & (pa < 1e-30))  # silent for 31 weeks after a burst of 500 purchases: dead


def test_customers_seen_for_no_time_have_likelihood_one_and_are_alive():
    assert pnbd.log_likelihood(*PUBLISHED, 0, 0.0, 0.0) == 0.0
    assert pnbd.p_alive(*PUBLISHED, 0, 0.0, 0.0) == 1.0
    # and a tiny T is continuous with it
    assert abs(pnbd.log_likelihood(*PUBLISHED, 0, 0.0, 1e-9)) < 1e-9
    with pytest.raises(ValueError):
        pnbd.log_likelihood(*PUBLISHED, 1, 5.0, 4.0)  # recency beyond T


def test_no_repeat_purchase_is_not_proof_of_life_and_recency_close_to_T_is():
    pa = pnbd.p_alive(*PUBLISHED, np.array([0, 0, 5, 5, 5]), np.array([0, 0, 1.0, 20.0, 39.0]),
                      np.array([5.0, 39.0, 39.0, 39.0, 39.0]))
    assert 0 < pa[1] < pa[0] < 1          # without purchases, the longer the silence the likelier dead
    assert pa[2] < pa[3] < pa[4] == 1.0    # t_x = T: just bought, certainly alive


def test_cdnow_log_likelihood_at_the_published_estimates(cdnow):
    """FHL (2005) report -9595.0 at r = 0.55, alpha = 10.58, s = 0.61, beta = 11.67 (REFERENCE.md); at
    the rounded MLE of the note, 0.553, 10.578, 0.606, 11.669, the total is -9594.98."""
    ll = pnbd.log_likelihood(*PUBLISHED, *cdnow).sum()
    assert ll == pytest.approx(-9594.98, abs=0.01)
    assert pnbd.log_likelihood(0.55, 10.58, 0.61, 11.67, *cdnow).sum() == pytest.approx(-9595.0, abs=0.05)


def test_btyd_walkthrough_values():
    """BTYD's Pareto/NBD walkthrough (Dziurzynski, Wadsworth & McCarthy) on CDNOW: a new customer's
    expected purchases in 52 weeks 1.473; customer 1516 (x = 26, t_x = 30.86, T = 31): P(alive) 0.9979
    and 25.46 expected purchases in the next 52 weeks. At the published estimates and at BTYD's own fit
    (the two differ in the fourth digit) the values round to those."""
    for theta in (PUBLISHED, BTYD):
        assert pnbd.expected_purchases_new(*theta, 52.0) == pytest.approx(1.473, abs=5e-4)
        assert pnbd.p_alive(*theta, 26, 30.86, 31.0) == pytest.approx(0.9979, abs=5e-5)
        assert pnbd.conditional_expected_purchases(*theta, 26, 30.86, 31.0, 52.0) == pytest.approx(25.46, abs=0.007)


# -- the future of a customer alive now ------------------------------------------------------------------------
EXP_CASES = [(PUBLISHED, 2, 30.43, 38.86, 39.0), (PUBLISHED, 0, 0.0, 38.86, 52.0), ((0.3, 0.5, 1.0, 3.0), 4, 2.0, 3.0, 100.0),
             ((0.3, 0.5, 1.0 + 1e-9, 3.0), 4, 2.0, 3.0, 100.0), ((2.0, 5.0, 0.999, 8.0), 1, 0.5, 1.0, 1e-4),
             ((0.8, 40.0, 7.5, 2.0), 300, 50.0, 60.0, 1e4), ((0.8, 40.0, 0.05, 2000.0), 10, 5.0, 60.0, 365.0)]


@pytest.mark.parametrize("theta, x, tx, T, t", EXP_CASES)
def test_expectation_window_and_survival_match_the_mixture_over_mu(theta, x, tx, T, t):
    r, alpha, s, beta = theta
    pa = float(mp_p_alive(*theta, x, tx, T))
    R, A0, B0 = r + x, alpha + T, beta + T
    e = pnbd.conditional_expected_purchases(*theta, x, tx, T, t)
    assert e == pytest.approx(pa * float(mp_alive_expected(R, A0, s, B0, t)), rel=1e-11)
    w = pnbd.conditional_expected_purchases_window(*theta, x, tx, T, t / 3, t)
    assert w == pytest.approx(pa * float(mp_alive_expected(R, A0, s, B0, t / 3, t)), rel=1e-11)
    # the window and the first third add up to the whole
    assert w + pnbd.conditional_expected_purchases(*theta, x, tx, T, t / 3) == pytest.approx(e, rel=1e-13)
    fa = pnbd.future_p_alive(*theta, x, tx, T, t)
    assert fa == pytest.approx(pa * float(mp_gamma_mean(s, B0, lambda m: mp.exp(-m * t))), rel=1e-11)
    # a new customer is one alive at T = 0 without purchases
    assert pnbd.expected_purchases_new(*theta, t) == pytest.approx(float(mp_alive_expected(r, alpha, s, beta, t)), rel=1e-11)


def test_expectation_is_smooth_through_s_equal_one():
    """(1 - (B0/(B0 + t))^(s-1))/(s - 1) is 0/0 at s = 1: the exprel form has no hole there."""
    ss = 1.0 + np.array([-1e-6, -1e-12, 0.0, 1e-12, 1e-6])
    e = pnbd.expected_purchases_new(0.5, 10.0, ss, 12.0, 52.0)
    assert np.all(np.isfinite(e))
    assert np.ptp(e[1:4]) < 1e-11 * e[2]
    assert e[2] == pytest.approx(0.5 / 10.0 * 12.0 * math.log1p(52.0 / 12.0), rel=1e-15)


def test_zero_horizon_and_bad_windows():
    assert pnbd.conditional_expected_purchases(*PUBLISHED, 3, 10.0, 20.0, 0.0) == 0.0
    assert pnbd.future_p_alive(*PUBLISHED, 3, 10.0, 20.0, 0.0) == pytest.approx(pnbd.p_alive(*PUBLISHED, 3, 10.0, 20.0))
    with pytest.raises(ValueError):
        pnbd.conditional_expected_purchases_window(*PUBLISHED, 3, 10.0, 20.0, 5.0, 4.0)
    with pytest.raises(ValueError):
        pnbd.expected_purchases_new(*PUBLISHED, -1.0)


# -- count distributions ---------------------------------------------------------------------------------------
PMF_CASES = [(0.553, 10.578, 0.606, 11.669, 39.0, 15), (30.55, 48.0, 0.61, 49.6, 39.0, 60),
             (1.55, 12.0, 0.61, 500.0, 52.0, 20), (5.5, 1000.0, 2.0, 1.0, 100.0, 10),
             (200.5, 30.0, 0.5, 30.0, 10.0, 200), (0.05, 0.01, 0.1, 100.0, 1000.0, 40),
             (2.0, 5.0, 1.0, 5.0, 1e-3, 3), (3.0, 0.5, 20.0, 200.0, 3.0, 60), (5000.5, 100.0, 0.61, 110.0, 10.0, 700)]


@pytest.mark.parametrize("R, A0, s, B0, t, K", PMF_CASES)
def test_alive_count_distribution_matches_the_mixture_integrated_by_mpmath(R, A0, s, B0, t, K):
    pmf, tail = pnbd._alive_pmf(R, A0, s, B0, t, 1.0, K)
    ks = _some_counts(K)
    np.testing.assert_allclose(pmf[ks], mp_alive_pmf(R, A0, s, B0, t, ks), rtol=1e-12, atol=1e-15)
    assert tail >= 0.0 and abs(tail - (1.0 - pmf.sum())) <= 1e-14  # absolute accuracy, clipped at 0


def test_pmf_sums_to_one_and_its_mean_is_the_expectation(cdnow):
    x, tx, T = (v[::40] for v in cdnow)
    t = 39.0
    K = int(pnbd.purchases_count_upper_bound(*PUBLISHED, x, tx, T, t, tail=1e-14).max())
    pmf, tail = pnbd.conditional_purchases_pmf(*PUBLISHED, x, tx, T, t, K, return_tail=True)
    np.testing.assert_allclose(pmf.sum(axis=-1) + tail, 1.0, rtol=0, atol=1e-14)
    assert np.all(tail < 1e-13)
    mean = pmf @ np.arange(K + 1)
    np.testing.assert_allclose(mean, pnbd.conditional_expected_purchases(*PUBLISHED, x, tx, T, t), rtol=1e-11)
    # P(Y = 0) = 1 - P(alive) + P(alive) P(0 | alive)
    pa = pnbd.p_alive(*PUBLISHED, x, tx, T)
    assert np.all(pmf[:, 0] >= 1 - pa - 1e-15)


def test_pmf_new_is_the_conditional_pmf_of_a_customer_seen_for_no_time():
    new = pnbd.purchases_pmf_new(*PUBLISHED, 52.0, 30)
    cond = pnbd.conditional_purchases_pmf(*PUBLISHED, 0, 0.0, 0.0, 52.0, 30)
    np.testing.assert_allclose(new, cond, rtol=1e-15)
    ks = _some_counts(30)
    np.testing.assert_allclose(new[ks], mp_alive_pmf(*PUBLISHED, 52.0, ks), rtol=1e-12, atol=1e-16)
    K = int(pnbd.purchases_count_upper_bound(*PUBLISHED, 0, 0.0, 0.0, 52.0, tail=1e-16)) + 20
    long = pnbd.purchases_pmf_new(*PUBLISHED, 52.0, K)
    assert long @ np.arange(K + 1) == pytest.approx(pnbd.expected_purchases_new(*PUBLISHED, 52.0), rel=1e-11)


def test_count_upper_bound_is_rigorous_and_not_wild(cdnow):
    x, tx, T = (v[::25] for v in cdnow)
    for t, tail in [(39.0, 1e-6), (104.0, 1e-10)]:
        K = pnbd.purchases_count_upper_bound(*PUBLISHED, x, tx, T, t, tail=tail)
        pmf, beyond = pnbd.conditional_purchases_pmf(*PUBLISHED, x, tx, T, t, int(K.max()) + 50, return_tail=True)
        cdf = np.cumsum(pmf, axis=-1)
        mass_above = 1.0 - cdf[np.arange(len(x)), K]
        assert np.all(mass_above <= tail * (1 + 1e-6) + 1e-14)
        exact = np.argmax(cdf >= 1 - tail, axis=-1)  # the smallest K with P(Y > K) <= tail
        assert np.all(K >= exact) and np.all(K <= 2 * exact + 12)


def test_shapes_broadcast_draws_against_customers(cdnow):
    x, tx, T = (v[:7] for v in cdnow)
    cols = [np.array([v, v * 1.1, v * 0.9])[:, None] for v in PUBLISHED]
    assert pnbd.log_likelihood(*cols, x, tx, T).shape == (3, 7)
    assert pnbd.p_alive(*cols, x, tx, T).shape == (3, 7)
    e = pnbd.conditional_expected_purchases(*cols, x, tx, T, 39.0)
    assert e.shape == (3, 7)
    for d in range(3):
        np.testing.assert_array_equal(e[d], pnbd.conditional_expected_purchases(*(c[d, 0] for c in cols), x, tx, T, 39.0))
    assert pnbd.conditional_purchases_pmf(*cols, x, tx, T, 39.0, 9).shape == (3, 7, 10)
    assert pnbd.purchases_count_upper_bound(*cols, x, tx, T, 39.0).shape == (3, 7)


# -- the story, simulated --------------------------------------------------------------------------------------
THETA = (0.55, 10.58, 0.61, 11.67)


def test_simulated_frequencies_follow_the_pmf_new():
    n, T, K = 200_000, 39.0, 40
    sim = simulate_summary(n, *THETA, T, seed=11)
    pmf, tail = pnbd.purchases_pmf_new(*THETA, T, K, return_tail=True)
    counts = np.bincount(np.minimum(sim["frequency"].to_numpy(), K + 1), minlength=K + 2)
    assert _chi2_pvalue(counts, n * np.append(pmf, tail)) > 1e-3
    # the same data reject a nearby model (s 10% off)
    pmf2, tail2 = pnbd.purchases_pmf_new(THETA[0], THETA[1], THETA[2] * 1.1, THETA[3], T, K, return_tail=True)
    assert _chi2_pvalue(counts, n * np.append(pmf2, tail2)) < 1e-4


def test_likelihood_score_has_mean_zero_under_the_simulator():
    """The score of the likelihood at the true parameters averages to zero over data drawn from the
    simulator: a check of the joint distribution of (x, t_x) given T that the likelihood encodes."""
    n = 60_000
    rng = np.random.default_rng(4)
    T = rng.uniform(1, 60, n)
    s = simulate_summary(n, *THETA, T, seed=5)
    x, tx = s["frequency"].to_numpy(float), s["recency"].to_numpy()
    theta = np.array(THETA)
    score = np.empty((n, 4))
    for i in range(4):
        h = 1e-5 * theta[i]
        up, dn = theta.copy(), theta.copy()
        up[i] += h
        dn[i] -= h
        score[:, i] = (pnbd.log_likelihood(*up, x, tx, T) - pnbd.log_likelihood(*dn, x, tx, T)) / (2 * h)
    m = score.mean(0)
    stat = m @ np.linalg.solve(np.cov(score, rowvar=False) / n, m)
    assert stats.chi2.sf(stat, 4) > 1e-3
    # a wrong recency story (t_x uniform on (0, T) instead of the last of x purchases) is caught
    wrong = np.where(x > 0, rng.uniform(0, 1, n) * T, 0.0)
    score_w = np.empty((n, 4))
    for i in range(4):
        h = 1e-5 * theta[i]
        up, dn = theta.copy(), theta.copy()
        up[i] += h
        dn[i] -= h
        score_w[:, i] = (pnbd.log_likelihood(*up, x, wrong, T) - pnbd.log_likelihood(*dn, x, wrong, T)) / (2 * h)
    m = score_w.mean(0)
    assert stats.chi2.sf(m @ np.linalg.solve(np.cov(score_w, rowvar=False) / n, m), 4) < 1e-10


def test_alive_flags_and_holdout_are_calibrated():
    n = 100_000
    rng = np.random.default_rng(6)
    s = simulate_summary(n, *THETA, rng.uniform(1, 52, n), holdout=26.0, seed=7, return_latent=True)
    x, tx, T = s["frequency"], s["recency"], s["T"]
    pa = pnbd.p_alive(*THETA, x, tx, T)
    assert abs(s["alive"].sum() - pa.sum()) < 4 * np.sqrt(np.sum(pa * (1 - pa)))
    z = x == 0
    assert abs(s.loc[z, "alive"].sum() - pa[z].sum()) < 4 * np.sqrt(np.sum(pa[z] * (1 - pa[z])))
    pf = pnbd.future_p_alive(*THETA, x, tx, T, 26.0)
    assert abs(s["alive_holdout_end"].sum() - pf.sum()) < 4 * np.sqrt(np.sum(pf * (1 - pf)))
    e = pnbd.conditional_expected_purchases(*THETA, x, tx, T, 26.0)
    for lo, hi in [(0, 0), (1, 1), (2, 3), (4, 1000)]:
        sel = (x >= lo) & (x <= hi)
        d = s.loc[sel, "frequency_holdout"].to_numpy() - e[sel]
        assert abs(d.mean()) < 4 * d.std(ddof=1) / np.sqrt(sel.sum()), (lo, hi)


def test_holdout_counts_follow_the_conditional_pmf():
    """At a common T, the customers without repeat purchases share (x, t_x, T) = (0, 0, T): their
    simulated holdout counts against P(Y(h) = k | 0, 0, T) (dead customers included)."""
    n, T, h, K = 150_000, 30.0, 26.0, 25
    s = simulate_summary(n, *THETA, T, holdout=h, seed=12)
    for x in (0, 1):
        sel = s["frequency"].to_numpy() == x
        if x == 1:  # x = 1 needs t_x too: keep those whose purchase fell in the last fifth, t_x ~ 27
            sel &= s["recency"].to_numpy() > 0.9 * T
            tx = float(np.median(s.loc[sel, "recency"]))
            sel &= np.abs(s["recency"].to_numpy() - tx) < 0.25
        else:
            tx = 0.0
        y = s.loc[sel, "frequency_holdout"].to_numpy()
        pmf, tail = pnbd.conditional_purchases_pmf(*THETA, x, tx, T, h, K, return_tail=True)
        counts = np.bincount(np.minimum(y, K + 1), minlength=K + 2)
        assert _chi2_pvalue(counts, len(y) * np.append(pmf, tail)) > 1e-3, x


def test_summary_and_transactions_are_reproducible_and_well_formed():
    T = np.linspace(1, 52, 1000)
    a = simulate_summary(1000, *THETA, T, holdout=10.0, seed=42)
    pd.testing.assert_frame_equal(a, simulate_summary(1000, *THETA, T, holdout=10.0, seed=42))
    assert list(a.columns) == ["frequency", "recency", "T", "frequency_holdout"]
    assert a.index.name == "customer_id" and a["frequency"].dtype == np.int64
    s = simulate_summary(50_000, *THETA, 30.0, seed=1)
    assert np.all(s["recency"] <= s["T"]) and np.all(s["recency"] >= 0)
    assert np.all((s["frequency"] == 0) == (s["recency"] == 0))
    for bad in [dict(T=0.0), dict(T=10.0, holdout=-1.0)]:
        with pytest.raises(ValueError):
            simulate_summary(10, *THETA, **bad)
    with pytest.raises(ValueError):
        simulate_summary(10, 0.55, 10.0, -0.6, 11.0, 10.0)

    from clvmodels.models.pareto_nbd.simulate import simulate_transactions

    kw = dict(acquisition_days=60, start="2021-03-01", observation_end="2022-03-01", time_unit="W")
    log, cust = simulate_transactions(3000, *THETA, seed=9, **kw)
    pd.testing.assert_frame_equal(log, simulate_transactions(3000, *THETA, rng=np.random.default_rng(9), **kw)[0])
    assert list(log.columns) == ["customer_id", "date"] and log["customer_id"].nunique() == 3000
    assert log["date"].min() >= pd.Timestamp("2021-03-01") and log["date"].max() <= pd.Timestamp("2022-03-01")
    assert log.equals(log.sort_values(["customer_id", "date"], kind="stable"))
    # repeat purchases happen only while alive: before the first purchase + lifetime
    first = log.groupby("customer_id")["date"].min()
    last = log.groupby("customer_id")["date"].max()
    life_days = cust["tau"] * 7.0
    assert np.all((last - first).dt.days <= life_days + 1.0)
    assert cust["n_repeat"].sum() == len(log) - 3000
