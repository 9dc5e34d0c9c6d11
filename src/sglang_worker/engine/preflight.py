"""Before a download: ask Hugging Face whether the model can be read at all, in seconds.

Contract (``check_hub_access(source, env, revision)``, called by ``launch_engine`` before the
engine process starts):
- It runs only for a hub id that the engine is about to fetch (``ModelSource.origin``
  ``volume`` or ``container-disk``; a baked, local or tiny model is never checked) and only
  when Hugging Face is not offline in the engine's environment ``env`` (``HF_HUB_OFFLINE``).
- One ``HEAD`` of ``config.json`` at the revision the engine will load (the launch plan's,
  ``launch_plan.requested_revision``; None is ``main``), through
  huggingface_hub's own ``get_hf_file_metadata``, with the token and ``HF_ENDPOINT`` the engine
  will use. That one request answers all three questions: the repository exists, the revision
  exists, and the token may read the files (a gated model answers ``GatedRepo`` there, where its
  public metadata would not).
- A definite refusal raises ``EngineConfigError`` with the cause and what to change: a missing
  repository (404, or 401 without a token), a gated one, a missing revision, a token the hub
  refuses (401) or that may not read the repository (403), a name that is not a hub id.
  The token itself never appears in the message.
- Anything else is not the preflight's business and lets the start go on: the hub is not
  reachable (the engine may still find the model in its cache, or fail with the real network
  error), answers 429 or 5xx, or has no ``config.json`` for that model.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import sglang_worker.engine.hub_causes as hub_causes
from sglang_worker.engine.model_source import ModelSource
from sglang_worker.errors import EngineConfigError

log = logging.getLogger(__name__)
HUB_ORIGINS = frozenset({"volume", "container-disk"})
TIMEOUT_S = 10.0
TRUE = frozenset({"1", "true", "yes", "on"})


def _token(env: Mapping[str, str]) -> str | None:
    # None lets huggingface_hub fall back to a token saved by `hf auth login`.
    return env.get("HF_TOKEN") or env.get("HUGGING_FACE_HUB_TOKEN") or None


def check_hub_access(source: ModelSource, env: Mapping[str, str], revision: str | None = None,
                     *, timeout_s: float = TIMEOUT_S) -> None:
    if source.origin not in HUB_ORIGINS:
        return
    if env.get("HF_HUB_OFFLINE", "").lower() in TRUE:
        log.info("Hugging Face is offline (HF_HUB_OFFLINE): no preflight of %s",
                 source.model_path)
        return
    import httpx
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        HFValidationError,
        OfflineModeIsEnabled,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    model = source.model_path
    shown = revision or "main"
    endpoint = env.get("HF_ENDPOINT") or None
    token = _token(env)
    try:
        url = hf_hub_url(model, "config.json", revision=revision, endpoint=endpoint)
        get_hf_file_metadata(url, token=token, timeout=timeout_s, endpoint=endpoint)
    except HFValidationError:
        raise EngineConfigError(
            f"MODEL_NAME '{model}' is neither a local path nor a Hugging Face id "
            "(organisation/name): check the name") from None
    except GatedRepoError:
        raise EngineConfigError(hub_causes.gated(model, token=bool(token))) from None
    except RevisionNotFoundError:
        raise EngineConfigError(hub_causes.missing_revision(model, revision)) from None
    except RepositoryNotFoundError:
        raise EngineConfigError(hub_causes.not_found(model, token=bool(token))) from None
    except RemoteEntryNotFoundError:
        log.info("preflight: %s has no config.json at %s; the engine decides", model, shown)
        return
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status == 401:
            raise EngineConfigError(hub_causes.token_refused(model) if token
                                    else hub_causes.not_found(model, token=False)) from None
        if status == 403:
            raise EngineConfigError(hub_causes.token_forbidden(model)) from None
        if status == 404:
            raise EngineConfigError(hub_causes.not_found(model, token=bool(token))) from None
        log.warning("preflight of %s skipped: Hugging Face answered HTTP %s", model, status)
        return
    except (httpx.HTTPError, OfflineModeIsEnabled, OSError) as exc:
        log.warning("preflight of %s skipped: Hugging Face is not reachable (%s)", model,
                    type(exc).__name__)
        return
    log.info("preflight: %s at revision %s is readable on Hugging Face", model, shown)

