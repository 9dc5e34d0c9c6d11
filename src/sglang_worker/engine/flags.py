"""Build and validate the SGLang server's command line from environment variables.

Contract, in the order the rules apply:
1. The flag table comes from SGLang's own argument parser (``ServerArgs.add_cli_args``), never a
   hand-kept list: every long option ``--foo-bar`` is settable as ``FOO_BAR``. Aliases count
   (``--tp-size`` and ``--tensor-parallel-size`` are ``TP_SIZE`` and ``TENSOR_PARALLEL_SIZE``).
2. An empty variable counts as unset (a blank field in RunPod's console must not become
   ``--context-length ''``). Kinds: a switch (``store_true``) is added when its variable is
   true (1/true/yes/on) and left out when false; a ``--foo/--no-foo`` pair gives ``--foo``
   or ``--no-foo``; a list flag (``nargs`` ``+``/``*``) is split shell-style into several
   values; anything else is ``--flag value``. A switch value that is neither true nor false,
   or a list value with an unbalanced quote, is an error naming the variable.
3. Reserved names the worker owns are never read as flags: ``HOST``, ``PORT``, ``MODEL``,
   ``MODEL_PATH`` (use ``MODEL_NAME``), ``API_KEY`` (the engine listens on loopback and the
   worker is its only client; a key there would only lock the worker out), ``HELP`` and
   ``CONFIG`` (too generic an environment name; pass ``--config`` through ``SGLANG_ARGS``), and
   the LoRA settings the worker turns into flags itself (``MAX_LORAS_PER_BATCH``,
   ``MAX_LORA_RANK``, ``LORA_BACKEND``: ``engine.lora``).
   ``TOKENIZER_NAME`` and ``MODEL_REVISION`` are aliases of ``--tokenizer-path`` and
   ``--revision``.
4. The worker adds ``--model-path``, ``--host 127.0.0.1`` and ``--port``; on a machine without
   a GPU also ``--device cpu`` and ``--max-total-tokens`` (``CPU_MAX_TOTAL_TOKENS``) unless the
   user set them.
5. ``SGLANG_ARGS`` is read once, as ``Settings.sglang_args``: the worker splits it shell-style
   (``split_sglang_args``; an unbalanced quote is an ``EngineConfigError`` naming it) into
   ``EngineLaunch.extra_args``, which are appended last, so they win over variables. The
   variable itself in the engine's environment is not read again.
6. The whole command line is parsed with SGLang's parser before launch; a rejection is reported
   naming the environment variable that produced the offending flag.

Importing SGLang's parser costs seconds and pulls in torch, so ``build_argv`` runs inside the
engine process itself (``engine.launcher``), never in the worker; the pure functions here take
the parser's actions as plain data and are tested without SGLang.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from sglang_worker.errors import EngineConfigError

Kind = Literal["switch", "negatable", "list", "value"]
RESERVED = frozenset({"HOST", "PORT", "MODEL", "MODEL_PATH", "API_KEY", "HELP", "CONFIG",
                      "MAX_LORAS_PER_BATCH", "MAX_LORA_RANK", "LORA_BACKEND"})
ALIASES = {"TOKENIZER_NAME": "--tokenizer-path", "MODEL_REVISION": "--revision"}
TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True, slots=True)
class Flag:
    option: str  # the long option, e.g. "--context-length"
    kind: Kind


@dataclass(frozen=True, slots=True)
class EngineLaunch:
    """What the worker decides for the engine's command line; it reaches the engine process as
    JSON (``from_json``)."""

    model_path: str
    port: int
    cpu: bool
    max_total_tokens: int
    extra_args: tuple[str, ...] = ()  # SGLANG_ARGS, already split

    @classmethod
    def from_json(cls, text: str) -> EngineLaunch:
        data = json.loads(text)
        return cls(**{**data, "extra_args": tuple(data.get("extra_args", ()))})


def _split(name: str, raw: str) -> list[str]:
    try:
        return shlex.split(raw)
    except ValueError as exc:  # "No closing quotation", "No escaped character"
        raise EngineConfigError(
            f"{name} cannot be split shell-style: {exc}; quote values as in a shell") from None


def split_sglang_args(raw: str) -> tuple[str, ...]:
    """``SGLANG_ARGS`` (``Settings.sglang_args``) split shell-style into extra server flags."""
    return tuple(_split("SGLANG_ARGS", raw))


def env_name(option: str) -> str:
    return option.removeprefix("--").upper().replace("-", "_")


def flag_table(parser: argparse.ArgumentParser) -> dict[str, Flag]:
    """Every settable variable name mapped to its flag, from a parser's actions."""
    table: dict[str, Flag] = {}
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if isinstance(action, argparse.BooleanOptionalAction):
            kind: Kind = "negatable"
        elif action.nargs == 0:
            kind = "switch"
        elif action.nargs in ("+", "*"):
            kind = "list"
        else:
            kind = "value"
        for option in action.option_strings:
            if not option.startswith("--"):
                continue
            if kind == "negatable" and option.startswith("--no-"):
                continue
            name = env_name(option)
            if name not in RESERVED:
                table[name] = Flag(option, kind)
    for name, option in ALIASES.items():
        table[name] = Flag(option, "value")
    return table


def _as_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise EngineConfigError(f"{name}={raw!r} is not a boolean; use true or false")


def argv_from_env(
    env: Mapping[str, str], table: Mapping[str, Flag], launch: EngineLaunch
) -> tuple[list[str], dict[str, str]]:
    """The server's argv, and for each flag the variable it came from (for error messages)."""
    argv = ["--model-path", launch.model_path, "--host", "127.0.0.1", "--port", str(launch.port)]
    sources = {"--model-path": "MODEL_NAME", "--port": "ENGINE_PORT"}
    env = {name: value for name, value in env.items() if value.strip()}  # blank is unset
    for name in sorted(set(env) & set(table)):
        flag, raw = table[name], env[name]
        if flag.kind == "switch":
            if _as_bool(name, raw):
                argv.append(flag.option)
        elif flag.kind == "negatable":
            on = _as_bool(name, raw)
            argv.append(flag.option if on else "--no-" + flag.option.removeprefix("--"))
        elif flag.kind == "list":
            argv += [flag.option, *_split(name, raw)]
        else:
            argv += [flag.option, raw]
        sources[flag.option] = name
    if launch.cpu:
        if "DEVICE" not in env:
            argv += ["--device", "cpu"]
        if "MAX_TOTAL_TOKENS" not in env:
            argv += ["--max-total-tokens", str(launch.max_total_tokens)]
            sources["--max-total-tokens"] = "CPU_MAX_TOTAL_TOKENS"
    extra = list(launch.extra_args)
    for token in extra:
        if token.startswith("--"):
            sources.setdefault(token.split("=", 1)[0], "SGLANG_ARGS")
    return argv + extra, sources


def explain_rejection(stderr: str, sources: Mapping[str, str]) -> str:
    """Turn argparse's ``error:`` line into a message naming the variable behind the flag."""
    line = next((ln for ln in reversed(stderr.splitlines()) if "error:" in ln), stderr.strip())
    message = line.split("error:", 1)[-1].strip()
    for option in re.findall(r"--[a-z0-9][a-z0-9-]*", message):
        if option in sources:
            return f"{sources[option]}: {message}"
    if "unrecognized arguments" in message:
        return f"SGLANG_ARGS: {message}"
    return message


def sglang_parser() -> argparse.ArgumentParser:
    """SGLang's own server argument parser (imports SGLang)."""
    from sglang.srt.server_args import ServerArgs

    parser = argparse.ArgumentParser(prog="sglang", exit_on_error=True)
    ServerArgs.add_cli_args(parser)
    return parser


def build_argv(env: Mapping[str, str], launch: EngineLaunch,
               parser: argparse.ArgumentParser) -> list[str]:
    """Build the argv from ``env`` and check it with ``parser`` (``sglang_parser()``)."""
    argv, sources = argv_from_env(env, flag_table(parser), launch)
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            parser.parse_args(argv)
    except SystemExit:
        raise EngineConfigError(
            "invalid SGLang server setting: " + explain_rejection(stderr.getvalue(), sources)
        ) from None
    return argv
