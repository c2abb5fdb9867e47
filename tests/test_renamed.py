"""Renamed keywords keep working (deprecate, don't break): the functions that took the BG/NBD and
Gamma-Gamma models by those names now take any purchase and spend model, and the old names still work
with a DeprecationWarning."""
from __future__ import annotations

import pandas as pd
import pytest

from clvmodels.scoring import score
from clvmodels.validation import validate_purchases


def test_old_model_keywords_give_the_same_table_with_a_warning(cdnow_split, cdnow_bgnbd, cdnow_gamma_gamma):
    data = cdnow_split.head(200)
    new = score(data, cdnow_bgnbd, cdnow_gamma_gamma, "26W", max_draws=100)
    with pytest.warns(DeprecationWarning, match="bgnbd_model= is now called purchase_model="):
        old = score(data, bgnbd_model=cdnow_bgnbd, gamma_gamma_model=cdnow_gamma_gamma, horizon="26W", max_draws=100)
    pd.testing.assert_frame_equal(new, old)
    with pytest.raises(TypeError, match="both bgnbd_model= and purchase_model="):
        score(data, purchase_model=cdnow_bgnbd, bgnbd_model=cdnow_bgnbd, spend_model=cdnow_gamma_gamma, horizon="26W")


def test_validate_purchases_takes_its_old_keyword(cdnow_split, cdnow_bgnbd):
    data = cdnow_split.head(300)
    with pytest.warns(DeprecationWarning):
        old = validate_purchases(bgnbd=cdnow_bgnbd, summary=data, max_draws=100)
    new = validate_purchases(cdnow_bgnbd, data, max_draws=100)
    assert old["mae"] == new["mae"] and old["holdout_log_score"] == new["holdout_log_score"]
