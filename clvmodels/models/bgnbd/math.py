r"""The BG/NBD model's mathematics (Fader, Hardie & Lee 2005, "Counting your customers the easy way:
an alternative to the Pareto/NBD model", Marketing Science 24(2), 275-284; equation numbers below are
the paper's, "FHL": eq. 6 the likelihood, eq. 8 the distribution of purchases, eq. 9 their expectation
for a new customer, eq. 10 the conditional expectation).

Story. Time is measured from a customer's first purchase, in the unit of the summary (weeks, days...).
While active, a customer makes repeat purchases as a Poisson process with rate lambda per unit of
time; right after each repeat purchase she drops out for good with probability p. Across customers
``lambda ~ Gamma(r, rate alpha)`` (so alpha is in time units and r / alpha is the mean rate) and
``p ~ Beta(a, b)``, independently. A customer's data are x (repeat purchases in (0, T]), t_x (time of the
last one; 0 when x = 0) and T (time from the first purchase to the end of observation).

Every function takes and returns numpy arrays and broadcasts its parameters against its data:
parameters of shape (n_draws, 1) against data of shape (n,) give (n_draws, n). Everything is computed in log space or in
forms without cancellation (see each function), so frequencies in the thousands and T in the tens of
thousands of periods are fine.

Implementation: the per-element work of the expectation,
the count distribution and the count bound (series with their own stopping rules, recurrences over
counts) runs in small numba-compiled loops (numba comes with PyTensor), since as numpy array passes
it would be several times slower and hold large temporaries.

One fact organises the predictions. Given the data and that the customer is still alive at T,
``lambda ~ Gamma(r + x, rate alpha + T)`` and ``p ~ Beta(a, b + x)`` independently, and the future is
the story of a *new* customer with those parameters (the Poisson process is memoryless). So every
conditional quantity is P(alive) times the new-customer quantity at (r + x, alpha + T, a, b + x),
plus, for counts, the mass 1 - P(alive) at zero.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange
from scipy import special as sc

from ..numerics.quantiles import _count_bound_many, _log_chernoff_nb, nb_count_bound  # noqa: F401 (their old home)
from ..numerics.special import _NO_CONVERGENCE, _flat, _hyp2f1_1, _report, _series1, hyp2f1_scaled

__all__ = [
    "log_likelihood", "p_alive", "future_p_alive", "expected_purchases_new", "conditional_expected_purchases",
    "conditional_expected_purchases_window", "purchases_pmf_new", "conditional_purchases_pmf",
    "purchases_count_upper_bound", "pt_log_likelihood",
]

# below this z = t/(alpha + T + t) the expectation uses its regular series (no cancellation anywhere)
_Z_SERIES = 0.5
# for |a - 1| < 1/4 the regular series is used up to z = 0.9 (at most a few hundred terms): the closed
# form's 1/(a - 1) [...] loses digits there; beyond z = 0.9 the closed form is used, but within 1e-3 of
# a = 1 it is interpolated across a = 1
_EPS_SERIES = 0.25
_Z_SERIES_NEAR = 0.9
_EPS_A = 1e-3
_NODES = _EPS_A * np.array([-3.0, -2.0, -1.0, 1.0, 2.0, 3.0])


def _f(v):
    return np.asarray(v, dtype=float)


# -- likelihood -------------------------------------------------------------------------------------
def _log_alive_odds(r, alpha, a, b, x, t_x, T):
    """log of the second over the first term of the likelihood (FHL eq. 6):
    d = log(a / (b + x - 1)) + (r + x) log((alpha + T) / (alpha + t_x)) for x > 0, -inf for x = 0.
    P(alive at T | data) = 1 / (1 + exp(d))."""
    r, alpha, a, b, x, t_x, T = (_f(v) for v in (r, alpha, a, b, x, t_x, T))
    pos = x > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        bx1 = np.where(pos, b + x - 1.0, 1.0)
        # log((alpha + T)/(alpha + t_x)) = log1p((T - t_x)/(alpha + t_x)): accurate when t_x is close to T
        d = np.log(a) - np.log(bx1) + (r + x) * np.log1p((T - t_x) / (alpha + t_x))
    return np.where(pos, d, -np.inf)


def log_likelihood(r, alpha, a, b, frequency, recency, T):
    """Individual BG/NBD log-likelihood of (x, t_x, T) (FHL eq. 6), in log space.

    L = B(a, b + x)/B(a, b) Gamma(r + x)/Gamma(r) alpha^r / (alpha + T)^(r + x)
        + [x > 0] B(a + 1, b + x - 1)/B(a, b) Gamma(r + x)/Gamma(r) alpha^r / (alpha + t_x)^(r + x).

    Both terms share C(x) = log[B(a, b + x)/B(a, b) Gamma(r + x)/Gamma(r) alpha^r] and their ratio is
    a/(b + x - 1) ((alpha + T)/(alpha + t_x))^(r + x), so
    log L = C(x) - (r + x) log(alpha + T) + log(1 + exp(d)) with d the log of that ratio; no term is
    exponentiated on its own, so x in the hundreds cannot overflow (the problem of Fader, Hardie &
    Lee's note "Overcoming the BG/NBD model's #NUM! error problem"). It is a density in t_x, so it can be positive. Times in the model's unit; alpha in the same unit.
    """
    r, alpha, a, b, x, t_x, T = (_f(v) for v in (r, alpha, a, b, frequency, recency, T))
    c = (sc.gammaln(r + x) - sc.gammaln(r) + r * np.log(alpha)
         + sc.betaln(a, b + x) - sc.betaln(a, b) - (r + x) * np.log(alpha + T))
    d = _log_alive_odds(r, alpha, a, b, x, t_x, T)
    return c + np.logaddexp(0.0, d)


def p_alive(r, alpha, a, b, frequency, recency, T):
    """P(alive at T | x, t_x, T) = 1 / (1 + [x > 0] a/(b + x - 1) ((alpha + T)/(alpha + t_x))^(r + x))
    (Fader, Hardie & Lee 2008, "Computing P(alive) using the BG/NBD model"; the posterior probability
    that the customer did not drop out after her last purchase: eq. 6's first term over the sum of
    both). Customers without repeat purchases are alive (1.0): drop-out follows repeat purchases only."""
    return sc.expit(-_log_alive_odds(r, alpha, a, b, frequency, recency, T))


# -- a customer known to be alive, with lambda ~ Gamma(R, rate A0) and p ~ Beta(a, B) ----------------
@njit(cache=True, error_model="numpy")
def _exprel(u):
    """(exp(u) - 1)/u, 1 at u = 0."""
    return math.expm1(u) / u if u != 0.0 else 1.0


@njit(cache=True, error_model="numpy")
def _closed1(A, eps, c, z, zc, L):
    """c/eps [1 - (1 - z)^eps 2F1(A, eps; c; z)] with the robust 2F1."""
    v, ls, st = _hyp2f1_1(A, eps, c, z, zc)
    return c / eps * (1.0 - v * math.exp(eps * L + ls)), st


@njit(cache=True, error_model="numpy")
def _alive_expected1(R, A0, a, B, t):
    """E[purchases in the next t | alive now] for one element; returns (value, status)."""
    if t == 0.0:
        return 0.0, 0
    z = t / (A0 + t)
    zc = A0 / (A0 + t)
    L = -math.log1p(t / A0)  # log(1 - z), accurate for small t
    eps = a - 1.0
    c = a + B - 1.0
    A = c - R
    if z <= _Z_SERIES or (abs(eps) < _EPS_SERIES and z <= _Z_SERIES_NEAR):
        # regular form: -c L exprel(eps L) - (1 - z)^eps S,  S = sum_{n>=1} (A)_n (a)_{n-1} z^n / ((c+1)_{n-1} n!)
        s, _, ls, st = _series1(A, eps, c, z, 1, A * z, c - A - eps, False)
        return -c * L * _exprel(eps * L) - math.exp(eps * L + ls) * s, st
    if abs(eps) >= _EPS_A:
        if abs(c) < 1e-8:
            # c = a + b - 1 = 0 (x = 0, a + b = 1): 2F1(.; c; z) has a pole while E does not; average
            # the two sides (error about 1e-12 relative, no cancellation as c * 2F1 stays finite)
            v1, st1 = _closed1(A + 1e-6, eps, c + 1e-6, z, zc, L)
            v2, st2 = _closed1(A - 1e-6, eps, c - 1e-6, z, zc, L)
            return 0.5 * (v1 + v2), max(st1, st2)
        return _closed1(A, eps, c, z, zc, L)
    # within 1e-3 of a = 1: Lagrange interpolation across a = 1 from nodes where the closed form is exact
    acc = 0.0
    st = 0
    for j in range(_NODES.size):
        dj = _NODES[j]
        v, stj = _closed1(B + dj - R, dj, B + dj, z, zc, L)
        st = max(st, stj)
        w = 1.0
        for k in range(_NODES.size):
            if k != j:
                w *= (eps - _NODES[k]) / (dj - _NODES[k])
        acc += w * v
    return acc, st


@njit(cache=True, error_model="numpy", parallel=True)
def _alive_expected_many(R, A0, a, B, t, out, status):
    for i in prange(R.size):
        out[i], status[i] = _alive_expected1(R[i], A0[i], a[i], B[i], t[i])


def _alive_expected(R, A0, a, B, t):
    """E[number of purchases in the next t | alive now], lambda ~ Gamma(R, rate A0), p ~ Beta(a, B).

    Closed form (FHL eq. 9 with (r, alpha, b) -> (R, A0, B); eq. 10 without its P(alive) factor):
        E = c/(a - 1) [1 - (1 - z)^R 2F1(R, B; c; z)],   c = a + B - 1,  z = t/(A0 + t).
    By Euler's transformation (1 - z)^R 2F1(R, B; c; z) = (1 - z)^(a-1) G with G = 2F1(A, a - 1; c; z),
    A = c - R = a + b - 1 - r: the parameters of G do not grow with x and nothing overflows.

    The bracket vanishes as a -> 1 (and as t -> 0), so the closed form cancels there. Writing
    G = 1 + (a - 1)/c * S with S = sum_{n>=1} (A)_n (a)_{n-1} z^n / ((c + 1)_{n-1} n!) gives the form
        E = -c log(1 - z) exprel((a - 1) log(1 - z)) - (1 - z)^(a - 1) S,
    regular at a = 1, c = 0 and t = 0; it is used for z <= 1/2, where S converges geometrically, and
    for |a - 1| < 1/4 up to z = 0.9. Elsewhere the closed form is used with the robust 2F1, except for
    |a - 1| < 1e-3 and z > 0.9, where E is interpolated across a = 1 (6-point Lagrange, nodes
    a = 1 +- 1e-3, +- 2e-3, +- 3e-3; relative error below 1e-9 even for t/(alpha + T) = 1e4, against
    about 1e-13 elsewhere). At c = 0 exactly (x = 0, a + b = 1), where G has a pole but E has none, E is
    the average of c = +-1e-6.
    """
    shape, (R, A0, a, B, t) = _flat(R, A0, a, B, t)
    if np.any(t < 0):
        raise ValueError("horizons t must be >= 0 (time in the model's unit)")
    out = np.empty(R.size)
    st = np.empty(R.size, dtype=np.int64)
    _alive_expected_many(R, A0, a, B, t, out, st)
    _report(st, "BG/NBD expected purchases")
    out[st == _NO_CONVERGENCE] = np.nan  # what the warning says: never a silently wrong number
    return out.reshape(shape)


def _alive_survival(R, A0, a, B, t):
    """P(still alive after t more | alive now) = E[exp(-lambda p t)] = E_p[(1 + p t/A0)^-R]
    = 2F1(R, a; a + B; -t/A0) (Euler's integral) = (1 - z)^a 2F1(a, a + B - R; a + B; z) (Pfaff,
    DLMF 15.8.1), z = t/(A0 + t). Its parameters do not grow with x."""
    R, A0, a, B, t = (_f(v) for v in np.broadcast_arrays(R, A0, a, B, t))
    z = t / (A0 + t)
    zc = A0 / (A0 + t)
    v, l = hyp2f1_scaled(a, a + B - R, a + B, z, one_minus_z=zc)
    return v * np.exp(a * -np.log1p(t / A0) + l)


@njit(cache=True, error_model="numpy", parallel=True)
def _alive_pmf_many(R, A0, a, B, t, sf_top, pa, pmf, tail):
    """Fill pmf[i, k] = pa_i P(k | alive) + (1 - pa_i)[k = 0] and tail[i] = pa_i P(Y > K | alive)."""
    K = pmf.shape[1] - 1
    for i in prange(R.size):
        Ri, ai, Bi, ti = R[i], a[i], B[i], t[i]
        if ti == 0.0:
            for k in range(K + 1):
                pmf[i, k] = 0.0
            pmf[i, 0] = 1.0
            tail[i] = 0.0
            continue
        log_z = math.log(ti / (A0[i] + ti))  # log(1 - q)
        lnb = Ri * -math.log1p(ti / A0[i])  # log NB(0) = R log q
        # first pass: NB(k) into the row (log-space recurrence, so q^R may underflow harmlessly)
        for k in range(K + 1):
            if k > 0:
                lnb += math.log((Ri + k - 1.0) / k) + log_z
            pmf[i, k] = math.exp(lnb)
        # second pass, from the top: P(N >= k) = P(N >= K + 1) + sum_{j=k}^{K} NB(j)
        sf = sf_top[i]
        for k in range(K, 0, -1):
            sf += pmf[i, k]
            pmf[i, k] = sf  # now holds P(N >= k) for k >= 1
        # third pass, upwards: beta ratios br_k = prod_{j<k} (B + j)/(a + B + j), NB(k) again
        lnb = Ri * -math.log1p(ti / A0[i])
        br = 1.0
        p_i = pa[i]
        pmf[i, 0] = p_i * math.exp(lnb) + (1.0 - p_i)
        for k in range(1, K + 1):
            sf_k = pmf[i, k]  # P(N >= k)
            drop = ai / (ai + Bi + k - 1.0) * br * sf_k  # B(a+1, B+k-1)/B(a,B) P(N >= k)
            br *= (Bi + k - 1.0) / (ai + Bi + k - 1.0)
            lnb += math.log((Ri + k - 1.0) / k) + log_z
            pmf[i, k] = p_i * (br * math.exp(lnb) + drop)
        tail[i] = p_i * br * sf_top[i]


def _alive_pmf(R, A0, a, B, t, pa, max_count: int):
    """P(k purchases in the next t), k = 0..K on a new last axis, and the mass beyond K, for a customer
    alive with probability ``pa`` (dead customers purchase nothing).

    Given lambda and p, an alive customer's count is Y = min(N, G) with N ~ Poisson(lambda t) and
    G ~ Geometric(p) on {1, 2, ...} (the G-th purchase is followed by drop-out), so
        P(Y = k | lambda, p) = (1 - p)^k Pois(k; lambda t) + [k > 0] p (1 - p)^(k-1) P(N >= k).
    Integrating over lambda ~ Gamma(R, rate A0) and p ~ Beta(a, B) (FHL eq. 8 with (r, alpha, b) ->
    (R, A0, B)):
        P(Y = k | alive) = B(a, B + k)/B(a, B) NB(k) + [k > 0] B(a + 1, B + k - 1)/B(a, B) P(N >= k),
    NB(k) = Gamma(R + k)/(Gamma(R) k!) q^R (1 - q)^k, q = A0/(A0 + t), the marginal of N.
    NB(k) comes from a log-space recurrence (so q^R may underflow without harm), the beta ratios from the
    product of (B + j)/(a + B + j), and P(N >= k) is summed from the top, starting from the exact
    P(N >= K + 1) = I_{1-q}(K + 1, R) (regularised incomplete beta): small upper tails keep their
    relative accuracy (no 1 - CDF cancellation).
    Beyond K: P(Y > K | alive) = E[(1 - p)^K] P(N > K) = B(a, B + K)/B(a, B) I_{1-q}(K + 1, R).
    """
    K = int(max_count)
    if K < 0:
        raise ValueError("max_count must be >= 0")
    shape, (R, A0, a, B, t, pa) = _flat(R, A0, a, B, t, pa)
    if np.any(t < 0):
        raise ValueError("t must be >= 0")
    sf_top = sc.betainc(K + 1.0, R, t / (A0 + t))  # P(N >= K + 1)
    pmf = np.empty((R.size, K + 1))
    tail = np.empty(R.size)
    _alive_pmf_many(R, A0, a, B, t, sf_top, pa, pmf, tail)
    return pmf.reshape(shape + (K + 1,)), tail.reshape(shape)


# -- predictions -------------------------------------------------------------------------------------
def expected_purchases_new(r, alpha, a, b, t):
    """E[X(t)]: expected repeat purchases of a new customer in her first t periods (FHL eq. 9),
        E[X(t)] = (a + b - 1)/(a - 1) [1 - (alpha/(alpha + t))^r 2F1(r, b; a + b - 1; t/(alpha + t))].
    Evaluated without the removable singularity at a = 1 (see :func:`_alive_expected`). t >= 0 in the
    model's time unit; the result is a count."""
    return _alive_expected(r, alpha, a, b, t)


def conditional_expected_purchases(r, alpha, a, b, frequency, recency, T, t):
    """E[Y(t) | x, t_x, T]: expected purchases in (T, T + t] (FHL eq. 10),
        P(alive | x, t_x, T) (a + b + x - 1)/(a - 1)
            [1 - ((alpha + T)/(alpha + T + t))^(r + x) 2F1(r + x, b + x; a + b + x - 1; t/(alpha + T + t))],
    i.e. P(alive) times eq. 9 at (r + x, alpha + T, a, b + x). t >= 0 in the model's unit; broadcasts."""
    x, T = _f(frequency), _f(T)
    pa = p_alive(r, alpha, a, b, x, recency, T)
    return pa * _alive_expected(_f(r) + x, _f(alpha) + T, a, _f(b) + x, t)


def conditional_expected_purchases_window(r, alpha, a, b, frequency, recency, T, t1, t2):
    """Expected purchases in the window (T + t1, T + t2] given (x, t_x, T): E[Y(t2)] - E[Y(t1)]
    (0 <= t1 <= t2, in the model's unit). Both terms come from eq. 10 at the same parameters."""
    x, T = _f(frequency), _f(T)
    if np.any(_f(t1) > _f(t2)):
        raise ValueError("the window (T + t1, T + t2] needs t1 <= t2")
    pa = p_alive(r, alpha, a, b, x, recency, T)
    R, A0, B = _f(r) + x, _f(alpha) + T, _f(b) + x
    return pa * (_alive_expected(R, A0, a, B, t2) - _alive_expected(R, A0, a, B, t1))


def future_p_alive(r, alpha, a, b, frequency, recency, T, t):
    """P(alive at T + t | x, t_x, T): P(alive at T) times the probability of no drop-out during the
    purchases of (T, T + t], E[exp(-lambda p t)] under lambda ~ Gamma(r + x, alpha + T),
    p ~ Beta(a, b + x):
        P(alive) ((alpha + T)/(alpha + T + t))^a 2F1(a, a + b - r; a + b + x; t/(alpha + T + t)).
    Non-increasing in t; equals :func:`p_alive` at t = 0. t in the model's unit."""
    x, T = _f(frequency), _f(T)
    pa = p_alive(r, alpha, a, b, x, recency, T)
    return pa * _alive_survival(_f(r) + x, _f(alpha) + T, a, _f(b) + x, t)


def purchases_pmf_new(r, alpha, a, b, t, max_count: int, *, return_tail: bool = False):
    """P(X(t) = k) for a new customer, k = 0..max_count on a new last axis (FHL eq. 8).

    The result sums to 1 - P(X(t) > max_count); with ``return_tail`` that mass is returned too, as
    ``(pmf, tail)``. t in the model's unit.
    """
    pmf, tail = _alive_pmf(r, alpha, a, b, t, 1.0, max_count)
    return (pmf, tail) if return_tail else pmf


def conditional_purchases_pmf(r, alpha, a, b, frequency, recency, T, t, max_count: int | None = None,
                              *, tail_mass: float = 1e-10, return_tail: bool = False):
    """P(Y(t) = k | x, t_x, T): the distribution of the number of purchases in (T, T + t].

    k = 0..max_count on a new last axis (after the broadcast shape of the other arguments), so
    parameters (S, 1) against data (n,) give (S, n, max_count + 1). Exact:
        P(Y = k) = P(alive) P(k | alive) + (1 - P(alive)) [k = 0],
    with P(k | alive) the new-customer distribution (FHL eq. 8) at (r + x, alpha + T, a, b + x) (see
    :func:`_alive_pmf` for the derivation and the log-space evaluation).

    ``max_count=None`` picks a K with P(Y > K) <= ``tail_mass`` for every element (the largest of the
    per-element bounds of :func:`purchases_count_upper_bound`, a few counts above the exact quantile). The pmf sums to 1 - P(Y > max_count); ``return_tail`` also
    returns that mass (shape of the broadcast arguments) as ``(pmf, tail)``.
    """
    x, T = _f(frequency), _f(T)
    if max_count is None:
        ub = purchases_count_upper_bound(r, alpha, a, b, x, recency, T, t, tail=tail_mass)
        max_count = int(np.max(ub)) if np.size(ub) else 0
    pa = p_alive(r, alpha, a, b, x, recency, T)
    pmf, tail = _alive_pmf(_f(r) + x, _f(alpha) + T, a, _f(b) + x, t, pa, max_count)
    return (pmf, tail) if return_tail else pmf






def purchases_count_upper_bound(r, alpha, a, b, frequency, recency, T, t, tail: float = 1e-10):
    """Per element, an integer K with P(Y(t) > K | x, t_x, T) <= ``tail`` (take ``.max()`` to size a
    pmf for many elements). For new customers pass frequency = recency = T = 0.

    Y is at most the Poisson count N, whose marginal given alive is negative binomial with R = r + x and
    q = (alpha + T)/(alpha + T + t). The Chernoff bound on its upper tail,
        P(N >= k) <= (q (R + k)/R)^R ((1 - q)(R + k)/k)^k   for k above the mean R (1 - q)/q,
    is solved for k by bisection such that P(alive) P(N >= K + 1) <= tail. A rigorous bound, slightly
    conservative (a few counts above the exact quantile).
    """
    x, T = _f(frequency), _f(T)
    return nb_count_bound(p_alive(r, alpha, a, b, x, recency, T), _f(r) + x, _f(alpha) + T, t, tail)


# -- PyTensor likelihood for sampling ---------------------------------------------------------------
def pt_log_likelihood(r, alpha, a, b, triplets):
    """Total weighted BG/NBD log-likelihood sum_i w_i log L_i (FHL eq. 6) as a PyTensor scalar.

    ``r, alpha, a, b``: PyTensor scalars (e.g. PyMC random variables); ``triplets``: a
    :class:`~clvmodels.models.triplets.Triplets`, whose arrays enter the graph as constants.

    The value comes from one fused Op (:class:`clvmodels.models.bgnbd.likelihood.BetaGeoLogLike`) that
    computes the likelihood *and* its gradient in one numba loop over the triplets; the gradient
    PyTensor builds for it reads the Op's derivative outputs, so a compiled logp + dlogp applies it
    once. The cost of an evaluation grows with the number of distinct *levels* for the special
    functions and with the triplets only for a few vectorised operations each. With C(x) and d as in
    :func:`log_likelihood`,
        sum_i w_i log L_i = sum_x W_x C(x) - sum_T (r W_T + X_T) log(alpha + T)
                            + sum_{i: x_i > 0} w_i softplus(d_i),
        d_i = log a - log(b + x_i - 1) + (r + x_i) (log(alpha + T_i) - log(alpha + t_x,i)),
    where W_x is the weight of frequency level x, and W_T and X_T the weight and weighted frequency of
    T level T. The log-gamma and digamma terms are evaluated once per distinct frequency, the
    logarithms and reciprocals once per distinct T and recency; per triplet with x > 0 only gathers,
    one softplus and one sigmoid remain (the cost per triplet, against the plain graph's, is in
    benchmarks/README.md, section "BG/NBD fit"). Value and gradient agree with the plain PyTensor
    graph (:func:`_pt_log_likelihood_graph`, kept as the reference) to about 1e-12 relative or better.
    Second derivatives are not available (NUTS and MAP need none).
    """
    from .likelihood import bgnbd_loglike

    return bgnbd_loglike(r, alpha, a, b, triplets)


def _pt_log_likelihood_graph(r, alpha, a, b, triplets):
    """The same likelihood as :func:`pt_log_likelihood`, as a plain PyTensor graph (gathers of
    per-level terms and a softplus per triplet; PyTensor derives its gradient). The reference the
    fused Op is tested against; several times slower than the Op (benchmarks/README.md, "BG/NBD fit")."""
    import pytensor.tensor as pt

    tr = triplets
    w = np.asarray(tr.weight, dtype=float)
    xl = np.asarray(tr.x_levels, dtype=float)
    Wx = np.bincount(tr.x_index, weights=w, minlength=len(xl))
    n_tot = float(w.sum())
    nT = len(tr.T_levels)
    WT = np.bincount(tr.T_index, weights=w, minlength=nT)
    XT = np.bincount(tr.T_index, weights=w * tr.frequency, minlength=nT)
    pos = tr.frequency > 0
    xi = np.asarray(tr.frequency[pos], dtype=float)
    wi = w[pos]
    xidx = np.asarray(tr.x_index[pos], dtype=np.int64)
    tidx = np.asarray(tr.T_index[pos], dtype=np.int64)
    ridx = np.asarray(tr.recency_index[pos], dtype=np.int64)

    # per frequency level: lgamma(r + x) + lgamma(b + x) - lgamma(a + b + x) (eq. 6's Gamma and beta terms)
    lg = pt.gammaln(r + xl) + pt.gammaln(b + xl) - pt.gammaln(a + b + xl)
    const = n_tot * (-pt.gammaln(r) + r * pt.log(alpha) - pt.gammaln(b) + pt.gammaln(a + b))
    total = pt.sum(lg * Wx) + const
    log_aT = pt.log(alpha + np.asarray(tr.T_levels, dtype=float))  # per T level
    total = total - pt.sum((r * WT + XT) * log_aT)
    if pos.any():
        log_ar = pt.log(alpha + np.asarray(tr.recency_levels, dtype=float))  # per recency level
        # log(a/(b + x - 1)) per frequency level (x = 0 shifted to keep it finite; never gathered)
        d_lev = pt.log(a) - pt.log(b + xl - 1.0 + (xl == 0))
        d = d_lev[xidx] + (r + xi) * (log_aT[tidx] - log_ar[ridx])
        # sum(v * w) rather than dot(v, w): PyTensor's Dot of a fused elementwise result takes a slow
        # path (measured 4x slower on 188k triplets)
        total = total + pt.sum(pt.softplus(d) * wi)
    return total
