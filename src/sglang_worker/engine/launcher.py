"""The engine process's entry point: build the flags, check them, then become SGLang's server.

Contract:
- Run as ``python -m sglang_worker.engine.launcher`` in the engine's environment, with the
  ``EngineLaunch`` as JSON in ``LAUNCH_VARIABLE`` (``engine.launch_engine`` does this). Not on
  the command line: ``SGLANG_ARGS`` rides in it, and a command line is world-readable (``ps``)
  where the environment is not. The variable is removed before SGLang starts its processes.
- It builds the command line from the environment and the ``EngineLaunch`` (the worker's
  choices, ``SGLANG_ARGS`` among them, already split) and checks it with SGLang's own parser
  (``flags.build_argv``). A rejected setting prints one line, ``CONFIG_ERROR_MARKER``
  followed by the message naming the variable, and exits 2 before anything heavy starts;
  ``engine.py`` turns that line into a start-up error.
- Each environment variable that looks like a misspelling of one the worker, SGLang's flags or
  worker-vllm's names know (``vllm_env.misspellings``) gets one "did you mean" warning line:
  a misspelt setting would otherwise do nothing, silently.
- Otherwise it runs ``sglang.launch_server`` as ``__main__`` in this same process, exactly as
  ``python -m sglang.launch_server <flags>`` would. Checking in the process that then serves
  means SGLang's modules (seconds of imports, torch among them) are loaded once, so the check
  costs no start-up time.
"""

from __future__ import annotations

import argparse
import os
import runpy
import sys

from sglang_worker.engine.flags import (
    ALIASES,
    RESERVED,
    EngineLaunch,
    build_argv,
    flag_table,
    sglang_parser,
)
from sglang_worker.engine.redaction import redact_argv
from sglang_worker.engine.vllm_env import BY_NAME, misspellings
from sglang_worker.errors import EngineConfigError
from sglang_worker.settings import variables

CONFIG_ERROR_MARKER = "SGLANG_WORKER_CONFIG_ERROR:"
LAUNCH_VARIABLE = "SGLANG_WORKER_LAUNCH"


def known_variables(parser: argparse.ArgumentParser) -> set[str]:
    """Every variable name with a meaning here: SGLang's flags, the worker's settings and
    worker-vllm's names (the "did you mean" candidates)."""
    return {*flag_table(parser), *RESERVED, *ALIASES, *variables(), *BY_NAME, "SGLANG_ARGS"}


def main(launch_json: str) -> None:
    launch = EngineLaunch.from_json(launch_json)
    parser = sglang_parser()
    try:
        argv = build_argv(os.environ, launch, parser)
    except EngineConfigError as error:
        print(f"{CONFIG_ERROR_MARKER} {error.message}", file=sys.stderr, flush=True)
        sys.exit(2)
    for name, meant in misspellings(os.environ, known_variables(parser)):
        print(f"warning: {name} is not a setting this worker, SGLang or worker-vllm knows, so it "
              f"does nothing; did you mean {meant}?", file=sys.stderr, flush=True)
    print("sglang.launch_server " + " ".join(redact_argv(argv)), file=sys.stderr, flush=True)
    sys.argv = ["sglang.launch_server", *argv]
    runpy.run_module("sglang.launch_server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(os.environ.pop(LAUNCH_VARIABLE))
