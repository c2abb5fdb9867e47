"""Models: each model's mathematics in its own module, one shared fitting path."""
from .bgnbd_model import BetaGeoModel
from .fitting import ConvergenceWarning, Diagnostics, FitConfig
from .gamma_gamma_model import GammaGammaModel
from .priors import Prior

__all__ = ["BetaGeoModel", "GammaGammaModel", "Prior", "FitConfig", "Diagnostics", "ConvergenceWarning"]
