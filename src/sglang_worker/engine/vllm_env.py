"""worker-vllm's environment variables, read as this worker's: a worker-vllm endpoint's settings
carry over without being rewritten.

Contract:
- ``VARIABLES`` is the one table: each variable RunPod's vLLM worker documents (its current
  ``docs/configuration.md`` and the older README names still found in templates), with what it
  becomes here. The migration table in ``docs/migrating-from-worker-vllm.md`` is generated from
  it (``markdown_table``; ``make docs``, and a test keeps the two equal).
- Four kinds:
  - ``same``: this worker (or SGLang, through ``engine.flags``) reads the name itself with the
    same meaning; nothing to do.
  - ``renamed``: the value is set under this worker's name (an SGLang flag variable or a
    ``Settings`` field), through ``values`` where the two spell a choice differently
    (``fp8`` is SGLang's ``fp8_e4m3``).
  - ``converted``: ``convert`` turns the value into this worker's variables (``ENFORCE_EAGER=1``
    is ``DISABLE_CUDA_GRAPH=true``); a value it cannot read is one warning, never a crash.
  - ``none``: no SGLang equivalent; one warning says what SGLang does instead.
- ``translate(env)`` is pure: it returns the variables to add and one ``Note`` per worker-vllm
  variable found. This worker's own name wins when both are set (the note says which value was
  used); a blank value is unset, as everywhere here. ``main`` applies the additions to the
  process environment before the settings are read, so the engine's environment has them too.
- ``misspellings(names, known)`` finds names that look like a misspelling of a known one
  (``difflib``, at ``SPELLING_CUTOFF``; ``OTHER_SOFTWARE``'s well-known names excepted), for
  the launcher's "did you mean" warnings.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from sglang_worker.engine.flags import FALSE, TRUE

Kind = Literal["same", "renamed", "converted", "none"]
Level = Literal["info", "warning"]
SPELLING_CUTOFF = 0.88
SHOWN_CHARS = 80
# Other software's variables that sit within SPELLING_CUTOFF of one of ours (OpenSSL's
# SSL_CERT_FILE is a letter from SGLang's SSL_CERTFILE): never taken for a misspelling.
OTHER_SOFTWARE = frozenset({"SSL_CERT_FILE", "SSL_CERT_DIR"})
Convert = Callable[[str], dict[str, str]]


class Unreadable(ValueError):
    """A worker-vllm value ``convert`` cannot read; the message says what it expects."""


@dataclass(frozen=True, slots=True)
class Variable:
    name: str
    kind: Kind
    target: str = ""  # renamed: the variable set here; converted: the ones it may set
    note: str = ""  # what it does here, for the table and the warning
    values: Mapping[str, str] = field(default_factory=dict)  # renamed: vLLM choice -> SGLang's
    convert: Convert | None = None


@dataclass(frozen=True, slots=True)
class Note:
    variable: str
    level: Level
    message: str


@dataclass(frozen=True, slots=True)
class Translation:
    updates: dict[str, str]
    notes: tuple[Note, ...]


def _flag(raw: str) -> bool:
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise Unreadable("expected true or false")


def _if_true(target: str) -> Convert:
    return lambda raw: {target: "true"} if _flag(raw) else {}


def _if_false(target: str, value: str = "true") -> Convert:
    return lambda raw: {} if _flag(raw) else {target: value}


def _mm_limits(raw: str) -> dict[str, str]:
    """``LIMIT_MM_PER_PROMPT``: vLLM's ``{"image": 4, "video": 1}`` (or ``image=4,video=1``)."""
    try:
        limits = json.loads(raw)
    except ValueError:
        limits = dict(pair.split("=", 1) for pair in raw.split(",") if "=" in pair)
    if not isinstance(limits, dict) or not limits:
        raise Unreadable('expected {"image": N, "video": N, "audio": N}')
    out: dict[str, str] = {}
    for medium, count in limits.items():
        target = {"image": "MAX_IMAGES_PER_REQUEST", "video": "MAX_VIDEOS_PER_REQUEST",
                  "audio": "MAX_AUDIOS_PER_REQUEST"}.get(str(medium).strip())
        if target is None or not str(count).strip().isdigit():
            raise Unreadable('expected {"image": N, "video": N, "audio": N}')
        out[target] = str(int(str(count).strip()))
    return out


def _same(name: str, note: str) -> Variable:
    return Variable(name, "same", name, note)


def _none(name: str, note: str) -> Variable:
    return Variable(name, "none", "", note)


_STREAM_BATCHING = ("Streamed output here is always OpenAI's raw SSE events; yields are batched "
                    "by time (STREAM_BATCH_WINDOW_MS), not by a token count.")

VARIABLES: tuple[Variable, ...] = (
    _same("MODEL_NAME", "The model to serve."),
    _same("MODEL_REVISION", "The model's revision (SGLang's --revision)."),
    _same("HF_TOKEN", "The Hugging Face token; read from the environment, never a flag."),
    _same("BASE_PATH", "Where the network volume is mounted; the model cache lives under it."),
    _same("MAX_CONCURRENCY", "Jobs one worker runs at once (default 32 here, 30 there)."),
    _same("TOKENIZER_NAME", "Another tokenizer (SGLang's --tokenizer-path)."),
    _same("TRUST_REMOTE_CODE", "SGLang's --trust-remote-code."),
    _same("DTYPE", "SGLang's --dtype, with the same choices."),
    _same("QUANTIZATION", "SGLang's --quantization; SGLang names a few methods differently."),
    _same("LOAD_FORMAT", "SGLang's --load-format."),
    _same("TENSOR_PARALLEL_SIZE", "SGLang's --tensor-parallel-size. Unset: every GPU of the "
          "worker (the start-up log says what was chosen)."),
    _same("PIPELINE_PARALLEL_SIZE", "SGLang's --pipeline-parallel-size."),
    _same("SKIP_TOKENIZER_INIT", "SGLang's --skip-tokenizer-init."),
    _same("TOKENIZER_MODE", "SGLang's --tokenizer-mode."),
    _same("DOWNLOAD_DIR", "SGLang's --download-dir."),
    _same("DISABLE_CUSTOM_ALL_REDUCE", "SGLang's --disable-custom-all-reduce."),
    _same("ENABLE_LORA", "Read by the LoRA settings: true needs LORA_ADAPTERS or LORA_MODULES, "
          "which switch LoRA on by themselves."),
    _same("LORA_MODULES", "The adapters, in worker-vllm's JSON form; each is checked against "
          "the model before SGLang starts."),
    _same("MAX_LORA_RANK", "The largest adapter rank reserved (0 here: the largest configured)."),
    Variable("MAX_MODEL_LEN", "renamed", "CONTEXT_LENGTH", "The context length."),
    Variable("MAX_MODEL_LENGTH", "renamed", "CONTEXT_LENGTH", "The context length (the older "
             "README's name)."),
    Variable("GPU_MEMORY_UTILIZATION", "renamed", "MEM_FRACTION_STATIC", "The share of GPU memory "
             "for weights and KV cache. SGLang keeps activations and CUDA graphs outside it, so "
             "vLLM's 0.95 can run out of memory; lower it if start-up does."),
    Variable("MAX_NUM_SEQS", "renamed", "MAX_RUNNING_REQUESTS", "Sequences the engine runs at "
             "once."),
    Variable("MAX_NUM_BATCHED_TOKENS", "renamed", "CHUNKED_PREFILL_SIZE", "Tokens one prefill "
             "step takes (vLLM's chunked-prefill budget)."),
    Variable("OPENAI_SERVED_MODEL_NAME_OVERRIDE", "renamed", "SERVED_MODEL_NAME", "The model "
             "name clients send and /v1/models lists."),
    Variable("CUSTOM_CHAT_TEMPLATE", "renamed", "CHAT_TEMPLATE", "The chat template: inline "
             "Jinja (written to a file SGLang reads), a template name or a file path."),
    Variable("TOKENIZER", "renamed", "TOKENIZER_PATH", "Another tokenizer."),
    Variable("SEED", "renamed", "RANDOM_SEED", "The engine's random seed."),
    Variable("MAX_LORAS", "renamed", "MAX_LORAS_PER_BATCH", "Adapters one batch may mix."),
    Variable("MAX_CPU_LORAS", "renamed", "MAX_LOADED_LORAS", "Adapters kept loaded."),
    Variable("KV_CACHE_DTYPE", "renamed", "KV_CACHE_DTYPE", "The KV cache's type; vLLM's `fp8` "
             "is SGLang's `fp8_e4m3`.", values={"fp8": "fp8_e4m3"}),
    Variable("TOOL_CALL_PARSER", "renamed", "TOOL_CALL_PARSER", "The tool-call parser; vLLM's "
             "names are mapped to SGLang's where they differ.",
             values={"llama3_json": "llama3", "llama4_json": "llama3",
                     "deepseek_v3": "deepseekv3", "deepseek_v31": "deepseekv31",
                     "deepseek_v32": "deepseekv32", "glm45": "glm45", "openai": "gpt-oss"}),
    Variable("REASONING_PARSER", "renamed", "REASONING_PARSER", "The reasoning parser; vLLM's "
             "names are mapped to SGLang's where they differ.",
             values={"deepseek_r1": "deepseek-r1", "deepseek_v3": "deepseek-v3",
                     "openai_gptoss": "gpt-oss", "granite": "granite_thinking_parser"}),
    Variable("GUIDED_DECODING_BACKEND", "renamed", "GRAMMAR_BACKEND", "The structured-output "
             "backend.", values={"guidance": "llguidance"}),
    Variable("VLLM_STARTUP_TIMEOUT", "renamed", "ENGINE_STARTUP_TIMEOUT_S", "How long the engine "
             "may take to start."),
    Variable("ENFORCE_EAGER", "converted", "DISABLE_CUDA_GRAPH", "true: no CUDA graphs "
             "(DISABLE_CUDA_GRAPH=true).", convert=_if_true("DISABLE_CUDA_GRAPH")),
    Variable("ENABLE_PREFIX_CACHING", "converted", "DISABLE_RADIX_CACHE", "SGLang's prefix "
             "cache (the radix cache) is on by default; false turns it off "
             "(DISABLE_RADIX_CACHE=true).", convert=_if_false("DISABLE_RADIX_CACHE")),
    Variable("ENABLE_CHUNKED_PREFILL", "converted", "CHUNKED_PREFILL_SIZE", "SGLang chunks "
             "prefill by default; false turns it off (CHUNKED_PREFILL_SIZE=-1).",
             convert=_if_false("CHUNKED_PREFILL_SIZE", "-1")),
    Variable("LIMIT_MM_PER_PROMPT", "converted",
             "MAX_IMAGES_PER_REQUEST, MAX_VIDEOS_PER_REQUEST, MAX_AUDIOS_PER_REQUEST",
             "Media parts per request, checked by the worker before SGLang sees them.",
             convert=_mm_limits),
    _none("ENABLE_AUTO_TOOL_CHOICE", "SGLang needs no switch: TOOL_CALL_PARSER alone enables "
          "tool calls, and tool_choice auto is the default."),
    _none("RAW_OPENAI_OUTPUT", _STREAM_BATCHING),
    _none("DEFAULT_BATCH_SIZE", _STREAM_BATCHING),
    _none("DEFAULT_MIN_BATCH_SIZE", _STREAM_BATCHING),
    _none("DEFAULT_BATCH_SIZE_GROWTH_FACTOR", _STREAM_BATCHING),
    _none("ENABLE_LOG_REQUESTS", "Not carried over: SGLang's request log (LOG_REQUESTS) writes "
          "prompts into the endpoint's logs; set LOG_REQUESTS yourself if you want that."),
    _none("DISABLE_LOG_REQUESTS", "SGLang does not log requests unless LOG_REQUESTS is set."),
    _none("DISABLE_LOG_STATS", "SGLang logs throughput every DECODE_LOG_INTERVAL decode steps."),
    _none("MAX_LOG_LEN", "SGLang does not log requests unless LOG_REQUESTS is set."),
    _none("BLOCK_SIZE", "SGLang manages KV pages itself (PAGE_SIZE, 1 by default); set "
          "PAGE_SIZE only for an attention backend that needs it."),
    _none("SWAP_SPACE", "SGLang does not swap KV cache to host memory by default; see "
          "ENABLE_HIERARCHICAL_CACHE."),
    _none("MAX_PARALLEL_LOADING_WORKERS", "SGLang loads the weights itself."),
    _none("MAX_CONTEXT_LEN_TO_CAPTURE", "SGLang captures CUDA graphs by batch size "
          "(CUDA_GRAPH_MAX_BS), not by context length."),
    _none("MAX_SEQ_LEN_TO_CAPTURE", "SGLang captures CUDA graphs by batch size "
          "(CUDA_GRAPH_MAX_BS), not by context length."),
    _none("DISTRIBUTED_EXECUTOR_BACKEND", "SGLang runs one process per GPU itself."),
    _none("PREEMPTION_MODE", "SGLang's scheduler retracts requests itself when memory runs out."),
    _none("NUM_GPU_BLOCKS_OVERRIDE", "Size the KV cache with MAX_TOTAL_TOKENS instead."),
    _none("TOKENIZER_REVISION", "SGLang loads the tokenizer at the model's revision."),
    _none("ROPE_SCALING", "Set it through JSON_MODEL_OVERRIDE_ARGS "
          '(`{"rope_scaling": {...}}`).'),
    _none("ROPE_THETA", "Set it through JSON_MODEL_OVERRIDE_ARGS (`{\"rope_theta\": ...}`)."),
    _none("SPECULATIVE_CONFIG", "Use SGLang's SPECULATIVE_ALGORITHM, "
          "SPECULATIVE_DRAFT_MODEL_PATH and SPECULATIVE_NUM_DRAFT_TOKENS."),
    _none("ENABLE_EXPERT_PARALLEL", "Set EP_SIZE (SGLang's expert-parallel size)."),
    _none("OPENAI_RESPONSE_ROLE", "Responses take the assistant role."),
    _none("VLLM_EXTRA_ARGS", "It holds vLLM flags; put SGLang flags in SGLANG_ARGS."),
    _none("VLLM_CONFIG_FILE", "Pass SGLang's --config file through SGLANG_ARGS."),
    _none("VLLM_PORT", "The engine's port here is ENGINE_PORT (a free one by default)."),
    _none("REQUEST_TIMEOUT", "ENGINE_READ_TIMEOUT_S bounds the engine's silence instead. "
          "(SGLang reads REQUEST_TIMEOUT as its own media-fetch timeout; the worker fetches "
          "media itself.)"),
)
BY_NAME: dict[str, Variable] = {variable.name: variable for variable in VARIABLES}


def _shown(value: str) -> str:
    """A value for the log: a chat template's Jinja is kilobytes, so long ones are sized."""
    return repr(value) if len(value) <= SHOWN_CHARS else f"<{len(value)} characters>"


def _present(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    return value if value is not None and value.strip() else None


def _translate_one(variable: Variable, raw: str, env: Mapping[str, str]
                   ) -> tuple[dict[str, str], Note | None]:
    name = variable.name
    if variable.kind == "none":
        return {}, Note(name, "warning", f"{name} has no SGLang equivalent and is ignored: "
                                         f"{variable.note}")
    if variable.kind == "renamed":
        wanted = {variable.target: variable.values.get(raw.strip(), raw)}
        if wanted == {name: raw}:  # an SGLang name, already spelt SGLang's way
            return {}, None
    else:
        assert variable.convert is not None
        try:
            wanted = variable.convert(raw)
        except Unreadable as exc:
            return {}, Note(name, "warning", f"{name}={_shown(raw)} is ignored: {exc}")
    taken = {target: env[target] for target in wanted if target != name
             and _present(env, target) is not None}
    if taken:
        shown = ", ".join(f"{target}={_shown(value)}" for target, value in taken.items())
        return ({target: value for target, value in wanted.items() if target not in taken},
                Note(name, "info", f"{name} is worker-vllm's name; {shown} is set too and is "
                                   "used"))
    if not wanted:
        return {}, Note(name, "info", f"{name}={_shown(raw)} is SGLang's default: nothing to set")
    shown = ", ".join(f"{target}={_shown(value)}" for target, value in wanted.items())
    return wanted, Note(name, "info", f"{name} is worker-vllm's name: read as {shown}")


def translate(env: Mapping[str, str]) -> Translation:
    """What a worker-vllm-style environment means here (see the module's contract)."""
    updates: dict[str, str] = {}
    notes: list[Note] = []
    for variable in VARIABLES:
        raw = _present(env, variable.name)
        if raw is None or variable.kind == "same":
            continue
        wanted, note = _translate_one(variable, raw, {**env, **updates})
        updates.update(wanted)
        if note is not None:
            notes.append(note)
    return Translation(updates, tuple(notes))


def misspellings(names: Iterable[str], known: Iterable[str]) -> list[tuple[str, str]]:
    """Each of ``names`` that is not known but is close to a known name, with that name."""
    known = sorted(set(known))
    found = []
    for name in sorted(set(names) - set(known) - OTHER_SOFTWARE):
        close = difflib.get_close_matches(name, known, n=1, cutoff=SPELLING_CUTOFF)
        if close:
            found.append((name, close[0]))
    return found


def markdown_table() -> str:
    """The migration table of ``docs/migrating-from-worker-vllm.md``."""
    what = {"same": "read as is", "renamed": "read as `{target}`", "converted": "sets `{target}`",
            "none": "no equivalent (a warning)"}
    rows = ["| worker-vllm variable | Here | What it does here |", "| --- | --- | --- |"]
    for variable in VARIABLES:
        here = what[variable.kind].format(target=variable.target.replace(", ", "`, `"))
        rows.append(f"| `{variable.name}` | {here} | {variable.note} |")
    return "\n".join(rows)
