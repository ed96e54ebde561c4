# bare: the two commands a fresh machine needs are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.bare-installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test test-compiled test-pure bench lint annotate clean

## install: create .venv and install bare (compiled strictly) with speedups, test and bench deps
install: $(STAMP)

$(STAMP): pyproject.toml setup.py $(wildcard src/bare/*.pyx)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	BARE_NO_EXTENSIONS=0 BARE_REQUIRE_EXTENSIONS=1 $(PY) -m pip install --quiet -e '.[speedups,test,bench,lint]'
	$(PY) -m bare --version
	$(PY) -c "import bare, sys; sys.exit(0 if bare.COMPILED else 'bare: the compiled modules are not live')"
	touch $(STAMP)

## run: serve the example app on uvicorn + uvloop + httptools at http://$(HOST):$(PORT)
run: install
	$(VENV)/bin/uvicorn examples.tasks:app --loop uvloop --http httptools --host $(HOST) --port $(PORT)

## test: the whole suite on both paths, then every benchmark once as a test
test: install test-compiled test-pure
	$(PY) -m pytest benchmarks --benchmark-disable -q

test-compiled: install
	$(PY) -m pytest

test-pure: install
	BARE_NO_EXTENSIONS=1 $(PY) -m pytest --no-extensions

## bench: measure both implementations side by side
bench: install
	$(PY) -m pytest benchmarks --benchmark-only --benchmark-group-by=group --benchmark-columns=min,median,ops,rounds --benchmark-sort=name

lint: install
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/ruff format --check src tests benchmarks examples
	$(VENV)/bin/mypy
	PATH=$(VENV)/bin:$$PATH $(VENV)/bin/cython-lint --max-line-length 100 src/bare

annotate: install
	$(VENV)/bin/cython -a src/bare/_router.pyx

clean:
	rm -rf build src/*.egg-info src/bare/*.c src/bare/*.so src/bare/*.html .pytest_cache .benchmarks
