"""Where the model comes from, end to end on the tiny model, with nothing from a model hub:

- ``builder/download_model.py`` bakes a local directory, and a hub id out of a cache, in offline
  mode, and writes the manifest the worker reads;
- with a network volume the engine's Hugging Face cache is on the volume, where a later worker
  finds what the first one downloaded;
- the image's start command, ``python3 handler.py`` exactly as the Dockerfile's CMD says, run
  against the CPU SGLang environment: it serves the baked model from its manifest with Hugging
  Face offline, ignoring a MODEL_NAME that names a model nobody could download, and opens no
  connection to the hub;
- RunPod's cached models: a hub id found complete under ``BASE_PATH/huggingface-cache/hub``, on
  a read-only mount and with no network volume, is served offline from its snapshot by the same
  start command, and nothing under the mount changes.

Those two are the SGLang starts in this file.
"""

from __future__ import annotations

import asyncio
import filecmp
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from sglang_worker.engine.model_source import (
    gather_storage_facts,
    read_manifest,
    resolve_model_source,
)
from sglang_worker.engine.server import engine_environment
from sglang_worker.settings import Settings
from tests.support.dockerfile import exec_form
from tests.support.image_server import ConnectionCounter
from tests.support.paths import PROJECT_ROOT
from tests.support.worker_jobs import tree

pytestmark = pytest.mark.integration

DOWNLOAD_MODEL = PROJECT_ROOT / "builder" / "download_model.py"
CACHE_VARIABLES = ("HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HUB_OFFLINE",
                   "TRANSFORMERS_OFFLINE", "HF_ENDPOINT")


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any Hugging Face cache or offline choice."""
    env = {k: v for k, v in os.environ.items() if k not in CACHE_VARIABLES}
    env.update(extra)
    return env


def put_in_hub_cache(cache: Path, repo_id: str, files: Path, commit: str,
                     revision: str = "main") -> Path:
    """Lay ``files`` out as Hugging Face's cache holds a download of ``repo_id``."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / revision).write_text(commit)
    snapshot = repo / "snapshots" / commit
    shutil.copytree(files, snapshot, dirs_exist_ok=True)
    return snapshot


def bake(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(DOWNLOAD_MODEL), *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_baking_a_local_directory_offline_writes_the_manifest_the_worker_reads(
    tmp_path, tiny_vl_model
):
    done = bake("--models-dir", str(tmp_path / "models"),
                env=clean_env(MODEL_NAME=str(tiny_vl_model), QUANTIZATION="",
                              BASE_PATH=str(tmp_path / "volume"), HF_HUB_OFFLINE="1"))
    assert done.returncode == 0, done.stderr
    manifest = tmp_path / "models" / "manifest.json"
    baked = read_manifest(manifest)
    assert baked.model_name == str(tiny_vl_model)
    assert Path(baked.model_path) == tmp_path / "models" / "local" / "tiny-qwen2-vl"
    assert not filecmp.dircmp(tiny_vl_model, baked.model_path).diff_files
    assert (baked.tokenizer_path, baked.quantization, baked.commit) == (None, None, None)
    assert baked.downloaded_at.endswith("Z")

    settings = Settings(model_name="someone/else", baked_model_manifest=manifest,
                        base_path=tmp_path / "volume")
    assert gather_storage_facts(settings).baked == baked


def test_baking_a_hub_id_offline_resolves_the_revision_and_records_the_commit(
    tmp_path, tiny_vl_model
):
    cache = tmp_path / "models" / "huggingface"
    put_in_hub_cache(cache, "tiny-org/qwen2-vl", tiny_vl_model, "a" * 40)
    put_in_hub_cache(cache, "tiny-org/qwen2-vl", tiny_vl_model, "b" * 40, revision="v1")
    put_in_hub_cache(cache, "tiny-org/tokenizer", tiny_vl_model, "c" * 40)
    done = bake("--models-dir", str(tmp_path / "models"), "--token-file", str(tmp_path / "no"),
                env=clean_env(MODEL_NAME="tiny-org/qwen2-vl", MODEL_REVISION="v1",
                              TOKENIZER_NAME="tiny-org/tokenizer", QUANTIZATION="awq",
                              BASE_PATH=str(tmp_path / "volume"), HF_HUB_OFFLINE="1"))
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / "models" / "manifest.json").read_text())
    assert record["format"] == 1
    assert (record["revision"], record["commit"], record["quantization"]) == ("v1", "b" * 40,
                                                                            "awq")
    assert record["model_path"].endswith("models--tiny-org--qwen2-vl/snapshots/" + "b" * 40)
    assert record["tokenizer_path"].endswith("models--tiny-org--tokenizer/snapshots/" + "c" * 40)
    baked = read_manifest(tmp_path / "models" / "manifest.json")
    assert baked.tokenizer_name == "tiny-org/tokenizer"


def test_baking_refuses_what_it_cannot_do_and_says_why(tmp_path):
    env = clean_env(BASE_PATH=str(tmp_path / "volume"), HF_HUB_OFFLINE="1")
    done = bake("--model", "tiny-org/not-cached", "--models-dir", str(tmp_path / "m"), env=env)
    assert done.returncode == 1
    assert "not in" in done.stderr and "hub cannot be reached" in done.stderr
    assert not (tmp_path / "m" / "manifest.json").exists()

    done = bake("--model", "a/b", "--models-dir", str(tmp_path / "volume" / "models"), env=env)
    assert done.returncode == 1 and "inside BASE_PATH" in done.stderr

    done = bake("--models-dir", str(tmp_path / "m"), env={**env, "MODEL_NAME": ""})
    assert done.returncode == 2 and "no model to bake" in done.stderr


def test_with_a_network_volume_a_later_worker_finds_the_first_one_s_download(
    tmp_path, tiny_vl_model, monkeypatch
):
    volume = tmp_path / "volume"
    volume.mkdir()
    for name in CACHE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    settings = Settings(model_name="tiny-org/qwen2-vl", base_path=volume,
                        baked_model_manifest=tmp_path / "no-manifest.json")
    source = resolve_model_source(settings, gpu=False)
    env = engine_environment(cpu=True, model=source)
    assert source.origin == "volume"
    assert env["HF_HOME"] == str(volume / "huggingface-cache")

    # What the first worker's download left on the volume (Hugging Face's cache layout).
    put_in_hub_cache(volume / "huggingface-cache" / "hub", "tiny-org/qwen2-vl", tiny_vl_model,
                     "d" * 40)
    probe = ("from huggingface_hub import constants, snapshot_download\n"
             "from transformers import AutoConfig\n"
             "print(constants.HF_HUB_CACHE)\n"
             "print(snapshot_download('tiny-org/qwen2-vl'))\n"
             "print(AutoConfig.from_pretrained('tiny-org/qwen2-vl').model_type)\n")
    # Offline only to keep the test off the network: it proves the files are found locally.
    done = subprocess.run([sys.executable, "-c", probe], env={**env, "HF_HUB_OFFLINE": "1"},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    cache, snapshot, model_type = done.stdout.split()
    assert cache == str(volume / "huggingface-cache" / "hub")
    assert snapshot == str(volume / "huggingface-cache" / "hub" / "models--tiny-org--qwen2-vl"
                           / "snapshots" / ("d" * 40))
    assert model_type == "qwen2_vl"


async def test_the_image_start_command_serves_the_baked_model_with_the_hub_offline(
    tmp_path, tiny_vl_model
):
    models, volume = tmp_path / "models", tmp_path / "volume"
    done = bake("--models-dir", str(models),
                env=clean_env(MODEL_NAME=str(tiny_vl_model), BASE_PATH=str(volume),
                              HF_HUB_OFFLINE="1"))
    assert done.returncode == 0, done.stderr
    manifest = json.loads((models / "manifest.json").read_text())
    volume.mkdir()  # a network volume is attached too: the baked model still wins over it

    command = [*exec_form("CMD"), "--test_input", "test_input_with_base64_images.json"]
    assert command[:2] == ["python3", "handler.py"]
    async with ConnectionCounter() as hub:
        env = clean_env(
            # `python3` is the CPU SGLang environment's interpreter, as it is the image's.
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            BAKED_MODEL_MANIFEST=str(models / "manifest.json"), BASE_PATH=str(volume),
            MODEL_NAME="nonexistent-org/never-downloaded", MODEL_REVISION="v9",
            # Any request to the hub would land here and be counted.
            HF_ENDPOINT=f"http://127.0.0.1:{hub.port}")
        process = await asyncio.create_subprocess_exec(
            *command, cwd=PROJECT_ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(process.communicate(), timeout=600)
    log = err.decode("utf-8", "replace")
    assert process.returncode == 0, log[-4000:]

    response = json.loads(out)["output"][0]
    assert response["object"] == "chat.completion"
    assert response["usage"]["prompt_tokens_details"]["image_tokens"] > 0
    assert response["model"] == manifest["model_name"]  # the name it was baked from
    assert "serving the model baked into this image" in log and "HF_HUB_OFFLINE=1" in log
    assert "MODEL_NAME=nonexistent-org/never-downloaded is ignored" in log
    assert "MODEL_REVISION=v9 is ignored" in log
    assert hub.connections == 0
    assert not (volume / "huggingface-cache").exists()


async def test_a_cached_model_on_a_read_only_mount_is_served_offline_and_left_untouched(
    tmp_path, tiny_vl_model
):
    volume = tmp_path / "runpod-volume"  # cached models only: no network volume
    snapshot = put_in_hub_cache(volume / "huggingface-cache" / "hub", "tiny-org/qwen2-vl",
                                tiny_vl_model, "f" * 40)
    modes = {p: stat.S_IMODE(p.lstat().st_mode) for p in [volume, *volume.rglob("*")]}
    for path, mode in modes.items():
        path.chmod(mode & ~0o222)
    before = tree(volume)
    command = [*exec_form("CMD"), "--test_input", "test_input_with_base64_images.json"]
    try:
        async with ConnectionCounter() as hub:
            env = clean_env(
                PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
                BAKED_MODEL_MANIFEST=str(tmp_path / "no-manifest.json"),
                BASE_PATH=str(volume), MODEL_NAME="tiny-org/qwen2-vl",
                # The engine's own cache, on the "container disk".
                HF_HOME=str(tmp_path / "container-hf-home"),
                HF_ENDPOINT=f"http://127.0.0.1:{hub.port}")
            process = await asyncio.create_subprocess_exec(
                *command, cwd=PROJECT_ROOT, env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            out, err = await asyncio.wait_for(process.communicate(), timeout=600)
        after = tree(volume)
    finally:
        for path, mode in modes.items():
            path.chmod(mode)
    log = err.decode("utf-8", "replace")
    assert process.returncode == 0, log[-4000:]
    response = json.loads(out)["output"][0]
    assert response["object"] == "chat.completion"
    assert response["usage"]["prompt_tokens_details"]["image_tokens"] > 0
    assert response["model"] == "tiny-org/qwen2-vl"  # the hub id, not the snapshot directory
    assert f"serving tiny-org/qwen2-vl from the cached models at {snapshot}" in log
    assert "HF_HUB_OFFLINE=1" in log
    assert hub.connections == 0
    assert after == before
