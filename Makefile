# Two commands do all the set-up from a fresh clone:
#   make demo   - builds .venv (first time only) and runs the main job on the bundled CDNOW data
#   make test   - builds .venv (first time only) and runs the whole test suite
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EXTRAS ?= test,spark,mlflow
OUT ?= out
# test processes: the cores this machine gives us, at least 2 (the Spark tests run beside the rest) and at
# most 4 (each process holds PyMC, PyTensor and numba: about 1-2 GB)
TEST_JOBS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ "$$n" -gt 4 ] && n=4; [ "$$n" -lt 2 ] && n=2; echo $$n)

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
	$(PY) -m pytest -n $(TEST_JOBS) --dist loadgroup -q $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
