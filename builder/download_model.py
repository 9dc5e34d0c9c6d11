"""Bake a model into the image at build time: fetch its files, then write the manifest the worker
reads at start (``sglang_worker.engine.model_source``).

    python3 builder/download_model.py     # from MODEL_NAME, MODEL_REVISION, TOKENIZER_NAME,
                                          # QUANTIZATION and BASE_PATH (the Dockerfile's ARGs)
    python3 builder/download_model.py --model DIR_OR_HUB_ID --models-dir /models

Contract:
- A hub id is downloaded with ``huggingface_hub.snapshot_download`` at ``MODEL_REVISION``
  (default ``main``) into a Hugging Face cache under ``--models-dir``
  (``/models/huggingface``). The manifest records the commit the files came from. In offline
  mode (``HF_HUB_OFFLINE=1``) it resolves from that cache alone and never touches the network.
- A local directory is copied to ``--models-dir/local/<its name>``: the image must hold the
  files themselves. ``MODEL_REVISION`` does not apply to it. In the image build the directory
  comes from the build machine as BuildKit's named context ``model-source``, bind-mounted at
  ``/model-source`` for this step only (``--build-context model-source=/path/to/model
  --build-arg MODEL_NAME=/model-source``).
- A ``MODEL_NAME`` written as a path (it starts with ``/``, ``./``, ``../`` or ``~``) that is not
  a directory fails at once with a message that says how to hand the directory to the build,
  instead of being sent to the hub as a repository id.
- ``TOKENIZER_NAME``, when set and different from the model, is fetched the same way, its
  tokenizer and processor files only (``TOKENIZER_FILES``).
- The token is read from the BuildKit secret file ``/run/secrets/HF_TOKEN`` (``--token-file``),
  else from ``HF_TOKEN``. It is passed to the download call only: never written, never printed.
- ``--models-dir`` must not be inside ``BASE_PATH`` (``/runpod-volume``): a network volume
  mounted there at run time would hide the baked files.
- The manifest, written last and atomically to ``--manifest``
  (``<models-dir>/manifest.json``), is JSON: ``format`` (1), ``model_name``, ``model_path``,
  ``tokenizer_name``, ``tokenizer_path`` (null: the tokenizer is in ``model_path``),
  ``revision``, ``commit``, ``quantization`` and ``downloaded_at`` (UTC, ISO 8601). Its
  existence means the files are complete.
- Exit 0 when done, 1 with a one-line reason when the download fails, 2 for bad arguments.

Standalone on purpose (it imports nothing from the worker): in the Dockerfile it runs before
the worker's code is copied in, so a code change never invalidates the layer of weights.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import sys
from pathlib import Path

MANIFEST_FORMAT = 1
DEFAULT_MODELS_DIR = Path("/models")
DEFAULT_TOKEN_FILE = Path("/run/secrets/HF_TOKEN")
# What a tokenizer or processor needs, without the weights of the repository it comes from.
TOKENIZER_FILES = ["*.json", "*.txt", "*.model", "*.tiktoken", "*.jinja", "*.py"]


class BakeError(Exception):
    """The model cannot be baked; the message says why."""


PATH_PREFIXES = ("/", "./", "../", "~")
BUILD_CONTEXT_HINT = ("a directory on the build machine reaches the build only as the named "
                      "context model-source: docker build --build-context "
                      "model-source=/path/to/model --build-arg MODEL_NAME=/model-source ...")


def looks_like_a_path(name: str) -> bool:
    """A hub id is ``org/name``; anything written as a file-system path is meant as one."""
    return name.startswith(PATH_PREFIXES) or name in (".", "..")


def local_directory(name: str, what: str) -> Path | None:
    """The directory ``name`` names, None for a hub id; BakeError for a path with no directory."""
    path = Path(name).expanduser()
    if path.is_dir():
        if not any(path.iterdir()):
            # /model-source is an empty directory when the build names no model-source context.
            raise BakeError(f"{what}={name} is an empty directory; {BUILD_CONTEXT_HINT}")
        return path
    if not looks_like_a_path(name):
        return None
    if path.exists():
        raise BakeError(f"{what}={name} is a file, not a model directory")
    raise BakeError(f"{what}={name} is a path, but no directory is there; {BUILD_CONTEXT_HINT}")


def say(message: str) -> None:
    print(f"download_model: {message}", file=sys.stderr, flush=True)


def read_token(token_file: Path) -> str | None:
    if token_file.is_file():
        return token_file.read_text(encoding="utf-8").strip() or None
    return os.environ.get("HF_TOKEN") or None


def from_hub(repo_id: str, revision: str | None, cache_dir: Path, token: str | None,
             allow_patterns: list[str] | None = None) -> tuple[Path, str | None]:
    """Download (or find, offline) ``repo_id`` in ``cache_dir``; its directory and commit."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, LocalEntryNotFoundError

    try:
        path = Path(snapshot_download(repo_id, revision=revision or None, cache_dir=cache_dir,
                                      token=token, allow_patterns=allow_patterns))
    except GatedRepoError:
        raise BakeError(f"{repo_id} is gated: accept its licence on huggingface.co and pass a "
                        "token as a build secret (--secret id=HF_TOKEN,env=HF_TOKEN)") from None
    except LocalEntryNotFoundError as exc:
        raise BakeError(f"{repo_id} is not in {cache_dir} and the hub cannot be reached "
                        f"({exc.__class__.__name__})") from None
    except HfHubHTTPError as exc:
        raise BakeError(f"downloading {repo_id} failed: {exc}".splitlines()[0]) from None
    # A cache snapshot lives in .../snapshots/<commit hash>.
    commit = path.name if path.parent.name == "snapshots" else None
    return path, commit


def from_directory(source: Path, models_dir: Path) -> Path:
    target = models_dir / "local" / source.resolve().name
    shutil.copytree(source, target, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(".git", ".cache", "__pycache__"))
    return target


def bake(*, model: str, revision: str | None, tokenizer: str | None, quantization: str | None,
         models_dir: Path, manifest: Path, base_path: Path, token: str | None) -> dict:
    """Fetch the model (and tokenizer), write the manifest, and return what it holds."""
    models_dir = models_dir.resolve()
    volume = base_path.resolve()
    if models_dir == volume or models_dir.is_relative_to(volume):
        raise BakeError(f"--models-dir {models_dir} is inside BASE_PATH {volume}: a network "
                        "volume mounted there would hide the baked model")
    cache = models_dir / "huggingface"
    commit = None
    source = local_directory(model, "MODEL_NAME")
    tokenizer_source = local_directory(tokenizer, "TOKENIZER_NAME") if tokenizer else None
    if source is not None:
        if revision:
            say(f"MODEL_REVISION={revision} does not apply to a local directory; ignored")
            revision = None
        model_path = from_directory(source, models_dir)
    else:
        say(f"fetching {model} at revision {revision or 'main'} into {cache}")
        model_path, commit = from_hub(model, revision, cache, token)
    tokenizer_path = None
    if tokenizer and tokenizer != model:
        if tokenizer_source is not None:
            tokenizer_path = from_directory(tokenizer_source, models_dir)
        else:
            say(f"fetching the tokenizer {tokenizer} into {cache}")
            tokenizer_path, _ = from_hub(tokenizer, None, cache, token, TOKENIZER_FILES)
    record = {
        "format": MANIFEST_FORMAT,
        "model_name": model,
        "model_path": str(model_path),
        "tokenizer_name": tokenizer or None,
        "tokenizer_path": str(tokenizer_path) if tokenizer_path else None,
        "revision": revision or None,
        "commit": commit,
        "quantization": quantization or None,
        "downloaded_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        .replace("+00:00", "Z"),
    }
    manifest.parent.mkdir(parents=True, exist_ok=True)
    partial = manifest.with_name(manifest.name + ".partial")
    partial.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    partial.replace(manifest)
    say(f"baked {model} into {model_path}; manifest {manifest}")
    return record


def main(argv: list[str]) -> int:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=env("MODEL_NAME"), help="hub id or local directory")
    parser.add_argument("--revision", default=env("MODEL_REVISION"))
    parser.add_argument("--tokenizer", default=env("TOKENIZER_NAME"))
    parser.add_argument("--quantization", default=env("QUANTIZATION"))
    parser.add_argument("--models-dir", type=Path, default=DEFAULT_MODELS_DIR)
    parser.add_argument("--manifest", type=Path, default=None,
                        help="default: <models-dir>/manifest.json")
    parser.add_argument("--base-path", type=Path, default=Path(env("BASE_PATH") or
                                                               "/runpod-volume"))
    parser.add_argument("--token-file", type=Path, default=DEFAULT_TOKEN_FILE)
    args = parser.parse_args(argv)
    if not args.model:
        parser.error("no model to bake: set MODEL_NAME or pass --model")
    try:
        bake(model=args.model, revision=args.revision, tokenizer=args.tokenizer,
             quantization=args.quantization, models_dir=args.models_dir,
             manifest=args.manifest or args.models_dir / "manifest.json",
             base_path=args.base_path, token=read_token(args.token_file))
    except BakeError as exc:
        say(f"failed: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
