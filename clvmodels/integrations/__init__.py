"""Optional integrations with other tools. Each module imports its tool only when its functions run, so
``import clvmodels`` (and ``import clvmodels.integrations.<tool>``) works without the tool installed.

- :mod:`clvmodels.integrations.mlflow`: log a forecast run to MLflow (the ``clvmodels[mlflow]`` extra;
  ``clv forecast --mlflow``).
"""
