#!/usr/bin/env bash
# Print the path of a working CPython X.Y interpreter, or explain on stderr and exit 1.
#
# Usage: builder/find_python.sh 3.12
#
# Where it looks, in order: pythonX.Y on PATH (run, not just found: a pyenv shim for a version
# that is not selected exists but fails), pyenv's versions (PYENV_ROOT, default ~/.pyenv), and
# /usr/bin and /usr/local/bin. No registry this project reaches ships an interpreter: Debian 12
# has only 3.11, and pip and uv cannot install Python itself here (uv's downloads come from
# outside the registries). This machine kind has pyenv's 3.12 preinstalled.
set -euo pipefail

want=${1:?usage: builder/find_python.sh X.Y}
works() { [[ -x $1 ]] && "$1" -c "import sys, venv; sys.exit(sys.version_info[:2] != tuple(map(int, '$want'.split('.'))))" 2>/dev/null; }

candidates=()
if command -v "python$want" >/dev/null 2>&1; then candidates+=("$(command -v "python$want")"); fi
pyenv_root=${PYENV_ROOT:-$HOME/.pyenv}
for dir in "$pyenv_root"/versions/"$want".*/bin; do
    [[ -d $dir ]] && candidates+=("$dir/python$want")
done
candidates+=("/usr/bin/python$want" "/usr/local/bin/python$want")

for python in "${candidates[@]}"; do
    if works "$python"; then
        # A pyenv shim resolves to the real interpreter; print that, so venvs point at it.
        "$python" -c 'import sys; print(sys.executable)'
        exit 0
    fi
done
echo "find_python: no working Python $want (looked at: ${candidates[*]}). None of the package" \
     "registries reached here ships one (Debian 12 has 3.11; pip and uv cannot install Python)." \
     "Install Python $want (e.g. pyenv install $want) and run again." >&2
exit 1
