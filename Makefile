# vae-course: two commands a student needs (make lab, make test) and a few a maintainer needs.
# The virtual environment lives outside the clone, keyed by a hash of requirements.txt, so
# every clone on a machine shares one ~6 GB torch install and a changed requirements.txt
# builds a fresh one.

SHELL := /bin/bash
PYTHON ?= python3
REQ_HASH := $(shell sha256sum requirements.txt | cut -c1-12)
VENV ?= $(HOME)/.cache/vae-course/venv-$(REQ_HASH)
BIN := $(VENV)/bin
STAMP := $(VENV)/.vae-course-installed
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
# vaelib is imported from this clone, whichever clone installed the shared venv.
export PYTHONPATH := $(CURDIR)$(if $(PYTHONPATH),:$(PYTHONPATH))
export MPLBACKEND ?= Agg

.PHONY: help venv data lab test lint format unit notebooks figures bench course-time slides slides-pdf clean

help:
	@echo "make lab      set up (venv, data) and open the course in JupyterLab"
	@echo "make test     set up, then ruff, unit tests and every notebook under nbval (fast mode)"
	@echo "make figures  re-run every notebook in full mode, in place, regenerating pics/"
	@echo "make bench    the training loop's seconds per epoch against its compute floor (JSON)"
	@echo "make course-time  every notebook in full mode from empty checkpoints: docs/course_time.json"
	@echo "make slides   render slides/vae.html from slides/vae.md (make slides-pdf: a PDF, needs chromium)"
	@echo "venv: $(VENV)"

# No prerequisite: the path is keyed by the hash of requirements.txt (a fresh clone's file times
# say nothing), so a changed requirements.txt means a new venv, and an existing one is reused.
$(STAMP):
	@echo "==> building the course environment in $(VENV) (once per requirements.txt; torch is large)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --progress-bar off -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)
	@ln -sfn $(VENV) .venv

data: venv
	@$(BIN)/python -m vaelib.data --ensure

# LAB_ARGS passes flags on (e.g. make lab LAB_ARGS=--no-browser); root (a container) needs --allow-root.
LAB_ARGS ?=
lab: venv data
	$(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS) notebooks/

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Fast mode, figures and checkpoints in a temporary folder: a test run never touches pics/.
test: venv data lint
	@tmp=$$(mktemp -d); \
	VAELIB_FAST=1 VAELIB_PICS=$$tmp/pics VAELIB_CHECKPOINTS=$$tmp/checkpoints \
	$(BIN)/python -m pytest tests notebooks --nbval-lax --nbval-cell-timeout=900 -p no:cacheprovider; \
	rc=$$?; rm -rf $$tmp; exit $$rc

unit: venv
	VAELIB_FAST=1 VAELIB_PICS=$$(mktemp -d) $(BIN)/python -m pytest tests -p no:cacheprovider

# Full mode, in place, in lesson order (lesson 07 reuses the checkpoints of 01 and 06).
figures: venv data
	@for nb in $(NOTEBOOKS); do \
	  echo "==> $$nb (full mode)"; \
	  VAELIB_FAST=0 $(BIN)/jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.timeout=-1 "$$nb" || exit 1; \
	done

# The lessons' training loop against its floor (same step on one pre-loaded batch), per model.
bench: venv data
	$(BIN)/python benchmarks/bench.py --models all $(BENCH_ARGS)

# The whole course in full mode, each lesson in a fresh kernel, from empty checkpoints, in a
# temporary copy (COURSE_TIME_ARGS=--in-place or --keep-checkpoints to change that).
course-time: venv data
	$(BIN)/python benchmarks/course_time.py --out docs/course_time.json $(COURSE_TIME_ARGS)

# The lecture deck: Marp CLI from npm, pinned by package.json and package-lock.json (node_modules/
# is git-ignored). The HTML needs no browser; the PDF needs Chromium (Debian: apt-get install chromium).
# --theme-set takes a list, so it comes last.
MARP_FLAGS := --no-config-file --html --allow-local-files --theme-set slides/beam.css
CHROMIUM ?= $(shell command -v chromium || command -v chromium-browser || command -v google-chrome)

node_modules/.package-lock.json: package.json package-lock.json
	@command -v npm >/dev/null || { echo "make slides needs Node.js >= 18 with npm (Debian: apt-get install nodejs npm)"; exit 1; }
	npm ci --no-audit --no-fund
	@touch $@

slides: node_modules/.package-lock.json
	node_modules/.bin/marp slides/vae.md -o slides/vae.html $(MARP_FLAGS)

slides-pdf: node_modules/.package-lock.json
	@test -n "$(CHROMIUM)" || { echo "make slides-pdf needs Chromium (Debian: apt-get install chromium)"; exit 1; }
	node_modules/.bin/marp slides/vae.md --pdf --browser-path "$(CHROMIUM)" -o slides/vae.pdf $(MARP_FLAGS)

clean:
	rm -rf .pytest_cache .ruff_cache build *.egg-info slides/vae.html slides/vae.pdf
