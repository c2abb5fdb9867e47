"""``python -m clvmodels.cli``: the same as the ``clv`` command."""
import sys

from . import main

sys.exit(main())
