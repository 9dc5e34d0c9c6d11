#!/usr/bin/env bash
# make image-deps-check: would the worker's requirements install on the SGLang image, without
# moving any of its packages? Answered from package metadata alone, on Python 3.12 as the image.
#
# Usage (from the repository root): builder/image_deps_check.sh [WORK_DIR]
#   (default: .cache/image-deps)
#
#   1. Resolve sglang==$(cat builder/SGLANG_VERSION) with its full dependency set, as its image
#      has it, in a Python 3.12 venv (pip install --dry-run --ignore-installed --report):
#      nothing is installed. The registry here serves no separate metadata files (PEP 658), so
#      pip's fast-deps reads each wheel's METADATA with HTTP range requests instead of
#      downloading the wheel: torch and the CUDA libraries are never fetched whole.
#   2. Freeze that resolution as constraints (name==version), as builder/base_constraints.py
#      pins the image's installed packages in the Dockerfile.
#   3. Resolve builder/requirements.txt under them, as the Dockerfile's install step does, again
#      as a dry run, and fail on any conflict. Print what the worker adds to the image.
#
# The resolution is today's: the image was built on an earlier day, so its pins may differ where
# SGLang leaves a range open (README: "The local environment and the image").
set -euo pipefail

work=${1:-.cache/image-deps}
builder=builder
if [[ ! -f $builder/image_deps_check.sh ]]; then
    echo "run this from the repository root" >&2
    exit 2
fi
sglang="sglang==$(tr -d '[:space:]' <"$builder/SGLANG_VERSION")"
# fast-deps (lazy wheels) is a pip feature flag; pinned so the flag is known to exist.
pip_pin="pip==26.3"
venv="$work/venv"
start=$SECONDS
mkdir -p "$work"
if [[ ! -x $venv/bin/python || $("$venv/bin/python" -m pip --version | cut -d" " -f2) != "${pip_pin#pip==}" ]]; then
    python=$("$builder/find_python.sh" 3.12)
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install -q "$pip_pin" >"$work/pip-setup.log" 2>&1 || {
        tail -n 20 "$work/pip-setup.log" >&2; exit 1; }
fi
"$venv/bin/python" -c 'import sys; assert sys.version_info[:2] == (3, 12), sys.version'

resolve() {  # resolve REPORT LOG ARGS...: a metadata-only dry run
    local report=$1 log=$2
    shift 2
    if ! "$venv/bin/python" -m pip install --dry-run --ignore-installed --no-cache-dir \
            --use-feature=fast-deps --only-binary=:all: --quiet --report "$report" "$@" \
            >"$log" 2>&1; then
        echo "image-deps-check: the resolution failed; pip said:" >&2
        grep -v -e "^WARNING: Location 'file:" -e "fast-deps" "$log" | tail -n 30 >&2
        return 1
    fi
}

echo "image-deps-check: resolving $sglang on Python 3.12 (metadata only)"
resolve "$work/sglang-report.json" "$work/sglang.log" "$sglang"
"$venv/bin/python" - "$work/sglang-report.json" "$work/image-constraints.txt" <<'PY'
import json, sys
report = json.load(open(sys.argv[1], encoding="utf-8"))
pins = sorted(f"{i['metadata']['name']}=={i['metadata']['version']}" for i in report["install"])
with open(sys.argv[2], "w", encoding="utf-8") as out:
    out.write("# sglang's full dependency set on Python 3.12, frozen by builder/image_deps_check.sh\n")
    out.write("\n".join(pins) + "\n")
picked = {p.split("==")[0].lower(): p for p in pins}
shown = ", ".join(picked[n] for n in ("torch", "transformers", "pillow", "aiohttp", "pydantic")
                  if n in picked)
print(f"image-deps-check: {len(pins)} packages ({shown})")
PY

echo "image-deps-check: resolving builder/requirements.txt under them, as the Dockerfile does"
resolve "$work/worker-report.json" "$work/worker.log" \
    -r "$builder/requirements.txt" -c "$work/image-constraints.txt"
"$venv/bin/python" - "$work/worker-report.json" "$work/image-constraints.txt" <<'PY'
import json, re, sys
def key(name): return re.sub(r"[-_.]+", "-", name).lower()
pinned = {}
for line in open(sys.argv[2], encoding="utf-8"):
    if "==" in line and not line.startswith("#"):
        name, version = line.strip().split("==")
        pinned[key(name)] = version
added, moved = [], []
for item in json.load(open(sys.argv[1], encoding="utf-8"))["install"]:
    name, version = item["metadata"]["name"], item["metadata"]["version"]
    if key(name) not in pinned:
        added.append(f"{name}=={version}")
    elif pinned[key(name)] != version:
        moved.append(f"{name} {pinned[key(name)]} -> {version}")
if moved:
    print("image-deps-check: the worker's requirements would move image packages: "
          + ", ".join(moved), file=sys.stderr)
    sys.exit(1)
print(f"image-deps-check: no conflict; the worker adds {len(added)}: {', '.join(sorted(added))}")
PY
echo "image-deps-check: passed in $((SECONDS - start)) s"
