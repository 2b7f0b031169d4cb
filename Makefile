# Two commands for a fresh machine: `make demo` and `make test`.
# Both install what they need first: a virtualenv in .venv and node tools in node_modules.
# `make demo` installs only the package with JupyterLab; `make test` adds the test and
# docs packages and, for the browser tests, Debian's chromium and chromium-driver.

PYTHON ?= python3

# Some images set PYTHONDONTWRITEBYTECODE: then every hub, single-user server and test
# worker compiles the package and the tests again (pytest rewrites each test module's
# asserts anew, about 2.5 s of CPU per worker). Cached bytecode is Python's default.
unexport PYTHONDONTWRITEBYTECODE
VENV := .venv
BIN := $(VENV)/bin

.PHONY: test test-jupyterhub4 jupyterhub4-venv demo install lint browser-deps postgres-deps benchmark clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml docs/requirements.txt
	$(BIN)/pip install --quiet -e ".[test]" -r docs/requirements.txt
	touch $@

# The demo needs the package and JupyterLab only (the full install above includes both).
$(VENV)/.installed-demo: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e ".[demo]"
	touch $@

node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

install: $(VENV)/.installed node_modules/.installed

browser-deps:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { (apt-get update -qq || sudo apt-get update -qq) && \
	    (apt-get install -y -qq chromium chromium-driver || sudo apt-get install -y -qq chromium chromium-driver); }

# The registration store's tests start a throwaway PostgreSQL server of their own from
# Debian's binaries (the cluster the package may start is not used).
postgres-deps:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
	  { (apt-get update -qq || sudo apt-get update -qq) && \
	    (DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql || \
	     sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql); }

lint: install
	$(BIN)/ruff check .

# Branch coverage of ltiauthenticator/ (in-process and subprocess hubs alike), with the
# lines not covered; under 90% fails (see [tool.coverage] in pyproject.toml).
# Two pytest-xdist workers, a test file at a time each (see XDIST_FIRST_UNITS in
# tests/conftest.py); a plain `pytest` runs everything in one process.
PYTEST_WORKERS := -n 2 --dist loadfile
test: install browser-deps postgres-deps lint
	$(BIN)/python -m pytest $(PYTEST_WORKERS) --durations=20 \
	  --cov=ltiauthenticator --cov-branch --cov-report=term-missing:skip-covered

# The oldest JupyterHub we support, in a virtualenv of its own: unit and real-HTTP tests.
# The virtualenv is made again when pyproject.toml changes (.ci/run makes it while
# `make test` runs: `make jupyterhub4-venv`).
JH4_VENV := .venv-jupyterhub4
$(JH4_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(JH4_VENV)
	$(JH4_VENV)/bin/pip install --quiet --upgrade pip
	$(JH4_VENV)/bin/pip install --quiet "jupyterhub==4.1.6" -e ".[test]"
	touch $@

jupyterhub4-venv: $(JH4_VENV)/.installed

test-jupyterhub4: $(JH4_VENV)/.installed node_modules/.installed
	$(JH4_VENV)/bin/python -m pytest $(PYTEST_WORKERS) tests/unit tests/flow tests/lti11 \
	  -p no:cacheprovider

# Other ports: make demo HUB_PORT=8001 LMS_PORT=8766
HUB_PORT ?= 8000
LMS_PORT ?= 8765
demo: $(VENV)/.installed-demo node_modules/.installed
	$(BIN)/python -m ltiauthenticator.demo --hub-port $(HUB_PORT) --lms-port $(LMS_PORT)

benchmark: install
	$(BIN)/python benchmarks/launch_storm.py

clean:
	rm -rf $(VENV) $(JH4_VENV) node_modules .demo .test-cache test-artifacts docs/build
