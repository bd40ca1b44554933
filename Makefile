# The two entry points of the README. Each sets itself up on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.caas-installed

.PHONY: run test unit integration services bench clean label-docs golden

run: $(STAMP)
	$(BIN)/caas-all $(ARGS)

# Several pytest-xdist workers, a whole test file per worker (its fixtures
# stay together); workers after the first start their own PostgreSQL and
# RabbitMQ (tests/conftest.py). TEST_WORKERS=0 runs everything in-process.
TEST_WORKERS ?= 3
test: $(STAMP) services
	eval "$$(tools/services.sh start)" && $(BIN)/pytest -q -rfE -p no:cacheprovider --durations=40 \
	  -n $(TEST_WORKERS) --dist loadfile tests $(PYTEST_ARGS)

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit tests/functional $(PYTEST_ARGS)

# Every figure of benchmarks/ in one table, and benchmarks/results/latest.json.
# BENCH_SCALE=small (default, a few minutes) or full (issue 11's sizes, ~1 h).
bench: $(STAMP) services
	eval "$$(tools/services.sh start)" && $(BIN)/python benchmarks/bench.py

# The user guide's label page, from the drivers' label schemas (a unit test
# fails when the committed page is stale).
label-docs: $(STAMP)
	$(BIN)/python -m caas.drivers.labeldoc doc/source/labels.rst

# The Kubernetes driver's golden stack definitions, after an intended change
# (review the diff: it is what Heat will receive).
golden: $(STAMP)
	$(BIN)/python -m tests.unit.drivers.test_kubernetes_golden

# RabbitMQ comes from Debian; PostgreSQL is expected on the machine (the
# integration tests fail under CI, and skip elsewhere, when either is absent).
services:
	@command -v rabbitmq-server >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q rabbitmq-server; \
	  else echo "rabbitmq-server missing: sudo apt-get install rabbitmq-server" >&2; fi; }

$(STAMP): requirements.txt test-requirements.txt setup.cfg
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt -r test-requirements.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@

clean:
	tools/services.sh stop || true
	rm -rf $(VENV)
