"""Why the engine did not start, in words that say what to change, and whether a restart helps.

Contract (``explain(error, settings)``, and the one policy both modes follow when
``launch_engine`` raises a ``StartupError``, ``failed_start``):
- A ``StartFailure`` has the ``cause`` a user reads (what is wrong, which variable to change)
  and ``lasting``: True when a restart of the worker would fail the same way, so the worker
  holds (``START_FAILURE_HOLD_S``) and fails every job with the cause instead of exiting.
- ``EngineConfigError`` is always lasting: a setting the worker or SGLang's parser rejected, a
  ``MODEL_NAME`` path with nothing there, a model the hub preflight could not read
  (``engine.preflight``). Its message already names the variable.
- ``EngineStartError`` is read from the engine's last output (``error.tail``, already
  redacted), against the messages SGLang, transformers and huggingface_hub really print, in
  this order: a gated repository, a missing revision, a missing repository, a refused token
  (401/403), not enough GPU memory, an architecture SGLang cannot serve, a full disk. The first
  that matches gives the cause, followed by the engine's own line as evidence.
- Anything else (a network error while downloading, the start-up deadline, a crash nobody
  recognises) is not lasting: the worker exits at once and RunPod retries with a new worker.
- The cause never holds a secret: the tail is redacted, and the cause is built from the
  model name and revision, never from the token.
- ``failed_start(error, settings, deployed=...)`` is what a mode does about it (``FailedStart``):
  a deployed worker with a lasting cause holds for ``START_FAILURE_HOLD_S`` (``hold_s``),
  answering every job (queue mode, ``jobs.serve``) or request (lb mode, ``http.serve``) with
  ``not_started()``, a ``WorkerNotStarted`` (503) saying "this worker could not start its
  engine: <cause>" with secrets masked once more; then, or at once otherwise, the worker exits
  with ``exit_code`` (the ``StartupError``'s). ``log()`` writes the lines both modes write.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass

import sglang_worker.engine.hub_causes as hub_causes
from sglang_worker.engine.redaction import Redactor
from sglang_worker.errors import (
    EngineConfigError,
    EngineStartError,
    StartupError,
    WorkerNotStarted,
)
from sglang_worker.settings import Settings

log = logging.getLogger(__name__)

EVIDENCE_CHARS = 300


@dataclass(frozen=True, slots=True)
class StartFailure:
    cause: str
    lasting: bool


@dataclass(frozen=True, slots=True)
class _Rule:
    pattern: re.Pattern[str]
    cause: Callable[[str, str | None], str]  # (model, revision) -> the cause


def _rule(pattern: str, cause: Callable[[str, str | None], str] | str) -> _Rule:
    return _Rule(re.compile(pattern), cause if callable(cause) else
                 lambda model, _revision: cause.format(model=model))


# In order: a gated repo's error is also a RepositoryNotFoundError, and a missing repository's
# message also holds "401 Client Error".
RULES = (
    _rule(r"GatedRepoError|Cannot access gated repo|You are trying to access a gated repo",
          lambda model, _: hub_causes.gated(model, token=bool(os.environ.get("HF_TOKEN")))),
    _rule(r"RevisionNotFoundError|Revision Not Found|is not a valid git identifier",
          hub_causes.missing_revision),
    _rule(r"RepositoryNotFoundError|Repository Not Found|is not a local folder and is not a "
          r"valid model identifier",
          lambda model, _: hub_causes.not_found(model, token=bool(os.environ.get("HF_TOKEN")))),
    _rule(r"401 Client Error|Invalid credentials in Authorization header|Invalid user token",
          lambda model, _: hub_causes.token_refused(model)),
    _rule(r"403 Forbidden|403 Client Error", lambda model, _: hub_causes.token_forbidden(model)),
    _rule(r"CUDA out of memory|OutOfMemoryError|Not enough memory\. Please try to increase "
          r"--mem-fraction-static|leave no GPU memory for the KV cache|CUDA error: out of memory",
          "not enough GPU memory for MODEL_NAME '{model}': choose a GPU with more memory, a "
          "smaller or quantized model (QUANTIZATION), a smaller CONTEXT_LENGTH, or tune "
          "MEM_FRACTION_STATIC as the engine's line below suggests"),
    _rule(r"are not supported for now\.|does not recognize this architecture",
          "SGLang cannot serve the architecture of MODEL_NAME '{model}': choose a model whose "
          "architecture this SGLang version supports (the engine's line below lists them)"),
    _rule(r"No space left on device|Errno 28\b",
          "the disk is full while loading MODEL_NAME '{model}': raise the endpoint's container "
          "disk size, or attach a network volume so the model is cached there"),
)


def _evidence(tail: str, match: re.Match[str]) -> str:
    start = tail.rfind("\n", 0, match.start()) + 1
    end = tail.find("\n", match.end())
    line = tail[start:end if end >= 0 else len(tail)].strip()
    return line if len(line) <= EVIDENCE_CHARS else line[:EVIDENCE_CHARS] + "..."


def explain(error: StartupError, settings: Settings) -> StartFailure:
    if isinstance(error, EngineConfigError):
        return StartFailure(error.message, lasting=True)
    tail = error.tail if isinstance(error, EngineStartError) else ""
    for rule in RULES:
        match = rule.pattern.search(tail)
        if match:
            revision = error.revision if isinstance(error, EngineStartError) else None
            cause = rule.cause(settings.model_name or "(unset)", revision)
            return StartFailure(f"{cause}. The engine said: {_evidence(tail, match)}",
                                lasting=True)
    return StartFailure(error.message, lasting=False)


@dataclass(frozen=True, slots=True)
class FailedStart:
    error: StartupError
    failure: StartFailure
    hold_s: float  # how long to answer with the cause before exiting; 0: exit at once

    @property
    def exit_code(self) -> int:
        return self.error.exit_code

    @property
    def cause(self) -> str:
        return Redactor(os.environ).line(self.failure.cause)

    def not_started(self) -> WorkerNotStarted:
        """What every job or request gets during the hold."""
        return WorkerNotStarted(f"this worker could not start its engine: {self.cause}")

    def log(self, reason: str | None = None) -> None:
        """``reason``: the shorter text a quiet local run shows instead of the whole error."""
        log.error("cannot start the engine: %s", reason or self.error.message)
        if self.hold_s:
            log.error("a restart will not fix this: %s. Answering every job and request with "
                      "this cause for %.0f s (START_FAILURE_HOLD_S), then exiting %d",
                      self.cause, self.hold_s, self.exit_code)


def failed_start(error: StartupError, settings: Settings, *, deployed: bool) -> FailedStart:
    failure = explain(error, settings)
    hold = deployed and failure.lasting and settings.start_failure_hold_s > 0
    return FailedStart(error, failure, settings.start_failure_hold_s if hold else 0.0)
