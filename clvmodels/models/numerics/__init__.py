"""Numerics the models share, written once: special functions (:mod:`.special`: the Gauss
hypergeometric function and friends), the machinery of the fused log-likelihood Ops (:mod:`.fused_op`:
digamma, vectorised exp/log1p, the Op base) and quantiles by selection inside numba loops
(:mod:`.quantiles`), the covariates' likelihood over cells (:mod:`.cells_op`) and numba functions made
from generated source, cached on disk (:mod:`.generated`). Nothing here knows a model's parameters."""
