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

.PHONY: setup demo test data lab train train-fundus evaluate notebooks bench clean-output help

help:
	@echo "make demo   set up .venv, generate the embedded data, print a summary, write a gallery to output/"
	@echo "make test   set up .venv and run every test"
	@echo "make data   generate the chest X-ray phantoms (data/chestxray/) if they are missing"
	@echo "make lab    start JupyterLab in this repository"
	@echo "make train  train the course DenseNet121 on fresh phantoms (about 65 min on 2 CPU cores) into data/models/"
	@echo "make evaluate  regenerate the metrics table of data/models/MODEL_CARD.md"
	@echo "make notebooks re-execute the lecture notebooks in notebooks/ in place (after a model change)"
	@echo "make bench  run the benchmarks in benchmarks/ (they print measured ratios)"
	@echo "make release     regenerate release/<A> from source/<A> for every assignment (C1W1, C3W3)"
	@echo "make autograde ASSIGNMENT=C1W1 JOBS=2  grade submitted/<student>/C1W1, each in a sandbox, into"
	@echo "                 gradebook.db, autograded/, feedback/ (instructor; default C3W3, JOBS = cores)"
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

test: $(STAMP)
	$(BIN)/python -m pytest

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
# GRADE_FLAGS passes more options, e.g. GRADE_FLAGS="--cell-seconds 120" (python -m grading --help).
ASSIGNMENT ?= C3W3
JOBS ?= $(shell nproc 2>/dev/null || echo 1)
GRADE_FLAGS ?=
autograde: $(STAMP)
	$(BIN)/python -m grading autograde $(ASSIGNMENT) --jobs $(JOBS) $(GRADE_FLAGS)

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
