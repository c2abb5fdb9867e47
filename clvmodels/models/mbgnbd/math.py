r"""The MBG/NBD model's mathematics (Batislam, Denizel & Filiztekin 2007, "Empirical validation and
comparison of models for customer base analysis", International Journal of Research in Marketing 24(3),
201-209; "BDF" below; also the "MBG/NBD" of BTYDplus and lifetimes' ``ModifiedBetaGeoFitter``). Not to
be confused with Hoppe & Wagner's (2007) CBG/NBD, a different model.

Story. As the BG/NBD (Fader, Hardie & Lee 2005, "FHL"; :mod:`clvmodels.models.bgnbd.math`), except that a
customer can drop out at time zero too: right after her *first* purchase, and after each repeat purchase,
she drops out for good with probability p. While active she makes repeat purchases as a Poisson process
with rate lambda per unit of time. Across customers ``lambda ~ Gamma(r, rate alpha)`` (alpha in time
units, r / alpha the mean rate) and ``p ~ Beta(a, b)``, independently. A customer's data are x (repeat
purchases in (0, T]), t_x (time of the last one; 0 when x = 0) and T (time from the first purchase to the
end of observation), in the unit of the summary.

Likelihood (BDF; derived here as a check). Given (lambda, p) the customer either survived all x + 1
drop-out chances (after the first purchase and after each repeat purchase) and is alive at T, with
density (1 - p)^(x+1) lambda^x e^(-lambda T), or dropped out right after her x-th repeat purchase (after
the first purchase when x = 0), with density p (1 - p)^x lambda^x e^(-lambda t_x). Integrating over
lambda and p:

    L = B(a, b + x + 1)/B(a, b) Gamma(r + x) alpha^r / (Gamma(r) (alpha + T)^(r + x))
        + B(a + 1, b + x)/B(a, b) Gamma(r + x) alpha^r / (Gamma(r) (alpha + t_x)^(r + x)),

the second term for *every* x, x = 0 included (the BG/NBD has it for x > 0 only). At T = 0 (so x = t_x
= 0) L = b/(a + b) + a/(a + b) = 1.

One fact organises the predictions. Given the data and that the customer is alive at T,
``lambda ~ Gamma(r + x, rate alpha + T)`` and ``p ~ Beta(a, b + x + 1)`` (one more survived drop-out
chance than in the BG/NBD), and her future is that of a BG/NBD customer alive now with those
parameters: the Poisson process is memoryless and after each future purchase she drops out with
probability p, exactly as in the BG/NBD. So every "alive now" quantity is the BG/NBD's with b replaced
by b + 1, and this module *reuses* the BG/NBD's numba kernels (``bgnbd.math._alive_expected``,
``_alive_survival``, ``_alive_pmf``) at (r + x, alpha + T, a, b + x + 1); what it
writes itself is what differs: P(alive), the likelihood and the new customer (who is alive at time 0
only with probability b/(a + b)).

Every function takes and returns numpy arrays and broadcasts its parameters against its data:
parameters of shape (n_draws, 1) against data of shape (n,) give (n_draws, n).
"""
from __future__ import annotations

import numpy as np
from scipy import special as sc

from ..bgnbd.math import _alive_expected, _alive_pmf, _alive_survival
from ..numerics.quantiles import _count_bound_many, nb_count_bound  # noqa: F401 (the scorer sizes its pmfs with it)
from ..numerics.special import _flat

__all__ = [
    "log_likelihood", "p_alive", "future_p_alive", "expected_purchases_new", "conditional_expected_purchases",
    "conditional_expected_purchases_window", "purchases_pmf_new", "conditional_purchases_pmf",
    "purchases_count_upper_bound", "pt_log_likelihood",
]


def _f(v):
    return np.asarray(v, dtype=float)


# -- likelihood -------------------------------------------------------------------------------------
def _log_alive_odds(r, alpha, a, b, x, t_x, T):
    """log of the second over the first term of the likelihood:
    d = log(a / (b + x)) + (r + x) log((alpha + T) / (alpha + t_x)), for every x (x = 0 included), since
    B(a + 1, b + x) / B(a, b + x + 1) = a / (b + x). P(alive at T | data) = 1 / (1 + exp(d))."""
    r, alpha, a, b, x, t_x, T = (_f(v) for v in (r, alpha, a, b, x, t_x, T))
    # log((alpha + T)/(alpha + t_x)) = log1p((T - t_x)/(alpha + t_x)): accurate when t_x is close to T
    return np.log(a) - np.log(b + x) + (r + x) * np.log1p((T - t_x) / (alpha + t_x))


def log_likelihood(r, alpha, a, b, frequency, recency, T):
    """Individual MBG/NBD log-likelihood of (x, t_x, T) (BDF; see the module docstring), in log space.

    Both terms share C(x) = log[B(a, b + x + 1)/B(a, b) Gamma(r + x)/Gamma(r) alpha^r] and their ratio is
    exp(d), d = log(a/(b + x)) + (r + x) log((alpha + T)/(alpha + t_x)), so
    log L = C(x) - (r + x) log(alpha + T) + log(1 + exp(d)): no term is exponentiated on its own, so x in
    the hundreds cannot overflow. A density in t_x (for x > 0), so it can be positive. Rows with T = 0
    (x = t_x = 0) give exactly 0: their likelihood is 1 whatever the parameters. Times in the model's
    unit; alpha in the same unit.
    """
    r, alpha, a, b, x, t_x, T = (_f(v) for v in (r, alpha, a, b, frequency, recency, T))
    c = (sc.gammaln(r + x) - sc.gammaln(r) + r * np.log(alpha)
         + sc.betaln(a, b + x + 1.0) - sc.betaln(a, b) - (r + x) * np.log(alpha + T))
    d = _log_alive_odds(r, alpha, a, b, x, t_x, T)
    ll = c + np.logaddexp(0.0, d)
    # T = 0: the two terms are b/(a + b) and a/(a + b); their sum is 1 exactly, the logs only to rounding
    return np.where((T == 0) & (x == 0), 0.0, ll)


def p_alive(r, alpha, a, b, frequency, recency, T):
    """P(alive at T | x, t_x, T) = 1 / (1 + a/(b + x) ((alpha + T)/(alpha + t_x))^(r + x)) for every x
    (BDF; the likelihood's first term over the sum of both). Unlike the BG/NBD, a customer without
    repeat purchases may be gone: she had a drop-out chance right after her first purchase. At T = 0 it
    is b/(a + b), the probability of surviving that first chance."""
    return sc.expit(-_log_alive_odds(r, alpha, a, b, frequency, recency, T))


# -- predictions -------------------------------------------------------------------------------------
def expected_purchases_new(r, alpha, a, b, t):
    """E[X(t)]: expected repeat purchases of a new customer in her first t periods,
        E[X(t)] = b/(a - 1) [1 - (alpha/(alpha + t))^r 2F1(r, b + 1; a + b; t/(alpha + t))],
    i.e. P(surviving the drop-out chance at time 0) = b/(a + b) times the expectation of a customer
    alive now with p ~ Beta(a, b + 1) (FHL eq. 9 with b -> b + 1, whose leading factor is
    (a + b)/(a - 1)). Evaluated without the removable singularity at a = 1 (the BG/NBD's
    ``_alive_expected``). t >= 0 in the model's time unit; the result is a count."""
    a, b = _f(a), _f(b)
    return b / (a + b) * _alive_expected(r, alpha, a, b + 1.0, t)


def conditional_expected_purchases(r, alpha, a, b, frequency, recency, T, t):
    """E[Y(t) | x, t_x, T]: expected purchases in (T, T + t],
        P(alive | x, t_x, T) (a + b + x)/(a - 1)
            [1 - ((alpha + T)/(alpha + T + t))^(r + x) 2F1(r + x, b + x + 1; a + b + x; t/(alpha + T + t))],
    i.e. P(alive) times the expectation of a customer alive now at (r + x, alpha + T, a, b + x + 1).
    t >= 0 in the model's unit; broadcasts."""
    x, T = _f(frequency), _f(T)
    pa = p_alive(r, alpha, a, b, x, recency, T)
    return pa * _alive_expected(_f(r) + x, _f(alpha) + T, a, _f(b) + x + 1.0, t)


def conditional_expected_purchases_window(r, alpha, a, b, frequency, recency, T, t1, t2):
    """Expected purchases in the window (T + t1, T + t2] given (x, t_x, T): E[Y(t2)] - E[Y(t1)]
    (0 <= t1 <= t2, in the model's unit)."""
    x, T = _f(frequency), _f(T)
    if np.any(_f(t1) > _f(t2)):
        raise ValueError("the window (T + t1, T + t2] needs t1 <= t2")
    pa = p_alive(r, alpha, a, b, x, recency, T)
    R, A0, B = _f(r) + x, _f(alpha) + T, _f(b) + x + 1.0
    return pa * (_alive_expected(R, A0, a, B, t2) - _alive_expected(R, A0, a, B, t1))


def future_p_alive(r, alpha, a, b, frequency, recency, T, t):
    """P(alive at T + t | x, t_x, T): P(alive at T) times E[exp(-lambda p t)] under
    lambda ~ Gamma(r + x, alpha + T), p ~ Beta(a, b + x + 1):
        P(alive) ((alpha + T)/(alpha + T + t))^a 2F1(a, a + b + 1 - r; a + b + x + 1; t/(alpha + T + t)).
    Non-increasing in t; equals :func:`p_alive` at t = 0. t in the model's unit."""
    x, T = _f(frequency), _f(T)
    pa = p_alive(r, alpha, a, b, x, recency, T)
    return pa * _alive_survival(_f(r) + x, _f(alpha) + T, a, _f(b) + x + 1.0, t)


def purchases_pmf_new(r, alpha, a, b, t, max_count: int, *, return_tail: bool = False):
    """P(X(t) = k) for a new customer, k = 0..max_count on a new last axis:
        P(X(t) = k) = a/(a + b) [k = 0] + b/(a + b) P(k | alive, p ~ Beta(a, b + 1)),
    the second factor FHL eq. 8 with b -> b + 1 (the customer drops out at time 0 with probability
    E[p] = a/(a + b) and buys nothing; otherwise she is a BG/NBD customer alive now, who survived one
    drop-out chance). The result sums to 1 - P(X(t) > max_count); with ``return_tail`` that mass is
    returned too, as ``(pmf, tail)``. t in the model's unit.
    """
    a, b = _f(a), _f(b)
    pmf, tail = _alive_pmf(r, alpha, a, b + 1.0, t, b / (a + b), max_count)
    return (pmf, tail) if return_tail else pmf


def conditional_purchases_pmf(r, alpha, a, b, frequency, recency, T, t, max_count: int | None = None,
                              *, tail_mass: float = 1e-10, return_tail: bool = False):
    """P(Y(t) = k | x, t_x, T): the distribution of the number of purchases in (T, T + t].

    k = 0..max_count on a new last axis (after the broadcast shape of the other arguments). Exact:
        P(Y = k) = P(alive) P(k | alive) + (1 - P(alive)) [k = 0],
    with P(k | alive) FHL eq. 8 at (r + x, alpha + T, a, b + x + 1) (the BG/NBD's ``_alive_pmf``).
    ``max_count=None`` picks a K with P(Y > K) <= ``tail_mass`` for every element
    (:func:`purchases_count_upper_bound`). ``return_tail`` also returns the mass beyond max_count.
    """
    x, T = _f(frequency), _f(T)
    if max_count is None:
        ub = purchases_count_upper_bound(r, alpha, a, b, x, recency, T, t, tail=tail_mass)
        max_count = int(np.max(ub)) if np.size(ub) else 0
    pa = p_alive(r, alpha, a, b, x, recency, T)
    pmf, tail = _alive_pmf(_f(r) + x, _f(alpha) + T, a, _f(b) + x + 1.0, t, pa, max_count)
    return (pmf, tail) if return_tail else pmf


def purchases_count_upper_bound(r, alpha, a, b, frequency, recency, T, t, tail: float = 1e-10):
    """Per element, an integer K with P(Y(t) > K | x, t_x, T) <= ``tail`` (take ``.max()`` to size a
    pmf for many elements). For new customers pass frequency = recency = T = 0 (P(alive) is then
    b/(a + b), the new customer's).

    Y is at most the Poisson count N, whose marginal given alive is negative binomial with R = r + x and
    q = (alpha + T)/(alpha + T + t); the Chernoff bound on its tail is solved for the smallest K with
    P(alive) P(N >= K + 1) <= tail (:func:`clvmodels.models.numerics.quantiles.nb_count_bound`: drop-out does not enter it). A
    rigorous bound, slightly conservative.
    """
    x, T = _f(frequency), _f(T)
    return nb_count_bound(p_alive(r, alpha, a, b, x, recency, T), _f(r) + x, _f(alpha) + T, t, tail)


# -- PyTensor likelihood for sampling ---------------------------------------------------------------
def pt_log_likelihood(r, alpha, a, b, triplets):
    """Total weighted MBG/NBD log-likelihood sum_i w_i log L_i as a PyTensor scalar, computed by the
    fused value + gradient Op :class:`clvmodels.models.mbgnbd.likelihood.ModifiedBetaGeoLogLike`.

    ``r, alpha, a, b``: PyTensor scalars (e.g. PyMC random variables); ``triplets``: a
    :class:`~clvmodels.models.triplets.Triplets`, whose arrays enter the graph as constants. With C(x)
    and d as in :func:`log_likelihood`,
        sum_i w_i log L_i = sum_x W_x C(x) - sum_T (r W_T + X_T) log(alpha + T) + sum_i w_i softplus(d_i),
    the softplus over every triplet (x = 0 included). Value and gradient agree with the plain PyTensor
    graph :func:`_pt_log_likelihood_graph` (the reference). Second derivatives are not available.
    """
    from .likelihood import mbgnbd_loglike

    return mbgnbd_loglike(r, alpha, a, b, triplets)


def _pt_log_likelihood_graph(r, alpha, a, b, triplets):
    """The same likelihood as :func:`pt_log_likelihood`, as a plain PyTensor graph (per-level terms,
    gathers and a softplus per triplet; PyTensor derives its gradient): the fused Op's reference."""
    import pytensor.tensor as pt

    tr = triplets
    w = np.asarray(tr.weight, dtype=float)
    xl = np.asarray(tr.x_levels, dtype=float)
    Wx = np.bincount(tr.x_index, weights=w, minlength=len(xl))
    n_tot = float(w.sum())
    nT = len(tr.T_levels)
    WT = np.bincount(tr.T_index, weights=w, minlength=nT)
    XT = np.bincount(tr.T_index, weights=w * tr.frequency, minlength=nT)
    xi = np.asarray(tr.frequency, dtype=float)
    xidx = np.asarray(tr.x_index, dtype=np.int64)
    tidx = np.asarray(tr.T_index, dtype=np.int64)
    ridx = np.asarray(tr.recency_index, dtype=np.int64)

    # per frequency level: lgamma(r + x) + lgamma(b + x + 1) - lgamma(a + b + x + 1)
    lg = pt.gammaln(r + xl) + pt.gammaln(b + xl + 1.0) - pt.gammaln(a + b + xl + 1.0)
    const = n_tot * (-pt.gammaln(r) + r * pt.log(alpha) - pt.gammaln(b) + pt.gammaln(a + b))
    total = pt.sum(lg * Wx) + const
    log_aT = pt.log(alpha + np.asarray(tr.T_levels, dtype=float))  # per T level
    total = total - pt.sum((r * WT + XT) * log_aT)
    if len(w):
        log_ar = pt.log(alpha + np.asarray(tr.recency_levels, dtype=float))  # per recency level
        d_lev = pt.log(a) - pt.log(b + xl)  # log(a/(b + x)) per frequency level
        d = d_lev[xidx] + (r + xi) * (log_aT[tidx] - log_ar[ridx])
        total = total + pt.sum(pt.softplus(d) * w)
    return total
