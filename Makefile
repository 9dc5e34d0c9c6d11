# The README's commands. Each target sets up what it needs (idempotent, fast when done).
VENV ?= .venv
PY := $(VENV)/bin/python
TINY_VL := .cache/models/tiny-qwen2-vl
TINY_TEXT := .cache/models/tiny-qwen2-text
TINY_AUDIO := .cache/models/tiny-qwen2-audio
TINY_RERANKER := .cache/models/tiny-qwen2-reranker
TINY_CLASSIFIER := .cache/models/tiny-qwen2-classifier
DEMO_INPUT ?= test_input_with_base64_images.json

.PHONY: setup models demo test unit unit-py312 image-deps-check integration lint docs fuzz \
	serve serve-lb bench soak

setup:
	@bash builder/setup_cpu_env.sh $(VENV)

models: setup
	@$(PY) -m tiny_models.build --out $(TINY_VL) >/dev/null
	@$(PY) -m tiny_models.build --out $(TINY_TEXT) --text-only >/dev/null
	@$(PY) -m tiny_models.build --out $(TINY_AUDIO) --audio >/dev/null
	@$(PY) -m tiny_models.build --out $(TINY_RERANKER) --reranker >/dev/null
	@$(PY) -m tiny_models.build --out $(TINY_CLASSIFIER) --classifier >/dev/null

demo: models
	@$(PY) handler.py --test_input $(DEMO_INPUT)

# The local RunPod endpoint on 127.0.0.1:$(PORT): the worker as deployed, behind RunPod's job API
# and its OpenAI route (base_url http://127.0.0.1:$(PORT)/openai/v1). Ctrl-C stops it.
PORT ?= 8000
serve: models
	$(PY) -m runpod_local --port $(PORT)

# The worker in load-balancing mode on 127.0.0.1:$(PORT): the OpenAI API served straight from
# the worker (base_url http://127.0.0.1:$(PORT)/v1), as a load-balancing endpoint runs it.
serve-lb: models
	WORKER_MODE=lb PORT=$(PORT) LB_HOST=127.0.0.1 $(PY) handler.py

docs: setup
	$(PY) scripts/update_readme_table.py
	$(PY) scripts/field_audit.py

lint: setup
	$(PY) -m ruff check src tests handler.py builder scripts bench test_image_support.py
	$(VENV)/bin/actionlint -shellcheck= .github/workflows/*.yml

unit: setup
	$(PY) -m pytest tests/unit -q

# The worker's unit tests again on Python 3.12, the image's Python, in an environment with the
# worker's dependencies only (no torch, no SGLang); tests that need the engine are skipped by
# tests/support/no_engine.py, which says how many.
PY312_VENV ?= .cache/venv-py312
unit-py312:
	@bash builder/setup_worker_env.sh $(PY312_VENV)
	$(PY312_VENV)/bin/python -m pytest -p tests.support.no_engine -p no:cacheprovider -q tests/unit

# Would builder/requirements.txt install on the SGLang image without moving any of its packages?
# Resolved from metadata on Python 3.12 (builder/image_deps_check.sh); about 40 s.
image-deps-check:
	@bash builder/image_deps_check.sh

integration: models
	$(PY) -m pytest tests/integration -q

# The long fuzzing profile: 20,000 examples per property, against the real SGLang server.
fuzz: models
	HYPOTHESIS_PROFILE=long $(PY) -m pytest -m fuzz -q -p no:cacheprovider \
		--hypothesis-show-statistics

# Benchmarks (docs/benchmarks.md): worker vs bare SGLang, image path vs the naive one, start-up.
# Each prints its table and writes bench/results/<name>.json.
bench: models
	$(PY) bench/bench_images.py
	$(PY) bench/bench_worker.py
	$(PY) bench/bench_startup.py
	$(PY) bench/bench_sizing.py
	$(PY) bench/bench_lb.py
	$(PY) bench/bench_video.py
	$(PY) bench/bench_audio.py
	$(PY) bench/bench_lora.py

# Load and soak: 1,000 jobs at concurrency 64 through the local endpoint (SECURITY.md).
soak: models
	$(PY) bench/soak.py

# The engine-free and image checks first, so that the full suite's summary is the last line.
test: models lint unit-py312 image-deps-check
	$(PY) -m pytest -q
