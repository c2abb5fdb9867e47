"""The Pareto/NBD's fused log-likelihood + gradient Op (clvmodels.models.pareto_nbd.likelihood) against
the per-row likelihood of clvmodels.models.pareto_nbd.math, central finite differences of it, and mpmath
(the closed form of Fader, Hardie & Lee's note at 40 digits, differentiated by mp.diff), including
frequencies in the hundreds and alpha far from beta; and in the samplers' backends (numba for nutpie
and PyTensor's default mode, Python for the C/Python linkers)."""
from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest

from clvmodels.models.pareto_nbd import likelihood as pl
from clvmodels.models.pareto_nbd import math as pnbd
from clvmodels.models.pareto_nbd.simulate import simulate_summary
from clvmodels.models.triplets import compress

from .test_pareto_nbd_math import PUBLISHED, mp_log_likelihood

#: the published estimates, alpha << beta, alpha >> beta, alpha == beta, shapes near and below one, and
#: lifetimes' overflow test's parameters (alpha = 0.008, beta = 2.8)
POINTS = [PUBLISHED, (0.3, 0.05, 0.8, 40.0), (1.5, 60.0, 2.0, 0.2), (2.0, 7.0, 0.9, 7.0), (0.05, 3.0, 5.0, 1.0),
          (10.465, 7.98565181e-03, 3.0516, 2.820)]


def _kernel(theta, trip):
    return np.array(pl._pnbd_kernel(*map(float, theta), *pl.pnbd_data(trip)))


def _direct(theta, trip):
    return float(np.sum(trip.weight * pnbd.log_likelihood(*theta, trip.frequency, trip.recency, trip.T)))


@pytest.fixture(scope="module")
def cdnow_trip(cdnow_split):
    s = cdnow_split
    return compress(s["frequency"].to_numpy(float), s["recency"].to_numpy(float), s["T"].to_numpy(float))


@pytest.fixture(scope="module")
def sim_trip():
    """10k simulated customers with continuous times and weights, plus extreme rows: frequencies of 200
    and 800, recency equal to T, a tiny T and a huge one."""
    n = 10_000
    rng = np.random.default_rng(1)
    s = simulate_summary(n, *PUBLISHED, T=rng.uniform(0.5, 104, n), seed=1)
    x = np.r_[s["frequency"].to_numpy(float), 200.0, 800.0, 250.0, 3.0, 5.0, 0.0]
    tx = np.r_[s["recency"].to_numpy(float), 9999.5, 80.0, 30.0, 30.0, 1e-4, 0.0]
    T = np.r_[s["T"].to_numpy(float), 10_000.0, 100.0, 30.0, 30.0, 2e-4, 1e-3]
    w = np.r_[rng.integers(1, 4, n).astype(float), 1.0, 2.0, 1.0, 3.0, 1.0, 5.0]
    return compress(x, tx, T, weight=w)


# -- value and gradient -------------------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["cdnow", "sim"])
@pytest.mark.parametrize("theta", POINTS)
def test_value_is_the_weighted_sum_of_the_per_row_likelihood(which, theta, cdnow_trip, sim_trip):
    trip = cdnow_trip if which == "cdnow" else sim_trip
    got = _kernel(theta, trip)[0]
    # the kernel sums the log-gamma terms per frequency level and the rest per triplet, the reference each
    # row's total: the same numbers added in another order (the parts are up to ten times the total)
    assert got == pytest.approx(_direct(theta, trip), rel=1e-12)


@pytest.mark.parametrize("which", ["cdnow", "sim"])
@pytest.mark.parametrize("theta", POINTS)
def test_gradient_against_central_finite_differences(which, theta, cdnow_trip, sim_trip):
    """Central differences of the per-row likelihood (an independent code path: no derivative
    accumulators) with a step of 1e-5 relative: truncation error below 1e-8 relative."""
    trip = cdnow_trip if which == "cdnow" else sim_trip
    g = _kernel(theta, trip)[1:]
    n = float(trip.weight.sum())
    for i in range(4):
        h = 1e-5 * theta[i]
        up, dn = list(theta), list(theta)
        up[i] += h
        dn[i] -= h
        fd = (_direct(up, trip) - _direct(dn, trip)) / (2 * h)
        # absolute error of the differences ~ 1e-16 |value| / h, and the gradient components can nearly
        # cancel at the optimum: compare against the size of the per-customer terms too
        tol = 1e-7 * abs(fd) + 1e-16 * abs(_direct(theta, trip)) / h + 1e-9 * n / theta[i]
        assert abs(g[i] - fd) <= tol, (i, g[i], fd)


ROWS = [(0, 0.0, 38.86), (2, 30.43, 38.86), (26, 30.86, 31.0), (250, 38.0, 39.0), (400, 99.0, 100.0), (5, 30.0, 30.0),
        (3, 1e-4, 2e-4), (12, 9000.0, 10000.0), (500, 1.0, 37.0), (400, 5.0, 6.0)]


@pytest.mark.parametrize("theta", POINTS)
def test_value_and_gradient_per_row_against_mpmath(theta):
    """One row at a time (a Triplets of one customer): value and gradient against the FHL closed form
    in mpmath, differentiated by mp.diff, to 1e-11 of the size of the terms."""
    for x, tx, T in ROWS:
        trip = compress([x], [tx], [T])
        got = _kernel(theta, trip)
        args = [mp.mpf(v) for v in theta]
        ref = float(mp_log_likelihood(*theta, x, tx, T))
        assert abs(got[0] - ref) <= 1e-12 * max(1.0, abs(ref)), (x, tx, T, got[0], ref)
        for i in range(4):
            def f(v, i=i):
                w = list(args)
                w[i] = v
                return mp_log_likelihood(*w, x, tx, T)
            d = float(mp.diff(f, args[i]))
            assert abs(got[1 + i] - d) <= 1e-12 * _grad_scale(theta, x, tx, T, d)[i], (x, tx, T, i, got[1 + i], d)


def _grad_scale(theta, x, tx, T, d):
    """Per parameter, the size of the terms the derivative sums (a component can be a near-cancelling
    sum of them): d/dr has digamma(r + x), log alpha and logs of alpha + tau, d/d alpha has r/alpha and
    (r + x)/(alpha + tau), and likewise for s and beta."""
    r, alpha, s, beta = theta
    return [max(1.0, abs(d), abs(math.log(r + x)), abs(math.log(alpha)), abs(math.log(alpha + tx)), 1.0 / r),
            max(abs(d), r / alpha, (r + x) / (alpha + tx)),
            max(1.0, abs(d), 1.0 / s, abs(math.log(beta)), abs(math.log(beta + tx))),
            max(abs(d), s / beta, (s + 1.0) / (beta + tx))]


def test_frequency_in_the_hundreds_does_not_overflow(sim_trip):
    """(alpha + t)^-(r + x) underflows for x in the hundreds; the likelihood is computed in logs."""
    trip = compress([800.0, 200.0], [80.0, 9999.5], [100.0, 10_000.0])
    v = _kernel(PUBLISHED, trip)
    assert np.all(np.isfinite(v))
    ref = sum(float(mp_log_likelihood(*PUBLISHED, x, tx, T)) for x, tx, T in [(800, 80.0, 100.0), (200, 9999.5, 10000.0)])
    assert v[0] == pytest.approx(ref, rel=1e-13)


def test_off_the_parameter_space_the_density_is_zero(cdnow_trip):
    for theta in [(0.5, 10.0, 0.6, math.inf), (0.5, 10.0, math.nan, 11.0), (-0.5, 10.0, 0.6, 11.0), (0.5, 0.0, 0.6, 11.0)]:
        v = _kernel(theta, cdnow_trip)
        assert v[0] == -math.inf and np.all(v[1:] == 0.0), theta


# -- data preparation ---------------------------------------------------------------------------------------
def test_data_share_the_tail_integrals_per_pair(cdnow_trip):
    xl, Wx, tl, f_x, f_ti, h_x, h_ti, f_idx, h_idx, w = pl.pnbd_data(cdnow_trip)
    f_t, h_t = tl[f_ti], tl[h_ti]
    # the logs are taken once per distinct time: recencies and T
    assert np.all(np.diff(tl) > 0) and set(tl) == set(np.r_[cdnow_trip.recency, cdnow_trip.T])
    tr = cdnow_trip
    # one (x, t_x) pair per distinct (frequency, recency) and one (x, T) pair per distinct (frequency, T)
    assert len(f_t) == len(set(zip(tr.frequency, tr.recency)))
    assert len(h_t) == len(set(zip(tr.frequency, tr.T)))
    np.testing.assert_array_equal(f_x[f_idx], tr.frequency)
    np.testing.assert_array_equal(f_t[f_idx], tr.recency)
    np.testing.assert_array_equal(h_x[h_idx], tr.frequency)
    np.testing.assert_array_equal(h_t[h_idx], tr.T)
    np.testing.assert_array_equal(np.sort(xl), np.unique(tr.frequency))
    assert Wx.sum() == w.sum() == 2357
    # the customers without repeat purchases share one (0, 0) pair
    assert np.sum(f_x == 0) == 1


def test_rows_with_T_zero_are_refused():
    with pytest.raises(ValueError, match="T = 0"):
        pl.pnbd_data(compress([0.0, 1.0], [0.0, 1.0], [0.0, 2.0]))


def test_weights_are_customer_counts():
    x, tx, T = np.array([0.0, 2.0, 2.0]), np.array([0.0, 5.0, 5.0]), np.array([10.0, 8.0, 8.0])
    once = compress(x, tx, T)
    weighted = compress(x[:2], tx[:2], T[:2], weight=[1.0, 2.0])
    np.testing.assert_allclose(_kernel(PUBLISHED, once), _kernel(PUBLISHED, weighted), rtol=1e-14)


# -- the Op in PyTensor's backends ----------------------------------------------------------------------------
def test_op_numba_and_python_modes_agree_and_one_node_does_both(cdnow_trip):
    import pytensor
    import pytensor.tensor as pt

    th = pt.dvector("theta")
    ll = pnbd.pt_log_likelihood(th[0], th[1], th[2], th[3], cdnow_trip)
    ref = _kernel(PUBLISHED, cdnow_trip)
    outs = []
    for mode in ("NUMBA", "FAST_COMPILE"):
        f = pytensor.function([th], [ll, pt.grad(ll, th)], mode=mode)
        v, g = f(np.array(PUBLISHED))
        outs.append((float(v), g))
        assert float(v) == pytest.approx(ref[0], rel=1e-14)
        np.testing.assert_allclose(g, ref[1:], rtol=1e-12)
        nodes = [n for n in f.maker.fgraph.apply_nodes if isinstance(n.op, pl.ParetoNBDLogLike)]
        assert len(nodes) == 1  # value and gradient from the same application
    # second derivatives are refused, not silently wrong
    from pytensor.gradient import NullTypeGradError

    with pytest.raises(NullTypeGradError):
        pt.grad(pt.grad(ll, th)[0], th)


def test_numba_registration_is_this_modules():
    from pytensor.link.numba.dispatch.basic import numba_funcify, numba_funcify_default_op_cache_key

    assert numba_funcify_default_op_cache_key.dispatch(pl.ParetoNBDLogLike).__module__ == pl.__name__
    assert numba_funcify.dispatch(pl.ParetoNBDLogLike).__module__ == pl.__name__
