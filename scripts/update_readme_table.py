"""Regenerate the docs' generated tables (``make docs``): the configuration tables of
docs/configuration.md from the settings models (the worker's, ``sglang_worker.settings``, and
the local endpoint's, ``runpod_local.settings``) and the migration table of
docs/migrating-from-worker-vllm.md from ``sglang_worker.engine.vllm_env``."""

import re
from pathlib import Path

from runpod_local.settings import LocalSettings
from sglang_worker.engine.vllm_env import markdown_table as migration_table
from sglang_worker.settings import markdown_table

ROOT = Path(__file__).resolve().parents[1]

TABLES = {
    "docs/configuration.md": {
        "settings-table": markdown_table(),
        "local-endpoint-settings-table": markdown_table(LocalSettings, hub=False),
    },
    "docs/migrating-from-worker-vllm.md": {"worker-vllm-table": migration_table()},
}

for name, tables in TABLES.items():
    doc = ROOT / name
    text = new = doc.read_text(encoding="utf-8")
    for marker, table in tables.items():
        start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
        if start not in new or end not in new:
            raise SystemExit(f"{name} has no {start} ... {end} section")
        block = f"{start}\n{table}\n{end}"
        new = re.sub(f"{re.escape(start)}.*?{re.escape(end)}", lambda _, block=block: block,
                     new, flags=re.S)
    doc.write_text(new, encoding="utf-8")
    print(name, "tables", "updated" if new != text else "already up to date")
