"""Old name of :mod:`clvmodels.draws` (the posterior-draw utilities): the same module under the name
it had, so that ``from clvmodels.predict import ...`` and patches of its attributes keep working."""
import sys

from . import draws as _draws

sys.modules[__name__] = _draws
