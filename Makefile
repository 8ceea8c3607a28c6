# The two commands: `make dev` runs the whole community, `make test` runs every test.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
VENV := .venv
PY := $(VENV)/bin/python

WEB := services/gateway/web
WEB_SOURCES := $(shell find $(WEB)/src $(WEB)/public -type f 2>/dev/null) $(wildcard $(WEB)/*.json $(WEB)/*.ts $(WEB)/index.html)

.PHONY: dev test lint format setup web asyncapi clean

$(VENV)/.synced: pyproject.toml uv.lock libs/common/pyproject.toml $(wildcard services/*/pyproject.toml) scripts/bootstrap.sh
	scripts/bootstrap.sh
	touch $@

setup: $(VENV)/.synced

$(WEB)/dist/index.html: $(WEB_SOURCES) scripts/web.sh
	scripts/web.sh build

web: $(WEB)/dist/index.html  ## build the web UI (again only when its sources changed)

dev: setup web  ## the whole community in one process on embedded defaults
	$(PY) -m aic_gateway.dev

# The service images, aic/<service>:$(TAG), one Dockerfile target each (docs/deploy.md).
IMAGES := auth social files simulator gateway
TAG ?= dev
REGISTRY ?=

.PHONY: images
images: $(IMAGES:%=image-%)  ## build every service image (TAG=..., REGISTRY=registry.example.com/)

image-%:  ## build one, e.g. make image-gateway
	docker build --target $* -t $(REGISTRY)aic/$*:$(TAG) .

.PHONY: stack
stack: setup  ## every service its own process on MySQL and RabbitMQ, the gateway in front (AIC_STACK_*)
	$(PY) -m aic_gateway.stack

test: setup web  ## lint, the web UI's unit tests and every other test, against the real services this machine has
	scripts/test.sh

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

.PHONY: bench
bench: setup  ## every benchmark on this machine (MariaDB, RabbitMQ, Redis), written to docs/benchmarks.md
	eval "$$(scripts/local-services.sh)" && $(PY) -m bench $(BENCH_ARGS)

asyncapi: setup  ## regenerate docs/asyncapi.json from the message catalogue
	$(PY) -m aic_common.asyncapi docs/asyncapi.json

clean:
	rm -rf $(VENV) .tools var .pytest_cache .ruff_cache $(WEB)/node_modules $(WEB)/dist
