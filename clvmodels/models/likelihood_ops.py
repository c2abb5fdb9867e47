"""Old path of the fused log-likelihood Ops, now split by model: the shared machinery (digamma, the
vectorised exp/log1p, the Op base) in :mod:`clvmodels.models.numerics.fused_op`, the BG/NBD kernel and
Op in :mod:`clvmodels.models.bgnbd.likelihood`, the Gamma-Gamma kernel, spend binning and Op in
:mod:`clvmodels.models.gamma_gamma.likelihood` (each registers its own numba implementation). Kept so
that imports from here keep working."""
from .bgnbd.likelihood import (_BLOCK, BetaGeoLogLike, _bgnbd_kernel, _block_sums, _softplus_block, bgnbd_data,
                               bgnbd_loglike)
from .gamma_gamma.likelihood import (GG_BIN_WIDTH, GG_COMPRESS_ROWS, GammaGammaLogLike, _factorize, _gamma_gamma_kernel,
                                     bin_spend, gamma_gamma_data, gamma_gamma_loglike)
from .numerics.fused_op import (_BIASED, _JIT, _LN2_HI, _LN2_LO, _LOG2E, _ROOT_HI, _ROOT_LO, _ROOT_TAYLOR, _ROUND,
                                _bits_to_float, _digamma_many, _exp_nonpos, _float_to_bits,
                                _FusedLogLike, _log1p_unit, _scalar, digamma)

__all__ = ["digamma", "BetaGeoLogLike", "GammaGammaLogLike", "bgnbd_loglike", "gamma_gamma_loglike",
           "bgnbd_data", "gamma_gamma_data", "bin_spend"]
