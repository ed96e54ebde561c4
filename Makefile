# bare: the two commands a fresh machine needs are `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# The CPythons that `make test-pythons` runs the suite on, each in .venvs/3.X.
PYTHONS ?= 3.10 3.11 3.12 3.13

# One install step per level, each recorded by a stamp and built on the one before:
# `make run` installs what serving needs, `make test` adds the test and benchmark
# dependencies, `make lint` the linters. Only the first level builds bare itself.
SERVE_STAMP := $(VENV)/.installed-serve
TEST_STAMP := $(VENV)/.installed-test
BENCH_STAMP := $(VENV)/.installed-bench
LINT_STAMP := $(VENV)/.installed-lint
DOCS_STAMP := $(VENV)/.installed-docs
EXTRAS := $(PY) scripts/install_extras.py

.PHONY: install run test test-compiled test-pure test-pythons mutation bench bench-compare lint docs \
	soak annotate dist check-dist clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

## install: create .venv and install bare, compiled strictly, with what serving the example app
## needs: the speedups extra (uvicorn, uvloop, httptools), jinja2 for its page and multipart
## for its upload form
install: $(SERVE_STAMP)

$(SERVE_STAMP): $(PY) pyproject.toml setup.py $(wildcard src/bare/*.pyx)
	BARE_NO_EXTENSIONS=0 BARE_REQUIRE_EXTENSIONS=1 $(PY) -m pip install --quiet -e '.[speedups,templates,forms]'
	$(PY) -m bare --version
	$(PY) -c "import bare, sys; sys.exit(0 if bare.COMPILED else 'bare: the compiled modules are not live')"
	touch $@

$(TEST_STAMP): $(SERVE_STAMP) scripts/install_extras.py scripts/install-system-packages
	bash scripts/install-system-packages
	$(EXTRAS) speedups test
	touch $@

$(BENCH_STAMP): $(TEST_STAMP)
	$(EXTRAS) speedups test bench
	touch $@

$(LINT_STAMP): $(TEST_STAMP)
	$(EXTRAS) speedups test lint
	touch $@

$(DOCS_STAMP): $(TEST_STAMP)
	$(EXTRAS) speedups test docs
	touch $@

## run: serve the example app on uvicorn + uvloop + httptools at http://$(HOST):$(PORT)
run: $(SERVE_STAMP)
	$(VENV)/bin/uvicorn examples.tasks:app --loop uvloop --http httptools --host $(HOST) --port $(PORT)

## test: the whole suite on both paths, then every benchmark once as a test
test: $(BENCH_STAMP) test-compiled test-pure
	$(PY) -m pytest benchmarks --benchmark-disable -q

test-compiled: $(TEST_STAMP)
	$(PY) -m pytest

test-pure: $(TEST_STAMP)
	BARE_NO_EXTENSIONS=1 $(PY) -m pytest --no-extensions

## test-pythons: the suite on both paths on every CPython in PYTHONS, each in .venvs/3.X
test-pythons:
	bash scripts/test-pythons $(PYTHONS)

## mutation: mutation testing of the request path on the pure modules (slow; not in make test)
mutation: $(TEST_STAMP)
	$(EXTRAS) speedups test mutation
	BARE_NO_EXTENSIONS=1 $(VENV)/bin/mutmut run --max-children 2
	$(PY) scripts/mutation_report.py

## bench: measure both implementations side by side
bench: $(BENCH_STAMP)
	$(PY) -m pytest benchmarks --benchmark-only --benchmark-group-by=group --benchmark-columns=min,median,ops,rounds --benchmark-sort=name

## bench-compare: bare against a raw ASGI floor and its peers, in process and over real HTTP
## (uvicorn + wrk, about 20 min): tables and charts in benchmarks/results/ and docs/assets/
bench-compare: $(BENCH_STAMP)
	bash scripts/install-system-packages wrk:wrk
	$(PY) -m benchmarks.compare.run

## soak: the leak checks of bare's compare app under uvicorn + wrk (not in make test): its
## RSS after 100k requests at most 5% above its RSS after 1k, on both paths, then a soak of
## SOAK_MINUTES of mixed load with flat RSS, descriptors, threads and tasks (benchmarks/results/)
SOAK_MINUTES ?= 10
soak: $(BENCH_STAMP)
	bash scripts/install-system-packages wrk:wrk
	$(PY) benchmarks/compare/memory.py
	$(PY) benchmarks/compare/soak.py --minutes $(SOAK_MINUTES)

## lint: ruff, mypy --strict and cython-lint
lint: $(LINT_STAMP)
	$(VENV)/bin/ruff check src tests benchmarks examples scripts
	$(VENV)/bin/ruff format --check src tests benchmarks examples scripts
	$(VENV)/bin/mypy
	PATH=$(VENV)/bin:$$PATH $(VENV)/bin/cython-lint --max-line-length 100 src/bare

## docs: the documentation site (mkdocs.yml) and its API reference, in build/site; strict, so a
## broken link, a missing anchor, a page left out of the nav or a docstring warning fails it
docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir build/site

## annotate: Cython's HTML report of the compiled router, in build/annotate/_router.html
# (written aside, so that the build's own src/bare/_router.c is left as it is)
annotate: $(SERVE_STAMP)
	$(PY) -m pip install --quiet 'Cython>=3.1'
	mkdir -p build/annotate
	$(VENV)/bin/cython -a -o build/annotate/_router.c src/bare/_router.pyx

DIST_STAMP := $(VENV)/.installed-dist
$(DIST_STAMP): $(SERVE_STAMP)
	$(EXTRAS) dist
	touch $@

## dist: into dist/, the sdist, then two wheels built from it, each in an isolated environment
## (so nothing built in place in the checkout can slip in): the compiled one, with release
## flags (Python's own -O level, no debug information, stripped), and the pure one
## (BARE_NO_EXTENSIONS=1, py3-none-any); twine then checks the metadata of all three.
## The sdist is made without compiling: it carries the .pyx sources either way (MANIFEST.in).
dist: $(DIST_STAMP)
	rm -rf build dist
	BARE_NO_EXTENSIONS=1 $(PY) -m build --quiet --sdist --outdir dist .
	BARE_NO_EXTENSIONS=0 BARE_REQUIRE_EXTENSIONS=1 BARE_DEBUG_BUILD=0 LDFLAGS=-s \
		$(PY) -m build --quiet --wheel --outdir dist dist/bare-*.tar.gz
	BARE_NO_EXTENSIONS=1 $(PY) -m build --quiet --wheel --outdir dist dist/bare-*.tar.gz
	$(VENV)/bin/twine check --strict dist/*

## check-dist: build the distributions, check what each carries (scripts/check_dist.py), then
## install each wheel, and the sdist built pure, into a fresh venv and smoke-test it there
## (scripts/dist_smoke.py); the sdist's build fetches setuptools and Cython from the index
check-dist: dist
	$(PY) scripts/check_dist.py dist

clean:
	rm -rf build dist src/*.egg-info src/bare/*.c src/bare/*.so src/bare/*.html .pytest_cache .benchmarks mutants
