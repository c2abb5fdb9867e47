"""Shared fixtures: the bundled CDNOW sample, its 39/39-week calibration/holdout summary, and fitted
models (fitted once per test session, since NUTS fits are the slow part of the suite)."""
from __future__ import annotations

import os
import warnings

import pandas as pd
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

# Published CDNOW figures (Fader, Hardie & Lee 2005; see the README's references)
CDNOW_BGNBD_MLE = {"r": 0.2426, "alpha": 4.4136, "a": 0.7929, "b": 2.4259}
CDNOW_BGNBD_PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
CDNOW_GG_MLE = {"p": 6.2488, "q": 3.7446, "v": 15.4478}


@pytest.fixture(scope="session")
def cdnow_transactions() -> pd.DataFrame:
    from clvmodels.datasets import load_cdnow_sample

    return load_cdnow_sample()


@pytest.fixture(scope="session")
def cdnow_split(cdnow_transactions) -> pd.DataFrame:
    """39-week calibration ending 1997-09-30, 39-week holdout ending 1998-06-30, weeks."""
    from clvmodels import summarize

    return summarize(cdnow_transactions, customer_id="customer_id", date="date", amount="amount",
                     calibration_end="1997-09-30", observation_end="1998-06-30", time_unit="W")


@pytest.fixture(scope="session")
def cdnow_bgnbd(cdnow_split):
    """BG/NBD fitted by NUTS with the default priors (4 chains x 1000 draws)."""
    from clvmodels import BetaGeoModel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return BetaGeoModel(seed=2024, progressbar=False).fit(cdnow_split)


@pytest.fixture(scope="session")
def cdnow_gamma_gamma(cdnow_split):
    from clvmodels import GammaGammaModel

    return GammaGammaModel(seed=2024, progressbar=False).fit(cdnow_split)


def check_value_and_gradient(out, reference, point: dict, keys) -> None:
    """A fused log-likelihood's output ``out`` (value, then one partial derivative per name in ``keys``) at
    ``point`` against ``reference(values) -> float``, an independent computation: the value to 1e-10
    relative, each derivative to central differences of the reference (step 1e-5 x max(1, |value|))."""
    ref = reference(point)
    assert abs(out[0] - ref) <= 1e-10 * abs(ref)
    for k, g in zip(keys, out[1:]):
        h = 1e-5 * max(1.0, abs(point[k]))
        num = (reference({**point, k: point[k] + h}) - reference({**point, k: point[k] - h})) / (2 * h)
        assert g == pytest.approx(num, rel=1e-6, abs=1e-6), k
