"""The hub preflight against a loopback stand-in for Hugging Face (``HF_ENDPOINT``): a missing
model, a refused token and a gated model fail in seconds with what to change; a readable model,
an unreachable or failing hub, and models that are not fetched from the hub pass."""

from __future__ import annotations

import time

import pytest

from sglang_worker.engine.launch_plan import requested_revision
from sglang_worker.engine.model_source import ModelSource
from sglang_worker.engine.preflight import check_hub_access
from sglang_worker.errors import EngineConfigError
from tests.support.hub_stand_in import HubStandIn

TOKEN = "hf_not_a_real_token_but_long"


@pytest.fixture(scope="module")
def hub():
    stand_in = HubStandIn({
        "org/model": (200, None), "org/model@nope": (404, "RevisionNotFound"),
        "org/gated": (403, "GatedRepo"), "org/private": (401, None), "org/flaky": (503, None),
        "org/no-config": (404, "EntryNotFound"), "org/locked": (403, None),
    })
    yield stand_in
    stand_in.close()


def check(hub: HubStandIn, model: str, origin: str = "container-disk", **env: str) -> None:
    check_hub_access(ModelSource(model, origin), {"HF_ENDPOINT": hub.url, **env},
                     requested_revision(env, ()))


def test_a_readable_model_passes_and_the_token_rides_along(hub):
    check(hub, "org/model", HF_TOKEN=TOKEN)
    assert hub.requests[-1] == ("/org/model/resolve/main/config.json", True)


@pytest.mark.parametrize(("model", "env", "words"), [
    ("org/missing", {}, "MODEL_NAME 'org/missing' was not found on Hugging Face: check the "
                        "name; if it is a private model, set HF_TOKEN"),
    ("org/missing", {"HF_TOKEN": TOKEN}, "or HF_TOKEN may not read it"),
    ("org/private", {}, "MODEL_NAME 'org/private' was not found on Hugging Face"),
    ("org/private", {"HF_TOKEN": TOKEN}, "Hugging Face refused HF_TOKEN (401)"),
    ("org/gated", {"HF_TOKEN": TOKEN}, "is a gated model on Hugging Face and HF_TOKEN may not "
                                       "read it: accept its licence"),
    ("org/gated", {}, "no HF_TOKEN is set"),
    ("org/locked", {"HF_TOKEN": TOKEN}, "HF_TOKEN may not read MODEL_NAME 'org/locked' (403)"),
    ("org/model", {"MODEL_REVISION": "nope"}, "revision 'nope' of MODEL_NAME 'org/model' was "
                                              "not found on Hugging Face: check MODEL_REVISION"),
    ("not a hub id", {}, "is neither a local path nor a Hugging Face id"),
])
def test_a_definite_refusal_fails_in_seconds_with_what_to_change(hub, model, env, words):
    started = time.monotonic()
    with pytest.raises(EngineConfigError) as caught:
        check(hub, model, **env)
    assert words in caught.value.message
    assert TOKEN not in caught.value.message
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("model", ["org/flaky", "org/no-config"])
def test_a_failing_hub_or_a_model_without_config_is_left_to_the_engine(hub, model):
    check(hub, model)


def test_an_unreachable_hub_is_left_to_the_engine():
    check_hub_access(ModelSource("org/model", "volume"), {"HF_ENDPOINT": "http://127.0.0.1:9"})


@pytest.mark.parametrize("origin", ["baked", "local", "tiny"])
def test_models_not_fetched_from_the_hub_are_not_checked(hub, origin):
    before = len(hub.requests)
    check(hub, "org/missing", origin)
    assert len(hub.requests) == before


def test_offline_mode_is_not_checked(hub):
    before = len(hub.requests)
    check(hub, "org/missing", HF_HUB_OFFLINE="1")
    assert len(hub.requests) == before


def test_the_revision_is_the_one_the_engine_loads():
    assert requested_revision({}, []) is None
    assert requested_revision({"MODEL_REVISION": "v1"}, []) == "v1"
    assert requested_revision({"REVISION": "v2", "MODEL_REVISION": "v1"}, []) == "v2"
    assert requested_revision({"REVISION": "v2"}, ["--revision", "v3"]) == "v3"
    assert requested_revision({}, ["--revision=v4"]) == "v4"


def test_launch_engine_runs_the_preflight_before_any_engine_starts(hub, monkeypatch, tmp_path):
    from sglang_worker.engine import server
    from sglang_worker.settings import Settings

    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(server.subprocess, "Popen", lambda *a, **k: pytest.fail("started"))
    settings = Settings(model_name="org/missing", base_path=tmp_path / "no-volume",
                        baked_model_manifest=tmp_path / "no-manifest.json")
    with pytest.raises(EngineConfigError, match="'org/missing' was not found"):
        server.launch_engine(settings)
