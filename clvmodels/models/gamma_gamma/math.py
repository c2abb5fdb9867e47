r"""The Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005, "RFM and CLV: using
iso-value curves for customer base analysis", Journal of Marketing Research 42(4), 415-430, section
"Spend"; Fader & Hardie (2013), "The Gamma-Gamma model of monetary value", note).

Story. A customer's transaction values z_1, ..., z_x are i.i.d. Gamma(p, rate nu) (mean p/nu) given her
nu, and nu ~ Gamma(q, rate v) across customers. Only the mean of the x *repeat* transactions, zbar,
is used; given nu it is Gamma(p x, rate nu x) (a sum of x Gamma(p, nu) values is Gamma(p x, nu)).
Amounts are in currency units; v is in currency units too (nu in 1/currency), p and q are unitless.
Spend is assumed independent of the purchase process (check with the correlation of x and zbar).

Functions are pure numpy/scipy and broadcast parameters against data (params (S, 1) against data (n,)
give (S, n)).
"""
from __future__ import annotations

import numpy as np
from scipy import special as sc

__all__ = ["log_likelihood", "conditional_expected_spend", "expected_spend_new", "spend_posterior",
           "mean_spend_quantile", "sample_mean_spend", "pt_log_likelihood"]


def _f(v):
    return np.asarray(v, dtype=float)


def log_likelihood(p, q, v, frequency, monetary_value):
    """log f(zbar | p, q, v, x): the marginal density of a customer's mean repeat spend (Fader & Hardie's
    note; the likelihood maximised in "RFM and CLV"):

        f(zbar) = Gamma(p x + q)/(Gamma(p x) Gamma(q)) v^q zbar^(p x - 1) x^(p x) / (v + x zbar)^(p x + q),

    obtained by integrating the Gamma(p x, rate nu x) density of zbar over nu ~ Gamma(q, rate v).
    Customers without repeat purchases (x = 0) observe no zbar and contribute 0 (a factor 1). zbar in
    currency units; the result includes the Jacobian term, so it changes with the currency unit.
    """
    p, q, v, x, z = (_f(a) for a in (p, q, v, frequency, monetary_value))
    pos = x > 0
    xs = np.where(pos, x, 1.0)
    zs = np.where(pos, z, 1.0)
    px = p * xs
    with np.errstate(divide="ignore", invalid="ignore"):
        ll = (sc.gammaln(px + q) - sc.gammaln(px) - sc.gammaln(q) + q * np.log(v)
              + (px - 1.0) * np.log(zs) + px * np.log(xs) - (px + q) * np.log(v + xs * zs))
    return np.where(pos, ll, 0.0)


def conditional_expected_spend(p, q, v, frequency, monetary_value):
    """E[Z | x, zbar]: expected spend per transaction of a customer with x repeat purchases of mean zbar
    (the conditional expectation of "RFM and CLV" and of Fader & Hardie's note):

        E[Z | x, zbar] = p (v + x zbar) / (p x + q - 1)
                       = (q - 1)/(p x + q - 1) * p v/(q - 1) + p x/(p x + q - 1) * zbar,

    a weighted mean of the population mean p v/(q - 1) and the customer's own zbar, since
    nu | data ~ Gamma(q + p x, rate v + x zbar) and E[Z | nu] = p/nu. Customers with x = 0 get the
    population mean. +inf where the mean does not exist (p x + q <= 1). Currency units.
    """
    p, q, v, x, z = (_f(a) for a in (p, q, v, frequency, monetary_value))
    x = np.where(x > 0, x, 0.0)
    z = np.where(x > 0, z, 0.0)
    den = p * x + q - 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, p * (v + x * z) / den, np.inf)


def expected_spend_new(p, q, v):
    """Mean spend per transaction of a new customer, E[p/nu] = p v/(q - 1) (needs q > 1; +inf
    otherwise, where the heavy tail of 1/nu makes the mean infinite). Currency units."""
    p, q, v = (_f(a) for a in (p, q, v))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(q > 1, p * v / (q - 1.0), np.inf)


def spend_posterior(p, q, v, frequency, monetary_value):
    """(shape, rate) of nu | x, zbar ~ Gamma(q + p x, rate v + x zbar) (conjugacy; x = 0 gives the prior).
    A customer's mean spend per transaction is p/nu, so its posterior is p times an inverse gamma."""
    p, q, v, x, z = (_f(a) for a in (p, q, v, frequency, monetary_value))
    x = np.where(x > 0, x, 0.0)
    z = np.where(x > 0, z, 0.0)
    return q + p * x, v + x * z


def mean_spend_quantile(p, q, v, frequency, monetary_value, prob):
    """Quantile ``prob`` of a customer's mean spend per transaction p/nu given (x, zbar) and the
    parameters: p (v + x zbar) / G^{-1}(1 - prob; q + p x), G the unit-rate gamma CDF (p/nu is
    decreasing in nu). Currency units. For intervals that also carry parameter uncertainty, mix over
    posterior draws (e.g. with :func:`sample_mean_spend`)."""
    shape, rate = spend_posterior(p, q, v, frequency, monetary_value)
    return _f(p) * rate / sc.gammainccinv(shape, _f(prob))


def sample_mean_spend(p, q, v, frequency, monetary_value, rng=None, size=None):
    """Draws of a customer's mean spend per transaction p/nu, nu ~ Gamma(q + p x, rate v + x zbar)."""
    rng = np.random.default_rng(rng)
    shape, rate = spend_posterior(p, q, v, frequency, monetary_value)
    nu = rng.gamma(shape, 1.0 / rate, size=size)
    return _f(p) / nu


def _likelihood_rows(frequency, monetary_value):
    """(x, zbar) as float arrays, refusing rows that carry no spend information."""
    x = np.asarray(frequency, dtype=float)
    z = np.asarray(monetary_value, dtype=float)
    if np.any(x <= 0):
        raise ValueError("Gamma-Gamma likelihood: only customers with repeat purchases (frequency > 0) carry "
                         "information about spend; drop the others")
    if np.any(~(z > 0)):
        raise ValueError("Gamma-Gamma likelihood: monetary_value must be positive for customers with repeat purchases")
    return x, z


def pt_log_likelihood(p, q, v, frequency, monetary_value, weight=None, *, compress="auto", h: float = 0.01):
    r"""Total (weighted) Gamma-Gamma log-likelihood sum_i w_i log f(zbar_i | p, q, v, x_i) as a
    PyTensor scalar, for PyMC (see :func:`log_likelihood` for the formula).

    ``frequency`` and ``monetary_value`` are numpy arrays of customers (or distinct rows, with
    ``weight`` the number of customers sharing each) with x > 0; they enter the graph as constants.

    Computed by one fused Op (:class:`clvmodels.models.gamma_gamma.likelihood.GammaGammaLogLike`) that
    returns the value and its gradient in (p, q, v) from one numba loop. With s = x zbar a customer's total
    repeat spend, the likelihood is
        sum_x W_x [lgamma(p x + q) - lgamma(p x)] + N (q log v - lgamma(q)) + p sum w x log s
        - sum w log zbar - sum_x (p x + q) sum_{i in level x} w_i log(v + s_i),
    so the log-gamma terms are evaluated once per distinct frequency x (weight W_x; N the total
    weight), and per row only log(v + s) and 1/(v + s) remain.

    ``compress``: ``False`` evaluates every row exactly; ``True`` bins the spends; ``"auto"`` (default)
    bins only when there are more than 50,000 rows (``likelihood.GG_COMPRESS_ROWS``), so small
    bases (CDNOW, tests) stay exact. Binning: within each frequency level, s is put on a grid of width
    ``h`` in log s (bins [e^(j h), e^((j+1) h))); each bin keeps its weight n, weighted mean s_bar and
    central moments M_k = sum w (s - s_bar)^k, k = 2, 3, 4, and its rows' sum of w log(v + s) is
    replaced by the Taylor expansion about s_bar (the first-order term vanishes),
        n log(u) - M2 / (2 u^2) + M3 / (3 u^3) - M4 / (4 u^4),   u = s_bar + v.
    Every other term is exact (the binning keeps W_x, N, sum w x log s and sum w log zbar). Error
    bound: the expansion's remainder for a row is delta^5 / (5 xi^5), delta = s - s_bar, xi between u
    and u + delta, and every s in a bin is within a factor e^h of s_bar, so
        |log-lik(binned) - log-lik(exact)| <= sum_i w_i (p x_i + q) |delta_i|^5 / (5 (v + min(s_i, s_bar))^5)
                                           <= (e^h - 1)^5 / 5 * sum_i w_i (p x_i + q),
    about 2.1e-11 * sum_i w_i (p x_i + q) for h = 0.01 (a worst case: the remainders change sign
    with delta and mostly cancel). The gradient's error obeys the same kind of bound (the remainder of
    1/(v + s) after the same terms, |delta|^5 / xi^6 per row). The error measured on simulated bases,
    far below the bound, is in benchmarks/README.md (section "BG/NBD fit").
    """
    from .likelihood import gamma_gamma_loglike

    x, z = _likelihood_rows(frequency, monetary_value)
    return gamma_gamma_loglike(p, q, v, x, z, weight, compress=compress, h=h)


def _pt_log_likelihood_graph(p, q, v, frequency, monetary_value, weight=None):
    """The same likelihood as :func:`pt_log_likelihood` (exact, one term per row) as a plain PyTensor
    graph whose gradient PyTensor derives; the reference the fused Op is tested against."""
    import pytensor.tensor as pt

    x, z = _likelihood_rows(frequency, monetary_value)
    w = np.ones_like(x) if weight is None else np.asarray(weight, dtype=float)
    n = float(w.sum())
    log_z = np.log(z)
    log_x = np.log(x)
    px = p * x
    total = (pt.dot(pt.gammaln(px + q) - pt.gammaln(px) - (px + q) * pt.log(v + x * z), w)
             + n * (q * pt.log(v) - pt.gammaln(q))
             + p * float(np.dot(w * x, log_z + log_x)) - float(np.dot(w, log_z)))
    return total
