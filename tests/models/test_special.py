"""The robust Gauss hypergeometric function against mpmath (40 digits) and closed forms."""
from __future__ import annotations

import itertools
import warnings

import mpmath as mp
import numpy as np
import pytest

from clvmodels.models.numerics.special import (hyp2f1, hyp2f1_scaled, hyp2f1_series, lbeta, log1mexp, log_hyp2f1,
                                               softplus)

mp.mp.dps = 40


def _mp_log_hyp2f1(a, b, c, z_num, z_den):
    """log|2F1| and its sign at 40 digits; z = z_num / z_den formed in mpmath so 1 - z is exact."""
    z = mp.mpf(z_num) / mp.mpf(z_den)
    v = mp.hyp2f1(mp.mpf(a), mp.mpf(b), mp.mpf(c), z)
    return float(mp.log(abs(v))), int(mp.sign(v))


def _bgnbd_grid():
    """The 2F1 of FHL eq. 10, 2F1(r + x, b + x; a + b + x - 1; t/(alpha + T + t)), over x up to 1,000,
    T up to 10,000 periods, horizons up to 10,000 periods (z up to 1 - 5e-5) and a near 1."""
    rows = []
    for r, alpha, a, b, x, T, t in itertools.product(
            [0.05, 0.25, 2.0], [0.5, 4.4], [0.3, 0.8, 0.999, 1.25, 4.0], [0.15, 2.5, 40.0],
            [0, 1, 3, 30, 1000], [0.0, 40.0, 10_000.0], [1.0, 52.0, 10_000.0]):
        if abs(a + b + x - 1) < 1e-9:
            continue
        rows.append((r + x, b + x, a + b + x - 1, t, alpha + T + t, alpha + T))
    return np.array(rows)


def test_hyp2f1_bgnbd_grid_matches_mpmath():
    rows = _bgnbd_grid()
    rng = np.random.default_rng(0)
    rows = rows[rng.choice(len(rows), 700, replace=False)]
    A, B, C, num, den, zc_num = rows.T
    lv, sg = log_hyp2f1(A, B, C, num / den, one_minus_z=zc_num / den)
    assert np.all(np.isfinite(lv))
    for i in range(len(rows)):
        ref, sref = _mp_log_hyp2f1(A[i], B[i], C[i], num[i], den[i])
        assert sg[i] == sref
        # log-space comparison: absolute error in the log = relative error of the value
        assert abs(lv[i] - ref) <= 1e-11 * max(1.0, abs(ref)), (rows[i], lv[i], ref)


@pytest.mark.parametrize("x", [0, 1, 5, 100, 1000])
def test_hyp2f1_large_frequency_near_one_is_finite_and_accurate(x):
    # short history (alpha + T = 1), horizon 10,000: z = 1 - 1e-4; values up to about 10^(4 x)
    r, a, b, A0, t = 0.25, 0.8, 2.5, 1.0, 10_000.0
    lv, sg = log_hyp2f1(r + x, b + x, a + b + x - 1, t / (A0 + t), one_minus_z=A0 / (A0 + t))
    ref, sref = _mp_log_hyp2f1(r + x, b + x, a + b + x - 1, t, A0 + t)
    assert np.isfinite(lv) and sg == sref
    assert abs(lv - ref) <= 1e-12 * max(1.0, abs(ref))


def test_hyp2f1_random_parameters_match_mpmath():
    rng = np.random.default_rng(1)
    n = 400
    a = rng.uniform(-1, 30, n)
    b = rng.uniform(-1, 30, n)
    c = rng.uniform(0.05, 40, n)
    u = 10 ** rng.uniform(-7, 0, n)  # 1 - z from 1e-7 to 1
    v, ls = hyp2f1_scaled(a, b, c, 1 - u, one_minus_z=u)
    for i in range(n):
        ref = mp.hyp2f1(mp.mpf(a[i]), mp.mpf(b[i]), mp.mpf(c[i]), 1 - mp.mpf(u[i]))
        if ref == 0:
            continue
        rel = abs(mp.mpf(v[i]) * mp.exp(mp.mpf(ls[i])) / ref - 1)
        assert rel < 1e-11, (a[i], b[i], c[i], u[i], float(rel))


def test_hyp2f1_integer_c_minus_a_minus_b():
    # c - a - b = 0, 1, 2 exactly: where the 1 - z connection formulas need special cases
    z = np.array([0.3, 0.9, 0.999, 1 - 1e-6])
    for a, b, m in [(0.7, 1.3, 0), (0.25, 2.5, 1), (3.0, 0.5, 2), (1.5, 1.5, 0)]:
        got = hyp2f1(a, b, a + b + m, z)
        for zi, gi in zip(z, got):
            ref = float(mp.hyp2f1(a, b, a + b + m, zi))
            assert gi == pytest.approx(ref, rel=1e-12)


def test_hyp2f1_closed_forms():
    z = np.linspace(0.0, 0.999999, 60)
    with np.errstate(divide="ignore", invalid="ignore"):
        ref = np.where(z > 0, -np.log1p(-z) / z, 1.0)
    np.testing.assert_allclose(hyp2f1(1.0, 1.0, 2.0, z), ref, rtol=1e-13)  # DLMF 15.4.2
    np.testing.assert_allclose(hyp2f1(2.5, 3.0, 3.0, z), (1 - z) ** -2.5, rtol=1e-13)  # 2F1(a, b; b; z)
    s = np.linspace(0.0, 0.999, 50)
    with np.errstate(divide="ignore", invalid="ignore"):
        ref = np.where(s > 0, np.arcsin(s) / s, 1.0)
    np.testing.assert_allclose(hyp2f1(0.5, 0.5, 1.5, s * s), ref, rtol=1e-13)  # DLMF 15.4.4
    # a terminating series (polynomial): 2F1(-3, b; c; z)
    b, c = 2.2, 1.7
    poly = 1 - 3 * b / c * z + 3 * b * (b + 1) / (c * (c + 1)) * z**2 - b * (b + 1) * (b + 2) / (c * (c + 1) * (c + 2)) * z**3
    np.testing.assert_allclose(hyp2f1(-3.0, b, c, z), poly, rtol=1e-11, atol=1e-14)


def test_hyp2f1_overflow_only_beyond_double_range():
    # value about (1 - z)^-(r + x) = 1e4000: hyp2f1 overflows, the scaled and log forms do not
    x, z, zc = 1000.0, 1 - 1e-4, 1e-4
    v, ls = hyp2f1_scaled(0.25 + x, 2.5 + x, 2.3 + x, z, one_minus_z=zc)
    assert np.isfinite(v) and np.isfinite(ls) and ls > 700
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isinf(hyp2f1(0.25 + x, 2.5 + x, 2.3 + x, z, one_minus_z=zc))
    assert np.isfinite(log_hyp2f1(0.25 + x, 2.5 + x, 2.3 + x, z, one_minus_z=zc)[0])


def test_hyp2f1_broadcasts_and_checks_domain():
    a = np.full((3, 1), 0.5)
    z = np.linspace(0, 0.9, 4)
    out = hyp2f1(a, 1.0, 2.0, z)
    assert out.shape == (3, 4)
    assert np.all(out[:, 0] == 1.0)
    for bad in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError):
            hyp2f1(1.0, 1.0, 2.0, bad)


@pytest.mark.parametrize("a, b, c, t, den", [
    (2.0, 0.15, 3.15, 10_000.0, 10_000.5),   # scipy 1.18 returns inf (true value 1.236)
    (3.0, 1.15, 4.15, 10_000.0, 10_004.4),   # scipy 1.18 is 40% off
    (5.0, 3.15, 6.15, 10_000.0, 10_004.4),   # scipy 1.18 is 3e-5 off
    (200.25, 202.5, 202.3, 999.0, 1000.0),   # the value (2e601) overflows; its log does not
])
def test_hyp2f1_where_scipy_fails(a, b, c, t, den):
    # BG/NBD arguments (r + x, b + x; a + b + x - 1; t/(alpha + T + t)) with integer c - a - b near z = 1,
    # where scipy.special.hyp2f1 breaks down: compared with mpmath instead
    lv, sg = log_hyp2f1(a, b, c, t / den, one_minus_z=(den - t) / den)
    ref, sref = _mp_log_hyp2f1(a, b, c, t, den)
    assert sg == sref and lv == pytest.approx(ref, rel=1e-12, abs=1e-12)


def test_series_with_offset_start():
    # sum_{n>=1} of the 2F1 terms equals 2F1 - 1
    a, b, c, z = 0.4, 1.7, 2.9, 0.6
    s, _, ls = hyp2f1_series(a, b, c, z, n0=1, t0=a * b / c * z)
    assert s * np.exp(ls) == pytest.approx(float(mp.hyp2f1(a, b, c, z)) - 1, rel=1e-14)
    f, df, ls = hyp2f1_series(a, b, c, z, derivative=True)
    assert df * np.exp(ls) == pytest.approx(float(mp.diff(lambda t: mp.hyp2f1(a, b, c, t), z)), rel=1e-12)


def test_log_helpers():
    x = np.array([-1e-20, -1e-5, -0.5, -5.0, -800.0])
    with mp.workdps(50):  # explicit precision: other tests change mpmath's global one
        expected = [float(mp.log(1 - mp.exp(mp.mpf(v)))) for v in x]
    np.testing.assert_allclose(log1mexp(x), expected, rtol=1e-14)
    np.testing.assert_allclose(softplus(np.array([-800.0, 0.0, 800.0])), [0.0, np.log(2.0), 800.0])
    assert lbeta(3.0, 4.0) == pytest.approx(np.log(1 / 60))
