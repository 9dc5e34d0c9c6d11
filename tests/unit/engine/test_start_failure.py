"""Start-up failures: which causes are lasting (the worker holds and fails jobs with them) and
how they read; the handler of the hold; the RunPod SDK variables the worker sets; the quiet
local run's engine log. The engine lines are the messages SGLang, transformers and
huggingface_hub print (read from their sources)."""

from __future__ import annotations

import json

import pytest

from sglang_worker.engine.start_failure import FailedStart, StartFailure, explain, failed_start
from sglang_worker.errors import EngineConfigError, EngineStartError, WorkerNotStarted
from sglang_worker.jobs import local_run
from sglang_worker.jobs import serve as queue_mode
from sglang_worker.jobs.not_started import not_started_handler
from sglang_worker.settings import Settings

SETTINGS = Settings(model_name="Qwen/Qwen2.5-VL-7B-Instrct")


def start_error(*lines: str) -> EngineStartError:
    tail = "\n".join(["[2026-01-01] server_args=ServerArgs(...)", *lines, "exit"])
    return EngineStartError(f"the SGLang server exited with code 1 during start-up. Its last "
                            f"output:\n{tail}", tail=tail)


@pytest.mark.parametrize(("line", "words"), [
    ("huggingface_hub.errors.RepositoryNotFoundError: 404 Client Error. (Request ID: x)",
     "MODEL_NAME 'Qwen/Qwen2.5-VL-7B-Instrct' was not found on Hugging Face: check the name"),
    ("OSError: Qwen/Qwen2.5-VL-7B-Instrct is not a local folder and is not a valid model "
     "identifier listed on 'https://huggingface.co/models'", "was not found on Hugging Face"),
    ("huggingface_hub.errors.GatedRepoError: 403 Client Error. Cannot access gated repo for url "
     "https://huggingface.co/x/resolve/main/config.json.", "is a gated model on Hugging Face"),
    ("OSError: You are trying to access a gated repo.", "accept its licence"),
    ("huggingface_hub.errors.RevisionNotFoundError: 404 Client Error. Revision Not Found for url",
     "revision 'main' of MODEL_NAME"),
    ("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB",
     "not enough GPU memory for MODEL_NAME"),
    ("RuntimeError: Not enough memory. Please try to increase --mem-fraction-static.",
     "tune MEM_FRACTION_STATIC"),
    ("ValueError: Model architectures ['FooForCausalLM'] are not supported for now. Supported "
     "architectures: dict_keys([...])", "SGLang cannot serve the architecture"),
    ("OSError: [Errno 28] No space left on device", "the disk is full"),
])
def test_causes_a_restart_will_not_fix_are_lasting_and_say_what_to_change(line, words):
    failure = explain(start_error("Traceback (most recent call last):", line), SETTINGS)
    assert failure.lasting
    assert words in failure.cause
    assert failure.cause.endswith(line[:300])  # the engine's own line, as evidence
    assert "server_args" not in failure.cause


@pytest.mark.parametrize("line", [
    "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='huggingface.co', port=443): "
    "Max retries exceeded",
    "httpx.ReadTimeout: The read operation timed out",
    "OSError: We couldn't connect to 'https://huggingface.co' to load the files",
    "Segmentation fault",
])
def test_causes_a_restart_may_fix_are_not_lasting(line):
    error = start_error(line)
    failure = explain(error, SETTINGS)
    assert not failure.lasting and failure.cause == error.message


def test_a_rejected_setting_is_lasting_and_reads_as_its_message():
    error = EngineConfigError("invalid SGLang server setting: CONTEXT_LENGTH: argument "
                              "--context-length: invalid int value: 'lots'")
    assert explain(error, SETTINGS) == StartFailure(error.message, lasting=True)


async def test_the_hold_handler_fails_every_job_with_the_cause():
    handle = not_started_handler(WorkerNotStarted("this worker could not start its engine: x"))
    outputs = [out async for out in handle({"id": "j1", "input": {"anything": 1}})]
    assert len(outputs) == 1
    body = json.loads(outputs[0]["error"])["error"]
    assert body == {"message": "this worker could not start its engine: x",
                    "type": "server_error", "param": None, "code": 503}


def test_the_hold_error_masks_secrets_once_more(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_secret_value_123")
    failure = explain(EngineConfigError("bad value hf_secret_value_123"), SETTINGS)
    failed = FailedStart(EngineConfigError("bad"), failure, hold_s=1.0)
    assert "hf_secret_value_123" not in failed.not_started().message
    assert failed.not_started().message.startswith("this worker could not start its engine: ")


def test_the_sdk_checks_are_off_unless_the_deployer_turns_them_on():
    settings = Settings(runpod_log_level="WARN")
    assert queue_mode.sdk_environment(settings, {}) == {
        "RUNPOD_SKIP_GPU_CHECK": "true", "RUNPOD_SKIP_AUTO_SYSTEM_CHECKS": "true",
        "RUNPOD_LOG_LEVEL": "WARN"}
    chosen = queue_mode.sdk_environment(settings, {"RUNPOD_SKIP_AUTO_SYSTEM_CHECKS": "false"})
    assert chosen["RUNPOD_SKIP_AUTO_SYSTEM_CHECKS"] == "false"
    assert chosen["RUNPOD_SKIP_GPU_CHECK"] == "true"


def test_a_local_run_sends_the_engine_output_to_a_file_unless_one_is_set(tmp_path):
    quiet = local_run._quiet(Settings())
    assert quiet.engine_log_file is not None and quiet.engine_log_file.name.endswith(".log")
    chosen = Settings(engine_log_file=tmp_path / "engine.log")
    assert local_run._quiet(chosen).engine_log_file == tmp_path / "engine.log"


@pytest.mark.parametrize(("error", "deployed", "hold"), [
    (EngineConfigError("MODEL_NAME: no such path"), True, 300.0),
    (EngineConfigError("MODEL_NAME: no such path"), False, 0.0),
    (EngineStartError("timed out", tail="ReadTimeout: connection to the hub"), True, 0.0),
])
def test_one_policy_for_both_modes_holds_only_a_deployed_lasting_failure(error, deployed, hold):
    failed = failed_start(error, Settings(start_failure_hold_s=300), deployed=deployed)
    assert (failed.hold_s, failed.exit_code) == (hold, error.exit_code)


def test_no_hold_when_the_deployer_turns_it_off():
    failed = failed_start(EngineConfigError("x"), Settings(start_failure_hold_s=0), deployed=True)
    assert failed.hold_s == 0


def test_a_missing_revision_names_the_revision_the_engine_was_asked_for(monkeypatch):
    """From the launch plan (``EngineStartError.revision``), not read again from the
    environment: ``--revision`` in SGLANG_ARGS wins over MODEL_REVISION there."""
    monkeypatch.setenv("MODEL_REVISION", "v1")
    tail = "huggingface_hub.errors.RevisionNotFoundError: 404 Client Error. Revision Not Found"
    error = EngineStartError(f"exited. Its last output:\n{tail}", tail=tail, revision="v2")
    assert "revision 'v2' of MODEL_NAME" in explain(error, SETTINGS).cause
