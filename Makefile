# The README's commands. Each target sets up what it needs (idempotent, fast when done).
VENV ?= .venv
PY := $(VENV)/bin/python
TINY_VL := .cache/models/tiny-qwen2-vl
TINY_TEXT := .cache/models/tiny-qwen2-text
DEMO_INPUT ?= test_input_with_base64_images.json

.PHONY: setup models demo test unit integration lint docs

setup:
	@bash builder/setup_cpu_env.sh $(VENV)

models: setup
	@$(PY) builder/build_tiny_model.py --out $(TINY_VL) >/dev/null
	@$(PY) builder/build_tiny_model.py --out $(TINY_TEXT) --text-only >/dev/null

demo: models
	$(PY) handler.py --test_input $(DEMO_INPUT)

docs: setup
	$(PY) scripts/update_readme_table.py

lint: setup
	$(PY) -m ruff check src tests handler.py builder scripts

unit: setup
	$(PY) -m pytest tests/unit -q

integration: models
	$(PY) -m pytest tests/integration -q

test: models lint
	$(PY) -m pytest -q
