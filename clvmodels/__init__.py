"""clvmodels: probabilistic customer-lifetime-value models.

Pipeline: transaction log -> RFM summary (:mod:`clvmodels.data`) -> Bayesian BG/NBD and Gamma-Gamma
(:mod:`clvmodels.models`) -> per-customer predictions and discounted CLV (:mod:`clvmodels.value`)
-> tables, plots and a report (:mod:`clvmodels.io`, :mod:`clvmodels.plotting`, :mod:`clvmodels.report`).
"""
__version__ = "0.1.0"
