"""The package's plan, checked: imports run only downward and never in a circle.

Layers, lowest first: the shared leaves (``errors``, ``settings``, ``routes``,
``loop_session``, ``child_process``, ``sse``); ``engine`` and ``images`` (siblings that never
import each other); ``decoder`` (the child process that decodes untrusted media, and the source
reading video and audio share with images); ``video`` and ``audio`` (siblings); ``apis`` (one
module per API: bodies, field rules, where media sit); the transport-neutral ``pipeline``; the
two faces ``jobs`` (RunPod) and ``http`` (which never import each other); ``main``. The RunPod
emulator (``runpod_local``) may use the product; nothing in ``sglang_worker`` imports it.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.paths import PROJECT_ROOT

SRC = PROJECT_ROOT / "src"
LAYER = {"errors": 0, "settings": 0, "routes": 0, "loop_session": 0, "child_process": 0, "sse": 0,
         "engine": 1, "images": 1, "decoder": 2, "video": 3, "audio": 3,
         "apis": 4, "pipeline": 5, "jobs": 6, "http": 6, "main": 7}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.split(".")[0] in ("sglang_worker", "runpod_local")}


MODULES = {module_name(path): project_imports(path) for path in SRC.rglob("*.py")}


def area(module: str) -> str:
    parts = module.split(".")
    return parts[1] if parts[0] == "sglang_worker" and len(parts) > 1 else parts[0]


def test_every_module_of_the_worker_is_in_a_layer():
    assert {area(m) for m in MODULES if m.startswith("sglang_worker.")} <= set(LAYER)


def test_imports_run_downward_only():
    upward = []
    for module, imports in MODULES.items():
        if not module.startswith("sglang_worker."):
            continue
        for imported in imports:
            if imported.startswith("runpod_local"):
                upward.append((module, imported))
                continue
            if area(imported) == area(module) or imported == "sglang_worker":
                continue
            low, high = LAYER[area(imported)], LAYER[area(module)]
            if low > high or (low == high and high != 0):  # leaves may use each other
                upward.append((module, imported))
    assert upward == []


def test_no_module_imports_itself_through_a_circle():
    def reachable(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for imported in MODULES.get(todo.pop(), ()):
                if imported not in seen:
                    seen.add(imported)
                    todo.append(imported)
        return seen

    circles = [m for m in MODULES if m in reachable(m)]
    assert circles == []
