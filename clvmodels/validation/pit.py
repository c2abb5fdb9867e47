"""The non-randomized probability integral transform (PIT) of counts and its uniformity test.

Czado, Gneiting & Held (2009), "Predictive model assessment for count data", Biometrics 65(4),
1254-1261, section 2.1. For a count ``y`` with predictive CDF ``F``, the randomized PIT
``F(y-1) + V (F(y) - F(y-1))`` (V uniform) is uniform on (0, 1) when ``F`` is the true distribution,
but it depends on the draw of V: two runs give two histograms and two p-values. The non-randomized PIT
replaces the draw by its distribution: customer ``i`` contributes the CDF of the uniform distribution
on ``(F_i(y_i - 1), F_i(y_i))`` (CGH eq. 2),

    F_i(u) = 0                                                     u <= F_i(y_i - 1)
           = (u - F_i(y_i - 1)) / (F_i(y_i) - F_i(y_i - 1))        in between
           = 1                                                     u >= F_i(y_i),

and the PIT histogram is that of the mean ``Fbar(u) = mean_i F_i(u)`` (CGH eq. 3): bin ``j`` of ``J``
holds the mass ``f_j = Fbar(j/J) - Fbar((j-1)/J)``. Under calibration ``E[F_i(u)] = u`` for every
customer, so the expected histogram is flat at ``1/J``; U-shaped means predictive distributions too
narrow (underdispersed), hump-shaped too wide. The same data give the same numbers whatever the seed.

Uniformity test (:func:`pit_chi2`): Pearson's statistic of the expected bin counts ``n f_j`` against
``n / J``, referred to chi-square with ``J - 1`` degrees of freedom. It is *conservative*: each
customer's contribution ``c_i = (F_i(j/J) - F_i((j-1)/J))_j`` is the conditional expectation, given
``y_i``, of the one-hot bin indicator of her randomized PIT, whose bins are multinomial(1, 1/J) under
calibration. By the law of total variance ``Cov(c_i) <= Cov(multinomial)`` (Loewner order), so the
vector of bin counts is, asymptotically, a Gaussian with a covariance no larger than the multinomial's,
and by Anderson's inequality its Pearson statistic is stochastically no larger than chi-square(J - 1):
the p-value is at least the nominal one (too large, never too small). How conservative depends on how
far each customer's mass is spread over bins: a customer with ``F_i(y_i - 1) = 0, F_i(y_i) = 0.8``
(a likely zero count) spreads over eight bins and adds little variance. A small p-value is therefore
strong evidence of miscalibration; a large one is weaker evidence of calibration than the same
p-value of the randomized test. Checked by simulation in ``tests/validation/test_pit.py``: 2,000
customers with negative binomial forecasts (means 0.05 to 5), 200 replicates drawn from the forecasts
themselves gave no p-value below 0.05 (median 0.99), while data twice as dispersed as the forecasts
were rejected at 1% in over 95% of the replicates, as often as by the randomized test.

The binomial band of :func:`pit_histogram` (the per-bin range of a customer count under calibration)
is conservative for the same reason.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import InputError

#: bins of the PIT histogram (J)
PIT_BINS = 10

#: tolerance for CDF values a hair outside [0, 1] or out of order (sums of float pmfs)
_CDF_TOL = 1e-9


def _check(cdf_below, cdf_at) -> tuple[np.ndarray, np.ndarray]:
    lo = np.asarray(cdf_below, dtype=float).ravel()
    hi = np.asarray(cdf_at, dtype=float).ravel()
    if lo.shape != hi.shape:
        raise InputError(f"cdf_below and cdf_at differ in length ({lo.size} and {hi.size})")
    if lo.size == 0:
        raise InputError("no customers: the PIT needs at least one predictive CDF")
    if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
        raise InputError("cdf_below and cdf_at must be finite (missing or non-numeric predictive CDF values)")
    bad = (lo < -_CDF_TOL) | (hi > 1 + _CDF_TOL) | (hi < lo - _CDF_TOL)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"{int(bad.sum())} predictive CDF pairs are not 0 <= F(y-1) <= F(y) <= 1, e.g. "
                         f"({lo[i]!r}, {hi[i]!r}) at position {i}")
    lo = np.clip(lo, 0.0, 1.0)
    hi = np.clip(np.maximum(hi, lo), 0.0, 1.0)
    return lo, hi


def pit_mean_cdf(u, cdf_below, cdf_at) -> np.ndarray:
    """``Fbar(u)``: the mean over customers of the CDF of her non-randomized PIT (CGH 2009 eq. 3), at
    each ``u`` in [0, 1]. A customer whose interval has no width (``F(y-1) = F(y)``, a count the
    predictive distribution gives no mass) is a point mass at ``F(y)`` (right-continuous)."""
    lo, hi = _check(cdf_below, cdf_at)
    u = np.atleast_1d(np.asarray(u, dtype=float))
    width = hi - lo
    point = width <= 0
    safe = np.where(point, 1.0, width)
    out = np.empty(u.shape)
    for k, v in enumerate(u.ravel()):  # a few bin edges: one pass over the customers each
        f = np.where(point, (v >= hi).astype(float), np.clip((v - lo) / safe, 0.0, 1.0))
        out.flat[k] = f.mean()
    return out


def pit_bin_masses(cdf_below, cdf_at, bins: int = PIT_BINS) -> np.ndarray:
    """The non-randomized PIT histogram as masses: ``f_j = Fbar(j/J) - Fbar((j-1)/J)``, j = 1..J
    (``bins`` = J); they sum to 1 and are 1/J each in expectation under calibration. ``Fbar(0) = 0``
    and ``Fbar(1) = 1`` by definition (a point mass at 0 falls in the first bin)."""
    if int(bins) < 2:
        raise InputError(f"bins={bins}: the PIT histogram needs at least 2 bins")
    inner = np.arange(1, int(bins)) / int(bins)
    fbar = np.concatenate([[0.0], pit_mean_cdf(inner, cdf_below, cdf_at), [1.0]])
    return np.diff(fbar)


def pit_chi2(cdf_below, cdf_at, bins: int = PIT_BINS) -> tuple[float, float]:
    """``(statistic, p-value)``: Pearson's chi-square of the non-randomized PIT histogram's expected
    customer counts ``n f_j`` against ``n / J`` with ``J - 1`` degrees of freedom. Conservative (the
    p-value is too large under calibration, never too small): see the module docstring."""
    lo, _ = _check(cdf_below, cdf_at)
    n = lo.size
    counts = n * pit_bin_masses(cdf_below, cdf_at, bins)
    expected = n / int(bins)
    stat = float(np.sum((counts - expected) ** 2) / expected)
    return stat, float(stats.chi2.sf(stat, int(bins) - 1))


def pit_histogram(cdf_below, cdf_at, *, bins: int = PIT_BINS, band: float = 0.99) -> pd.DataFrame:
    """The non-randomized PIT histogram: one row per bin with ``left``, ``right``, ``mass``
    (``f_j``), ``customers`` (``n f_j``, a customer's mass spread over the bins her interval
    covers), ``expected`` (``n / J``) and ``lower``/``upper``: the central ``band`` range of a bin's
    count of randomized PITs under calibration (binomial(n, 1/J) quantiles), conservative for the
    non-randomized counts, which vary less. ``attrs["clvmodels"]`` holds ``chi2``, ``pvalue``,
    ``n_customers``."""
    if not 0 < band < 1:
        raise InputError(f"band={band}: the band level must be between 0 and 1, e.g. 0.99")
    lo, _ = _check(cdf_below, cdf_at)
    n = lo.size
    J = int(bins)
    mass = pit_bin_masses(cdf_below, cdf_at, J)
    stat, pval = pit_chi2(cdf_below, cdf_at, J)
    b_lo, b_hi = stats.binom.ppf([(1 - band) / 2, (1 + band) / 2], n, 1.0 / J)
    edges = np.arange(J + 1) / J
    out = pd.DataFrame({"left": edges[:-1], "right": edges[1:], "mass": mass, "customers": n * mass,
                        "expected": np.full(J, n / J), "lower": np.full(J, float(b_lo)),
                        "upper": np.full(J, float(b_hi))})
    out.attrs["clvmodels"] = {"chi2": stat, "pvalue": pval, "n_customers": int(n), "band": float(band)}
    return out


def log_scores(cdf_below, cdf_at) -> np.ndarray:
    """``log P(Y = y) = log(F(y) - F(y-1))`` per customer. ``-inf`` where the difference is 0: the
    caller must compute those from the pmf itself (see :func:`clvmodels.validation.holdout.holdout_log_scores`)."""
    lo, hi = _check(cdf_below, cdf_at)
    with np.errstate(divide="ignore"):
        return np.log(hi - lo)


def randomized_pit(cdf_below, cdf_at, seed: int | None = 0) -> np.ndarray:
    """The randomized PIT ``F(y-1) + V (F(y) - F(y-1))``, V uniform from ``seed`` (CGH 2009 eq. 1):
    uniform under calibration, but a different draw for every seed."""
    lo, hi = _check(cdf_below, cdf_at)
    return lo + np.random.default_rng(seed).uniform(size=lo.size) * (hi - lo)
