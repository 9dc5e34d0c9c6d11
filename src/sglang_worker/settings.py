"""The worker's own settings: every environment variable it reads, in one model.

Contract:
- Each field is one environment variable (the field name, upper-cased), with its default and a
  description. The README's configuration table is generated from this model and a test checks
  that the two agree.
- This model holds only what the deployed worker reads. The local RunPod endpoint's own
  variables (``LOCAL_ENDPOINT_*``) live in ``runpod_local.settings``; nothing here imports it.
- Every field is on the RunPod Hub's form (``.runpod/hub.json``, with the field's bounds as
  ``min``/``max``) unless it carries the marker ``json_schema_extra=NOT_ON_HUB``: a variable that
  only makes sense on a laptop, or one the image fixes. ``on_hub(field)`` reads the marker; the
  hub test and the README table use it.
- SGLang server flags are *not* listed here: any SGLang flag can be set by its upper-case name
  (``CONTEXT_LENGTH``, ``TOOL_CALL_PARSER``, ...) and is read by ``engine.flags``. A test checks
  that no field here shadows an SGLang flag or a variable SGLang itself reads with another
  meaning (SGLang reads ``REQUEST_TIMEOUT`` as its image-fetch timeout, so the worker never uses
  that name).
- Durations are in seconds (``_S``) or milliseconds (``_MS``), sizes in bytes, as the suffix says.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict

MB = 1024 * 1024
# The marker of a field that stays documented but is left off the RunPod Hub's form.
NOT_ON_HUB = {"hub": False}


def on_hub(field: FieldInfo) -> bool:
    """Whether a settings field is offered on the RunPod Hub's form (see ``NOT_ON_HUB``)."""
    extra = field.json_schema_extra
    return not (isinstance(extra, dict) and extra.get("hub") is False)


class Settings(BaseSettings):
    # An empty variable counts as unset: RunPod templates and the Hub can pass a field left
    # blank as KEY="", which would otherwise fail a number or turn IMAGE_LOCAL_DIR into ".".
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True,
                                      env_ignore_empty=True)

    # --- The model and the engine process -------------------------------------------------
    model_name: str | None = Field(
        None,
        description="Model to serve: a Hugging Face hub id or a local path. Unset on a machine "
        "without a GPU: the project's tiny test model, built on first use.",
    )
    sglang_args: str = Field(
        "",
        description="Extra SGLang server flags, split shell-style, appended after the flags "
        "built from upper-case SGLang flag variables.",
    )
    engine_port: int = Field(
        0, ge=0, le=65535, description="Loopback port of the SGLang server; 0 picks a free one."
    )
    engine_startup_timeout_s: float = Field(
        1800.0,
        gt=0,
        description="How long the engine may take to report healthy (includes a model "
        "download on a cold start) before the worker gives up and exits non-zero.",
    )
    start_failure_hold_s: float = Field(
        300.0, ge=0,
        description="When the engine cannot start for a reason a restart will not fix (the "
        "model is not found or gated, a bad flag or value, a missing path, too little GPU "
        "memory, an unsupported architecture, a full disk), the deployed worker stays up this "
        "long and fails every job (lb mode: every request and /ping, with a 503) with the "
        "cause, then exits non-zero. A cause a restart may fix exits at once. 0: exit at once.",
    )
    engine_log_file: Path | None = Field(
        None,
        description="File that receives the SGLang engine's output instead of the worker's "
        "stderr. Unset: stderr when deployed (the container log); a `--test_input` run "
        "writes it to a temporary file and prints the path.",
        json_schema_extra=NOT_ON_HUB,
    )
    engine_shutdown_timeout_s: float = Field(
        15.0, gt=0, description="Grace period after SIGTERM before the engine is killed."
    )
    engine_connect_timeout_s: float = Field(
        10.0, gt=0, description="Connect deadline for each request to the engine."
    )
    engine_read_timeout_s: float = Field(
        600.0,
        gt=0,
        description="Longest silence allowed from the engine: before a non-streaming response, "
        "or between two streamed events. A job that exceeds it fails with a clear error.",
    )
    cpu_max_total_tokens: int = Field(
        8192,
        gt=0,
        description="KV-cache cap (--max-total-tokens) used on a machine without a GPU, unless "
        "MAX_TOTAL_TOKENS is set. Without a cap SGLang sizes the cache at ~70% of RAM.",
        json_schema_extra=NOT_ON_HUB,
    )
    tiny_model_dir: Path = Field(
        Path(".cache") / "models" / "tiny-qwen2-vl",
        description="The tiny test model served when MODEL_NAME is unset on a CPU, relative to "
        "the directory the worker starts in (make models builds it there).",
        json_schema_extra=NOT_ON_HUB,
    )

    # --- LoRA adapters --------------------------------------------------------------------
    lora_adapters: str = Field(
        "",
        description="LoRA adapters served over the base model, each by its name: entries "
        "separated by spaces or commas, each `name=source` (a hub id or a local directory) or a "
        "bare source (named by its last path segment), or SGLang's JSON list of "
        '`{"lora_name", "lora_path"}`. Each is fetched like the model and checked against it '
        "before SGLang starts; call one with `model: \"<name>\"`.",
    )
    lora_modules: str = Field(
        "",
        description="worker-vllm's name for the same list, in its JSON form "
        '(`[{"name": ..., "path": ...}]`); use one of the two.',
    )
    max_loras_per_batch: int = Field(
        8, ge=1, description="How many different adapters (the base model counts as one) one "
        "batch may mix (SGLang's --max-loras-per-batch).",
    )
    max_lora_rank: int = Field(
        0, ge=0, description="The largest adapter rank SGLang reserves memory for; an "
        "adapter of a higher rank fails start-up. 0: the largest rank configured.",
    )
    lora_backend: str | None = Field(
        None, description="SGLang's LoRA kernels (--lora-backend). Unset: SGLang's default on "
        "a GPU, torch_native on a machine without one.",
    )

    # --- Jobs and streaming ---------------------------------------------------------------
    max_concurrency: int = Field(
        32,
        ge=1,
        description="Jobs (in lb mode: HTTP requests) one worker runs at once. SGLang batches "
        "concurrent requests, so a worker is mostly waiting on I/O; 32 keeps a GPU busy "
        "without queueing jobs that another worker could take.",
    )
    max_n: int = Field(
        8,
        ge=1,
        description="The most choices one request may ask for (`n`, `best_of`, `/generate`'s "
        "`sampling_params.n`): each is a whole generation. Beyond it, a 400.",
    )
    stream_batch_window_ms: float = Field(
        50.0,
        ge=0,
        description="Streamed events that arrive within this window after the previous yield "
        "are sent together: one yield for a job (one HTTP request to RunPod), one write in "
        "load-balancing mode. The first event and the end of a stream are never delayed. 0 "
        "sends every read on its own.",
    )
    stream_max_yield_bytes: int = Field(
        512 * 1024,
        gt=0,
        description="A batched yield is flushed before it grows past this size (RunPod caps a "
        "stream chunk at 1 MB).",
    )
    worker_log_level: str = Field(
        "INFO", description="Log level of the worker's own logs (DEBUG, INFO, WARNING, ERROR)."
    )
    runpod_log_level: Literal["NOTSET", "TRACE", "DEBUG", "INFO", "WARN", "ERROR"] = Field(
        "INFO", description="Log level of the RunPod SDK's own logs, which it reads from this "
        "variable. The SDK's own default, DEBUG, prints every streamed output twice: users' "
        "generated text in the endpoint's logs, and a print per chunk. (The SDK's older name, "
        "RUNPOD_DEBUG_LEVEL, is not read.)",
    )

    # --- Load-balancing mode (WORKER_MODE=lb) ---------------------------------------------
    # Off the Hub form: a Hub listing deploys one endpoint type, and this project's is queue.
    worker_mode: Literal["queue", "lb"] = Field(
        "queue",
        description="`queue`: take RunPod jobs through the SDK (queue endpoints). `lb`: serve the "
        "OpenAI-compatible HTTP API on PORT (load-balancing endpoints); the SDK's job loop does "
        "not run. Explicit, because which variables RunPod sets in each kind of worker is not "
        "documented well enough to guess from.",
        json_schema_extra=NOT_ON_HUB,
    )
    port: int = Field(
        80, ge=1, le=65535,
        description="lb mode: the HTTP port of the API (RunPod's PORT; expose it as an HTTP "
        "port on the endpoint).",
        json_schema_extra=NOT_ON_HUB,
    )
    port_health: int | None = Field(
        None, ge=1, le=65535,
        description="lb mode: the port of `GET /ping` (RunPod's PORT_HEALTH). Unset: PORT.",
        json_schema_extra=NOT_ON_HUB,
    )
    lb_host: str = Field(
        "0.0.0.0",
        description="lb mode: the address the API listens on; all interfaces on RunPod, "
        "127.0.0.1 for `make serve-lb`.",
        json_schema_extra=NOT_ON_HUB,
    )
    lb_max_body_bytes: int = Field(
        30_000_000, gt=0,
        description="lb mode: the largest request body (RunPod's load-balancing limit, 30 MB); "
        "a larger one gets a 413.",
        json_schema_extra=NOT_ON_HUB,
    )
    lb_queue_timeout_s: float = Field(
        30.0, ge=0,
        description="lb mode: a request that finds MAX_CONCURRENCY requests in flight waits "
        "this long for a slot (before its body is read), then gets a 429 with Retry-After.",
        json_schema_extra=NOT_ON_HUB,
    )
    lb_drain_timeout_s: float = Field(
        60.0, gt=0,
        description="lb mode: on SIGTERM, how long requests in flight may take to finish "
        "before the engine is stopped anyway.",
        json_schema_extra=NOT_ON_HUB,
    )

    # --- Images ---------------------------------------------------------------------------
    max_image_bytes: int = Field(
        20 * MB, gt=0, description="Largest accepted image, in bytes, as received (downloaded, "
        "decoded from base64 or read from disk). A download is cut off as soon as it passes it."
    )
    max_images_per_request: int = Field(
        32, ge=0, description="Most image parts one request may carry (0 refuses all images)."
    )
    max_total_image_bytes: int = Field(
        64 * MB, gt=0, description="Largest total of all distinct images in one request, in "
        "bytes. Downloads stop as soon as the total passes it."
    )
    max_image_pixels: int = Field(
        100_000_000, gt=0, description="Largest image accepted, in pixels (width x height), "
        "read from the image header before anything is decoded. Also set as Pillow's own "
        "decompression-bomb limit."
    )
    image_max_side: int = Field(
        4096, ge=0, description="For a model whose image processor the worker does not know "
        "(not Qwen2-VL, Qwen2.5-VL or Qwen3-VL): images with a longer side are downscaled to "
        "it, keeping the aspect ratio. 0: no limit."
    )
    image_max_pixels: int = Field(
        16384 * 28 * 28, ge=0, description="Most pixels the worker sends for one image. A "
        "Qwen-VL model's images are sized to its own processor's maximum or this, whichever "
        "is lower; other models' images are downscaled to it, keeping the aspect ratio. The "
        "default is Qwen2-VL's largest input (12,845,056). 0: no limit."
    )
    image_low_detail_max_pixels: int = Field(
        512 * 512, gt=0, description='Pixel budget of an image part with "detail": "low" '
        "(OpenAI's low-detail image is 512x512), so a big photo costs a small, fixed number "
        "of image tokens (about 330 for Qwen2.5-VL). Never above IMAGE_MAX_PIXELS."
    )
    image_cache_bytes: int = Field(
        128 * MB, ge=0, description="Memory for prepared images, keyed by a digest of the "
        "source bytes, so a chat that re-sends its images on every turn decodes each once. "
        "Least recently used images go first. 0: no cache."
    )
    image_jpeg_quality: int = Field(
        95, ge=1, le=100, description="JPEG quality (4:4:4, no chroma subsampling) used when "
        "a changed photo is re-encoded."
    )
    image_workers: int = Field(
        0, ge=0, description="Threads that decode and resize images; they run at a lower CPU "
        "priority than the event loop. Pillow releases the GIL while it works, so they run in "
        "parallel. 0: one less than the CPU cores, at least 1 and at most 4."
    )
    image_fetch_timeout_s: float = Field(
        20.0, gt=0, description="Deadline for downloading one image URL, redirects included. "
        "A server that trickles bytes is cut off when it passes."
    )
    image_fetch_connect_timeout_s: float = Field(
        5.0, gt=0, description="Deadline for connecting to an image URL's server."
    )
    image_max_redirects: int = Field(
        5, ge=0, description="Most redirects followed for one image URL; each hop is checked "
        "again (scheme, allowed domains, address)."
    )
    image_allow_private_urls: bool = Field(
        False, description="Allow image URLs on loopback, private, link-local and other "
        "non-public addresses. For local testing only: it turns the SSRF guard off.",
        json_schema_extra=NOT_ON_HUB,
    )
    image_allow_tiff: bool = Field(
        False,
        description="Accept TIFF images. Off by default: TIFF decoding goes through libtiff, "
        "which has had recent CVEs (SECURITY.md).",
    )
    image_allowed_domains: str = Field(
        "", description="Comma-separated domains image URLs may use (a domain also allows its "
        "subdomains). Empty: any public host."
    )
    image_local_dir: Path | None = Field(
        None, description="Directory from which local image paths and file:// URLs may be "
        "read, such as a folder of images on the network volume (symlinks are resolved and "
        "must stay inside). Unset: local files are refused."
    )

    # --- Video --------------------------------------------------------------------------
    # Video URLs go through the image URL guard and its settings (IMAGE_ALLOWED_DOMAINS,
    # IMAGE_ALLOW_PRIVATE_URLS, IMAGE_MAX_REDIRECTS, IMAGE_FETCH_CONNECT_TIMEOUT_S).
    max_video_bytes: int = Field(
        64 * MB, gt=0, description="Largest accepted video, in bytes, as received (downloaded, "
        "decoded from base64 or read from disk). A download is cut off as soon as it passes it."
    )
    max_videos_per_request: int = Field(
        4, ge=0, description="Most video parts one request may carry (0 refuses all video)."
    )
    max_total_video_bytes: int = Field(
        128 * MB, gt=0, description="Largest total of all videos in one request, in bytes."
    )
    max_video_seconds: float = Field(
        600.0, gt=0, description="Longest accepted video, in seconds. Checked against the "
        "container's declared duration before decoding, and again on every packet and frame, "
        "so a clip that lies about its length is stopped at the limit."
    )
    max_video_frame_pixels: int = Field(
        4096 * 2304, gt=0, description="Largest accepted frame, in pixels (width x height; "
        "4096x2304 by default, so 4K passes), checked on the declared size and on every decoded "
        "frame."
    )
    video_decode_timeout_s: float = Field(
        120.0, gt=0, description="Deadline for decoding and re-encoding one video. The decoder "
        "process is killed when it passes and the request gets a 400."
    )
    video_decode_max_memory_mb: int = Field(
        3072, ge=256, description="Address-space limit of each video decoder process, in MiB "
        "(RLIMIT_AS). A file that needs more fails that request only."
    )
    video_workers: int = Field(
        0, ge=0, description="Video decoder processes that may run at once; more videos wait. "
        "0: half the CPU cores, at least 1."
    )
    video_decode_threads: int = Field(
        0, ge=0, description="Decoding threads inside each video decoder process. 0: FFmpeg "
        "picks (one per core)."
    )
    video_fetch_timeout_s: float = Field(
        60.0, gt=0, description="Deadline for downloading one video URL, redirects included."
    )
    video_local_dir: Path | None = Field(
        None, description="Directory from which local video paths and file:// URLs may be "
        "read (symlinks are resolved and must stay inside). Unset: local video files are "
        "refused."
    )

    # --- Audio --------------------------------------------------------------------------
    # Audio URLs go through the same URL guard and its settings, as video URLs do.
    max_audio_bytes: int = Field(
        128 * MB, gt=0, description="Largest accepted audio file, in bytes, as received "
        "(downloaded, decoded from base64 or read from disk); a 10-minute 48 kHz stereo WAV "
        "is 110 MiB. A download is cut off as soon as it passes it."
    )
    max_audios_per_request: int = Field(
        4, ge=0, description="Most audio parts one request may carry (0 refuses all audio)."
    )
    max_total_audio_bytes: int = Field(
        256 * MB, gt=0, description="Largest total of all audio files in one request, in bytes."
    )
    max_audio_seconds: float = Field(
        900.0, gt=0, description="Longest accepted audio, in seconds. Checked against the "
        "declared duration before decoding, and again while decoding, so a file that lies "
        "about its length is stopped at the limit."
    )
    audio_decode_timeout_s: float = Field(
        60.0, gt=0, description="Deadline for decoding and re-encoding one audio file. The "
        "decoder process is killed when it passes and the request gets a 400."
    )
    audio_decode_max_memory_mb: int = Field(
        1024, ge=512, description="Address-space limit of each audio decoder process, in MiB "
        "(RLIMIT_AS; at least 512, which FFmpeg and NumPy need to load at all). A file that "
        "needs more fails that request only."
    )
    audio_workers: int = Field(
        0, ge=0, description="Audio decoder processes that may run at once; more files wait. "
        "0: half the CPU cores, at least 1."
    )
    audio_fetch_timeout_s: float = Field(
        60.0, gt=0, description="Deadline for downloading one audio URL, redirects included."
    )
    audio_local_dir: Path | None = Field(
        None, description="Directory from which local audio paths and file:// URLs may be "
        "read (symlinks are resolved and must stay inside). Unset: local audio files are "
        "refused."
    )

    # --- Decoder processes (video and audio) -----------------------------------------------
    decoder_spares: int = Field(
        1, ge=0, description="Decoder processes kept started per medium (video, audio), their "
        "libraries loaded, so a request does not wait about 0.2 s for one to start. Each holds "
        "about 60 MB while it waits; 0 starts one per file."
    )

    # --- Model storage --------------------------------------------------------------------
    # Read by model_source at start-up: a baked model, a network volume or the container disk.
    base_path: Path = Field(
        Path("/runpod-volume"), description="Where RunPod mounts a network volume. When this "
        "directory exists and the image has no baked model, the Hugging Face cache is "
        "BASE_PATH/huggingface-cache, so only the first worker downloads the model.",
        json_schema_extra=NOT_ON_HUB,
    )
    compile_cache_dir: Path | None = Field(
        None, description="Where the engines' JIT and compile caches (Triton, TorchInductor, "
        "FlashInfer, DeepGEMM, CUDA's PTX cache, SGLang's own kernels) are kept, one "
        "directory per GPU model and engine build. Unset: BASE_PATH/sglang-compile-cache when a "
        "network volume is mounted, so later workers load what the first compiled; else the "
        "container's own.",
    )
    compile_cache_min_free_bytes: int = Field(
        2 * 1024 * MB, ge=0, description="The compile caches go to the volume only when it "
        "has this much free space (and passes a write probe); else they stay in the container, "
        "with a warning.",
    )
    baked_model_manifest: Path = Field(
        Path("/models/manifest.json"), description="Manifest that builder/download_model.py "
        "writes when a model is baked into the image. When it exists, its model is served "
        "whatever MODEL_NAME says and Hugging Face is forced offline.",
        json_schema_extra=NOT_ON_HUB,
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read from the environment once."""
    return Settings()


def variables(model: type[BaseSettings] = Settings) -> dict[str, FieldInfo]:
    """A settings model's environment variables (its ``env_prefix`` and the field name,
    upper-cased), each with its field, in the model's order."""
    prefix = model.model_config.get("env_prefix", "")
    return {(prefix + name).upper(): field for name, field in model.model_fields.items()}


def markdown_table(model: type[BaseSettings] = Settings, *, hub: bool = True) -> str:
    """A README configuration table generated from a settings model (a test keeps them equal).
    ``hub`` adds a column saying whether each variable is on the RunPod Hub's form."""
    head = ["Variable", "Default", *(["Hub"] if hub else []), "Description"]
    rows = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for name, field in variables(model).items():
        default = field.default
        shown = "unset" if default is None or default == "" else f"`{default}`"
        cells = [f"`{name}`", shown,
                 *(["yes" if on_hub(field) else "no"] if hub else []), str(field.description)]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
