r"""The Pareto/NBD model's mathematics (Schmittlein, Morrison & Colombo 1987, "Counting your customers:
who are they and what will they do next?", Management Science 33(1), 1-24; Fader, Hardie & Lee 2005, "A
note on deriving the Pareto/NBD model and related expressions", "FHL note" below: section 3 the
likelihood, section 4 the mean, section 5 P(alive), section 6 the conditional expectation).

Story. Time is measured from a customer's first purchase, in the unit of the summary (weeks, days...).
While alive, a customer makes repeat purchases as a Poisson process with rate lambda per unit of time;
her lifetime tau is exponential with rate mu (she can drop out at any moment, unobserved). Across
customers ``lambda ~ Gamma(r, rate alpha)`` and ``mu ~ Gamma(s, rate beta)``, independently (alpha and
beta are in time units: r / alpha is the mean purchase rate, s / beta the mean drop-out rate). A
customer's data are x (repeat purchases in (0, T]), t_x (time of the last one; 0 when x = 0) and T.

Likelihood through the death time. Given (lambda, mu) the customer is either alive at T, with density
lambda^x e^(-(lambda + mu) T), or died at some tau in (t_x, T], with density lambda^x e^(-lambda tau) mu
e^(-mu tau). Integrating over lambda and mu (the Gamma integrals are closed forms) and keeping tau:

    L = C(x) [ (alpha + T)^-(r+x) (beta + T)^-s + s int_{t_x}^{T} f(tau) dtau ],
    C(x) = Gamma(r + x) alpha^r beta^s / Gamma(r),   f(tau) = (alpha + tau)^-(r+x) (beta + tau)^-(s+1)

(FHL note, section 3, with its A_0 = (r + s + x) int_{t_x}^{T} f). Integrating the first term by parts,
(alpha + T)^-(r+x) (beta + T)^-s = (r + x) J(r+x+1, s; T) + s J(r+x, s+1; T) with the *tail integral*

    J(a, b; t) = int_t^inf (alpha + tau)^-a (beta + tau)^-b dtau,

so that L = C(x) [ s J(r+x, s+1; t_x) + (r + x) J(r+x+1, s; T) ]: a sum of two positive terms, with no
difference of two hypergeometric functions (which cancel as t_x -> T) anywhere. Its gradient is a sum
of integrals of f times simple factors: d/da of the integrand is -log(alpha + tau) times it, d/d alpha is
-a/(alpha + tau) times it, and likewise for b and beta.

The tail integral (:func:`clvmodels.models.pareto_nbd.likelihood._tail`, where the likelihood Op,
which may import nothing but the shared Op machinery, finds it). Let A be the larger and B the smaller
of alpha and beta, e_A and e_B the exponents of their factors, M = a + b - 1 and c = (A - B)/(A + t) in
[0, 1). Substituting u = (A + t)/(A + tau) gives Euler's integral of a Gauss hypergeometric function,
and Euler's transformation (DLMF 15.8.1) turns it into a series of positive, *decreasing* terms:

    J = (A + t)^-e_A (B + t)^(1 - e_B) / M * S(c),
    S(c) = sum_n (e_A)_n / (M + 1)_n c^n = 2F1(e_A, 1; M + 1; c).

Its terms fall at least as fast as c^n, whatever the frequency (the ratio (e_A + n)/(M + 1 + n) is below
one), and its derivatives in e_A, M and c are sums of the same terms times running sums of 1/(e_A + k)
and 1/(M + 1 + k), accumulated in the same loop. For c <= 1/2 (alpha and beta within a factor of two,
or t large enough) this is all: at the CDNOW estimates c is below 0.1 and a dozen terms give full
precision. For c > 1/2 (one of alpha, beta more than twice the other, and t small) the series is slow,
so the integral is split at the point t_m where c = 1/2: beyond it the same series at c = 1/2; below it
a Gauss-Legendre quadrature in y = log(B + tau), in which the integrand is exp(psi(y)) with psi concave,
psi(y) = (1 - e_B) y - e_A log(e^y + A - B), analytic in the strip |Im y| < pi. The quadrature runs on
panels of width at most 2 whose width times the local rate |psi'| + 3 sqrt|psi''| at both ends is at
most 8 (12 nodes each: below 1e-15 relative; the local rate, not a global bound, keeps the panel count
at a few dozen even for exponents of 1e8 where the integrand first rises over many decades of tau),
and stops when the rest is below 1e-18 of the sum (log-concave: the rest is bounded by its tangent).
Derivatives of the pieces are taken at fixed t_m (the terms of t_m's own derivative cancel). Value and
gradient agree with mpmath's hyp2f1 form (40 digits, derivatives by mp.diff) to about 1e-14 relative
(the tests hold the value to 1e-13 and the gradient to 1e-12 of the size of its terms) over r and s
from 0.01 to 20, alpha and beta from 1e-3 to 1e4 in any ratio, t from 0 to 1e4 and x up to 1,000; at
the corners r, s = 1e-3 or 1e3, alpha, beta = 1e-6 or 1e8, x = 10,000, t = 1e5, the
gradient to 1e-10 (with r + s + x small the beta-derivative sums terms about 1/(r + s + x) times its
size); tests/models/test_pareto_nbd_math.py. The quadrature's panels follow the local rate, so the cost
stays bounded over that range (benchmarks/bench_pnbd.py measures it).

The future of a customer alive at T. Given the data and that she is alive at T, lambda ~ Gamma(r + x,
rate alpha + T) and mu ~ Gamma(s, rate beta + T), independently (the likelihood of a survivor,
lambda^x e^-(lambda + mu) T, factorises), and both processes are memoryless. So with R = r + x,
A0 = alpha + T, B0 = beta + T:

- P(still alive at T + u | alive at T) = E[e^(-mu u)] = (B0/(B0 + u))^s;
- E[purchases in (T, T + t] | alive] = E[lambda] int_0^t (B0/(B0 + u))^s du
  = R/A0 * B0 log(1 + t/B0) exprel((1 - s) log(1 + t/B0))  (FHL note, section 6, without P(alive);
  exprel(z) = (e^z - 1)/z makes s = 1 regular: there it is R/A0 B0 log(1 + t/B0));
- the count in (T, T + t] is Poisson with mean lambda min(tau', t), tau' ~ Lomax(s, B0) the remaining
  lifetime, so given U = min(tau', t) it is negative binomial NB(R, A0/(A0 + U)), and its distribution
  is the mixture over U: an atom at U = t of mass (B0/(B0 + t))^s and the density
  s/B0 (B0/(B0 + u))^(s+1) on (0, t) (:func:`_alive_pmf_row`).

Every conditional quantity is P(alive) times the alive one (plus, for counts, 1 - P(alive) at zero); a
new customer is a customer alive at T = 0 with x = 0 (FHL note, section 4, for E[X(t)]).

Every public function takes and returns numpy arrays and broadcasts its parameters against its data:
parameters of shape (n_draws, 1) against data of shape (n,) give (n_draws, n). The per-element work runs
in numba-compiled loops (numba comes with PyTensor).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ..numerics.quantiles import _count_bound_many, nb_count_bound  # noqa: F401 (scoring sizes its pmfs with it)
from ..numerics.special import _flat
from .likelihood import _tail

__all__ = [
    "log_likelihood", "p_alive", "future_p_alive", "expected_purchases_new", "conditional_expected_purchases",
    "conditional_expected_purchases_window", "purchases_pmf_new", "conditional_purchases_pmf",
    "purchases_count_upper_bound", "pt_log_likelihood",
]

_JIT = dict(cache=True, error_model="numpy")


def _f(v):
    return np.asarray(v, dtype=float)


@njit(**_JIT)
def _log_terms(r, alpha, s, beta, x, tx, T):
    """(log C(x), log(s J(r+x, s+1; t_x)), log((r + x) J(r+x+1, s; T))): the likelihood is
    C(x) times the sum of the two terms."""
    rx = r + x
    lc = math.lgamma(rx) - math.lgamma(r) + r * math.log(alpha) + s * math.log(beta)
    u1 = math.log(s) + _tail(rx, s + 1.0, alpha, beta, tx, False)[0]
    u2 = math.log(rx) + _tail(rx + 1.0, s, alpha, beta, T, False)[0]
    return lc, u1, u2


@njit(**_JIT)
def _logaddexp(u, v):
    m = max(u, v)
    return m + math.log1p(math.exp(-abs(u - v)))


@njit(**_JIT, parallel=True)
def _loglik_many(r, alpha, s, beta, x, tx, T, out):
    for i in prange(r.size):
        if T[i] == 0.0:
            out[i] = 0.0  # first seen at the end: the likelihood is 1 whatever the parameters
            continue
        lc, u1, u2 = _log_terms(r[i], alpha[i], s[i], beta[i], x[i], tx[i], T[i])
        out[i] = lc + _logaddexp(u1, u2)


@njit(**_JIT, parallel=True)
def _p_alive_many(r, alpha, s, beta, x, tx, T, out):
    for i in prange(r.size):
        if T[i] == 0.0:
            out[i] = 1.0
            continue
        _, u1, u2 = _log_terms(r[i], alpha[i], s[i], beta[i], x[i], tx[i], T[i])
        log_b = -(r[i] + x[i]) * math.log(alpha[i] + T[i]) - s[i] * math.log(beta[i] + T[i])
        out[i] = min(1.0, math.exp(log_b - _logaddexp(u1, u2)))


def _check_data(x, tx, T):
    if np.any(x < 0) or np.any(tx < 0) or np.any(tx > T) or np.any(T < 0):
        raise ValueError("need 0 <= recency <= T and frequency >= 0")


def log_likelihood(r, alpha, s, beta, frequency, recency, T):
    """Individual Pareto/NBD log-likelihood of (x, t_x, T) (FHL note, section 3), in log space:

        log L = log C(x) + log[ s J(r + x, s + 1; t_x) + (r + x) J(r + x + 1, s; T) ],
        C(x) = Gamma(r + x) alpha^r beta^s / Gamma(r)

    (module docstring; no overflow at frequencies in the thousands). It is a density in t_x, so it can be
    positive. Rows with T = 0 (first seen at the end of the period, so x = t_x = 0) give exactly 0.
    Times in the model's unit; alpha and beta in the same unit. Broadcasts."""
    shape, (r, alpha, s, beta, x, tx, T) = _flat(r, alpha, s, beta, frequency, recency, T)
    _check_data(x, tx, T)
    out = np.empty(r.size)
    _loglik_many(r, alpha, s, beta, x, tx, T, out)
    return out.reshape(shape)


def p_alive(r, alpha, s, beta, frequency, recency, T):
    """P(alive at T | x, t_x, T) (FHL note, section 5): the survivor's term of the likelihood over the whole,

        (alpha + T)^-(r+x) (beta + T)^-s / [ s J(r + x, s + 1; t_x) + (r + x) J(r + x + 1, s; T) ],

    in logs (1.0 at T = 0: a customer seen for no time is alive). Unlike the BG/NBD, a customer without
    repeat purchases may be dead. Broadcasts."""
    shape, (r, alpha, s, beta, x, tx, T) = _flat(r, alpha, s, beta, frequency, recency, T)
    _check_data(x, tx, T)
    out = np.empty(r.size)
    _p_alive_many(r, alpha, s, beta, x, tx, T, out)
    return out.reshape(shape)


# -- a customer alive now: lambda ~ Gamma(R, rate A0), mu ~ Gamma(s, rate B0) ------------------------------
def _exprel(z):
    """(e^z - 1)/z, 1 at z = 0, without cancellation near 0."""
    z = _f(z)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.expm1(z) / z
    return np.where(z == 0.0, 1.0, out)


def _alive_lifetime(s, B0, t):
    """int_0^t (B0/(B0 + u))^s du = B0 L exprel((1 - s) L), L = log(1 + t/B0): the expected time alive
    in the next t of a customer alive now (in time units; t for s -> 0, B0 log(1 + t/B0) at s = 1)."""
    s, B0, t = _f(s), _f(B0), _f(t)
    if np.any(t < 0):
        raise ValueError("horizons t must be >= 0 (time in the model's unit)")
    L = np.log1p(t / B0)
    return B0 * L * _exprel((1.0 - s) * L)


def _alive_lifetime_window(s, B0, t1, t2):
    """int_{t1}^{t2} (B0/(B0 + u))^s du, 0 <= t1 <= t2, as (B0/(B0 + t1))^s times the lifetime of a
    customer alive at t1 (no difference of two integrals)."""
    s, B0, t1, t2 = _f(s), _f(B0), _f(t1), _f(t2)
    if np.any(t1 > t2):
        raise ValueError("the window (T + t1, T + t2] needs t1 <= t2")
    return np.exp(-s * np.log1p(t1 / B0)) * _alive_lifetime(s, B0 + t1, t2 - t1)


def expected_purchases_new(r, alpha, s, beta, t):
    """E[X(t)]: expected repeat purchases of a new customer in her first t periods (FHL note, section 4),

        E[X(t)] = r beta / (alpha (s - 1)) [1 - (beta/(beta + t))^(s - 1)],

    evaluated as r/alpha times :func:`_alive_lifetime` (regular at s = 1). t >= 0 in the model's unit."""
    r, alpha = _f(r), _f(alpha)
    return r / alpha * _alive_lifetime(s, beta, t)


def conditional_expected_purchases(r, alpha, s, beta, frequency, recency, T, t):
    """E[Y(t) | x, t_x, T]: expected purchases in (T, T + t] (FHL note, section 6),

        P(alive) (r + x)(beta + T) / ((alpha + T)(s - 1)) [1 - ((beta + T)/(beta + T + t))^(s - 1)],

    i.e. P(alive) times the new-customer expectation at (r + x, alpha + T, s, beta + T). Broadcasts."""
    x, T = _f(frequency), _f(T)
    pa = p_alive(r, alpha, s, beta, x, recency, T)
    return pa * (_f(r) + x) / (_f(alpha) + T) * _alive_lifetime(s, _f(beta) + T, t)


def conditional_expected_purchases_window(r, alpha, s, beta, frequency, recency, T, t1, t2):
    """Expected purchases in the window (T + t1, T + t2] given (x, t_x, T), 0 <= t1 <= t2:
    P(alive) (r + x)/(alpha + T) int_{t1}^{t2} ((beta + T)/(beta + T + u))^s du, computed directly (not
    as a difference of two expectations)."""
    x, T = _f(frequency), _f(T)
    pa = p_alive(r, alpha, s, beta, x, recency, T)
    return pa * (_f(r) + x) / (_f(alpha) + T) * _alive_lifetime_window(s, _f(beta) + T, t1, t2)


def future_p_alive(r, alpha, s, beta, frequency, recency, T, t):
    """P(alive at T + t | x, t_x, T) = P(alive at T) ((beta + T)/(beta + T + t))^s. t >= 0."""
    x, T, t = _f(frequency), _f(T), _f(t)
    if np.any(t < 0):
        raise ValueError("t must be >= 0")
    pa = p_alive(r, alpha, s, beta, x, recency, T)
    return pa * np.exp(-_f(s) * np.log1p(t / (_f(beta) + T)))


# -- count distributions ----------------------------------------------------------------------------------
#: Gauss-Legendre nodes on [0, 1] for the mixture over the death time, and e-folds per panel (see _pmf_width)
_PMF_X, _PMF_W = np.polynomial.legendre.leggauss(16)
_PMF_X = 0.5 * (_PMF_X + 1.0)
_PMF_W = 0.5 * _PMF_W
_PMF_EFOLDS = 6.0


@njit(**_JIT, inline="always")
def _nb_add(R, A0, u, weight, out):
    """out[k] += weight NB(k; R, A0/(A0 + u)), k = 0..K: the ratio recurrence from NB(0) = q^R, in logs
    when q^R underflows."""
    K1 = out.size
    z = u / (A0 + u)                       # 1 - q
    lnb = -R * math.log1p(u / A0)          # log NB(0)
    if lnb > -700.0:
        nb = math.exp(lnb)
        for k in range(K1):
            if k > 0:
                nb *= (R + k - 1.0) / k * z
            out[k] += weight * nb
    else:
        lw = math.log(weight) if weight > 0.0 else -math.inf
        for k in range(K1):
            if k > 0:
                lnb += math.log((R + k - 1.0) / k * z)
            out[k] += math.exp(lw + lnb)


@njit(**_JIT, inline="always")
def _pmf_width(w, R, s):
    """Width of the quadrature panel starting at w = log(1 + u/m) (see :func:`_alive_pmf_row`): at most
    1 (the integrand is analytic within pi of the real axis), ``_PMF_EFOLDS`` e-folds of the death
    density (rate at most s + 1), and, for the negative binomial, ``_PMF_EFOLDS`` e-folds of q^R near
    w = 0 (rate R), widening to 4 standard deviations sqrt(w/R) of NB(k)'s peak at larger w (for the count
    k whose peak lies at w, NB(k) has a standard deviation of about sqrt((1 - e^-w)/R) in w)."""
    nb = max(_PMF_EFOLDS / (R + s + 1.0), 4.0 * math.sqrt(w / R))
    return min(1.0, _PMF_EFOLDS / (s + 1.0), nb)


@njit(**_JIT)
def _alive_pmf_row(R, A0, s, B0, t, out):
    """out[k] = P(k purchases in the next t | alive now), k = 0..K, lambda ~ Gamma(R, rate A0) and
    mu ~ Gamma(s, rate B0) (module docstring): the atom (B0/(B0 + t))^s NB(k; R, A0/(A0 + t)) plus the
    mixture over the death time u in (0, t) with density s/B0 (B0/(B0 + u))^(s+1), by Gauss-Legendre
    in w = log(1 + u/m), m = min(A0, B0) (both singular points u = -A0, -B0 lie at Im w = pi or at
    w = -inf, so the integrand is analytic in a strip of half-width pi), 16 nodes per panel, panels as
    :func:`_pmf_width` says (about sqrt(R W)/2 of them for large R; one or two for CDNOW's buyers)."""
    for k in range(out.size):
        out[k] = 0.0
    if t <= 0.0:
        out[0] = 1.0
        return
    _nb_add(R, A0, t, math.exp(-s * math.log1p(t / B0)), out)
    m = min(A0, B0)
    W = math.log1p(t / m)
    w0 = 0.0
    while W - w0 > 1e-15 * W:
        width = min(W - w0, _pmf_width(w0, R, s))
        for j in range(_PMF_X.size):
            u = m * math.expm1(w0 + _PMF_X[j] * width)
            # h(u) du/dw = s/B0 (1 + u/B0)^-(s+1) (m + u)
            dens = s / B0 * math.exp(-(s + 1.0) * math.log1p(u / B0)) * (m + u)
            _nb_add(R, A0, u, _PMF_W[j] * width * dens, out)
        w0 += width


@njit(**_JIT)
def _alive_any1(R, A0, s, B0, t):
    """P(at least one purchase in the next t | alive now) = 1 - P(0 | alive), as the mixture over the
    death time of 1 - (A0/(A0 + U))^R (by -expm1, so small probabilities keep their relative accuracy),
    on the nodes of :func:`_alive_pmf_row`."""
    if t <= 0.0:
        return 0.0
    acc = math.exp(-s * math.log1p(t / B0)) * -math.expm1(-R * math.log1p(t / A0))
    m = min(A0, B0)
    W = math.log1p(t / m)
    w0 = 0.0
    while W - w0 > 1e-15 * W:
        width = min(W - w0, _pmf_width(w0, R, s))
        for j in range(_PMF_X.size):
            u = m * math.expm1(w0 + _PMF_X[j] * width)
            dens = s / B0 * math.exp(-(s + 1.0) * math.log1p(u / B0)) * (m + u)
            acc += _PMF_W[j] * width * dens * -math.expm1(-R * math.log1p(u / A0))
        w0 += width
    return acc


@njit(**_JIT, parallel=True)
def _alive_pmf_many(R, A0, s, B0, t, pa, pmf, tail):
    """pmf[i] = pa_i P(k | alive) + (1 - pa_i)[k = 0]; tail[i] = pa_i (1 - sum_k P(k | alive)) (absolute
    accuracy, about 1e-14)."""
    for i in prange(R.size):
        row = pmf[i]
        _alive_pmf_row(R[i], A0[i], s[i], B0[i], t[i], row)
        tot = 0.0
        for k in range(row.size):
            tot += row[k]
            row[k] *= pa[i]
        row[0] += 1.0 - pa[i]
        tail[i] = pa[i] * max(0.0, 1.0 - tot)


def _alive_pmf(R, A0, s, B0, t, pa, max_count: int):
    """P(k purchases in the next t), k = 0..K on a new last axis, and the mass beyond K, for a customer
    alive with probability ``pa`` (dead customers purchase nothing); see :func:`_alive_pmf_row`."""
    K = int(max_count)
    if K < 0:
        raise ValueError("max_count must be >= 0")
    shape, (R, A0, s, B0, t, pa) = _flat(R, A0, s, B0, t, pa)
    if np.any(t < 0):
        raise ValueError("t must be >= 0")
    pmf = np.empty((R.size, K + 1))
    tail = np.empty(R.size)
    _alive_pmf_many(R, A0, s, B0, t, pa, pmf, tail)
    return pmf.reshape(shape + (K + 1,)), tail.reshape(shape)


def purchases_pmf_new(r, alpha, s, beta, t, max_count: int, *, return_tail: bool = False):
    """P(X(t) = k) for a new customer, k = 0..max_count on a new last axis: the count of a customer alive
    at time 0 (Fader & Hardie's note "Deriving an expression for P(X(t) = x) under the Pareto/NBD model"
    gives it in hypergeometric functions; here it is the mixture over the death time, see
    :func:`_alive_pmf_row`). The result sums to 1 - P(X(t) > max_count); with ``return_tail`` that mass
    (to absolute accuracy, about 1e-14) is returned too, as ``(pmf, tail)``. t in the model's unit."""
    pmf, tail = _alive_pmf(r, alpha, s, beta, t, 1.0, max_count)
    return (pmf, tail) if return_tail else pmf


def conditional_purchases_pmf(r, alpha, s, beta, frequency, recency, T, t, max_count: int | None = None,
                              *, tail_mass: float = 1e-10, return_tail: bool = False):
    """P(Y(t) = k | x, t_x, T): the distribution of the number of purchases in (T, T + t],

        P(Y = k) = P(alive) P(k | alive at T) + (1 - P(alive)) [k = 0],

    P(k | alive at T) the new-customer distribution at (r + x, alpha + T, s, beta + T). k = 0..max_count
    on a new last axis; ``max_count=None`` picks a K with P(Y > K) <= ``tail_mass`` for every element
    (:func:`purchases_count_upper_bound`). ``return_tail`` also returns the mass beyond max_count."""
    x, T = _f(frequency), _f(T)
    if max_count is None:
        ub = purchases_count_upper_bound(r, alpha, s, beta, x, recency, T, t, tail=tail_mass)
        max_count = int(np.max(ub)) if np.size(ub) else 0
    pa = p_alive(r, alpha, s, beta, x, recency, T)
    pmf, tail = _alive_pmf(_f(r) + x, _f(alpha) + T, s, _f(beta) + T, t, pa, max_count)
    return (pmf, tail) if return_tail else pmf






def purchases_count_upper_bound(r, alpha, s, beta, frequency, recency, T, t, tail: float = 1e-10):
    """Per element, an integer K with P(Y(t) > K | x, t_x, T) <= ``tail`` (take ``.max()`` to size a pmf
    for many elements). For new customers pass frequency = recency = T = 0.

    Y is at most the Poisson count N over the whole window (no drop-out), whose marginal given alive is
    NB(R, q), R = r + x, q = (alpha + T)/(alpha + T + t). The Chernoff bound on its upper tail,
        P(N >= k) <= (q (R + k)/R)^R ((1 - q)(R + k)/k)^k   for k above the mean R (1 - q)/q,
    is solved for k by bisection such that P(alive) P(N >= K + 1) <= tail. Rigorous, slightly
    conservative (a few counts above the exact quantile)."""
    x, T = _f(frequency), _f(T)
    return nb_count_bound(p_alive(r, alpha, s, beta, x, recency, T), _f(r) + x, _f(alpha) + T, t, tail)


# -- PyTensor likelihood for sampling ---------------------------------------------------------------------
def pt_log_likelihood(r, alpha, s, beta, triplets):
    """Total weighted Pareto/NBD log-likelihood sum_i w_i log L_i as a PyTensor scalar, computed with
    its gradient in one numba loop by :class:`clvmodels.models.pareto_nbd.likelihood.ParetoNBDLogLike`
    (the tail integrals once per distinct (x, t_x) and (x, T), see there). ``triplets``: a
    :class:`~clvmodels.models.triplets.Triplets` of rows with T > 0. Second derivatives are not available
    (NUTS and MAP need none)."""
    from .likelihood import pnbd_loglike

    return pnbd_loglike(r, alpha, s, beta, triplets)
