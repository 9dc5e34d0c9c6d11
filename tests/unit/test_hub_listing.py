"""The RunPod Hub listing (.runpod/hub.json, .runpod/tests.json) agrees with the worker.

The variables a user can set come from three places, and hub.json lists exactly these:
- every field of the worker's settings model that is on the Hub (``on_hub``: not marked
  ``NOT_ON_HUB``), with the field's bounds as ``min``/``max``; the configuration table
  (docs/configuration.md) lists every field, the marked ones too;
- SGLang server flags set by their upper-case names (``CONTEXT_LENGTH``, ...): each must be a
  real flag of the installed SGLang (its own parser), say which flag in its description, keep
  SGLang's default, and be documented in the README or the deploy guide;
- ``HF_TOKEN``, read by Hugging Face's client.
The local endpoint's variables (``runpod_local.settings``) and the marked fields (laptop-only, or
fixed by the image) are never on the Hub's form.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import annotated_types
import pytest

from runpod_local.settings import LocalSettings
from sglang_worker.engine.flags import (
    EngineLaunch,
    build_argv,
    flag_table,
    sglang_parser,
    split_sglang_args,
)
from sglang_worker.settings import Settings, markdown_table, on_hub, variables
from tests.support.paths import PROJECT_ROOT

HUB = json.loads((PROJECT_ROOT / ".runpod" / "hub.json").read_text(encoding="utf-8"))
TESTS = json.loads((PROJECT_ROOT / ".runpod" / "tests.json").read_text(encoding="utf-8"))
ENTRIES = {entry["key"]: entry["input"] for entry in HUB["config"]["env"]}
SETTINGS = variables(Settings)
OFF_HUB = {key for key, field in SETTINGS.items() if not on_hub(field)}
LOCAL_ENDPOINT = variables(LocalSettings)
HUGGING_FACE = {"HF_TOKEN"}
DEFAULT_MODEL = "Qwen/Qwen2.5-VL-7B-Instruct"
# The Hub's own test run (.runpod/tests.json): a model that fits a 16 GB card, a common card, and
# a timeout per test that covers a cold start (an image pull and a model download included).
SMALL_MODEL = "Qwen/Qwen2.5-VL-3B-Instruct"
SCARCE_GPUS = {"NVIDIA GeForce RTX 4090", "NVIDIA H100 80GB HBM3", "NVIDIA H200"}
COLD_START_MS = 600_000
# RunPod matches allowedCudaVersions exactly (its API: "matching is exact"; a version no host
# reports matches nothing): the base image's CUDA 13.0 and each newer 13.x a host may report.
CUDA_VERSIONS = ["13.0", "13.1", "13.2", "13.3"]
# RunPod's GPU pools (docs.runpod.io: GPU types) and the cards of each that the tests may name.
POOLS = {"ADA_24": {"NVIDIA GeForce RTX 4090"},
         "AMPERE_24": {"NVIDIA RTX A5000", "NVIDIA L4", "NVIDIA GeForce RTX 3090"},
         "ADA_48_PRO": {"NVIDIA RTX 6000 Ada Generation", "NVIDIA L40", "NVIDIA L40S"},
         "AMPERE_48": {"NVIDIA A40", "NVIDIA RTX A6000"}}


@pytest.fixture(scope="module", name="sglang_parser")
def sglang_parser_fixture() -> argparse.ArgumentParser:
    return sglang_parser()


def sglang_keys() -> set[str]:
    return set(ENTRIES) - set(SETTINGS) - HUGGING_FACE


def shown_default(name: str):
    """A setting's default as the Hub shows it (paths as in the configuration table)."""
    default = SETTINGS[name].default
    if isinstance(default, Path):
        default = str(default)
    return None if default == "" else default


def test_hub_json_the_readme_table_and_the_settings_model_list_the_same_variables():
    table = {m for m in re.findall(r"^\| `([A-Z0-9_]+)` \|", markdown_table(), re.M)}
    reference = (PROJECT_ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    section = reference.split("<!-- settings-table:start -->")[1].split(
        "<!-- settings-table:end")[0]
    assert set(re.findall(r"^\| `([A-Z0-9_]+)` \|", section, re.M)) == table == set(SETTINGS)
    missing = set(SETTINGS) - OFF_HUB - set(ENTRIES)
    assert not missing, f"add these settings to .runpod/hub.json: {sorted(missing)}"
    assert len(HUB["config"]["env"]) == len(ENTRIES), "a variable is listed twice"


def test_no_local_endpoint_or_marked_variable_is_on_the_hub():
    laptop_only = {"IMAGE_ALLOW_PRIVATE_URLS", "TINY_MODEL_DIR", "CPU_MAX_TOTAL_TOKENS",
                   "ENGINE_LOG_FILE"}
    fixed_by_the_image = {"BASE_PATH", "BAKED_MODEL_MANIFEST"}
    # The listing deploys a queue endpoint; load-balancing mode is deployed by hand (README).
    load_balancing = {"WORKER_MODE", "PORT", "PORT_HEALTH", "LB_HOST", "LB_MAX_BODY_BYTES",
                      "LB_QUEUE_TIMEOUT_S", "LB_DRAIN_TIMEOUT_S"}
    assert laptop_only | fixed_by_the_image | load_balancing == OFF_HUB
    assert set(LOCAL_ENDPOINT) == {"LOCAL_ENDPOINT_PORT", "LOCAL_ENDPOINT_RUNSYNC_WAIT_S",
                                   "LOCAL_ENDPOINT_EXECUTION_TIMEOUT_S",
                                   "LOCAL_ENDPOINT_STOP_TIMEOUT_S"}
    assert not set(ENTRIES) & OFF_HUB, "a laptop-only or image-fixed variable is on the Hub"
    assert not set(ENTRIES) & set(LOCAL_ENDPOINT), "a local endpoint variable is on the Hub"
    assert not set(SETTINGS) & set(LOCAL_ENDPOINT), "the worker's settings hold none of them"
    assert not any("local development" in entry["description"].lower()
                   for entry in ENTRIES.values())


def bounds(field) -> tuple[float | None, float | None, bool]:
    """A field's inclusive (min, max) as the Hub takes them, and whether min is exclusive and
    a float (``gt=0`` on a float has no inclusive minimum)."""
    low = high = None
    exclusive = False
    for rule in field.metadata:
        if isinstance(rule, annotated_types.Ge):
            low = rule.ge
        elif isinstance(rule, annotated_types.Gt):
            if field.annotation is int:
                low = rule.gt + 1
            else:
                low, exclusive = rule.gt, True
        elif isinstance(rule, annotated_types.Le):
            high = rule.le
        elif isinstance(rule, annotated_types.Lt):
            assert field.annotation is int, "an exclusive float maximum has no Hub form"
            high = rule.lt - 1
    return low, high, exclusive


def test_numeric_hub_inputs_carry_the_settings_model_s_bounds():
    checked = 0
    for key, entry in ENTRIES.items():
        if key not in SETTINGS or entry["type"] != "number":
            continue
        low, high, exclusive = bounds(SETTINGS[key])
        if exclusive:  # a float that must be > low: no inclusive min, or one above it
            assert "min" not in entry or entry["min"] > low, key
        else:
            assert entry.get("min") == low, f"{key}: min should be {low}"
        assert entry.get("max") == high, f"{key}: max should be {high}"
        if "default" in entry:
            assert entry.get("min", entry["default"]) <= entry["default"], key
            assert entry["default"] <= entry.get("max", entry["default"]), key
        checked += 1
    assert checked >= 15
    assert (ENTRIES["ENGINE_PORT"]["min"], ENTRIES["ENGINE_PORT"]["max"]) == (0, 65535)
    assert (ENTRIES["IMAGE_JPEG_QUALITY"]["min"], ENTRIES["IMAGE_JPEG_QUALITY"]["max"]) == (1, 100)
    assert ENTRIES["MAX_CONCURRENCY"]["min"] == 1 and ENTRIES["MAX_IMAGE_BYTES"]["min"] == 1
    for key, entry in ENTRIES.items():
        if key not in SETTINGS:  # SGLang flags: the Hub does not guess their ranges
            assert "min" not in entry and "max" not in entry, key


def test_every_other_hub_variable_is_a_real_sglang_flag_with_its_default(sglang_parser):
    table = flag_table(sglang_parser)
    actions = {opt: action for action in sglang_parser._actions for opt in action.option_strings}
    assert sglang_keys(), "the listing offers the common SGLang flags"
    for key in sglang_keys():
        assert key in table, f"{key} is neither a setting nor an SGLang flag"
        entry, option = ENTRIES[key], table[key].option
        assert entry["description"].startswith(f"SGLang {option}: "), key
        action = actions[option]
        if "default" in entry:
            assert str(entry["default"]).lower() == str(action.default).lower(), key
        for choice in entry.get("options", []):
            assert action.choices is None or choice["value"] in action.choices, (key, choice)


def test_sglang_flags_and_the_token_are_documented_for_deployers():
    guide = "".join((PROJECT_ROOT / name).read_text(encoding="utf-8") for name in (
        "README.md", "docs/deploy.md", "docs/configuration.md"))
    for key in sglang_keys() | HUGGING_FACE:
        assert f"`{key}`" in guide, f"neither the README nor the deploy guide mentions {key}"


def test_each_entry_has_a_type_a_default_and_a_one_line_description():
    kinds = {bool: "boolean", int: "number", float: "number"}
    for key, entry in ENTRIES.items():
        assert entry["name"] and entry["description"] and "\n" not in entry["description"], key
        assert entry["type"] in {"string", "number", "boolean", "huggingface"}, key
        assert all(option["value"] != "" for option in entry.get("options", [])), (
            f"{key}: an empty option would reach SGLang as an empty value")
        if entry["type"] == "boolean":
            assert (entry["trueValue"], entry["falseValue"]) == ("true", "false"), key
        if key not in SETTINGS:
            continue
        annotation = SETTINGS[key].annotation
        assert entry["type"] == kinds.get(annotation, entry["type"]), key
        if entry["type"] in ("number", "boolean"):
            assert annotation in kinds, key
        if key == "MODEL_NAME":
            assert entry["default"] == DEFAULT_MODEL and entry["required"] is True
            continue
        assert entry.get("default") == shown_default(key), f"{key}: default differs"


def test_the_hub_defaults_start_the_worker_and_pass_sglang_s_own_parser(monkeypatch,
                                                                      sglang_parser):
    defaults = {key: entry["default"] for key, entry in ENTRIES.items() if "default" in entry}
    env = {key: str(value).lower() if isinstance(value, bool) else str(value)
           for key, value in defaults.items()}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.model_name == DEFAULT_MODEL and settings.max_concurrency == 32
    argv = build_argv(env, EngineLaunch(model_path=DEFAULT_MODEL, port=30000, cpu=False,
                                        max_total_tokens=8192,
                                        extra_args=split_sglang_args(settings.sglang_args)),
                      sglang_parser)
    assert argv[argv.index("--dtype") + 1] == "auto"


def test_a_blank_field_counts_as_unset(monkeypatch):
    for key in ("IMAGE_LOCAL_DIR", "MAX_CONCURRENCY", "MODEL_NAME", "IMAGE_ALLOW_PRIVATE_URLS"):
        monkeypatch.setenv(key, "")
    settings = Settings()
    assert settings.image_local_dir is None  # not Path("."): local files stay refused
    assert settings.max_concurrency == 32 and settings.model_name is None
    assert settings.image_allow_private_urls is False


def test_the_listing_targets_the_gpus_and_cuda_of_the_base_image():
    config = HUB["config"]
    assert (HUB["type"], config["runsOn"], config["gpuCount"]) == ("serverless", "GPU", 1)
    assert HUB["category"] in {"audio", "embedding", "language", "video", "image"}
    assert isinstance(config["containerDiskInGb"], int) and config["containerDiskInGb"] >= 50
    assert set(config["gpuIds"].split(",")) <= set(POOLS)
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")
    cuda_major, cuda_minor = re.search(r"lmsysorg/sglang:\S+-cu(\d\d)(\d)", dockerfile).groups()
    # An exact list, not a minimum: every minor version of the image's CUDA major from its own
    # minor up, so a host on a newer driver of that major is not left out.
    assert config["allowedCudaVersions"] == CUDA_VERSIONS
    assert CUDA_VERSIONS[0] == f"{cuda_major}.{cuda_minor}"
    assert all(re.fullmatch(rf"{cuda_major}\.\d+", v) for v in CUDA_VERSIONS)
    minors = [int(v.split(".")[1]) for v in CUDA_VERSIONS]
    assert minors == list(range(minors[0], minors[0] + len(minors))), "no gap in the list"
    assert f"CUDA {CUDA_VERSIONS[0]} and newer" in dockerfile
    for preset in config["presets"]:
        assert preset["defaults"]["MODEL_NAME"].startswith("Qwen/Qwen2.5-VL-")


def test_the_hub_test_jobs_send_an_image_on_the_listing_s_own_configuration():
    by_name = {test["name"]: test for test in TESTS["tests"]}
    image_job = json.loads((PROJECT_ROOT / "test_input_with_base64_images.json").read_text())
    assert by_name["image_base64_chat"]["input"] == image_job["input"]
    content = image_job["input"]["openai_input"]["messages"][0]["content"]
    assert any(part.get("type") == "image_url"
               and part["image_url"]["url"].startswith("data:image/") for part in content)
    config = TESTS["config"]
    assert config["allowedCudaVersions"] == HUB["config"]["allowedCudaVersions"]
    pools = HUB["config"]["gpuIds"].split(",")
    assert any(config["gpuTypeId"] in POOLS[pool] for pool in pools)
    assert config["gpuTypeId"] not in SCARCE_GPUS, "the Hub's test must not wait for a scarce card"


def test_every_hub_test_may_land_on_a_cold_worker():
    """Any test may be the first job of a new worker (no warm worker is promised), so each one
    gets the cold-start budget: image pull, model download and engine start, then the job."""
    for test in TESTS["tests"]:
        assert isinstance(test["timeout"], int), test["name"]
        assert test["timeout"] >= COLD_START_MS, f"{test['name']}: {test['timeout']} ms"


def test_the_hub_test_model_is_small_enough_for_a_16_gb_card():
    env = {entry["key"]: entry["value"] for entry in TESTS["config"]["env"]}
    assert env["MODEL_NAME"] == SMALL_MODEL
    assert env["MODEL_NAME"] in {p["defaults"]["MODEL_NAME"] for p in HUB["config"]["presets"]}
    # 3.75 B parameters in bfloat16 are 7.5 GB of weights; a bounded context keeps the KV cache
    # and the vision encoder's activations well inside the rest of a 16 GB card.
    assert int(env["CONTEXT_LENGTH"]) <= 8192
