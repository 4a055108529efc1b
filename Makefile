# Two commands for a fresh Debian machine (root, Docker optional):
#   make demo   build everything and run the stack locally, print the URL and logins
#   make test   build everything and run the whole test suite (unit, integration, e2e)
# Both are idempotent: a second run reuses the venv, base image, wheelhouse and images.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PROJECT ?= dlcourse
PYTEST_ARGS ?=

.PHONY: help demo down status test lint unit e2e images docker base-image wheelhouse \
        course-release course-source lock clean

help:
	@echo "make demo | make down | make test | make lint | make images | make lock"

# --- Python environment for building and testing -------------------------------------
$(VENV)/.installed: constraints.txt requirements-dev.txt images/*/requirements.txt \
                    course/pyproject.toml hub/pyproject.toml grader_service/pyproject.toml
	@scripts/ensure-system-packages.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -c constraints.txt -r requirements-dev.txt \
	  -e "./course[frameworks,plots]" -e ./hub -e "./grader_service[server,sandbox,postgres,kubernetes,test]" --config-settings editable_mode=compat \
	  $(shell sed -e 's/#.*//' images/singleuser/requirements.txt | grep -v '^dlcourse' | tr '\n' ' ')
	touch $@

venv: $(VENV)/.installed

# --- Docker images -------------------------------------------------------------------
docker:
	@scripts/ensure-docker.sh

base-image: docker
	@scripts/ensure-system-packages.sh
	@scripts/bootstrap-base-image.sh

wheelhouse: venv
	@scripts/build-wheelhouse.sh

course-release: venv
	@scripts/build-course-release.sh

course-source: venv
	@scripts/build-course-source.sh

images/hub/chp/node_modules: images/hub/chp/package-lock.json
	cd images/hub/chp && npm ci --no-audit --no-fund --silent
	touch $@

images: base-image wheelhouse course-release course-source images/hub/chp/node_modules
	@scripts/build-images.sh

# --- The stack -----------------------------------------------------------------------
demo: images
	$(PY) -m scripts.localstack up --project $(PROJECT) --release m01_foundations

down: venv
	$(PY) -m scripts.localstack down --project $(PROJECT)

status: venv
	$(PY) -m scripts.localstack status --project $(PROJECT)

# --- Tests ---------------------------------------------------------------------------
lint: venv
	$(VENV)/bin/ruff check .

test: lint images
	$(VENV)/bin/pytest $(PYTEST_ARGS)

unit: venv
	$(VENV)/bin/pytest -m "not docker" $(PYTEST_ARGS)

e2e: images
	$(VENV)/bin/pytest tests/e2e $(PYTEST_ARGS)

lock:
	scripts/lock.sh

clean:
	rm -rf build $(VENV)
