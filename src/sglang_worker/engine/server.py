"""The supervised SGLang server: launch, readiness, death watch, shutdown.

Contract:
- ``launch_engine(settings)`` resolves the model and the device (``model_source``: a baked model,
  a local path, a hub id cached on the network volume or on the container disk, or the tiny
  test model; the choice also sets parts of the engine's environment) and starts the engine process
  (``engine.launcher``: flags built from the environment and checked by SGLang's parser, then
  SGLang's ``launch_server`` on 127.0.0.1) in its own process group. It returns once
  ``GET /health`` answers 200. A rejected setting raises ``EngineConfigError`` naming the
  variable; an exit or the start-up deadline (``ENGINE_STARTUP_TIMEOUT_S``) raises
  ``EngineStartError`` with the last lines of the server's output. The GPU and CPU paths differ
  only in flags and in ``SGLANG_USE_CPU_ENGINE=1``.
- The server's output is copied line by line to the worker's stderr (prefixed ``[sglang]``),
  or, when ``ENGINE_LOG_FILE`` is set (``--test_input`` runs set it to a temporary file), to
  that file instead, with secret values masked (``redaction``); the last ``TAIL_LINES`` are
  kept for error messages (``EngineStartError.tail``).
- Before the process starts: an inline chat template (``CHAT_TEMPLATE`` holding Jinja) becomes a
  file (``inline_template``); with more than one GPU and no parallelism set, the tensor
  parallelism is the GPU count or the largest size the model shards by (``parallelism``); the
  compile caches go to the network volume when it can hold them (``compile_cache``). Each
  decision is logged.
- Before the process starts, a hub model is checked on Hugging Face (``preflight``), so a
  wrong name, revision or token fails in seconds rather than after a download.
- Before it starts, the LoRA adapters (``LORA_ADAPTERS``) are resolved and checked against the
  base model (``lora``), and their flags lead the extra arguments; an adapter that cannot serve
  is an ``EngineConfigError`` with the cause, like any lasting start-up failure.
- ``Engine.watch(on_death)`` calls ``on_death`` from a thread when the server exits without
  ``stop()`` having been asked for. ``Engine.alive`` is what jobs check before starting.
- ``Engine.stop()`` sends SIGTERM to the server, waits ``ENGINE_SHUTDOWN_TIMEOUT_S``, then
  SIGKILLs whatever is left of its process group. The child also gets SIGTERM from the kernel if
  the worker dies without cleaning up (``PR_SET_PDEATHSIG``), so no engine outlives its worker.
- ``info()`` asks the running server what it serves: the model name clients see and whether it
  understands images (``has_image_understanding``). ``launch_engine`` adds what the model's
  files say (``model_source``): the vocabulary size, and the model type, image-processor
  config and ``--mm-process-config`` image settings that decide the image sizes, whether its
  rerank renders media, and the names of the adapters served.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from sglang_worker.child_process import OutputTail, die_with_parent
from sglang_worker.engine.compile_cache import compile_cache_env
from sglang_worker.engine.flags import EngineLaunch
from sglang_worker.engine.gpus import gpu_names
from sglang_worker.engine.inline_template import template_file
from sglang_worker.engine.launch_plan import plan_launch
from sglang_worker.engine.launcher import CONFIG_ERROR_MARKER, LAUNCH_VARIABLE
from sglang_worker.engine.lora import (
    check_adapter,
    lora_flags,
    parse_adapters,
    refuse_unchecked,
    resolve_adapter,
)
from sglang_worker.engine.model_files import (
    chat_template,
    model_json,
    model_type,
    reranks_media,
    vocab_size,
)
from sglang_worker.engine.model_source import ModelSource, resolve_model_source
from sglang_worker.engine.parallelism import choose_tensor_parallel
from sglang_worker.engine.preflight import check_hub_access
from sglang_worker.engine.redaction import Redactor
from sglang_worker.errors import EngineConfigError, EngineStartError
from sglang_worker.settings import Settings

log = logging.getLogger(__name__)
TAIL_LINES = 40
TEMPLATE_DIR = Path(tempfile.gettempdir()) / "sglang-worker"  # inline chat templates, as files


@dataclass(frozen=True, slots=True)
class EngineInfo:
    base_url: str
    served_model: str
    vision: bool
    vocab_size: int | None = None  # None: unknown, token ids are then only checked for sign
    # What sizes images for the model (images.model_grid reads them): config.json's
    # model_type, preprocessor_config.json, and --mm-process-config's "image" settings. The
    # same preprocessor_config.json is an audio model's feature extractor (audio.rules).
    model_type: str | None = None
    preprocessor: Mapping[str, Any] | None = None
    mm_image_config: Mapping[str, Any] = field(default_factory=dict)
    mm_video_config: Mapping[str, Any] = field(default_factory=dict)  # samples videos
    audio: bool = False  # the model takes audio input (SGLang's has_audio_understanding)
    # SGLang's /v1/rerank renders content parts (images, videos) for it (model_files)
    rerank_media: bool = False
    adapters: tuple[str, ...] = ()  # the LoRA adapters served, by name (engine.lora)


def engine_port(configured: int) -> int:
    """``ENGINE_PORT`` if it is free (a clear error if not), else any free loopback port."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", configured))
        except OSError:
            raise EngineConfigError(
                f"ENGINE_PORT {configured} is already in use on 127.0.0.1; free it or set "
                "ENGINE_PORT=0 to pick a free port"
            ) from None
        return sock.getsockname()[1]


def _get_json(url: str, timeout: float) -> tuple[int, object]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read()
            return response.status, json.loads(body) if body.strip() else None
    except urllib.error.HTTPError as exc:
        return exc.code, None


class Engine:
    def __init__(self, process: subprocess.Popen[bytes], port: int, settings: Settings,
                 redactor: Redactor | None = None, *, revision: str | None = None):
        self.process = process
        self._revision = revision  # the launch plan's: a failed start's cause names it
        self._redactor = redactor or Redactor({})
        self.base_url = f"http://127.0.0.1:{port}"
        self._settings = settings
        self._tail = OutputTail(TAIL_LINES)
        self._stopping = threading.Event()
        self._pump = threading.Thread(target=self._copy_output, name="engine-output", daemon=True)
        self._pump.start()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self) -> str:
        self._pump.join(timeout=1.0)
        return self._tail.text()

    def _copy_output(self) -> None:
        assert self.process.stdout is not None
        path = self._settings.engine_log_file
        with open(path, "w", encoding="utf-8") if path else contextlib.nullcontext() as file:
            for raw in self.process.stdout:
                line = self._redactor.line(raw.decode("utf-8", "replace").rstrip())
                self._tail.add(line)
                if file is None:
                    sys.stderr.write(f"[sglang] {line}\n")
                else:
                    file.write(line + "\n")
                    file.flush()

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.alive:
                self._raise_config_error()
                tail = self.tail()
                raise EngineStartError(
                    f"the SGLang server exited with code {self.process.returncode} during "
                    f"start-up. Its last output:\n{tail}", tail=tail, revision=self._revision
                )
            try:
                if _get_json(f"{self.base_url}/health", timeout=2.0)[0] == 200:
                    return
            except (OSError, ValueError):
                pass
            time.sleep(0.25)
        self.stop()
        tail = self.tail()
        raise EngineStartError(
            f"the SGLang server was not healthy after {timeout_s:.0f} s "
            f"(ENGINE_STARTUP_TIMEOUT_S). Its last output:\n{tail}", tail=tail,
            revision=self._revision)

    def _raise_config_error(self) -> None:
        for line in self.tail().splitlines():
            if line.startswith(CONFIG_ERROR_MARKER):
                raise EngineConfigError(line.removeprefix(CONFIG_ERROR_MARKER).strip())

    def info(self) -> EngineInfo:
        """What the server serves; ``EngineStartError`` if its answers are not what SGLang
        sends (no JSON, or a ``/v1/models`` list that names no model)."""
        def ask(route: str) -> tuple[int, object]:
            try:
                return _get_json(f"{self.base_url}{route}", timeout=10.0)
            except (OSError, ValueError) as exc:
                raise EngineStartError(f"the SGLang server's {route} answer could not be "
                                       f"read: {exc}") from None

        status, models = ask("/v1/models")
        try:
            served = models["data"][0]["id"]  # type: ignore[index]
        except (TypeError, KeyError, IndexError):
            served = None
        if not isinstance(served, str) or not served:
            raise EngineStartError(f"the SGLang server's /v1/models answer (HTTP {status}) "
                                   f"names no model: {models!r:.200}")
        vision = audio = False
        for route in ("/model_info", "/get_model_info"):
            status, body = ask(route)
            if status == 200 and isinstance(body, dict):
                vision = bool(body.get("has_image_understanding"))
                audio = bool(body.get("has_audio_understanding"))
                break
        return EngineInfo(self.base_url, served, vision, audio=audio)

    def watch(self, on_death: Callable[[int], None]) -> None:
        def wait() -> None:
            code = self.process.wait()
            if not self._stopping.is_set():
                on_death(code)

        threading.Thread(target=wait, name="engine-watch", daemon=True).start()

    def stop(self) -> None:
        self._stopping.set()
        if not self.alive:
            return
        log.info("stopping the SGLang server (pid %d)", self.process.pid)
        # SIGTERM to the server alone: it drains and stops its scheduler and detokenizer
        # itself. Signalling the whole group at once makes it report a crashed child.
        try:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=self._settings.engine_shutdown_timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("the SGLang server ignored SIGTERM for %.0f s; killing it",
                        self._settings.engine_shutdown_timeout_s)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # whatever is left of the group
        self.process.wait()


def engine_environment(*, cpu: bool, model: ModelSource,
                       extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The engine's environment: the worker's, with the model source's changes (offline mode,
    the cache on the network volume, the baked tokenizer, ...), the worker's own additions
    ``extra`` (the chat-template file, the compile caches) and the CPU switch."""
    env = model.apply(os.environ)
    env.update(extra or {})
    if cpu:
        env["SGLANG_USE_CPU_ENGINE"] = "1"
    return env


def launch_engine(settings: Settings) -> tuple[Engine, EngineInfo]:
    started = time.monotonic()
    gpus = gpu_names()
    gpu = bool(gpus)
    template = template_file(os.environ, TEMPLATE_DIR)
    plan = plan_launch(settings, {**os.environ, **template})
    source = resolve_model_source(settings, gpu=gpu, revision=plan.revision)
    model = source.model_path
    refuse_unchecked(plan.extra_args, os.environ)
    caches = compile_cache_env(os.environ, configured=settings.compile_cache_dir,
                               base_path=settings.base_path, gpu=gpus[0] if gpus else None,
                               min_free_bytes=settings.compile_cache_min_free_bytes)
    log.log(logging.WARNING if caches.warning else logging.INFO, "%s", caches.message)
    env = engine_environment(cpu=not gpu, model=source, extra={**template, **caches.env})
    check_hub_access(source, env, plan.revision)
    adapters = tuple(resolve_adapter(adapter, env) for adapter in
                     parse_adapters(settings.lora_adapters, settings.lora_modules))
    base_names = (settings.model_name or model, env.get("SERVED_MODEL_NAME", ""), model)
    base_config = model_json(model, "config.json", env)
    ranks = [check_adapter(adapter, base_config, base_names, settings.max_lora_rank)
             for adapter in adapters]
    parallel = choose_tensor_parallel(len(gpus), os.environ, plan.extra_args, base_config)
    if parallel.message:
        log.info("%s", parallel.message)
    launch = EngineLaunch(
        model_path=model,
        port=engine_port(settings.engine_port),
        cpu=not gpu,
        max_total_tokens=settings.cpu_max_total_tokens,
        extra_args=(*(("--tp-size", str(parallel.size)) if parallel.size else ()),
                    *lora_flags(adapters, settings, cpu=not gpu, ranks=ranks),
                    *plan.extra_args),
    )
    log.info("starting SGLang on %s: model=%s port=%d%s%s", "cpu" if launch.cpu else "gpu",
             model, launch.port, f" adapters={','.join(a.name for a in adapters)}"
             if adapters else "", f"; its output goes to {settings.engine_log_file}"
             if settings.engine_log_file else "")
    env[LAUNCH_VARIABLE] = json.dumps(asdict(launch))
    process = subprocess.Popen(
        [sys.executable, "-m", "sglang_worker.engine.launcher"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        env=env, start_new_session=True, preexec_fn=die_with_parent,
    )
    engine = Engine(process, launch.port, settings, Redactor(env), revision=plan.revision)
    try:
        engine.wait_ready(settings.engine_startup_timeout_s)
        if adapters and base_config is None:  # the base was downloaded by the engine just now
            for adapter in adapters:
                check_adapter(adapter, model_json(model, "config.json", env), base_names,
                              settings.max_lora_rank)
        info = replace(engine.info(), adapters=tuple(adapter.name for adapter in adapters),
                       vocab_size=vocab_size(model, env),
                       model_type=model_type(model, env),
                       preprocessor=model_json(model, "preprocessor_config.json", env),
                       mm_image_config=plan.mm_image_config,
                       mm_video_config=plan.mm_video_config,
                       rerank_media=reranks_media(
                           chat_template(model, plan.chat_template, env), model))
    except BaseException:
        engine.stop()
        raise
    log.info("SGLang ready in %.1f s: model=%s vision=%s audio=%s rerank_media=%s",
             time.monotonic() - started, info.served_model, info.vision, info.audio,
             info.rerank_media)
    return engine, info
