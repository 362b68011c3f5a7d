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

.PHONY: setup demo test data lab bench clean-output help

help:
	@echo "make demo   set up .venv, generate the embedded data, print a summary, write a gallery to output/"
	@echo "make test   set up .venv and run every test"
	@echo "make data   generate the chest X-ray phantoms (data/chestxray/) if they are missing"
	@echo "make lab    start JupyterLab in this repository"
	@echo "make bench  run the benchmarks in benchmarks/ (they print measured ratios)"

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m util.demo

test: $(STAMP)
	$(BIN)/python -m pytest

data: $(STAMP)
	$(BIN)/python -m util.chestxray

lab: $(STAMP)
	$(BIN)/jupyter lab

bench: $(STAMP)
	for script in benchmarks/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean-output:
	rm -rf output
