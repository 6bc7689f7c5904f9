# The README's commands. Each target installs what it needs into .venv first.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
# checkov pins boto3 and packaging versions that clash with moto's, so it gets a venv of its own.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
# moto's server extra caps cfn-lint at 1.41, which misreads CDK dashboards; the linter gets a venv of its own too.
CFN_LINT_VENV := .venv-cfn-lint
CFN_LINT_STAMP := $(CFN_LINT_VENV)/.installed
# The CDK CLI, pinned in package-lock.json.
NODE_STAMP := node_modules/.installed
# `make synth REGION=eu-central-1`; see the README's deploy section.
REGION ?= eu-north-1

.PHONY: install run test test-fast lint typecheck browser synth bench chaos fuzz clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(CHECKOV_STAMP):
	test -x $(CHECKOV_VENV)/bin/python || python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet 'checkov==3.3.30'
	touch $(CHECKOV_STAMP)

$(CFN_LINT_STAMP):
	test -x $(CFN_LINT_VENV)/bin/python || python3 -m venv $(CFN_LINT_VENV)
	$(CFN_LINT_VENV)/bin/python -m pip install --quiet 'cfn-lint==1.58.0'
	touch $(CFN_LINT_STAMP)

$(NODE_STAMP): package-lock.json
	npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

install: $(STAMP) $(CHECKOV_STAMP) $(CFN_LINT_STAMP)

run: $(STAMP)
	$(VENV)/bin/samtykke local

# synth installs node_modules (npm ci): the CDK CLI and axe-core, which the console's browser tests inject.
test: $(STAMP) browser $(CHECKOV_STAMP) $(CFN_LINT_STAMP) lint typecheck synth
	$(PY) -m pytest

# Finds a Chromium for the e2e tests or gets one (apt as root, else Playwright's download); else stops with one line.
browser: $(STAMP)
	$(PY) -m tests.browser $(PY)

test-fast: $(STAMP)
	$(PY) -m pytest tests/unit tests/integration -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy layers/core/samtykke functions infra

# Offline, with every way to AWS credentials closed: the app needs no account, and cdk-nag fails it on any finding.
synth: $(STAMP) $(NODE_STAMP)
	AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true \
	  env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN -u AWS_PROFILE \
	  npx cdk synth --quiet -c region=$(REGION)

bench: $(STAMP)
	$(PY) -m tests.bench.run

# The chaos scenarios at the issue's sizes, behind the fault proxy (docs/reliability.md); `make test` runs them small.
chaos: $(STAMP)
	$(PY) -m tests.chaos.run

# Schemathesis over every operation of /openapi.json on a fresh local stack; fails on any 5xx or schema violation.
fuzz: $(STAMP)
	$(PY) -m tests.fuzz.run

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) $(CFN_LINT_VENV) node_modules cdk.out .build .samtykke
