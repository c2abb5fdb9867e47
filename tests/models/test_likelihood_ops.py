"""The fused log-likelihood + gradient Ops (clvmodels.models.bgnbd.likelihood and
gamma_gamma.likelihood, on the shared machinery of models.numerics.fused_op) against the plain PyTensor
graphs they replace (and PyTensor's automatic gradient of them), against mpmath, and in the samplers
that use them (nutpie's numba backend, PyTensor's FAST_RUN and Python modes)."""
from __future__ import annotations

import warnings

import mpmath as mp
import numpy as np
import pytest
from scipy import special as sc

from clvmodels.models import bgnbd, gamma_gamma
from clvmodels.models.bgnbd import likelihood as bgl
from clvmodels.models.gamma_gamma import likelihood as ggl
from clvmodels.models.numerics import fused_op as fo
from clvmodels.models.triplets import compress
from clvmodels.simulate import simulate_summary

BG_POINTS = [(0.2426, 4.4136, 0.7929, 2.4259), (1.3, 0.5, 3.0, 0.2), (0.05, 40.0, 0.1, 10.0), (4.0, 2.0, 0.6, 0.9)]
GG_POINTS = [(6.2488, 3.7446, 15.4478), (1.0, 10.0, 50.0), (20.0, 1.5, 3.0), (0.5, 0.8, 200.0)]


def _bg_functions(trip, mode):
    import pytensor
    import pytensor.tensor as pt

    th = pt.dvector("theta")
    args = (th[0], th[1], th[2], th[3], trip)
    new = bgnbd.pt_log_likelihood(*args)
    ref = bgnbd._pt_log_likelihood_graph(*args)
    f_new = pytensor.function([th], [new, pt.grad(new, th)], mode=mode)
    f_ref = pytensor.function([th], [ref, pt.grad(ref, th)], mode=mode)
    return f_new, f_ref


def _gg_functions(x, z, w, mode=None, **kw):
    import pytensor
    import pytensor.tensor as pt

    th = pt.dvector("theta")
    new = gamma_gamma.pt_log_likelihood(th[0], th[1], th[2], x, z, w, **kw)
    ref = gamma_gamma._pt_log_likelihood_graph(th[0], th[1], th[2], x, z, w)
    return (pytensor.function([th], [new, pt.grad(new, th)], mode=mode),
            pytensor.function([th], [ref, pt.grad(ref, th)], mode=mode))


def _assert_close(new, ref, n_weight, rtol=1e-9):
    """Value and gradient to ``rtol`` relative; a gradient component that nearly vanishes (a sum of
    terms of size ~1 per customer that cancel) is held to 1e-11 per unit of customer weight instead."""
    (v1, g1), (v0, g0) = new, ref
    assert abs(v1 - v0) <= rtol * abs(v0)
    np.testing.assert_allclose(g1, g0, rtol=rtol, atol=1e-11 * n_weight)


@pytest.fixture(scope="module")
def cdnow_trip(cdnow_split):
    s = cdnow_split
    return compress(s["frequency"].to_numpy(float), s["recency"].to_numpy(float), s["T"].to_numpy(float))


@pytest.fixture(scope="module")
def sim_trip():
    """20k simulated customers with continuous times, plus a few extreme rows (x = 200, T = 10,000)."""
    n = 20_000
    rng = np.random.default_rng(1)
    s = simulate_summary(n, 0.25, 4.0, 0.8, 2.5, T=rng.uniform(0.5, 104, n), seed=1)
    x = np.r_[s["frequency"].to_numpy(float), 200.0, 200.0, 150.0, 1.0]
    tx = np.r_[s["recency"].to_numpy(float), 9999.5, 5000.0, 10.0, 9999.0]
    T = np.r_[s["T"].to_numpy(float), 10_000.0, 10_000.0, 10_000.0, 10_000.0]
    w = np.r_[rng.integers(1, 4, n).astype(float), 1.0, 2.0, 1.0, 1.0]
    return compress(x, tx, T, weight=w)


# -- digamma and the vectorised exp / log1p ----------------------------------------------------------------
def test_digamma_matches_scipy():
    rng = np.random.default_rng(0)
    x = np.concatenate([10 ** rng.uniform(-8, 7, 50_000), rng.uniform(1.2, 1.75, 20_000), rng.uniform(0, 30, 20_000),
                        [1.4616321449683622, 1.4616321449683623, 1e-300, 6.0, 10.0, 9.999999999, 1e300]])
    out = np.empty_like(x)
    fo._digamma_many(x, out)
    ref = sc.digamma(x)
    np.testing.assert_array_less(np.abs(out - ref), 1e-13 * np.abs(ref) + 1e-300)
    # near the positive root the Taylor series keeps the *relative* accuracy (checked against mpmath,
    # since scipy's value there has its own rounding)
    mp.mp.dps = 30
    for xv in (1.4616321449683622, 1.46163214, 1.4616, 1.3, 1.7):
        exact = float(mp.digamma(mp.mpf(xv)))
        assert abs(fo.digamma(xv) - exact) <= 1e-14 * abs(exact)
    assert fo.digamma(-0.5) == pytest.approx(sc.digamma(-0.5), rel=1e-13)
    assert np.isnan(fo.digamma(0.0)) and np.isnan(fo.digamma(-3.0))


def _exp_log1p_many(y, out_exp, out_log1p):
    """The package's _exp_nonpos(y) and _log1p_unit of it, elementwise, compiled as the kernels use them."""
    from numba import njit

    @njit(error_model="numpy", fastmath=False)
    def run(y, out_exp, out_log1p):
        for i in range(y.size):
            e = fo._exp_nonpos(y[i])
            out_exp[i] = e
            out_log1p[i] = fo._log1p_unit(e)

    run(y, out_exp, out_log1p)


def test_vectorised_exp_and_log1p_to_a_few_ulps():
    rng = np.random.default_rng(2)
    y = -np.concatenate([rng.uniform(0, 40, 200_000), 10 ** rng.uniform(-20, np.log10(700), 200_000), [0.0, 700.0]])
    e, l1 = np.empty_like(y), np.empty_like(y)
    _exp_log1p_many(y, e, l1)
    assert np.all(np.abs(e - np.exp(y)) <= 2 * np.spacing(np.exp(y)))
    assert np.all(np.abs(l1 - np.log1p(e)) <= 3 * np.spacing(np.log1p(e)))


# -- BG/NBD ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["cdnow", "sim"])
def test_bgnbd_op_equals_graph_and_its_gradient(which, cdnow_trip, sim_trip):
    trip = cdnow_trip if which == "cdnow" else sim_trip
    f_new, f_ref = _bg_functions(trip, "FAST_RUN")
    n = trip.weight.sum()
    for th in BG_POINTS:
        new, ref = f_new(np.array(th)), f_ref(np.array(th))
        assert np.isfinite(new[0]) and np.all(np.isfinite(new[1]))
        _assert_close(new, ref, n)


def test_bgnbd_op_against_mpmath_with_extreme_rows():
    """A few rows, including x = 200 with T = 10,000: value and gradient against 30-digit mpmath
    (gradient by mpmath's numerical differentiation of the 30-digit likelihood)."""
    x = np.array([0, 0, 1, 3, 200, 200, 150, 1, 7], float)
    tx = np.array([0, 0, 0.5, 20.0, 9999.5, 5000.0, 10.0, 9999.0, 30.0])
    T = np.array([10.0, 39.0, 30.0, 38.0, 10_000.0, 10_000.0, 10_000.0, 10_000.0, 31.0])
    w = np.array([3.0, 1.0, 2.0, 1.0, 1.0, 2.0, 1.0, 1.0, 5.0])
    trip = compress(x, tx, T, weight=w)
    mp.mp.dps = 30

    def total(r, alpha, a, b):
        acc = mp.mpf(0)
        for xi, ti, Ti, wi in zip(x, tx, T, w):
            xi, ti, Ti = mp.mpf(xi), mp.mpf(ti), mp.mpf(Ti)
            c = (mp.loggamma(r + xi) - mp.loggamma(r) + r * mp.log(alpha) + mp.log(mp.beta(a, b + xi))
                 - mp.log(mp.beta(a, b)) - (r + xi) * mp.log(alpha + Ti))
            if xi > 0:
                d = mp.log(a / (b + xi - 1)) + (r + xi) * mp.log((alpha + Ti) / (alpha + ti))
                c += mp.log1p(mp.exp(d))
            acc += wi * c
        return acc

    for th in BG_POINTS:
        val, *grad = bgl._bgnbd_kernel(*th, *bgl.bgnbd_data(trip))
        mth = [mp.mpf(t) for t in th]
        ref = float(total(*mth))
        assert val == pytest.approx(ref, rel=1e-13)
        for i in range(4):
            gi = float(mp.diff(lambda t: total(*(mth[:i] + [t] + mth[i + 1:])), mth[i]))
            assert grad[i] == pytest.approx(gi, rel=1e-11, abs=1e-11 * w.sum())


def test_bgnbd_op_python_and_numba_modes_agree(sim_trip):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # "Numba will use object mode ..." would fail here
        f_numba, _ = _bg_functions(sim_trip, "FAST_RUN")
    f_py, _ = _bg_functions(sim_trip, "FAST_COMPILE")
    for th in BG_POINTS[:2]:
        a, b = f_numba(np.array(th)), f_py(np.array(th))
        assert a[0] == b[0]
        np.testing.assert_array_equal(a[1], b[1])


def test_one_node_computes_value_and_gradient(cdnow_trip):
    import pytensor
    import pytensor.tensor as pt

    th = pt.dvector("theta")
    ll = bgnbd.pt_log_likelihood(th[0], th[1], th[2], th[3], cdnow_trip)
    f = pytensor.function([th], [ll, pt.grad(ll, th)], mode="FAST_RUN")
    ops = [node.op for node in f.maker.fgraph.toposort() if isinstance(node.op, bgl.BetaGeoLogLike)]
    assert len(ops) == 1


def test_second_derivatives_are_refused(cdnow_trip):
    import pytensor.tensor as pt
    from pytensor.gradient import NullTypeGradError

    th = pt.dvector("theta")
    ll = bgnbd.pt_log_likelihood(th[0], th[1], th[2], th[3], cdnow_trip)
    g = pt.grad(ll, th)
    with pytest.raises(NullTypeGradError):
        pt.grad(g[0], th)


# -- Gamma-Gamma -------------------------------------------------------------------------------------------
def _spend(n, seed, p=6.0, q=3.7, v=15.0, cents=False):
    """Frequencies from the BG/NBD simulation (x > 0) and mean spends from the Gamma-Gamma story:
    nu ~ Gamma(q, rate v), zbar | nu ~ Gamma(p x, rate nu x)."""
    rng = np.random.default_rng(seed)
    s = simulate_summary(n, 0.25, 4.0, 0.8, 2.5, T=rng.uniform(1, 104, n), seed=seed)
    x = s["frequency"].to_numpy(float)
    x = x[x > 0]
    nu = rng.gamma(q, 1.0 / v, x.size)
    z = rng.gamma(p * x, 1.0 / (nu * x))
    if cents:
        z = np.maximum(np.round(z, 2), 0.01)
    return x, z


def test_gamma_gamma_op_equals_graph_and_its_gradient(cdnow_split):
    rep = cdnow_split[cdnow_split["frequency"] > 0]
    x, z = rep["frequency"].to_numpy(float), rep["monetary_value"].to_numpy(float)
    xs, zs = _spend(40_000, 5, cents=True)
    keys, cnt = np.unique(np.stack([xs, zs], 1), axis=0, return_counts=True)
    for xx, zz, ww in [(x, z, None), (keys[:, 0], keys[:, 1], cnt.astype(float))]:
        f_new, f_ref = _gg_functions(xx, zz, ww)
        n = len(xx) if ww is None else ww.sum()
        for th in GG_POINTS:
            _assert_close(f_new(np.array(th)), f_ref(np.array(th)), n)
    # few rows: "auto" does not bin (identical to compress=False)
    data_auto = ggl.gamma_gamma_data(x, z)
    data_exact = ggl.gamma_gamma_data(x, z, compress=False)
    assert data_auto[5].size == 0
    assert ggl._gamma_gamma_kernel(*GG_POINTS[0], *data_auto) == ggl._gamma_gamma_kernel(*GG_POINTS[0], *data_exact)


def _binning_bound(x, z, w, th, h):
    """The documented bound sum_i w_i (p x_i + q) |delta_i|^5 / (5 (v + min(s_i, s_bar))^5), per row."""
    p, q, v = th
    level, _ = ggl._factorize(x)
    s = x * z
    _, _, sbar, *_, inv = ggl.bin_spend(level, s, w, h)
    delta = s - sbar[inv]
    tight = np.sum(w * (p * x + q) * np.abs(delta) ** 5 / (5 * (v + np.minimum(s, sbar[inv])) ** 5))
    crude = (np.expm1(h) ** 5 / 5) * np.sum(w * (p * x + q))
    return tight, crude


@pytest.mark.parametrize("h", [0.01, 0.05, 0.1])
def test_gamma_gamma_binning_error_within_bound(h):
    x, z = _spend(200_000, 7)  # continuous spends: every row distinct
    w = np.ones_like(x)
    exact = ggl.gamma_gamma_data(x, z, w, compress=False)
    binned = ggl.gamma_gamma_data(x, z, w, compress=True, h=h)
    assert len(binned[3]) < len(x) / 5
    # the exactly kept parts
    np.testing.assert_array_equal(binned[0], exact[0])
    np.testing.assert_array_equal(binned[1], exact[1])
    np.testing.assert_array_equal(binned[-1], exact[-1])
    for th in GG_POINTS:
        a = np.array(ggl._gamma_gamma_kernel(*th, *exact))
        b = np.array(ggl._gamma_gamma_kernel(*th, *binned))
        tight, crude = _binning_bound(x, z, w, th, h)
        rounding = 1e-14 * np.sum(np.abs(np.log(th[2] + x * z)) * (th[0] * x + th[1]))
        assert abs(b[0] - a[0]) <= tight + rounding
        assert tight <= crude
        # the gradient's error is of the same order (|delta|^5 / xi^6 per row, times x, 1 or p x + q)
        assert np.all(np.abs(b[1:] - a[1:]) <= 50 * tight + 1e-9 * np.abs(a[1:]) + 1e-9)
        if h == 0.01:
            # the default width: the binned log-likelihood is exact to about the sums' own rounding
            assert abs(b[0] - a[0]) < 1e-5


def test_gamma_gamma_auto_compression_threshold():
    x, z = _spend(150_000, 9)
    assert x.size > ggl.GG_COMPRESS_ROWS
    assert ggl.gamma_gamma_data(x, z)[5].size > 0  # auto: binned
    assert ggl.gamma_gamma_data(x[:1000], z[:1000])[5].size == 0  # auto: exact
    with pytest.raises(ValueError):
        ggl.gamma_gamma_data(x, z, compress="yes")


# -- samplers -----------------------------------------------------------------------------------------------
def test_nutpie_samples_a_model_with_both_ops(cdnow_split):
    """Both Ops in one PyMC model compiled by nutpie (numba backend, no object-mode fallback), and
    a short run of NUTS."""
    nutpie = pytest.importorskip("nutpie")
    import pymc as pm

    trip = compress(cdnow_split["frequency"].to_numpy(float), cdnow_split["recency"].to_numpy(float),
                    cdnow_split["T"].to_numpy(float))
    rep = cdnow_split[cdnow_split["frequency"] > 0]
    with pm.Model() as model:
        r, alpha, a, b = (pm.HalfNormal(n, sigma=s) for n, s in [("r", 5.0), ("alpha", 52.0), ("a", 10.0), ("b", 10.0)])
        p, q, v = (pm.HalfNormal(n, sigma=s) for n, s in [("p", 20.0), ("q", 20.0), ("v", 500.0)])
        pm.Potential("bg", bgnbd.pt_log_likelihood(r, alpha, a, b, trip))
        pm.Potential("gg", gamma_gamma.pt_log_likelihood(p, q, v, rep["frequency"].to_numpy(float),
                                                         rep["monetary_value"].to_numpy(float)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        compiled = nutpie.compile_pymc_model(model)
    idata = nutpie.sample(compiled, chains=2, draws=50, tune=50, seed=3, progress_bar=False)
    post = idata["posterior"]
    for name in ("r", "alpha", "a", "b", "p", "q", "v"):
        assert np.all(np.isfinite(np.asarray(post[name])))
    # nowhere near a converged fit after 50 draws, but well inside the CDNOW posterior's region
    assert 0.1 < float(post["r"].mean()) < 0.5 and 2.0 < float(post["alpha"].mean()) < 8.0
