"""Regenerate the configuration tables of docs/configuration.md from the settings models
(``make docs``): the worker's (``sglang_worker.settings``) and the local endpoint's
(``runpod_local.settings``)."""

import re
from pathlib import Path

from runpod_local.settings import LocalSettings
from sglang_worker.settings import markdown_table

ROOT = Path(__file__).resolve().parents[1]

TABLES = {
    "settings-table": markdown_table(),
    "local-endpoint-settings-table": markdown_table(LocalSettings, hub=False),
}

readme = ROOT / "docs" / "configuration.md"
text = new = readme.read_text(encoding="utf-8")
for marker, table in TABLES.items():
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    if start not in new or end not in new:
        raise SystemExit(f"docs/configuration.md has no {start} ... {end} section")
    block = f"{start}\n{table}\n{end}"
    new = re.sub(f"{re.escape(start)}.*?{re.escape(end)}", lambda _, block=block: block, new,
                 flags=re.S)
readme.write_text(new, encoding="utf-8")
print("docs/configuration.md tables", "updated" if new != text else "already up to date")
