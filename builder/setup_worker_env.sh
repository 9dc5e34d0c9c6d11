#!/usr/bin/env bash
# Build the Python 3.12 worker environment: the worker's dependencies only (no torch, no SGLang),
# on the Python the SGLang image runs, for the unit tests that need no engine (make unit-py312).
#
# Usage (from the repository root): builder/setup_worker_env.sh [VENV_DIR]
#   (default: .cache/venv-py312)
#
# The interpreter comes from builder/find_python.sh 3.12; the packages from
# builder/requirements-worker-py312.txt under builder/constraints-cpu.txt, so both environments
# run the same versions of the worker's dependencies. Idempotent like setup_cpu_env.sh: a stamp
# holds a hash of the inputs. Full pip output goes to VENV_DIR/setup-pip.log.
set -euo pipefail

venv=${1:-.cache/venv-py312}
builder=builder
if [[ ! -f $builder/setup_worker_env.sh ]]; then
    echo "run this from the repository root" >&2
    exit 2
fi
inputs=(pyproject.toml "$builder/setup_worker_env.sh" "$builder/find_python.sh"
        "$builder/requirements-worker-py312.txt" "$builder/requirements.txt"
        "$builder/requirements-dev.txt" "$builder/constraints-cpu.txt")
stamp="$venv/.worker-env-stamp"
want=$(sha256sum "${inputs[@]}" | sha256sum | cut -d" " -f1)
if [[ -x $venv/bin/python && -f $stamp && $(<"$stamp") == "$want" ]]; then
    echo "py312 env: $venv is up to date"
    exit 0
fi

python=$("$builder/find_python.sh" 3.12)
start=$SECONDS
rm -rf "$venv"
echo "py312 env: installing into $venv ($python)"
"$python" -m venv "$venv"
log="$venv/setup-pip.log"
pip_install() {
    if ! "$venv/bin/python" -m pip install -q "$@" >>"$log" 2>&1; then
        echo "py312 env: pip failed, last lines of $log:" >&2
        grep -v "^WARNING: Location 'file:" "$log" | tail -n 25 >&2
        exit 1
    fi
}
pip_install -r "$builder/requirements-worker-py312.txt" -c "$builder/constraints-cpu.txt"
pip_install --no-deps --no-build-isolation -e .
if "$venv/bin/python" -c 'import importlib.util as u, sys; sys.exit(any(u.find_spec(m) for m in ("torch", "sglang")))'; then
    :
else
    echo "py312 env: torch or sglang got installed; this env must have neither" >&2
    exit 1
fi
echo "$want" >"$stamp"
echo "py312 env: ready in $((SECONDS - start)) s: $venv ($("$venv/bin/python" -V))"
