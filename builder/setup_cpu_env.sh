#!/usr/bin/env bash
# Build the CPU-only SGLang development environment: real SGLang, CPU torch, no GPU packages.
#
# Usage (from the repository root): builder/setup_cpu_env.sh [VENV_DIR]   (default: .venv)
#
# Order matters, because SGLang pins the CUDA build of torch:
#   1. CPU torch first (the local pip configuration resolves torch==2.13.0 to a CPU wheel);
#   2. sglang, triton and torchvision with --no-deps, so no resolver ever sees sglang's torch pin;
#   3. the runtime, worker and dev dependencies, resolved under builder/constraints-cpu.txt;
#   4. the CPU shims (builder/cpu_shims) copied into site-packages;
#   5. torchaudio with --no-deps, minus its compiled extension (a CUDA build; see that step);
#   6. the project itself, editable (sglang_worker, runpod_local, tiny_models importable anywhere).
# pip then reports that sglang wants another torch and many GPU packages: that is expected.
#
# Idempotent: a stamp in the venv holds a hash of every input file; when it matches, the script
# exits at once; otherwise it installs over the existing venv (delete VENV_DIR for a clean
# rebuild: packages dropped from the requirements are not uninstalled). Full pip output goes to
# VENV_DIR/setup-pip.log.
set -euo pipefail

venv=${1:-.venv}
builder=builder
if [[ ! -f $builder/setup_cpu_env.sh ]]; then
    echo "run this from the repository root" >&2
    exit 2
fi

torch_pin="torch==2.13.0"
# The one source of truth for the SGLang version: the Dockerfile's base image tag must match it
# (tests/unit/test_dockerfile.py checks both against the installed sglang).
sglang_version=$(tr -d '[:space:]' <"$builder/SGLANG_VERSION")
no_deps_pins=("sglang==$sglang_version" triton==3.9.0 torchvision==0.28.0)
# Installed after the shims, also with --no-deps: it needs only torch (>=2.11), and no resolver
# may touch torch.
torchaudio_pin="torchaudio==2.11.1"
inputs=(
    pyproject.toml
    "$builder/SGLANG_VERSION"
    "$builder/setup_cpu_env.sh"
    "$builder/requirements-engine-cpu.txt"
    "$builder/requirements.txt"
    "$builder/requirements-dev.txt"
    "$builder/constraints-cpu.txt"
    "$builder/cpu_shims/sgl_kernel/__init__.py"
    "$builder/cpu_shims/cpu_import_hooks.py"
    "$builder/cpu_shims/cpu_import_hooks.pth"
)

stamp="$venv/.cpu-env-stamp"
want=$(sha256sum "${inputs[@]}" | sha256sum | cut -d" " -f1)
if [[ -x $venv/bin/python && -f $stamp && $(<"$stamp") == "$want" ]]; then
    echo "cpu env: $venv is up to date"
    exit 0
fi

log="$venv/setup-pip.log"
venv_abs=$(cd "$(dirname "$venv")" && pwd)/$(basename "$venv")
pip_install() {
    if ! "$venv/bin/python" -m pip install -q "$@" >>"$log" 2>&1; then
        echo "cpu env: pip failed, last lines of $log:" >&2
        grep -v "^WARNING: Location 'file:" "$log" | tail -n 25 >&2
        exit 1
    fi
}

start=$SECONDS
rm -f "$stamp"
echo "cpu env: installing into $venv"
python3.11 -m venv "$venv"
: >"$log"

echo "cpu env: installing CPU $torch_pin"
pip_install "$torch_pin"
if ! "$venv/bin/python" -W ignore -c 'import sys, torch; sys.exit(torch.version.cuda is not None)'; then
    echo "cpu env: the installed torch is a CUDA build; check the pip configuration" >&2
    exit 1
fi

echo "cpu env: installing ${no_deps_pins[*]} without dependencies"
pip_install --no-deps "${no_deps_pins[@]}"

echo "cpu env: installing runtime, worker and dev dependencies"
# pip exits 0 despite the expected "sglang requires torch==2.14.1, ..." conflict report.
pip_install -r "$builder/requirements-engine-cpu.txt" -r "$builder/requirements.txt" \
    -r "$builder/requirements-dev.txt" -c "$builder/constraints-cpu.txt"

echo "cpu env: installing the CPU shims"
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
rm -rf "$site/sgl_kernel"
cp -r "$builder/cpu_shims/sgl_kernel" "$site/sgl_kernel"
# An older venv has the torchvision hook under its former name.
rm -f "$site/torchvision_cpu_hook.py" "$site/torchvision_cpu_hook.pth"
cp "$builder/cpu_shims/cpu_import_hooks.py" "$builder/cpu_shims/cpu_import_hooks.pth" "$site/"

echo "cpu env: installing $torchaudio_pin without dependencies, without its compiled extension"
# SGLang's load_audio decodes WAV, MP3, FLAC and Ogg with soundfile and then imports torchaudio
# unconditionally (to resample). PyPI's torchaudio is a CUDA build: its compiled extension does
# not load next to CPU torch, and that failure makes `import torchaudio` fail. The extension only
# backs alignment and CTC decoding, so without these three files torchaudio imports and
# torchaudio.functional.resample (pure torch) works.
pip_install --no-deps "$torchaudio_pin"
rm -f "$site/torchaudio/lib/_torchaudio.so" "$site/torchaudio/lib/libtorchaudio.so" \
    "$site/torchaudio/lib/torchaudio_prefixctc.so"

echo "cpu env: installing the project (editable)"
pip_install --no-deps --no-build-isolation -e .

echo "cpu env: checking that sglang, torchvision, torchaudio, the shims and the project import"
(cd / && "$venv_abs/bin/python" -c "import sglang_worker, runpod_local")
SGLANG_USE_CPU_ENGINE=1 "$venv/bin/python" -c '
import sgl_kernel, torch, torchvision, torchaudio, sglang
assert torch.version.cuda is None
assert not hasattr(torch.ops.sgl_kernel, "convert_weight_packed")
resampled = torchaudio.functional.resample(torch.zeros(2, 48000), orig_freq=48000, new_freq=16000)
assert resampled.shape == (2, 16000), resampled.shape
import sglang.srt.lora.layers  # the pinned-memory stand-in applies from here
assert torch.zeros(2, pin_memory=True).pin_memory().shape == (2,)
print("cpu env: torch", torch.__version__, "torchvision", torchvision.__version__,
      "torchaudio", torchaudio.__version__, "sglang", sglang.__version__)'

echo "$want" >"$stamp"
echo "cpu env: ready in $((SECONDS - start)) s: $venv"
