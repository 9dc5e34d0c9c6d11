"""The image, checked without a Docker engine: the Dockerfile's lint, its base image version, what
it copies, how it starts, how it installs the worker's dependencies and how it bakes a model.

The worker's start-up command itself runs against the CPU SGLang environment in
tests/integration/processes/test_model_storage.py.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from builder import base_constraints, download_model
from sglang_worker.settings import Settings
from tests.support.dockerfile import DOCKER, DOCKERFILE, exec_form
from tests.support.paths import PROJECT_ROOT

BUILDER = PROJECT_ROOT / "builder"

# The base image's packages that the worker's requirements must never move.
ENGINE_PACKAGES = {"sglang", "torch", "torchvision", "triton", "transformers", "tokenizers",
                   "sglang-kernel", "sgl-kernel", "flashinfer-python", "xgrammar"}


def args_defaults() -> dict[str, str]:
    found = {}
    for keyword, rest in DOCKER:
        if keyword == "ARG":
            name, _, value = rest.partition("=")
            found[name] = value.strip('"')
    return found


def froms() -> list[str]:
    return [rest for keyword, rest in DOCKER if keyword == "FROM"]


def run_index(needle: str) -> int:
    (index,) = [i for i, (keyword, rest) in enumerate(DOCKER)
                if keyword == "RUN" and needle in rest]
    return index


def test_hadolint_passes():
    hadolint = Path(sys.executable).with_name("hadolint")
    assert hadolint.exists(), "hadolint comes with builder/requirements-dev.txt (make setup)"
    done = subprocess.run([str(hadolint), "--no-color", str(DOCKERFILE)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


# --- One SGLang version -----------------------------------------------------------------------

def test_the_base_image_is_the_sglang_version_the_cpu_environment_installs():
    version = (BUILDER / "SGLANG_VERSION").read_text(encoding="utf-8").strip()
    assert re.fullmatch(r"\d+\.\d+\.\d+(\.post\d+)?", version)
    assert args_defaults()["SGLANG_VERSION"] == version, "Dockerfile ARG SGLANG_VERSION"
    # A tag by default; --build-arg SGLANG_IMAGE=...@sha256:<digest> pins the exact image.
    assert args_defaults()["SGLANG_IMAGE"] == "lmsysorg/sglang:v${SGLANG_VERSION}-cu130"
    assert froms() == ["scratch AS model-source", "${SGLANG_IMAGE}"]
    assert metadata.version("sglang") == version, "the CPU environment: run `make setup`"
    setup = (BUILDER / "setup_cpu_env.sh").read_text(encoding="utf-8")
    assert '"$builder/SGLANG_VERSION"' in setup and "sglang==$sglang_version" in setup
    assert not re.search(r"sglang==\d", setup), "the version is read from builder/SGLANG_VERSION"


# --- What goes into the image -----------------------------------------------------------------

def dockerignore_excludes(path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    patterns = []
    for line in (PROJECT_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            negate = line.startswith("!")
            pattern = line.lstrip("!").strip("/")
            regex = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*", "[^/]*")
            patterns.append((re.compile(regex.replace(r"\?", "[^/]") + r"\Z"), negate))
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    excluded = False
    for regex, negate in patterns:
        if any(regex.match(prefix) for prefix in prefixes):
            excluded = not negate
    return excluded


def copy_sources() -> list[str]:
    sources = []
    for keyword, rest in DOCKER:
        if keyword == "COPY":
            words = [w for w in shlex.split(rest) if not w.startswith("--")]
            sources += words[:-1]
    return sources


def test_every_copy_source_exists_and_is_in_the_build_context():
    sources = copy_sources()
    assert {"handler.py", "src/", "builder/requirements.txt",
            "test_input_with_base64_images.json"} <= set(sources)
    for source in sources:
        assert (PROJECT_ROOT / source).exists(), f"COPY {source}: no such file"
        assert not dockerignore_excludes(source), f"COPY {source}: excluded by .dockerignore"
    for package_file in (PROJECT_ROOT / "src" / "sglang_worker").rglob("*.py"):
        assert not dockerignore_excludes(str(package_file.relative_to(PROJECT_ROOT)))


@pytest.mark.parametrize("path", [".venv/bin/python", ".cache/models/tiny-qwen2-vl/config.json",
                                  ".git/config", "tests/unit/test_dockerfile.py", ".env",
                                  "src/runpod_local/__main__.py", "builder/cpu_shims/sgl_kernel",
                                  "src/tiny_models/build.py",
                                  "src/sglang_worker/__pycache__/x.pyc", ".runpod/hub.json"])
def test_the_build_context_leaves_out_what_the_image_does_not_need(path):
    assert dockerignore_excludes(path)


def test_the_worker_starts_as_the_tests_start_it():
    assert exec_form("CMD") == ["python3", "handler.py"]
    assert exec_form("ENTRYPOINT") == [], "nothing may wrap the worker: signals must reach it"
    workdir = [rest for keyword, rest in DOCKER if keyword == "WORKDIR"][-1]
    copies = {rest for keyword, rest in DOCKER if keyword == "COPY"}
    assert any(c.startswith("handler.py ") and c.endswith(" ./") for c in copies)
    assert "src/ src/" in copies, f"handler.py finds the package in src/ next to it ({workdir})"
    processes = PROJECT_ROOT / "tests" / "integration" / "processes"
    for test in ("test_cli_processes.py", "test_deployed_worker.py", "test_model_storage.py"):
        assert '"handler.py"' in (processes / test).read_text()


def test_model_build_args_and_a_token_that_is_only_a_secret():
    args = args_defaults()
    for name in ("MODEL_NAME", "MODEL_REVISION", "TOKENIZER_NAME", "QUANTIZATION", "BASE_PATH"):
        assert name in args
    assert args["BASE_PATH"] == str(Settings.model_fields["base_path"].default)
    for keyword, rest in DOCKER:
        if keyword in ("ARG", "ENV", "LABEL"):
            assert "HF_TOKEN" not in rest, f"{keyword} {rest}: the token must be a secret"
    (bake,) = [rest for keyword, rest in DOCKER
               if keyword == "RUN" and "download_model.py" in rest]
    assert "--mount=type=secret,id=HF_TOKEN,required=false" in bake
    assert str(download_model.DEFAULT_TOKEN_FILE) == "/run/secrets/HF_TOKEN"


def test_the_baked_model_lands_where_the_worker_looks_and_no_volume_can_hide_it():
    manifest = download_model.DEFAULT_MODELS_DIR / "manifest.json"
    assert manifest == Settings.model_fields["baked_model_manifest"].default
    volume = Settings.model_fields["base_path"].default
    assert not download_model.DEFAULT_MODELS_DIR.is_relative_to(volume)


# --- The worker's dependencies leave the base image's alone -----------------------------------

def requirement_lines() -> list[str]:
    lines = (BUILDER / "requirements.txt").read_text(encoding="utf-8").splitlines()
    return [line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()]


def test_the_requirements_pin_nothing_the_engine_depends_on():
    sglang_deps = {base_constraints.canonical(re.split(r"[ ;<>=!~\[(]", r, maxsplit=1)[0])
                   for r in metadata.requires("sglang") or [] if "extra ==" not in r}
    protected = sglang_deps | {base_constraints.canonical(n) for n in ENGINE_PACKAGES}
    for line in requirement_lines():
        name = base_constraints.canonical(re.split(r"[ <>=!~\[;]", line, maxsplit=1)[0])
        if name in protected:
            assert re.fullmatch(r"[A-Za-z0-9_.\-]+", line), (
                f"{line!r}: the base image provides {name}; a version here could move it")


def test_the_install_step_pins_every_base_package_and_checks_afterwards():
    (install,) = [rest for keyword, rest in DOCKER
                  if keyword == "RUN" and "requirements.txt" in rest]
    assert "builder/base_constraints.py > /tmp/base-constraints.txt" in install
    assert "-r builder/requirements.txt -c /tmp/base-constraints.txt" in install
    assert "builder/base_constraints.py --check /tmp/base-constraints.txt" in install
    for keyword, rest in DOCKER:
        if keyword == "RUN":
            for flag in ("--upgrade", " -U ", "--force-reinstall", "--ignore-installed"):
                assert flag not in rest


def test_under_the_base_constraints_the_requirements_resolve_without_moving_anything(tmp_path):
    """The image's install step, run against the CPU environment as the stand-in base image:
    every installed package pinned, no index, and pip must find nothing to install or change."""
    constraints = tmp_path / "base.txt"
    python = sys.executable
    done = subprocess.run([python, str(BUILDER / "base_constraints.py")], capture_output=True,
                          text=True, check=True)
    constraints.write_text(done.stdout)
    pins = set(done.stdout.splitlines())
    for name in ("sglang", "torch", "transformers"):
        assert f"{name}=={metadata.version(name)}" in pins
    report = tmp_path / "report.json"
    subprocess.run([python, "-m", "pip", "install", "--dry-run", "--no-index", "--quiet",
                    "--report", str(report), "-r", str(BUILDER / "requirements.txt"),
                    "-c", str(constraints)], check=True, capture_output=True, timeout=120)
    assert json.loads(report.read_text())["install"] == []
    check = subprocess.run([python, str(BUILDER / "base_constraints.py"), "--check",
                            str(constraints)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_the_check_names_a_base_package_that_moved(tmp_path):
    moved = tmp_path / "base.txt"
    moved.write_text(f"# header\ntorch==0.0.1\nsglang=={metadata.version('sglang')}\n"
                     "no-such-package==1.0\n# odd-dist==1.0-ubuntu1  (not a PEP 440 version)\n")
    check = subprocess.run([sys.executable, str(BUILDER / "base_constraints.py"), "--check",
                            str(moved)], capture_output=True, text=True)
    assert check.returncode == 1
    assert "torch moved from 0.0.1 to" in check.stderr
    assert "no-such-package 1.0 was removed" in check.stderr
    assert "odd-dist 1.0-ubuntu1 was removed" in check.stderr
    assert "sglang" not in check.stderr


def test_a_version_pip_cannot_take_as_a_constraint_is_listed_as_a_comment():
    lines = base_constraints.constraints({"a": ("a", "1.0"), "b": ("b", "2.7.7ubuntu4")})
    assert lines[0] == "a==1.0"
    assert lines[1].startswith("# b==2.7.7ubuntu4")


# --- Layer order: the weights are downloaded once ---------------------------------------------

def test_the_model_layer_comes_before_the_requirements_and_the_code():
    """A requirements or code change must not invalidate the layer of weights: the bake step
    comes first, and nothing it copies is a file those changes touch."""
    bake, install = run_index("download_model.py"), run_index("-r builder/requirements.txt")
    assert bake < install < run_index("handler.py --help")
    before_bake = [rest for keyword, rest in DOCKER[:bake] if keyword == "COPY"]
    assert before_bake == ["builder/download_model.py builder/"], before_bake
    copies_after = [rest for keyword, rest in DOCKER[bake:] if keyword == "COPY"]
    assert any("builder/requirements.txt" in c for c in copies_after)
    assert any(c.startswith("src/") for c in copies_after)


def test_a_local_model_directory_comes_in_as_a_named_context_mounted_for_the_bake_only():
    (bake,) = [rest for keyword, rest in DOCKER
               if keyword == "RUN" and "download_model.py" in rest]
    assert "--mount=type=bind,from=model-source,target=/model-source" in bake
    # The default stage is empty; --build-context model-source=DIR replaces it.
    assert "scratch AS model-source" in froms()
    guide = (PROJECT_ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    assert "--build-context model-source=" in guide


def bake_local(tmp_path, model: str, **kw) -> dict:
    return download_model.bake(model=model, revision=kw.get("revision"),
                               tokenizer=kw.get("tokenizer"), quantization=None,
                               models_dir=tmp_path / "models",
                               manifest=tmp_path / "models" / "manifest.json",
                               base_path=tmp_path / "volume", token=None)


def test_a_local_model_directory_is_copied_and_recorded(tmp_path):
    source = tmp_path / "model-source"
    source.mkdir()
    (source / "config.json").write_text('{"vocab_size": 7}')
    record = bake_local(tmp_path, str(source), revision="main")
    copied = Path(record["model_path"])
    assert copied == tmp_path / "models" / "local" / "model-source"
    assert (copied / "config.json").read_text() == '{"vocab_size": 7}'
    assert record["revision"] is None and record["commit"] is None


@pytest.mark.parametrize("name", ["/model-source", "/no/such/model", "./models/mine",
                                  "~/no-such-model-here"])
def test_a_path_with_no_model_fails_with_how_to_hand_it_to_the_build(tmp_path, name, capsys):
    if name == "/model-source":  # what the build sees without --build-context: an empty dir
        name = str(tmp_path / "model-source")
        Path(name).mkdir()
    with pytest.raises(download_model.BakeError) as caught:
        bake_local(tmp_path, name)
    message = str(caught.value)
    assert message.startswith(f"MODEL_NAME={name} ")
    assert "--build-context model-source=/path/to/model" in message
    assert "--build-arg MODEL_NAME=/model-source" in message
    assert not (tmp_path / "models" / "manifest.json").exists()


def test_the_command_line_says_the_reason_in_one_line_and_exits_1(tmp_path):
    done = subprocess.run([sys.executable, str(BUILDER / "download_model.py"), "--model",
                           "/no/such/model", "--models-dir", str(tmp_path / "models"),
                           "--base-path", str(tmp_path / "volume")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("download_model: failed: MODEL_NAME=/no/such/model is a path")


def test_a_hub_id_is_not_taken_for_a_path():
    assert not download_model.looks_like_a_path("Qwen/Qwen2.5-VL-3B-Instruct")
    assert download_model.local_directory("Qwen/Qwen2.5-VL-3B-Instruct", "MODEL_NAME") is None


# --- A base package with no version ------------------------------------------------------------

def test_a_distribution_with_no_version_is_named_not_a_type_error(tmp_path):
    """A broken .dist-info (METADATA with no Version) in the base image: the constraints list it
    as a comment, a warning names it and its location, and the build goes on."""
    site = tmp_path / "site"
    info = site / "broken_pkg-0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-pkg\n")
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, str(BUILDER / "base_constraints.py")],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "# broken-pkg  (no version in its metadata: not pinned)" in done.stdout.splitlines()
    assert ("base_constraints: warning: broken-pkg has no version in its metadata "
            f"({info})") in done.stderr
    pinned = tmp_path / "base.txt"
    pinned.write_text(done.stdout)
    check = subprocess.run([sys.executable, str(BUILDER / "base_constraints.py"), "--check",
                            str(pinned)], capture_output=True, text=True, env=env, timeout=60)
    assert check.returncode == 0, check.stderr


def test_the_constraints_of_a_package_with_no_version_are_a_comment():
    lines = base_constraints.constraints({"a": ("a", "1.0"), "b": ("b", None)})
    assert lines == ["a==1.0", "# b  (no version in its metadata: not pinned)"]
    assert base_constraints.moved(["b==2.0"], {"b": ("b", None)}) == [
        "b 2.0 lost its version (its metadata is broken)"]
