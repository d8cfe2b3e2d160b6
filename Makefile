# Two entry points for a newcomer: `make demo` (a small real search) and `make test`.
# Both create .venv, install PyTorch (the CPU build where no GPU is present) and the package (with
# the test, PostgreSQL and MLflow extras, so the MLflow-callback test runs too).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# Where no NVIDIA GPU is present, install the CPU build of torch (2.13.0 admits the project's range).
# On a machine without a local torch wheel, set TORCH_INDEX=https://download.pytorch.org/whl/cpu.
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
# Tests and demos read the corpora from ../shared/data when it is there; else $HYPERPRUNE_DATA,
# ~/.cache/hyperprune, then a checksummed download.
ifneq ($(wildcard ../shared/data),)
export HYPERPRUNE_DATA ?= $(abspath ../shared/data)
endif

.PHONY: setup demo test browser clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	@if ! command -v nvidia-smi >/dev/null 2>&1; then \
		echo "no NVIDIA GPU found: installing the CPU build of $(TORCH_SPEC)"; \
		$(PIP) install -q "$(TORCH_SPEC)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)); \
	fi
	$(PIP) install -q -e ".[test,postgres,mlflow]"
	touch $@

demo: setup
	$(VENV)/bin/hyperprune search configs/demo.yaml

# The report test renders the page in Debian's headless Chromium; installed here when we can
# (root with apt-get), else that one test is skipped with its reason.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		{ echo "installing Debian's chromium for the report test"; \
		  (apt-get install -y -q chromium >/dev/null 2>&1 || \
		   (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1)) || \
		  echo "could not install chromium: the report's browser test will be skipped"; }; } || true

# The 15 slowest tests are listed after every run (CI runs this target), so a new slow one is seen.
# One pytest process a core (pytest-xdist), each test file in one process so that its module-scoped
# fixtures (a tiny search shared by its tests) are built once; one thread a process, so the
# processes do not fight over the cores. TEST_JOBS=0 runs everything in this process.
TEST_JOBS ?= auto
test: setup browser
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -n $(TEST_JOBS) --dist loadfile --durations=15

clean:
	rm -rf $(VENV) runs .pytest_cache
