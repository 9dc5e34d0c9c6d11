"""The launch facts, decided once at start-up and read by everything that needs them.

Contract: ``plan_launch(settings, env)`` returns a ``LaunchPlan``:
- ``extra_args``: ``SGLANG_ARGS`` split shell-style (``flags.split_sglang_args``; an unbalanced
  quote is an ``EngineConfigError`` naming it), appended last to the engine's flags.
- ``revision``: the revision the engine will load (``requested_revision``: ``--revision`` in
  ``SGLANG_ARGS`` wins over ``REVISION``, then ``MODEL_REVISION``; None means ``main``). The
  cached-model lookup (``model_source``), the hub preflight (``preflight``) and the start-up
  failure's cause (``start_failure``, through ``EngineStartError.revision``) all read this one.
- ``mm_image_config`` / ``mm_video_config``: the ``image`` and ``video`` settings of the
  ``--mm-process-config`` the engine gets (``SGLANG_ARGS`` or else ``MM_PROCESS_CONFIG``),
  which size images and sample videos for the model.
- ``chat_template``: the ``--chat-template`` the engine gets (``SGLANG_ARGS`` or else
  ``CHAT_TEMPLATE``): a template name or file; None: the model's own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sglang_worker.engine.flags import split_sglang_args
from sglang_worker.settings import Settings

MM_PROCESS_CONFIG_FLAG = "--mm-process-config"


@dataclass(frozen=True, slots=True)
class LaunchPlan:
    extra_args: tuple[str, ...] = ()
    revision: str | None = None
    mm_image_config: Mapping[str, Any] = field(default_factory=dict)
    mm_video_config: Mapping[str, Any] = field(default_factory=dict)
    chat_template: str | None = None


def plan_launch(settings: Settings, env: Mapping[str, str]) -> LaunchPlan:
    extra = split_sglang_args(settings.sglang_args)
    return LaunchPlan(extra, requested_revision(env, extra), mm_config(env, extra, "image"),
                      mm_config(env, extra, "video"),
                      flag_value(extra, "--chat-template") or env.get("CHAT_TEMPLATE") or None)


def flag_value(extra_args: Sequence[str], flag: str) -> str | None:
    """The value ``flag`` takes in ``extra_args`` (already split), as ``--flag v`` or
    ``--flag=v``; the last occurrence wins, as in SGLang's parser. None when absent."""
    value = None
    for i, arg in enumerate(extra_args):
        if arg == flag and i + 1 < len(extra_args):
            value = extra_args[i + 1]
        elif arg.startswith(flag + "="):
            value = arg.split("=", 1)[1]
    return value


def requested_revision(env: Mapping[str, str], extra_args: Sequence[str]) -> str | None:
    """The revision the engine will load: ``SGLANG_ARGS`` wins over the variables."""
    return flag_value(extra_args, "--revision") or env.get("REVISION") \
        or env.get("MODEL_REVISION") or None


def mm_config(env: Mapping[str, str], extra_args: Sequence[str],
              section: str) -> dict[str, Any]:
    """The ``section`` (``image``, ``video``) of the ``--mm-process-config`` the engine gets: from
    ``SGLANG_ARGS`` (already split; the last occurrence wins, as in SGLang's parser) or else
    ``MM_PROCESS_CONFIG``. Empty when unset or not a JSON object (SGLang's parser refuses
    malformed JSON at start-up, so that case never serves)."""
    raw = flag_value(extra_args, MM_PROCESS_CONFIG_FLAG) or env.get("MM_PROCESS_CONFIG") or None
    try:
        config = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    settings = config.get(section) if isinstance(config, dict) else None
    return settings if isinstance(settings, dict) else {}
