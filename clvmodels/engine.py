"""Old name of :mod:`clvmodels.scoring.arrays` (the scoring computation, :func:`score_arrays`; "engine"
now means only the summary engines of :mod:`clvmodels.data`): the same module under the name it had."""
import sys

from .scoring import arrays as _arrays

sys.modules[__name__] = _arrays
