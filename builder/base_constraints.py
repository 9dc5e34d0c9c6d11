"""Pin every package the image already has, so installing the worker can only add packages.

    python3 builder/base_constraints.py > /tmp/base.txt                # before installing
    python3 -m pip install -r builder/requirements.txt -c /tmp/base.txt
    python3 builder/base_constraints.py --check /tmp/base.txt          # after: exit 1 if any moved

Contract:
- The constraints are ``name==version`` for every distribution the running interpreter can
  import, read with ``importlib.metadata`` (the first one on ``sys.path`` when a name is
  installed twice, as Python itself would import it). Under them pip can install what is
  missing but cannot upgrade, downgrade or replace torch, sglang, transformers or anything else
  the base image ships: a requirement that would need that fails the build, naming the
  conflict, instead of quietly changing the engine the image was released with.
- A version that is not PEP 440 (some distribution packages carry one) cannot be a pip
  constraint; it is listed as a comment, and ``--check`` still compares it.
- A distribution whose metadata has no version (a broken or half-removed install) cannot be
  pinned either: it is listed as a comment, and a warning on stderr names it and where it lies,
  so the build goes on and says what it could not protect.
- ``--check FILE`` compares the installed versions with FILE and prints every pinned package
  that is missing or at another version; exit 1 if there is one, 0 otherwise.

Standalone on purpose (standard library and ``packaging`` only): it runs in the image build
before the worker's code is copied in.
"""

from __future__ import annotations

import argparse
import sys
from importlib import metadata
from pathlib import Path

from packaging.utils import canonicalize_name as canonical
from packaging.version import InvalidVersion, Version

NO_VERSION = "no version in its metadata: not pinned"


def installed() -> dict[str, tuple[str, str | None]]:
    """Canonical name -> (name as published, version or None), first on ``sys.path`` wins."""
    found: dict[str, tuple[str, str | None]] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found.setdefault(canonical(name), (name, dist.version or None))
    return found


def unversioned(packages: dict[str, tuple[str, str | None]]) -> list[str]:
    """One warning per distribution that has no version, naming where its metadata lies."""
    where = {canonical(d.metadata["Name"]): getattr(d, "_path", None)
             for d in metadata.distributions() if d.metadata["Name"] and not d.version}
    return [f"{name} has no version in its metadata ({where.get(key) or 'location unknown'}): "
            "it is not pinned, so installing the worker could replace it"
            for key, (name, version) in sorted(packages.items()) if version is None]


def constraints(packages: dict[str, tuple[str, str | None]]) -> list[str]:
    lines = []
    for _key, (name, version) in sorted(packages.items()):
        if version is None:
            lines.append(f"# {name}  ({NO_VERSION})")
            continue
        try:
            Version(version)
        except InvalidVersion:
            lines.append(f"# {name}=={version}  (not a PEP 440 version: compared, not pinned)")
            continue
        lines.append(f"{name}=={version}")
    return lines


def moved(pinned_lines: list[str],
          packages: dict[str, tuple[str, str | None]]) -> list[str]:
    """Every pinned package that is missing now or at another version."""
    problems = []
    for line in pinned_lines:
        text = line.removeprefix("# ").split("  (", 1)[0].strip()
        if "==" not in text:
            continue
        name, version = text.split("==", 1)
        now = packages.get(canonical(name))
        if now is None:
            problems.append(f"{name} {version} was removed")
        elif now[1] is None:
            problems.append(f"{name} {version} lost its version (its metadata is broken)")
        elif now[1] != version:
            problems.append(f"{name} moved from {version} to {now[1]}")
    return problems


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", type=Path, metavar="FILE",
                        help="compare the installed packages with a file this script wrote")
    args = parser.parse_args(argv)
    packages = installed()
    for warning in unversioned(packages):
        print(f"base_constraints: warning: {warning}", file=sys.stderr)
    if args.check is None:
        print("# Every package installed before the worker's; written by "
              "builder/base_constraints.py")
        print("\n".join(constraints(packages)))
        return 0
    problems = moved(args.check.read_text(encoding="utf-8").splitlines(), packages)
    for problem in problems:
        print(f"base_constraints: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
