# medxai-course: every target sets up .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Keep TensorFlow's C++ logging and oneDNN notices off stderr everywhere.
export TF_CPP_MIN_LOG_LEVEL := 3
export TF_ENABLE_ONEDNN_OPTS := 0
export PYTHONHASHSEED := 0
export MPLBACKEND := Agg

.PHONY: setup system-deps demo test test-fast mutation data lab train train-fundus evaluate notebooks bench clean-output help

help:
	@echo "make demo   set up .venv, generate the embedded data, print a summary, write a gallery to output/"
	@echo "make test   set up .venv (and, as root, Debian's postgresql for one test) and run every test"
	@echo "make test-fast  the tests not marked slow: no notebooks, grading, nbgrader or model evaluation (development)"
	@echo "make mutation   plant deliberate bugs in a copy of the tree and report which the suite catches"
	@echo "make data   generate the chest X-ray phantoms (data/chestxray/) if they are missing"
	@echo "make lab    start JupyterLab in this repository"
	@echo "make train  train the course DenseNet121 on fresh phantoms (about 65 min on 2 CPU cores) into data/models/"
	@echo "make evaluate  regenerate the metrics table of data/models/MODEL_CARD.md"
	@echo "make notebooks re-execute the lecture notebooks in notebooks/ in place (after a model change)"
	@echo "make bench  run the benchmarks in benchmarks/ (they print measured ratios)"
	@echo "make release     regenerate release/<A> from source/<A> for every assignment (C1W1, C3W3)"
	@echo "make autograde ASSIGNMENT=C1W1 JOBS=2  grade submitted/<student>/C1W1, each in a sandbox, into"
	@echo "                 gradebook.db, autograded/, feedback/ (instructor; default C3W3, JOBS = cores);"
	@echo "                 SCHEDULER=tcp://host:8786 on a Dask cluster, DB_URL=postgresql://... the gradebook"
	@echo "make references  after retraining the model: every source notebook's outputs, the releases,"
	@echo "                 the lecture notebooks"
	@echo "make student     what students get: dist/student/ and dist/student.zip"
	@echo "make lab-student JupyterLab on dist/student/ (the student's view)"

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m util.demo
	$(BIN)/python -m grading demo --jobs $(JOBS)

test: $(STAMP) system-deps
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" tests

# Plant deliberate bugs in a throw-away worktree of HEAD and check that the suite catches each one
# (tools/mutation.py; a few minutes; not part of `make test`).
mutation: $(STAMP) data
	$(BIN)/python tools/mutation.py

# System packages the tests need beyond .venv: Debian's PostgreSQL server binaries (initdb, pg_ctl), for the
# throw-away server of tests/test_postgres_gradebook.py. Installed only when missing, and only as root (CI);
# elsewhere it says what to install (that test fails, with the same message, without them).
system-deps:
	@if command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's postgresql (for tests/test_postgres_gradebook.py)"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; } \
			|| echo "warning: apt-get could not install postgresql; tests/test_postgres_gradebook.py will fail"; \
	else echo "PostgreSQL's server binaries are missing: install them (Debian/Ubuntu: sudo apt-get install postgresql)," \
		"or tests/test_postgres_gradebook.py fails"; fi

data: $(STAMP)
	$(BIN)/python -m util.chestxray

lab: $(STAMP)
	$(BIN)/jupyter lab

# Two stages: most steps at 224 px (half the cost of 320), then a short finish at the
# inference size 320 with BatchNorm recalibration. See data/models/MODEL_CARD.md.
TRAIN_STAGE1 := build/densenet121_stage1.weights.h5
TRAIN_OUT ?= data/models/densenet121_phantoms.weights.h5
train: $(STAMP)
	mkdir -p build
	$(BIN)/python -m training.train --size 224 --steps 300 --lr 1e-3 --lr-final 1e-4 --seed 0 \
		--recalibrate-batches 0 --eval-n 0 --out $(TRAIN_STAGE1)
	$(BIN)/python -m training.train --size 320 --steps 24 --lr 1e-4 --seed 1 --init $(TRAIN_STAGE1) \
		--recalibrate-batches 24 --eval-n 128 --out $(TRAIN_OUT)

# The small ordinal CNN of the retinopathy case study (about 10 min on 2 CPU cores).
train-fundus: $(STAMP)
	$(BIN)/python -m util.train_fundus --size 128 --steps 300 --batch-size 32 --seed 0

evaluate: $(STAMP)
	$(BIN)/python -m training.evaluate

# Re-execute the lecture notebooks in place (their stored outputs are what nbval compares).
notebooks: $(STAMP)
	$(BIN)/python -m util.notebooks

bench: $(STAMP)
	for script in benchmarks/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean-output:
	rm -rf output

.PHONY: release autograde references

# nbgrader: release/<A> from source/<A> for every assignment (generate_assignment --force --no-db,
# then normalised so that it is byte-for-byte reproducible; tests/test_<a>_release.py check it).
release: $(STAMP)
	$(BIN)/python -m grading release

# Instructor: grade the submissions in submitted/<student>/$(ASSIGNMENT)/ (nbgrader's layout; git-ignored),
# each in its own sandbox, into gradebook.db, autograded/, feedback/ and grading-logs/ in the repository
# root. One assignment per run: make autograde ASSIGNMENT=C1W1 (default C3W3) JOBS=2 (default: the cores).
# A re-run skips what is graded already (same notebook, same grader version): GRADE_FLAGS=--force regrades.
# SCHEDULER=tcp://host:8786 grades on a Dask cluster instead (README: Grading at scale); DB_URL=postgresql://...
# names the gradebook (default: MEDXAI_DB_URL / nbgrader_config.py, else gradebook.db).
# GRADE_FLAGS passes more options, e.g. GRADE_FLAGS="--cell-seconds 120" (python -m grading --help).
ASSIGNMENT ?= C3W3
JOBS ?= $(shell nproc 2>/dev/null || echo 1)
SCHEDULER ?=
DB_URL ?=
GRADE_FLAGS ?=
autograde: $(STAMP)
	$(BIN)/python -m grading autograde $(ASSIGNMENT) --jobs $(JOBS) $(if $(SCHEDULER),--scheduler $(SCHEDULER)) \
		$(if $(DB_URL),--db-url '$(DB_URL)') $(GRADE_FLAGS)

# After the course model changes: every source notebook's stored outputs (C1W1's AUCs and Grad-CAMs,
# C3W3's maps), the releases and the lecture notebooks. The grader keeps no stored references: it
# computes the solution's answers at grading time.
references: $(STAMP)
	$(BIN)/python -m grading notebook
	$(BIN)/python -m grading release
	$(BIN)/python -m util.notebooks

.PHONY: student lab-student

# What students get, and nothing else (grading/student.py): dist/student/ and dist/student.zip with
# release/<A>/, util/, the model weights and cards, a student README, pyproject.toml and constraints.
student: $(STAMP)
	$(BIN)/python -m grading.student

# JupyterLab in dist/student/ (after make student), the notebooks importing the bundle's util:
# exactly the files students get. `make lab` stays the instructor's view of the whole repository.
lab-student: $(STAMP)
	@test -d dist/student || { echo "dist/student/ is missing: run make student first"; exit 1; }
	cd dist/student && PYTHONPATH="$(CURDIR)/dist/student" "$(CURDIR)/$(BIN)/jupyter" lab
