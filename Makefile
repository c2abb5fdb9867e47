# Two commands do all the set-up from a fresh clone:
#   make demo   - builds .venv (first time only) and runs the main job on the bundled CDNOW data
#   make test   - builds .venv (first time only) and runs the whole test suite
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EXTRAS ?= test,spark,mlflow
OUT ?= out

.PHONY: demo test venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@bash .ci/make-venv "$(VENV)" "$(EXTRAS)"
	@# compile every model's sampler callbacks and scoring kernels once, at set-up (clv compile)
	$(VENV)/bin/clv compile
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/clv demo --out $(OUT)

test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadgroup -q $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
