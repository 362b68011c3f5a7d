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

.PHONY: setup system-deps browser test-pythons demo test test-fast mutation data lab train train-fundus evaluate notebooks bench clean-output help

help:
	@echo "make demo   set up .venv, generate the embedded data, print a summary, write a gallery to output/"
	@echo "make test   set up .venv (and, as root, Debian's postgresql for one test) and run every test"
	@echo "make test-fast  the tests not marked slow: no notebooks, grading, nbgrader or model evaluation (development)"
	@echo "make mutation   plant deliberate bugs in a copy of the tree and report which the suite catches"
	@echo "make data   generate the chest X-ray phantoms (data/chestxray/) if they are missing"
	@echo "make lab    start JupyterLab in this repository (the instructor's view: Formgrader, source/)"
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
	@echo "make lab-student a student's JupyterLab in dist/student-home/: fetch, work, validate, submit"
	@echo "make browser     install Debian's headless Chromium for tests/browser/ (as root; make test does it)"
	@echo "make test-pythons  a venv per Python 3.11, 3.12, 3.13: the fast tests and one lecture under nbval"

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m util.demo
	$(BIN)/python -m grading demo --jobs $(JOBS)

# MEDXAI_REQUIRE_BROWSER: the browser suite fails, rather than skips, without its browser.
test: $(STAMP) system-deps
	MEDXAI_REQUIRE_BROWSER=1 $(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" tests

# The course on every Python students have (tools/test_pythons.sh): a venv per version under build/,
# the fast tests and one lecture notebook under nbval on each. PYTHONS="3.12" for one. Not part of
# `make test` (three installs of TensorFlow do not fit its time budget).
PYTHONS ?= 3.11 3.12 3.13
test-pythons:
	sh tools/test_pythons.sh $(PYTHONS)

# Plant deliberate bugs in a throw-away worktree of HEAD and check that the suite catches each one
# (tools/mutation.py; a few minutes; not part of `make test`).
mutation: $(STAMP) data
	$(BIN)/python tools/mutation.py

# Debian packages the tests need beyond .venv (tools/system_deps.sh): PostgreSQL's server binaries for
# tests/grading/test_postgres_gradebook.py, and the headless Chromium that tests/browser/ drives. Installed only
# when missing, and only as root (CI); elsewhere it says what to install.
system-deps:
	@sh tools/system_deps.sh postgresql chromium-headless-shell

# Just the browser of tests/browser/ (Debian's chromium-headless-shell; Playwright drives it through
# executable_path, since Playwright's own browser download is not available here).
browser:
	@sh tools/system_deps.sh chromium-headless-shell

data: $(STAMP)
	$(BIN)/python -m util.data.chestxray

# The instructor's JupyterLab in the course root (Formgrader, the source notebooks), figures inline.
lab: $(STAMP)
	$(BIN)/python -m grading.lab instructor

# Two stages: most steps at 224 px (half the cost of 320), then a short finish at the
# inference size 320 with BatchNorm recalibration. See data/models/MODEL_CARD.md.
TRAIN_STAGE1 := build/densenet121_stage1.weights.h5
TRAIN_OUT ?= data/models/densenet121_phantoms.weights.h5
train: $(STAMP)
	mkdir -p build
	$(BIN)/python -m training.densenet --size 224 --steps 300 --lr 1e-3 --lr-final 1e-4 --seed 0 \
		--recalibrate-batches 0 --eval-n 0 --out $(TRAIN_STAGE1)
	$(BIN)/python -m training.densenet --size 320 --steps 24 --lr 1e-4 --seed 1 --init $(TRAIN_STAGE1) \
		--recalibrate-batches 24 --eval-n 128 --out $(TRAIN_OUT)

# The small ordinal CNN of the retinopathy case study (about 10 min on 2 CPU cores).
train-fundus: $(STAMP)
	$(BIN)/python -m training.fundus --size 128 --steps 300 --batch-size 32 --seed 0

evaluate: $(STAMP)
	$(BIN)/python -m training.evaluate

# Re-execute the lecture notebooks in place (their stored outputs are what nbval compares).
notebooks: $(STAMP)
	$(BIN)/python -m training.notebooks

bench: $(STAMP)
	for script in benchmarks/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean-output:
	rm -rf output

.PHONY: release autograde references

# nbgrader: release/<A> from source/<A> for every assignment (generate_assignment --force --no-db,
# then normalised so that it is byte-for-byte reproducible; tests/grading/test_<a>_release.py check it).
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
	$(BIN)/python -m training.notebooks

.PHONY: student lab-student

# What students get, and nothing else (grading/student.py): dist/student/ and dist/student.zip with
# release/<A>/, util/, the model weights and cards, a student README, pyproject.toml and constraints.
student: $(STAMP)
	$(BIN)/python -m grading.student

# A student's JupyterLab, as on the course's machine: in a folder of its own (dist/student-home/, or
# STUDENT_HOME=...), holding only the student's nbgrader_config.py; its Assignment List fetches from the
# course's exchange (after the instructor's `nbgrader release_assignment <A>`) into <home>/<A>/.
# tests/browser/ drives exactly this server and the instructor's.
STUDENT_HOME ?= dist/student-home
lab-student: $(STAMP)
	$(BIN)/python -m grading.lab student --home $(STUDENT_HOME)
