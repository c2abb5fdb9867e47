"""The public surface of ``import clvmodels``: every name it lists resolves, importing it (and the CLI)
stays light (PyMC, PyTensor and PySpark load on first use), and the names the README uses exist."""
from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import clvmodels

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
HEAVY = ("pymc", "pytensor", "pyspark", "numba", "arviz")


def _resolve(dotted: str):
    """``a.b.c`` as a module and attributes: the longest importable module prefix, then getattr."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for name in parts[i:]:
            obj = getattr(obj, name)
        return obj
    raise ModuleNotFoundError(dotted)


def _loaded_after(code: str) -> list[str]:
    """The heavy top-level packages in sys.modules after running ``code`` in a fresh interpreter."""
    probe = (f"import sys\n{code}\nimport json\n"
             f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", clvmodels.__all__)
def test_every_public_name_resolves(name):
    assert getattr(clvmodels, name) is not None
    assert name in dir(clvmodels)


def test_the_names_that_belong_together_are_top_level():
    from clvmodels.io import atomic
    from clvmodels.models import fitting
    from clvmodels.validation import spend

    assert clvmodels.validate_spend is spend.validate_spend
    assert clvmodels.ConvergenceWarning is fitting.ConvergenceWarning
    assert clvmodels.FORECAST_COLUMNS is importlib.import_module("clvmodels.scoring").FORECAST_COLUMNS
    assert clvmodels.load_models is importlib.import_module("clvmodels.pipeline").load_models
    assert clvmodels.historical_clv is importlib.import_module("clvmodels.value").historical_clv
    assert clvmodels.staged_outputs is atomic.staged_outputs
    assert clvmodels.io.read_table_metadata is atomic.read_table_metadata
    assert {"staged_outputs", "read_table_metadata", "write_table"} <= set(clvmodels.io.__all__)
    assert "spark" in clvmodels.__all__ and clvmodels.spark is importlib.import_module("clvmodels.spark")


def test_unknown_names_raise_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        clvmodels.nope  # noqa: B018


def test_importing_clvmodels_and_listing_it_stays_light():
    assert _loaded_after("import clvmodels; dir(clvmodels); clvmodels.__all__") == []
    # the Spark extra is an attribute, and reaching it imports no PySpark
    assert _loaded_after("import clvmodels; clvmodels.spark.summarize_spark") == []
    # the CLI's entry point (clv --help starts quickly)
    assert _loaded_after("import clvmodels.cli") == []


def test_the_readme_names_exist():
    code = "\n".join(re.findall(r"```python\n(.*?)```", README, flags=re.S))
    assert "import clvmodels as clv" in code
    # ``clv.`` (``import clvmodels as clv``) in the code blocks and the prose's code spans
    names = set(re.findall(r"\bclv\.([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)", README))
    dotted = {f"clvmodels.{n}" for n in names}
    dotted |= {f"clvmodels.spark.{n}" for n in re.findall(r"\bclvspark\.([A-Za-z_]\w*)", code)}
    dotted |= set(re.findall(r"`(clvmodels(?:\.[A-Za-z_]\w*)+)", README))
    for name in re.findall(r"from (clvmodels[\w.]*) import (\w+)", code):
        dotted.add(".".join(name))
    assert {"clvmodels.summarize", "clvmodels.Prior", "clvmodels.spark.score_spark"} <= dotted
    missing = []
    for d in sorted(dotted):
        try:
            _resolve(d)
        except (ImportError, AttributeError):
            missing.append(d)
    assert not missing, f"the README names these, but they do not resolve: {missing}"
    # names the README uses in prose as top-level
    for name in ("historical_clv", "ConvergenceWarning", "Prior", "BetaGeoModel", "GammaGammaModel", "forecast",
                 "score", "summarize", "customer_lifetime_value", "value_segments", "validate_purchases"):
        assert name in clvmodels.__all__, name
