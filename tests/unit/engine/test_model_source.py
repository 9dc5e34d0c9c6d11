"""Which model and from where: a baked model, a local path, a hub id cached on the network volume
or the container disk, the tiny model on CPU, a clear refusal on a GPU. The decisions are pure
(``plan_model_source``); the disk is read by ``gather_storage_facts`` and ``read_manifest``."""

import json
import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from sglang_worker.engine import model_source
from sglang_worker.engine.launch_plan import plan_launch
from sglang_worker.engine.model_files import model_json
from sglang_worker.engine.model_source import (
    MANIFEST_FORMAT,
    BakedModel,
    StorageFacts,
    find_cached_snapshot,
    gather_storage_facts,
    plan_model_source,
    read_manifest,
    resolve_model_source,
)
from sglang_worker.engine.server import engine_environment
from sglang_worker.errors import EngineConfigError
from sglang_worker.settings import Settings
from tests.support.worker_jobs import tree

HUB_ID = "Qwen/Qwen2.5-VL-7B-Instruct"
NOTHING = StorageFacts(baked=None, volume_mounted=False, model_name_exists=False)
VOLUME = StorageFacts(baked=None, volume_mounted=True, model_name_exists=False)


@pytest.fixture(autouse=True)
def no_image_kernels(tmp_path, monkeypatch):
    """This machine's own ~/.cache/huggingface is not the image's: tests choose what is there."""
    monkeypatch.setattr(model_source, "IMAGE_HF_HUB_CACHE", tmp_path / "image-hf-cache" / "hub")


def make_settings(tmp_path, **overrides) -> Settings:
    values = {"model_name": HUB_ID, "tiny_model_dir": tmp_path / "tiny",
              "base_path": tmp_path / "volume", "baked_model_manifest": tmp_path / "manifest.json"}
    return Settings(**{**values, **overrides})


def baked(**overrides) -> BakedModel:
    values = {"model_name": HUB_ID, "model_path": "/models/huggingface/qwen/snapshots/abc",
              "tokenizer_name": None, "tokenizer_path": None, "revision": None,
              "commit": "abc", "quantization": None, "downloaded_at": "2025-01-01T00:00:00Z"}
    return BakedModel(**{**values, **overrides})


# --- 1. A baked model -------------------------------------------------------------------------

def test_the_baked_model_wins_over_the_environment_and_hugging_face_goes_offline(tmp_path):
    env = {"MODEL_NAME": "someone/else", "MODEL_REVISION": "v2", "REVISION": "v3",
           "TOKENIZER_NAME": "someone/tokenizer", "TOKENIZER_PATH": "/tok",
           "HF_HUB_OFFLINE": "0", "PATH": "/usr/bin"}
    settings = make_settings(tmp_path, model_name="someone/else")
    facts = StorageFacts(baked=baked(), volume_mounted=True, model_name_exists=False)
    source = plan_model_source(settings, facts, gpu=True, env=env)

    assert source.origin == "baked"
    assert source.model_path == "/models/huggingface/qwen/snapshots/abc"
    engine_env = source.apply(env)
    assert engine_env["HF_HUB_OFFLINE"] == "1" and engine_env["TRANSFORMERS_OFFLINE"] == "1"
    for dropped in ("MODEL_REVISION", "REVISION", "TOKENIZER_NAME", "TOKENIZER_PATH"):
        assert dropped not in engine_env
    assert "HF_HOME" not in engine_env  # offline: no cache decision to make, even with a volume
    assert engine_env["SERVED_MODEL_NAME"] == HUB_ID  # clients see the hub id, not a directory
    assert engine_env["PATH"] == "/usr/bin"
    assert any("MODEL_NAME=someone/else is ignored" in w for w in source.warnings)
    assert any("MODEL_REVISION=v2 is ignored" in w for w in source.warnings)
    assert any("HF_HUB_OFFLINE=1" in note and "downloads nothing" in note
               for note in source.notes)


def test_baked_tokenizer_quantization_and_a_chosen_served_name(tmp_path):
    facts = StorageFacts(baked=baked(tokenizer_path="/models/tok", quantization="awq"),
                         volume_mounted=False, model_name_exists=False)
    source = plan_model_source(make_settings(tmp_path, model_name=None), facts, gpu=True,
                               env={"SERVED_MODEL_NAME": "vision"})
    engine_env = source.apply({"SERVED_MODEL_NAME": "vision"})
    assert engine_env["TOKENIZER_NAME"] == "/models/tok"
    assert engine_env["QUANTIZATION"] == "awq"
    assert engine_env["SERVED_MODEL_NAME"] == "vision"
    assert not source.warnings  # no MODEL_NAME on a GPU is fine when the model is baked

    # A runtime QUANTIZATION is a launch choice (awq_marlin over awq, say): it is kept.
    source = plan_model_source(make_settings(tmp_path), facts, gpu=True,
                               env={"QUANTIZATION": "awq_marlin"})
    assert "QUANTIZATION" not in source.set_env
    assert any("QUANTIZATION=awq_marlin overrides" in note for note in source.notes)


# --- 2. A local path --------------------------------------------------------------------------

def test_a_home_relative_path_reaches_sglang_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    settings = make_settings(tmp_path, model_name="~/models/vl")
    facts = StorageFacts(baked=None, volume_mounted=False, model_name_exists=True)
    source = plan_model_source(settings, facts, gpu=True, env={})
    assert (source.origin, source.model_path) == ("local", str(tmp_path / "models" / "vl"))


def test_a_local_path_is_used_as_is_and_changes_nothing_else(tmp_path):
    settings = make_settings(tmp_path, model_name=str(tmp_path))
    facts = StorageFacts(baked=None, volume_mounted=True, model_name_exists=True)
    env = {"HF_TOKEN": "x", "TOKENIZER_NAME": "a/b"}
    source = plan_model_source(settings, facts, gpu=True, env=env)
    assert (source.origin, source.model_path) == ("local", str(tmp_path))
    assert source.apply(env) == env


@pytest.mark.parametrize("name", ["/runpod-volume/models/qwen", "./models/qwen", "~/qwen"])
def test_a_path_that_does_not_exist_stops_the_worker(tmp_path, name):
    with pytest.raises(EngineConfigError, match="is a path, but nothing exists there"):
        plan_model_source(make_settings(tmp_path, model_name=name), NOTHING, gpu=True, env={})


# --- 3 and 4. A hub id, with and without a network volume -------------------------------------

def test_with_a_network_volume_the_hugging_face_cache_lives_on_it(tmp_path):
    settings = make_settings(tmp_path)
    source = plan_model_source(settings, VOLUME, gpu=True, env={})
    assert source.origin == "volume" and source.model_path == HUB_ID
    assert source.set_env == {"HF_HOME": str(tmp_path / "volume" / "huggingface-cache")}
    assert "HF_HUB_OFFLINE" not in source.set_env  # the first worker must be able to download
    assert any("only the first worker downloads" in note for note in source.notes)
    assert not source.warnings


@pytest.mark.parametrize("variable", ["HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"])
def test_a_cache_location_the_user_chose_is_kept(tmp_path, variable):
    env = {variable: "/somewhere"}
    source = plan_model_source(make_settings(tmp_path), VOLUME, gpu=True, env=env)
    assert source.apply(env) == env
    assert any(f"{variable}=/somewhere" in note for note in source.notes)


def test_without_a_volume_the_download_goes_to_the_container_disk_with_a_warning(tmp_path):
    source = plan_model_source(make_settings(tmp_path), NOTHING, gpu=True, env={})
    assert source.origin == "container-disk" and source.model_path == HUB_ID
    assert not source.set_env and not source.unset_env
    (warning,) = source.warnings
    assert "container disk on every cold start" in warning
    assert "network volume" in warning and "--build-arg MODEL_NAME" in warning


# --- 5. No model ------------------------------------------------------------------------------

def test_no_model_on_a_gpu_is_a_clear_start_up_error(tmp_path):
    with pytest.raises(EngineConfigError, match="MODEL_NAME is not set"):
        plan_model_source(make_settings(tmp_path, model_name=None), VOLUME, gpu=True, env={})


def test_no_model_on_a_cpu_is_the_tiny_model(tmp_path):
    source = plan_model_source(make_settings(tmp_path, model_name=None), NOTHING, gpu=False,
                               env={})
    assert (source.origin, source.model_path) == ("tiny", str(tmp_path / "tiny"))


def test_the_tiny_model_is_served_under_its_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = make_settings(tmp_path, model_name=None, tiny_model_dir=Path("rel") / "tiny")
    source = plan_model_source(settings, NOTHING, gpu=False, env={})
    assert source.model_path == str(tmp_path / "rel" / "tiny")


def test_a_missing_tiny_model_says_how_to_build_it_and_builds_nothing(tmp_path, monkeypatch):
    """The worker never builds it: the builder (``tiny_models``) is not in the image."""
    settings = make_settings(tmp_path, model_name=None)
    with pytest.raises(EngineConfigError, match="make models") as info:
        resolve_model_source(settings, gpu=False)
    assert "TINY_MODEL_DIR" in info.value.message
    assert not (tmp_path / "tiny").exists()
    (tmp_path / "tiny").mkdir()
    (tmp_path / "tiny" / "config.json").write_text("{}")
    assert resolve_model_source(settings, gpu=False).origin == "tiny"


# --- What is on disk --------------------------------------------------------------------------

def write_manifest(path, **overrides) -> None:
    values = {"format": MANIFEST_FORMAT, "model_name": HUB_ID, "model_path": str(path.parent),
              "tokenizer_name": None, "tokenizer_path": None, "revision": "main",
              "commit": None, "quantization": None, "downloaded_at": "2025-01-01T00:00:00Z"}
    path.write_text(json.dumps({**values, **overrides}))


def test_storage_facts_read_the_manifest_the_volume_and_the_model_path(tmp_path):
    settings = make_settings(tmp_path, model_name=str(tmp_path))
    assert gather_storage_facts(settings) == StorageFacts(None, False, True)
    (tmp_path / "volume").mkdir()
    write_manifest(tmp_path / "manifest.json")
    facts = gather_storage_facts(settings)
    assert facts.volume_mounted
    assert facts.baked == baked(model_path=str(tmp_path), revision="main", commit=None)


@pytest.mark.parametrize("content, message", [
    ("{not json", "cannot be read"),
    (json.dumps({"format": 99, "model_path": "/x"}), "is not format 1"),
    (json.dumps({"format": 1, "model_path": "/x"}), "names no model"),
    (json.dumps({"format": 1, "model_name": "m", "model_path": 3}), "not a string"),
])
def test_an_unusable_manifest_stops_the_worker(tmp_path, content, message):
    (tmp_path / "manifest.json").write_text(content)
    with pytest.raises(EngineConfigError, match=message):
        read_manifest(tmp_path / "manifest.json")


def test_a_manifest_naming_a_missing_directory_stops_the_worker(tmp_path):
    write_manifest(tmp_path / "manifest.json", tokenizer_path=str(tmp_path / "gone"))
    with pytest.raises(EngineConfigError, match="not a directory in this image"):
        read_manifest(tmp_path / "manifest.json")


def test_the_engine_environment_carries_the_decision(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("MODEL_REVISION", "v9")
    monkeypatch.delenv("HF_HOME", raising=False)
    write_manifest(tmp_path / "manifest.json")
    settings = make_settings(tmp_path)
    with caplog.at_level(logging.INFO, logger="sglang_worker.engine.model_source"):
        source = resolve_model_source(settings, gpu=True)
    env = engine_environment(cpu=True, model=source)
    assert env["HF_HUB_OFFLINE"] == env["TRANSFORMERS_OFFLINE"] == "1"
    assert "MODEL_REVISION" not in env and env["SGLANG_USE_CPU_ENGINE"] == "1"
    assert env["PATH"] == os.environ["PATH"]
    assert "serving the model baked into this image" in caplog.text
    assert "MODEL_REVISION=v9 is ignored" in caplog.text


# --- The device -------------------------------------------------------------------------------

def test_vocab_size_is_read_from_the_model_config(tmp_path):
    from sglang_worker.engine.model_files import vocab_size

    (tmp_path / "config.json").write_text('{"vocab_size": 151936}')
    assert vocab_size(str(tmp_path), {}) == 151936
    (tmp_path / "config.json").write_text('{"text_config": {"vocab_size": 512}}')
    assert vocab_size(str(tmp_path), {}) == 512
    assert vocab_size(str(tmp_path / "missing"), {}) is None
    assert vocab_size("no-such-org/no-such-model", {}) is None


@pytest.mark.parametrize("variable, hub", [("HF_HOME", "hub"), ("HF_HUB_CACHE", "")])
def test_vocab_size_is_found_in_the_cache_the_engine_uses(tmp_path, variable, hub):
    """On a network volume only the engine's environment names the cache (HF_HOME)."""
    from sglang_worker.engine.model_files import vocab_size

    snapshot = tmp_path / hub / "models--org--vl" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text('{"vocab_size": 151936}')
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("abc123")
    assert vocab_size("org/vl", {variable: str(tmp_path)}) == 151936
    assert vocab_size("org/vl", {}) is None  # the worker's own default cache has nothing


# --- The image's pre-downloaded kernels -------------------------------------------------------

def image_kernels(tmp_path) -> Path:
    """A stand-in for the image's /root/.cache/huggingface/hub after `kernels download`."""
    hub = tmp_path / "image-hf-cache" / "hub"
    (hub / "kernels--kernels-community--sgl-flash-attn3" / "snapshots" / "c0ffee").mkdir(
        parents=True)
    return hub


def test_with_the_cache_on_the_volume_the_image_kernels_stay_reachable(tmp_path, monkeypatch):
    hub = image_kernels(tmp_path)
    for name in ("HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "KERNELS_CACHE"):
        monkeypatch.delenv(name, raising=False)
    source = plan_model_source(make_settings(tmp_path), VOLUME, gpu=True, env={})
    env = engine_environment(cpu=False, model=source)
    assert env["HF_HOME"] == str(tmp_path / "volume" / "huggingface-cache")
    assert env["KERNELS_CACHE"] == str(hub)  # kernels 0.14's variable; unset = $HF_HOME/hub


@pytest.mark.parametrize("variable", ["HF_HOME", "HF_HUB_CACHE"])
def test_a_cache_the_user_moved_keeps_the_image_kernels_too(tmp_path, monkeypatch, variable):
    hub = image_kernels(tmp_path)
    monkeypatch.delenv("KERNELS_CACHE", raising=False)
    env = {variable: "/somewhere"}
    source = plan_model_source(make_settings(tmp_path), VOLUME, gpu=True, env=env)
    assert source.apply(env) == {variable: "/somewhere", "KERNELS_CACHE": str(hub)}


def test_the_kernels_cache_is_set_only_when_it_is_unset_needed_and_there(tmp_path):
    hub = image_kernels(tmp_path)
    volume = plan_model_source(make_settings(tmp_path), VOLUME, gpu=True, env={})
    # The user's choice wins.
    assert volume.apply({"KERNELS_CACHE": "/mine"})["KERNELS_CACHE"] == "/mine"
    # The engine's hub cache is the image's: nothing is hidden, nothing to set.
    disk = plan_model_source(make_settings(tmp_path), NOTHING, gpu=True, env={})
    assert "KERNELS_CACHE" not in disk.apply({})
    assert "KERNELS_CACHE" not in disk.apply({"HF_HUB_CACHE": str(hub)})
    # No pre-downloaded kernels in the image (another base image, a CPU machine): not set.
    for entry in hub.iterdir():
        entry.rename(tmp_path / entry.name)
    assert "KERNELS_CACHE" not in volume.apply({})
    hub.rmdir()
    assert "KERNELS_CACHE" not in volume.apply({})


# --- RunPod's cached models -------------------------------------------------------------------

def put_cached_model(hub: Path, repo_id: str, commit: str = "e" * 40, revision: str = "main",
                     files: dict[str, str] | None = None) -> Path:
    """A model as Hugging Face's cache (and RunPod's cached models) lays it out: blobs, with the
    snapshot's files symlinks to them."""
    repo = hub / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / revision).write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True, exist_ok=True)
    (repo / "blobs").mkdir(exist_ok=True)
    files = files if files is not None else {"config.json": '{"vocab_size": 512}',
                                             "model.safetensors": "weights"}
    for i, (name, content) in enumerate(files.items()):
        blob = repo / "blobs" / f"{commit[:8]}{i}"
        if content is not None:
            blob.write_text(content)
        (snapshot / name).symlink_to(os.path.relpath(blob, snapshot))
    return snapshot


def cached_hub(tmp_path) -> Path:
    return tmp_path / "volume" / "huggingface-cache" / "hub"


def test_a_cached_model_is_served_offline_from_its_snapshot(tmp_path):
    snapshot = put_cached_model(cached_hub(tmp_path), HUB_ID)
    facts = gather_storage_facts(make_settings(tmp_path))
    assert facts.cached_snapshot == snapshot and facts.volume_mounted
    env = {"MODEL_REVISION": "main", "PATH": "/usr/bin"}
    source = plan_model_source(make_settings(tmp_path), facts, gpu=True, env=env)
    assert (source.origin, source.model_path) == ("cached", str(snapshot))
    engine_env = source.apply(env)
    assert engine_env["HF_HUB_OFFLINE"] == engine_env["TRANSFORMERS_OFFLINE"] == "1"
    assert engine_env["SERVED_MODEL_NAME"] == HUB_ID  # clients see the hub id
    assert "MODEL_REVISION" not in engine_env  # the snapshot is that revision
    # No variable points the engine at the cached models' mount: its writes go elsewhere.
    assert not any(value.startswith(str(tmp_path / "volume")) for value in engine_env.values())
    assert engine_env["PATH"] == "/usr/bin"
    assert any("cached models" in note for note in source.notes)
    assert not source.warnings


def test_the_cached_model_rule_needs_no_network_volume_and_writes_nothing(tmp_path, monkeypatch):
    """A read-only mount (chmod, and a before/after listing, which root's writes would change)."""
    for name in ("HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "MODEL_REVISION",
                 "REVISION", "TOKENIZER_NAME", "TOKENIZER_PATH", "SERVED_MODEL_NAME"):
        monkeypatch.delenv(name, raising=False)
    snapshot = put_cached_model(cached_hub(tmp_path), HUB_ID)
    volume = tmp_path / "volume"
    modes = {p: p.lstat().st_mode for p in [volume, *volume.rglob("*")] if not p.is_symlink()}
    for path in modes:
        path.chmod(stat.S_IMODE(modes[path]) & ~0o222)
    try:
        before = tree(volume)
        source = resolve_model_source(make_settings(tmp_path), gpu=True)
        env = engine_environment(cpu=False, model=source)
        assert (source.origin, source.model_path) == ("cached", str(snapshot))
        assert model_json(source.model_path, "config.json", env) == {"vocab_size": 512}
        # huggingface_hub reading that cache offline (as a user who points HF_HUB_CACHE at the
        # mount would have it) writes nothing either: no lock, no .no_exist marker.
        probe = ("from huggingface_hub import hf_hub_download, snapshot_download\n"
                 "from huggingface_hub.errors import LocalEntryNotFoundError\n"
                 f"print(snapshot_download({HUB_ID!r}))\n"
                 f"print(hf_hub_download({HUB_ID!r}, 'config.json'))\n"
                 "try:\n"
                 f"    hf_hub_download({HUB_ID!r}, 'tokenizer.json')\n"
                 "except LocalEntryNotFoundError:\n"
                 "    print('absent')\n")
        done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                              timeout=60, env={**env, "HF_HUB_CACHE": str(cached_hub(tmp_path)),
                                               "HF_HOME": str(tmp_path / "disk-hf-home")})
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.split() == [str(snapshot), str(snapshot / "config.json"), "absent"]
        assert tree(volume) == before
    finally:
        for path, mode in modes.items():
            path.chmod(stat.S_IMODE(mode))


def test_the_cached_snapshot_is_the_requested_revision(tmp_path):
    hub = cached_hub(tmp_path)
    main = put_cached_model(hub, HUB_ID, "a" * 40)
    tagged = put_cached_model(hub, HUB_ID, "b" * 40, revision="v1")
    assert find_cached_snapshot(hub, HUB_ID, None) == main
    assert find_cached_snapshot(hub, HUB_ID, "v1") == tagged
    assert find_cached_snapshot(hub, HUB_ID, "b" * 40) == tagged  # a commit
    assert find_cached_snapshot(hub, HUB_ID, "v2") is None
    assert find_cached_snapshot(hub, "other/model", None) is None
    settings = make_settings(tmp_path, sglang_args="--revision v1")
    revision = plan_launch(settings, {"MODEL_REVISION": "main"}).revision
    assert gather_storage_facts(settings, revision).cached_snapshot == tagged
    assert gather_storage_facts(make_settings(tmp_path), "v2").cached_snapshot is None


@pytest.mark.parametrize("files", [
    {"config.json": "{}"},  # no weights yet
    {"model.safetensors": "w"},  # no config
    {"config.json": "{}", "model.safetensors": None},  # a symlink to a blob never downloaded
    {"config.json": "{}", "model-00001-of-00002.safetensors": "w",
     "model.safetensors.index.json": json.dumps({"weight_map": {
         "a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}})},
])
def test_an_incomplete_snapshot_is_not_served(tmp_path, files):
    put_cached_model(cached_hub(tmp_path), HUB_ID, files=files)
    facts = gather_storage_facts(make_settings(tmp_path))
    assert facts.cached_snapshot is None
    source = plan_model_source(make_settings(tmp_path), facts, gpu=True, env={})
    assert source.origin == "volume" and source.model_path == HUB_ID  # downloads what is missing


def test_a_sharded_snapshot_with_every_shard_is_complete(tmp_path):
    shards = {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}
    files = {"config.json": "{}", "model.safetensors.index.json": json.dumps(
        {"weight_map": shards}), **{name: "w" for name in shards.values()}}
    snapshot = put_cached_model(cached_hub(tmp_path), HUB_ID, files=files)
    assert find_cached_snapshot(cached_hub(tmp_path), HUB_ID, None) == snapshot


def test_a_tokenizer_from_the_cached_model_or_elsewhere(tmp_path):
    snapshot = put_cached_model(cached_hub(tmp_path), HUB_ID)
    facts = gather_storage_facts(make_settings(tmp_path))
    same = plan_model_source(make_settings(tmp_path), facts, gpu=True,
                             env={"TOKENIZER_NAME": HUB_ID}).apply({"TOKENIZER_NAME": HUB_ID})
    assert same["TOKENIZER_NAME"] == str(snapshot) and same["HF_HUB_OFFLINE"] == "1"
    # Another hub id must be fetched: Hugging Face stays online (the container disk's cache).
    other = plan_model_source(make_settings(tmp_path), facts, gpu=True,
                              env={"TOKENIZER_NAME": "org/tok"})
    engine_env = other.apply({"TOKENIZER_NAME": "org/tok"})
    assert engine_env["TOKENIZER_NAME"] == "org/tok" and "HF_HUB_OFFLINE" not in engine_env
    assert any("online for the tokenizer org/tok" in note for note in other.notes)


def test_a_read_only_mount_without_the_model_is_not_a_download_cache(tmp_path):
    facts = StorageFacts(baked=None, volume_mounted=True, model_name_exists=False,
                         volume_writable=False)
    source = plan_model_source(make_settings(tmp_path), facts, gpu=True, env={})
    assert source.origin == "container-disk" and "HF_HOME" not in source.set_env
    (warning,) = source.warnings
    assert "is read-only" in warning and "cached model" in warning


def test_a_baked_model_and_a_local_path_win_over_a_cached_model(tmp_path):
    snapshot = put_cached_model(cached_hub(tmp_path), HUB_ID)
    baked_facts = StorageFacts(baked=baked(), volume_mounted=True, model_name_exists=False,
                               cached_snapshot=snapshot)
    assert plan_model_source(make_settings(tmp_path), baked_facts, gpu=True,
                             env={}).origin == "baked"
