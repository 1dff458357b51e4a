# Two commands on a fresh machine: `make demo` and `make test`. Each installs what it needs.
SHELL := /bin/bash
VENV  := .venv
BIN   := $(VENV)/bin
STAMP := $(VENV)/.installed
export SAM_CLI_TELEMETRY := 0

.PHONY: demo test lint typecheck build validate bench schemas deploy clean system-deps

$(STAMP): requirements-dev.txt layers/shared/requirements.txt pyproject.toml
	@$(MAKE) --no-print-directory system-deps
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

# Debian packages the local stack and the tests use: git (git daemon serves the GitOps remote),
# skopeo (the release-copy buildspec) and docker-registry (local OCI registries).
system-deps:
	@missing=""; command -v git >/dev/null || missing="$$missing git"; \
	command -v skopeo >/dev/null || missing="$$missing skopeo"; \
	command -v docker-registry >/dev/null || missing="$$missing docker-registry"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

demo: system-deps $(STAMP)
	$(BIN)/onboarding-local run

test: system-deps $(STAMP)
	$(BIN)/pytest -n 2 --dist loadgroup -q

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy layers/shared local

validate: $(STAMP)
	$(BIN)/sam validate --lint

build: $(STAMP)
	$(BIN)/sam build

schemas: $(STAMP)
	$(BIN)/python -m onboarding.schemas schemas/v1

bench: system-deps $(STAMP)
	$(BIN)/python benchmarks/run.py

deploy: build
	$(BIN)/sam deploy

clean:
	rm -rf .aws-sam .local-stack .bench
