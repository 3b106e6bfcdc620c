# Two commands on a fresh machine: `make demo` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint clean

setup: $(STAMP)

# The CPU build of torch goes in first where this machine keeps it on disk, so the
# `torch>=2.2` range in pyproject is already met and pip never pulls a CUDA build.
$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q torch==2.13.0 || echo "torch 2.13.0 CPU build not found; pip will choose a torch"
	$(PIP) install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/digitocr generate -c 200 --output_dir demo/sample -rs -num -w 1 -fi -im L -t 2 --seed 1 --contact-sheet demo/sample.png
	@echo "sample images in demo/sample, contact sheet at demo/sample.png"

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) demo runs .pytest_cache
