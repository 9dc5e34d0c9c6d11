"""Every GPU of a multi-GPU worker used: SGLang's tensor parallelism chosen from the GPU count.

Contract:
- ``choose_tensor_parallel(gpus, env, extra_args, config)`` decides, and says why:
  - one GPU or none: nothing to decide;
  - any parallelism the deployer set (``TP_SIZE``, ``TENSOR_PARALLEL_SIZE``, ``PP_SIZE``,
    ``DP_SIZE``, ``EP_SIZE``, ``NNODES``, their aliases, or the same flags in ``SGLANG_ARGS``) is
    theirs and is left alone;
  - otherwise the largest size up to the GPU count that SGLang can shard the model by: the
    attention heads (text and vision tower) must divide by it, and the KV heads must divide by it
    or it by them (SGLang replicates KV heads beyond their count). When that is below the GPU
    count the message says why and how many GPUs stay idle. Without a readable ``config.json``
    (a hub model not yet downloaded) the largest power of two up to the count is used, and the
    message says the heads were not checked.
- The choice reaches SGLang as ``--tp-size``, leading the extra arguments (``launch_engine``);
  the start-up log has the message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

PARALLEL_VARIABLES = ("TP_SIZE", "TENSOR_PARALLEL_SIZE", "PP_SIZE", "PIPELINE_PARALLEL_SIZE",
                      "DP_SIZE", "DATA_PARALLEL_SIZE", "EP_SIZE", "EXPERT_PARALLEL_SIZE",
                      "NNODES")
PARALLEL_FLAGS = ("--tp-size", "--tensor-parallel-size", "--tp", "--pp-size",
                  "--pipeline-parallel-size", "--dp-size", "--data-parallel-size", "--dp",
                  "--ep-size", "--expert-parallel-size", "--ep", "--nnodes")


@dataclass(frozen=True, slots=True)
class TensorParallel:
    size: int | None  # None: no --tp-size from the worker
    message: str  # for the start-up log; empty when there was nothing to decide


def _set_by(env: Mapping[str, str], extra_args: Sequence[str]) -> str | None:
    for name in PARALLEL_VARIABLES:
        if env.get(name, "").strip():
            return name
    for arg in extra_args:
        if arg.split("=", 1)[0] in PARALLEL_FLAGS:
            return f"SGLANG_ARGS {arg.split('=', 1)[0]}"
    return None


def _heads(config: Mapping[str, Any]) -> tuple[list[int], int | None]:
    """The attention head counts that must divide by the size, and the KV head count."""
    text = config.get("text_config") or config.get("llm_config") or config
    heads = [text.get("num_attention_heads") or config.get("num_attention_heads")]
    vision = config.get("vision_config") or {}
    heads.append(vision.get("num_heads") or vision.get("num_attention_heads"))
    kv = text.get("num_key_value_heads") or config.get("num_key_value_heads")
    return [h for h in heads if isinstance(h, int) and h > 0], kv if isinstance(kv, int) else None


def _shards(size: int, heads: list[int], kv: int | None) -> bool:
    if any(h % size for h in heads):
        return False
    return kv is None or kv % size == 0 or size % kv == 0


def choose_tensor_parallel(gpus: int, env: Mapping[str, str], extra_args: Sequence[str],
                           config: Mapping[str, Any] | None) -> TensorParallel:
    if gpus <= 1:
        return TensorParallel(None, "")
    owner = _set_by(env, extra_args)
    if owner is not None:
        return TensorParallel(None, f"{gpus} GPUs; parallelism as set by {owner}")
    heads, kv = _heads(config or {})
    if not heads:
        size = 1 << (gpus.bit_length() - 1)
        return TensorParallel(size, f"{gpus} GPUs: tensor parallelism {size} (the model's "
                                    "head count could not be read before the download, so it "
                                    "was not checked)")
    size = next(s for s in range(gpus, 0, -1) if _shards(s, heads, kv))
    if size == gpus:
        return TensorParallel(size, f"{gpus} GPUs: tensor parallelism {size}")
    return TensorParallel(size, f"{gpus} GPUs: tensor parallelism {size}, so {gpus - size} "
                                f"GPU(s) stay idle: the model's attention heads "
                                f"({', '.join(map(str, heads))}; KV heads {kv}) do not shard "
                                f"{gpus} ways. Give the worker {size} or a GPU count that "
                                "divides them, or set TP_SIZE and DP_SIZE yourself")
