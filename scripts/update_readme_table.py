"""Regenerate the README's configuration table from the settings model (``make docs``)."""

import re
from pathlib import Path

from sglang_worker.settings import markdown_table

ROOT = Path(__file__).resolve().parents[1]

START, END = "<!-- settings-table:start -->", "<!-- settings-table:end -->"

readme = ROOT / "README.md"
text = readme.read_text(encoding="utf-8")
new = re.sub(f"{START}.*?{END}", f"{START}\n{markdown_table()}\n{END}", text, flags=re.S)
readme.write_text(new, encoding="utf-8")
print("README.md configuration table", "updated" if new != text else "already up to date")
