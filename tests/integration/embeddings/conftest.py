"""A multimodal embedding model served as a user deploys one: the tiny Qwen2-VL started with
``SGLANG_ARGS=--is-embedding``, a hub-style served name with a slash, and the image guard as
deployed (no private-address opt-in, so a loopback listener can witness that nothing is
fetched). Each face starts its own worker and engine, module-scoped, so at most one of them runs
beside the session's engine at a time."""

from __future__ import annotations

import base64
import io

from PIL import Image

SERVED = "tiny-org/qwen2-vl-embed"
EMBEDDING_ENV = {"SGLANG_ARGS": "--is-embedding", "SERVED_MODEL_NAME": SERVED,
                 "IMAGE_ALLOW_PRIVATE_URLS": "false"}


def png_data_url(size: tuple[int, int] = (96, 64)) -> str:
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize(size).convert("RGB").save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def hostile_images(port: int) -> list[str]:
    """Every source SGLang's loader would fetch or open for an embedding input."""
    return [f"http://127.0.0.1:{port}/x.png", f"http://localhost:{port}/x.png",
            f"http://[::ffff:127.0.0.1]:{port}/x.png", "http://169.254.169.254/latest/meta-data/",
            "file:///etc/hostname", "/etc/hostname"]


def hostile_videos(port: int) -> list[str]:
    return [f"http://127.0.0.1:{port}/x.mp4", "file:///etc/hostname", "/etc/hostname",
            "data:video/mp4;base64,AAAA"]
