"""The contracts stay true after a move: every name a module docstring puts in double
backquotes (``images.fetch``, ``apis.base``, ``pick_model``) is a name the code has.

A backquoted lower-case name or dotted path counts; each of its parts must be a module or
package of ``src/``, or a name the code defines or uses (a function, class, attribute, argument,
keyword or string literal outside docstrings). So a docstring that names a module that was
renamed or removed (``image_fetch``, ``engine_launcher``) fails here.
"""

from __future__ import annotations

import ast
import re

from tests.support.paths import PROJECT_ROOT

SRC = PROJECT_ROOT / "src"
TOKEN = re.compile(r"``([a-z_][a-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)``")
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Names of things outside this code that docstrings rightly mention: the OpenAI and Anthropic
# content types the worker refuses (its allowlists name only what it accepts), library
# functions, a shell command, a Python keyword, and the RunPod field the emulator does not serve.
EXTERNAL = {"audio_url", "input_audio", "video_url", "document", "input_file", "item_reference",
            "save_pretrained", "reduce", "smart_resize", "ps", "finally", "webhook",
            "avg_frame_rate", "smart_nframes", "yuv420p", "load_audio", "load_weights"}


def _docstring_nodes(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) \
                and node.body and isinstance(node.body[0], ast.Expr) \
                and isinstance(node.body[0].value, ast.Constant):
            found.add(id(node.body[0].value))
    return found


def known_names() -> set[str]:
    names = {path.stem for path in SRC.rglob("*.py")} | {path.name for path in SRC.rglob("*")
                                                        if path.is_dir()}
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = _docstring_nodes(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                names.add(node.id)
            elif isinstance(node, ast.Attribute):
                names.add(node.attr)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.arg) or (isinstance(node, ast.keyword) and node.arg):
                names.add(node.arg)
            elif isinstance(node, ast.alias):
                names.update((node.asname or node.name).split("."))
                names.update(node.name.split("."))
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.update(node.module.split("."))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and id(node) not in docstrings:
                names.update(WORD.findall(node.value))
    return names


def docstring_tokens() -> list[tuple[str, str]]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                 ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node, clean=False) or ""
                found += [(str(path.relative_to(SRC)), token) for token in TOKEN.findall(doc)]
    return found


def test_every_backquoted_name_in_a_docstring_is_a_name_of_the_code():
    known = known_names() | EXTERNAL
    unknown = sorted({(where, token) for where, token in docstring_tokens()
                      if any(part not in known for part in token.split("."))})
    assert unknown == []


def test_the_check_sees_the_docstrings():
    tokens = {token for _, token in docstring_tokens()}
    assert {"apis", "routes.canonical_route", "images.ImagePipeline"} <= tokens
