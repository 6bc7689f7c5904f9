# The README's commands. Each target installs what it needs into .venv first.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1

.PHONY: install run test test-fast lint typecheck synth bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/samtykke local

test: $(STAMP) lint typecheck
	$(PY) -m pytest

test-fast: $(STAMP)
	$(PY) -m pytest tests/unit tests/integration -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy layers/core/samtykke functions infra

synth: $(STAMP)
	npx --yes cdk synth --quiet

bench: $(STAMP)
	$(PY) -m pytest tests/bench -m bench -q -s

clean:
	rm -rf $(VENV) cdk.out .build .samtykke
