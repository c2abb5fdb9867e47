"""Old path of :mod:`clvmodels.models.bgnbd.model` (BetaGeoModel now lives in ``models/bgnbd/model.py``,
beside the BG/NBD's mathematics and likelihood); kept so that imports from here keep working."""
from .bgnbd.model import (BGNBD_COLUMNS, BetaGeoFamily, BetaGeoModel, _as_number, _count, _max_count_for,
                          _row_weights, _t0_mask, bgnbd_triplets, check_bgnbd_data, predictive_count_pmf,
                          predictive_count_summary)
