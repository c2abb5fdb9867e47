"""Plots of fitted models and forecasts (matplotlib; ArviZ for the posterior).

Every ``plot_*`` function returns the matplotlib ``Figure`` it drew on. Those that draw one panel take
an optional ``ax`` to draw into an existing figure. The numbers drawn are kept on the figure as
``fig.clvmodels_data`` (a dict of DataFrames), and the ``*_data`` functions return them without
plotting. Plots of model quantities use at most ``max_draws`` posterior draws (thinned evenly, 200 by
default) and work chunk by chunk over customers or grid cells, so their memory stays bounded on large
bases.

Model checking (any transaction model on a calibration/holdout split):

- :func:`plot_tracking` - cumulative and per-period repeat transactions, actual against expected,
  across calibration and holdout (Fader, Hardie & Lee 2005, figs. 1-2);
- :func:`plot_conditional_expectations` - mean holdout purchases by calibration frequency (FHL fig. 3);
- :func:`plot_period_transactions` - customers with 0, 1, 2, ... repeat purchases, actual against
  the posterior predictive;
- :func:`plot_pit` (the non-randomized PIT histogram, :func:`pit_data`), :func:`plot_interval_coverage` - calibration of the predictive distributions and intervals.

Prior predictive checks (what the priors say before a fit; an unfitted model is accepted): ``prior=True``
on :func:`plot_period_transactions`, :func:`plot_tracking` (:func:`prior_tracking_data`) and
:func:`plot_spend_distribution` (the Gamma-Gamma's spend distribution, also its posterior predictive
without ``prior``); see :func:`clvmodels.prior_predictive`.

Model quantities: :func:`plot_frequency_recency_matrix` (:func:`plot_expected_purchases_matrix`,
:func:`plot_p_alive_matrix`), :func:`plot_customer_history` (one customer's P(alive) path),
:func:`plot_p_alive_paths` (many customers' paths from :func:`clvmodels.p_alive_paths`).

Value (from the forecast table): :func:`plot_clv_distribution`, :func:`plot_top_customers`,
:func:`plot_historical_vs_predicted` (:func:`value_periods`: the periods their historical and predicted
values cover, for their labels).

Posterior: :func:`plot_trace`, :func:`plot_posterior`, :func:`plot_posterior_comparison`.
"""
from .calibration import interval_coverage_data, pit_data, plot_interval_coverage, plot_pit
from .conditional import conditional_expectations_data, plot_conditional_expectations
from .customer import customer_history_data, plot_customer_history, plot_p_alive_paths
from .matrices import (frequency_recency_matrix, plot_expected_purchases_matrix, plot_frequency_recency_matrix,
                       plot_p_alive_matrix)
from .period import period_transactions_data, plot_period_transactions
from .posterior import diagnostics_text, plot_posterior, plot_posterior_comparison, plot_trace
from .spend import plot_spend_distribution, spend_distribution_data
from .tracking import plot_tracking, prior_tracking_data, tracking_data
from .value import (plot_clv_distribution, plot_historical_vs_predicted, plot_top_customers, value_concentration,
                    value_periods)

__all__ = [
    "plot_tracking", "tracking_data", "prior_tracking_data",
    "plot_spend_distribution", "spend_distribution_data",
    "plot_conditional_expectations", "conditional_expectations_data",
    "plot_period_transactions", "period_transactions_data",
    "plot_pit", "pit_data", "plot_interval_coverage", "interval_coverage_data",
    "plot_frequency_recency_matrix", "plot_expected_purchases_matrix", "plot_p_alive_matrix",
    "frequency_recency_matrix",
    "plot_customer_history", "customer_history_data", "plot_p_alive_paths",
    "plot_clv_distribution", "plot_top_customers", "plot_historical_vs_predicted", "value_concentration",
    "value_periods",
    "plot_trace", "plot_posterior", "plot_posterior_comparison", "diagnostics_text",
]
