"""Build a tiny LoRA adapter for the tiny Qwen2-VL (``tiny_models.build``), offline, in the layout
PEFT saves and SGLang loads.

Why this exists: LoRA is served through SGLang's real adapter path on the CPU here (its
``torch_native`` backend), and no adapter can be downloaded. Its outputs are noise, but they
differ from the base model's, so a test can tell which one answered.

What it writes (a few kB):
- ``adapter_config.json``: ``peft_type`` LORA, ``r`` (default 4), ``lora_alpha`` 2r,
  ``target_modules`` q_proj and v_proj of every text layer, and ``base_model_name_or_path``
  (default ``tiny-org/tiny-qwen2-vl``, the name the tiny model would have on a hub).
- ``adapter_model.safetensors``: ``base_model.model.model.layers.{i}.self_attn.{q,v}_proj.
  lora_{A,B}.weight`` in float32, drawn from N(0, 0.2) with the given seed. B is not zero (PEFT
  starts it at zero, which would make the adapter do nothing).
- ``tiny_model_build.json``: the build stamp, as ``tiny_models.build`` writes it.
Two seeds give two different adapters of the same shapes.

Contract: deterministic, idempotent and atomic, like ``tiny_models.build``.

Usage: python -m tiny_models.adapter --out DIR [--seed N] [--rank R] [--base NAME]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tiny_models.build import TEXT, _build_key, _sha256, _write_json, build_atomically

BASE_NAME = "tiny-org/tiny-qwen2-vl"
TARGETS = ("q_proj", "v_proj")


def build_adapter(out: Path, *, seed: int = 1, rank: int = 4, base: str = BASE_NAME) -> Path:
    """Build the adapter into ``out`` unless it already holds this exact build; return ``out``."""
    expected = {**_build_key("lora"), "builder_sha256": _sha256(Path(__file__)), "seed": seed,
                "rank": rank, "base": base}
    return build_atomically(Path(out).absolute(), expected, lambda staging: _write_adapter(
        staging, seed=seed, rank=rank, base=base))


def adapter_shapes(rank: int) -> dict[str, tuple[int, int]]:
    """Every tensor of the adapter, by its PEFT name."""
    h = TEXT["hidden"]
    out = {"q_proj": TEXT["heads"] * TEXT["head_dim"],
           "v_proj": TEXT["kv_heads"] * TEXT["head_dim"]}
    shapes = {}
    for i in range(TEXT["layers"]):
        for target in TARGETS:
            p = f"base_model.model.model.layers.{i}.self_attn.{target}."
            shapes[p + "lora_A.weight"] = (rank, h)
            shapes[p + "lora_B.weight"] = (out[target], rank)
    return shapes


def _write_adapter(directory: Path, *, seed: int, rank: int, base: str) -> None:
    import torch
    from safetensors.torch import save_file

    _write_json(directory / "adapter_config.json", {
        "base_model_name_or_path": base, "bias": "none", "fan_in_fan_out": False,
        "inference_mode": True, "lora_alpha": 2 * rank, "lora_dropout": 0.0,
        "peft_type": "LORA", "r": rank, "target_modules": list(TARGETS),
        "task_type": "CAUSAL_LM"})
    generator = torch.Generator().manual_seed(seed)
    tensors = {name: (torch.randn(shape, generator=generator) * 0.2).contiguous()
               for name, shape in sorted(adapter_shapes(rank).items())}
    save_file(tensors, str(directory / "adapter_model.safetensors"), metadata={"format": "pt"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="directory to build into")
    parser.add_argument("--seed", type=int, default=1, help="weights seed (default 1)")
    parser.add_argument("--rank", type=int, default=4, help="LoRA rank (default 4)")
    parser.add_argument("--base", default=BASE_NAME, help=f"base model name (default {BASE_NAME})")
    args = parser.parse_args(argv)
    print(build_adapter(args.out, seed=args.seed, rank=args.rank, base=args.base))
    return 0


if __name__ == "__main__":
    sys.exit(main())
