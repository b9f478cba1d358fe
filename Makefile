# The two commands of the README: `make demo` and `make test`.
# Each creates .venv when it is missing, installs torch==2.13.0 first (the CPU wheel kept on
# this machine; a plain `pip install torch` would pull a multi-GB CUDA build), then the
# package with its instructor and development extras.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.cnn-course-installed
PYTEST_ARGS ?=

.PHONY: demo test lab bench test-gpu install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(BIN)/python -m pip install --quiet torch==2.13.0

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[instructor,dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/cnn-course demo

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-gpu: $(STAMP)
	$(BIN)/python -m pytest -m cuda $(PYTEST_ARGS)

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks

bench: $(STAMP)
	@for script in benchmarks/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) course build *.egg-info
