# Single entry point. `make demo` and `make test` create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format bench bench-full clean fuzz

$(STAMP): pyproject.toml setup.py src/jetzip/codec/_gridkernels.c src/jetzip/codec/_rans.c \
		src/jetzip/entropy/_condkernel.c src/jetzip/_buffers.h
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[all]'
	touch $(STAMP)

demo: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/demo.sh

test: $(STAMP) lint
	$(BIN)/python -m pytest -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

format: $(STAMP)
	$(BIN)/ruff check --fix src tests benchmarks scripts
	$(BIN)/ruff format src tests benchmarks scripts

clean:
	rm -rf $(VENV) demo-output .pytest_cache .ruff_cache

# Benchmarks (results in benchmarks/results/). BENCH_MODEL=MODEL_DIR adds the model modes; by
# default the AE_3D_200 that benchmarks/atlas_quality.py trains, when it is there.
BENCH_MODEL ?= $(wildcard benchmarks/results/tmp/atlas_quality_model)
BENCH_MODEL_ARG = $(if $(BENCH_MODEL),--model $(BENCH_MODEL))

# The quick versions write to benchmarks/results/quick/ (ignored), so that they never replace
# the recorded full results.
QUICK := --output benchmarks/results/quick

bench: $(STAMP)
	nice $(BIN)/python benchmarks/rate_distortion.py --quick $(QUICK) $(BENCH_MODEL_ARG)
	nice $(BIN)/python benchmarks/throughput.py --rows 250000 --repeats 2 $(QUICK) $(BENCH_MODEL_ARG)
	nice $(BIN)/python benchmarks/profile_codec.py --rows 250000 $(QUICK)

bench-full: $(STAMP)
	nice $(BIN)/python benchmarks/rate_distortion.py $(BENCH_MODEL_ARG)
	nice $(BIN)/python benchmarks/throughput.py --rows 1000000 $(BENCH_MODEL_ARG)
	nice $(BIN)/python benchmarks/profile_codec.py --repeats 5

# Hypothesis over the container and chunk decoders for FUZZ_SECONDS (make test runs a few seconds
# of it): every crafted file must decode or end in one JetzipError.
FUZZ_SECONDS ?= 600

fuzz: $(STAMP)
	JETZIP_FUZZ_SECONDS=$(FUZZ_SECONDS) nice $(BIN)/python -m pytest tests/test_fuzz.py -k fuzz_for_a_while -s -q
