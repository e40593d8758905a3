# vae-course: two commands a student needs (make lab, make test) and a few a maintainer needs.
# The virtual environment lives outside the clone, keyed by a hash of requirements.txt, so
# every clone on a machine shares one ~6 GB torch install and a changed requirements.txt
# builds a fresh one.
#
# No MPLBACKEND here: kernels inherit the environment, and a headless backend (Agg) would hide
# every figure in JupyterLab and in the notebooks `make figures` writes. pytest's own process
# goes headless in tests/conftest.py; `make lab` and `make figures` drop a caller's MPLBACKEND.

SHELL := /bin/bash
PYTHON ?= python3
# sha256sum (GNU coreutils), else shasum -a 256 (stock macOS): the same 12 hex digits.
REQ_HASH := $(shell { sha256sum requirements.txt 2>/dev/null || shasum -a 256 requirements.txt; } | cut -c1-12)
VENV ?= $(HOME)/.cache/vae-course/venv-$(REQ_HASH)
BIN := $(VENV)/bin
STAMP := $(VENV)/.vae-course-installed
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
# torch's idle OpenMP threads spin briefly, then sleep: without it a busy neighbour process makes
# training ~28x slower on 2 cores (vaelib.runtime.OPENMP_ENV holds the value; a test compares).
export GOMP_SPINCOUNT ?= 10000
# vaelib is imported from this clone, whichever clone installed the shared venv.
export PYTHONPATH := $(CURDIR)$(if $(PYTHONPATH),:$(PYTHONPATH))
# The student's workspace: their own copies of the lessons, figures and checkpoints (git-ignored).
# Spaces allowed (make workspace WORKSPACE='my work'): make's $(abspath) would split the path at
# them, so a relative path is joined to the clone's folder as plain text, and always quoted.
WORKSPACE ?= work
WORK := $(if $(filter /%,$(WORKSPACE)),$(WORKSPACE),$(CURDIR)/$(WORKSPACE))

.PHONY: help venv data workspace lab reset test test-under-load unit lint format figures bench course-time convergence numbers grade slides slides-pdf site clean

help:
	@echo "For students:"
	@echo "  make lab          set up (venv, data, work/) and open JupyterLab on your own copies in work/"
	@echo "  make reset LESSON=NN   a fresh copy of one lesson in work/ (your old one goes to work/backups/)"
	@echo "  make test         ruff, unit tests, JupyterLab and browser checks, every notebook under nbval (fast mode)"
	@echo "For maintainers and lecturers:"
	@echo "  make figures      re-run every notebook in full mode, in place: the only thing that writes pics/"
	@echo "  make slides       render slides/vae.html from slides/vae.md (Node.js + npm)"
	@echo "  make slides-pdf   the same deck as slides/vae.pdf (needs Chromium)"
	@echo "  make site         the course website in build/site from the committed notebooks (offline; npm)"
	@echo "  make unit         the unit tests only (fast mode)"
	@echo "  make lint         ruff check and ruff format --check"
	@echo "  make format       ruff format and ruff check --fix"
	@echo "  make bench        the training loop's seconds per epoch against its compute floor (JSON)"
	@echo "  make test-under-load  the notebook tests 3 times beside 2 busy processes per core (JSON)"
	@echo "  make course-time  every lesson in full mode from empty checkpoints: docs/course_time.json"
	@echo "  make convergence  every lesson recipe at its epochs and at 3x: docs/convergence.json (long)"
	@echo "  make numbers      fill the deck's, README's and docs' measured numbers from results/*.json"
	@echo "  make grade SUBMISSIONS=path   run the self-checks of every student notebook under path: grades.csv + summary"
	@echo "Steps the others run for you:"
	@echo "  make venv         build the shared environment (once per requirements.txt) and link .venv"
	@echo "  make data         find Fashion-MNIST (or say what to install)"
	@echo "  make workspace    copy into work/ the lessons it lacks (never overwrites) and its kernel spec"
	@echo "  make clean        remove caches and rendered slides (never work/)"
	@echo "  make help         this list"
	@echo "venv: $(VENV)"
	@echo "workspace: $(WORK)"

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
	@$(BIN)/python -m vaelib.datafiles --ensure

# work/: the lessons copied once (outputs cleared, solutions removed), then the student's own.
workspace: venv
	@$(BIN)/python tools/workspace.py --work "$(WORK)" prepare

# JupyterLab serves work/ only. Its kernel spec (work/.jupyter, first on JUPYTER_PATH) runs this
# clone's vaelib with figures and checkpoints under work/. Notebooks are saved without widget
# state (a placeholder says "run this cell again": tools/workspace.py's pre_save_hook), so a
# reopened lesson never shows "model not found". LAB_ARGS passes flags on (e.g.
# make lab LAB_ARGS=--no-browser); root (a container) needs --allow-root.
LAB_ARGS ?=
lab: venv data workspace
	env -u MPLBACKEND JUPYTER_PATH="$(WORK)/.jupyter$(if $(JUPYTER_PATH),:$(JUPYTER_PATH))" \
	  VAELIB_PICS="$(WORK)/pics" VAELIB_CHECKPOINTS="$(WORK)/checkpoints" \
	  $(BIN)/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) \
	  --ContentsManager.pre_save_hook=tools.workspace.pre_save_hook $(LAB_ARGS) "$(WORK)"

# make reset LESSON=02: the old copy is kept in work/backups/ (a new name each time), then a fresh
# one takes its place.
reset: venv
	@test -n "$(LESSON)" || { echo "say which lesson: make reset LESSON=02"; exit 2; }
	@$(BIN)/python tools/workspace.py --work "$(WORK)" reset "$(LESSON)"

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Fast mode, figures and checkpoints in a temporary folder: a test run never touches pics/.
# NBVAL_CELL_TIMEOUT: seconds one notebook cell may run (nbval's output wait is raised in
# conftest.py); a machine starved far beyond 2 busy processes per core may need more.
NBVAL_CELL_TIMEOUT ?= 900
test: venv data lint
	@tmp=$$(mktemp -d); \
	VAELIB_FAST=1 VAELIB_PICS=$$tmp/pics VAELIB_CHECKPOINTS=$$tmp/checkpoints \
	$(BIN)/python -m pytest tests notebooks --nbval-lax --nbval-cell-timeout=$(NBVAL_CELL_TIMEOUT) -p no:cacheprovider; \
	rc=$$?; rm -rf $$tmp; exit $$rc

# The notebook tests beside a bounded CPU hog (busy processes that stop by themselves): no test
# may fail because the machine is busy (issue #21). UNDER_LOAD_ARGS, e.g. --runs 1 notebooks/02_*.
UNDER_LOAD_ARGS ?= --runs 3 --busy-per-core 2
test-under-load: venv data
	$(BIN)/python benchmarks/suite_under_load.py $(UNDER_LOAD_ARGS)

# The unit tests without the JupyterLab, browser and website tests (servers, a browser, a build).
unit: venv
	VAELIB_FAST=1 VAELIB_PICS=$$(mktemp -d) $(BIN)/python -m pytest tests -p no:cacheprovider \
	  --ignore=tests/test_lab.py --ignore-glob="tests/test_browser*.py" --ignore=tests/test_site.py

# Full mode, in place, in lesson order (lesson 07 reuses the checkpoints of 01 and 06). The only
# target that writes the tracked pics/ (VAELIB_PICS); never headless, so the images stay in the
# notebooks.
figures: venv data
	@for nb in $(NOTEBOOKS); do \
	  echo "==> $$nb (full mode)"; \
	  env -u MPLBACKEND -u JUPYTER_PATH VAELIB_FAST=0 VAELIB_PICS="$(CURDIR)/pics" \
	    $(BIN)/jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.timeout=-1 "$$nb" || exit 1; \
	done

# The lessons' training loop against its floor (same step on one pre-loaded batch), per model.
bench: venv data
	$(BIN)/python benchmarks/bench.py --models all $(BENCH_ARGS)

# The whole course in full mode, each lesson in a fresh kernel, from empty checkpoints, in a
# temporary copy (COURSE_TIME_ARGS=--in-place or --keep-checkpoints to change that).
course-time: venv data
	$(BIN)/python benchmarks/course_time.py --out docs/course_time.json $(COURSE_TIME_ARGS)

# Is every lesson model at its plateau? Each recipe trained for 3x its epochs, test loss at 1x and
# 3x (CONVERGENCE_ARGS=--recipes a,b to measure a few). Several times the course's training time.
convergence: venv data
	$(BIN)/python benchmarks/convergence.py --out docs/convergence.json $(CONVERGENCE_ARGS)

# The measured numbers of the deck, README and docs, filled from the results/NN_topic.json files
# that the lessons write in full mode (make figures); tests/test_numbers.py checks them.
numbers: venv
	$(BIN)/python tools/fill_numbers.py
# Lecturers: every notebook under SUBMISSIONS (named after its lesson, e.g. alice/09_build_a_vae.ipynb)
# runs in its own kernel with a time limit (GRADE_TIMEOUT seconds, fast mode); the lessons' own
# self-checks give a CSV (student file, lesson, exercise, passed, hint) and a summary.
SUBMISSIONS ?=
GRADES ?= grades.csv
GRADE_TIMEOUT ?= 900
grade: venv data
	@test -n "$(SUBMISSIONS)" || { echo "say where the notebooks are: make grade SUBMISSIONS=path/to/folder"; exit 2; }
	$(BIN)/python tools/grade.py "$(SUBMISSIONS)" --out "$(GRADES)" --timeout $(GRADE_TIMEOUT)

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

# The deck as a file, rendered only when it is older than its sources (make site uses it).
slides/vae.html: node_modules/.package-lock.json slides/vae.md slides/beam.css $(wildcard pics/*/*.png)
	node_modules/.bin/marp slides/vae.md -o slides/vae.html $(MARP_FLAGS)

slides-pdf: node_modules/.package-lock.json
	@test -n "$(CHROMIUM)" || { echo "make slides-pdf needs Chromium (Debian: apt-get install chromium)"; exit 1; }
	node_modules/.bin/marp slides/vae.md --pdf --browser-path "$(CHROMIUM)" -o slides/vae.pdf $(MARP_FLAGS)

# The course website: Sphinx + myst-nb + sphinx-book-theme (site/requirements.txt, installed into
# the shared venv once per hash of that file, so requirements.txt's venv is not rebuilt for it)
# renders the committed, executed notebooks without running them; MathJax and the deck come from
# npm. Nothing is fetched at build time or by the pages. SITE_NOTEBOOKS / SITE_OUT change where
# it reads and writes (build/site-src holds the staged sources).
SITE_REQ_HASH := $(shell { sha256sum site/requirements.txt 2>/dev/null || shasum -a 256 site/requirements.txt; } | cut -c1-12)
SITE_STAMP := $(VENV)/.vae-course-site-$(SITE_REQ_HASH)
SITE_NOTEBOOKS ?= notebooks
SITE_OUT ?= build/site

$(SITE_STAMP): | $(STAMP)
	@echo "==> installing the website's packages (site/requirements.txt) into $(VENV)"
	$(BIN)/python -m pip install --progress-bar off -r site/requirements.txt
	touch "$@"

site: venv $(SITE_STAMP) slides/vae.html
	$(BIN)/python site/build.py --notebooks "$(SITE_NOTEBOOKS)" --out "$(SITE_OUT)"

clean:
	rm -rf .pytest_cache .ruff_cache build *.egg-info slides/vae.html slides/vae.pdf
