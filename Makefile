# The two commands: `make demo` and `make test`. Both set up .venv when needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
EXTRAS := dev,postgres,onnx,media,speech,s3,ray
STAMP  := $(VENV)/.installed

.PHONY: demo demo-speech test test-fast lint typecheck bench clean setup

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	@# bytecode now, as pip does for an installed package (PYTHONDONTWRITEBYTECODE=1
	@# would otherwise make every command recompile rampup's modules)
	$(BIN)/python -m compileall -q src > /dev/null
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/rampup demo

# the speech scenario: clips spoken by espeak-ng (Debian), recognised by pocketsphinx
demo-speech: $(STAMP)
	@command -v espeak-ng >/dev/null \
		|| (apt-get update -qq && apt-get install -y -qq espeak-ng) \
		|| echo "the speech scenario needs espeak-ng: apt-get install espeak-ng"
	$(BIN)/rampup demo --scenario speech

test: $(STAMP) lint typecheck
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null \
		&& command -v wrk >/dev/null && command -v espeak-ng >/dev/null \
		&& ldconfig -p | grep -q libportaudio \
		|| (apt-get update -qq && apt-get install -y -qq chromium chromium-driver wrk \
			espeak-ng libportaudio2) \
		|| echo "the browser, benchmark and speech tests need: apt-get install chromium" \
			"chromium-driver wrk espeak-ng libportaudio2"
	$(BIN)/pytest --cov --cov-report=term:skip-covered --durations=15

test-fast: $(STAMP)
	$(BIN)/pytest -m "not slow" -x -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports --no-cache  # the layering contracts of pyproject.toml

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk) \
		|| echo "benchmarks/serving.py needs wrk: apt-get install wrk"
	$(BIN)/python benchmarks/serving.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage .coverage.* demo-project
