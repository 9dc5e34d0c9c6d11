"""The configuration reference's tables (docs/configuration.md) are the settings models', word
for word: the worker's (with whether each variable is on the RunPod Hub) and the local
endpoint's. The README, the front door, names the variables most deployments set, each a real
one, and links every document it moved out."""

import re

import pytest

from runpod_local.settings import LocalSettings
from sglang_worker.settings import Settings, markdown_table, on_hub, variables
from tests.support.paths import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
CONFIGURATION = (PROJECT_ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")


def section(marker: str) -> str:
    return CONFIGURATION.split(f"<!-- {marker}:start -->")[1].split(f"<!-- {marker}:end -->")[0]


@pytest.mark.parametrize(("marker", "model", "table"), [
    ("settings-table", Settings, markdown_table()),
    ("local-endpoint-settings-table", LocalSettings, markdown_table(LocalSettings, hub=False)),
])
def test_readme_tables_are_generated_from_the_settings_models(marker, model, table):
    text = section(marker)
    assert text.strip() == table, "run `make docs` to regenerate the tables"
    for name in variables(model):
        assert f"| `{name}` |" in text


def test_the_worker_table_says_which_variables_are_not_on_the_hub():
    text = section("settings-table")
    assert text.strip().splitlines()[0] == "| Variable | Default | Hub | Description |"
    for name, field in variables(Settings).items():
        row = next(line for line in text.splitlines() if line.startswith(f"| `{name}` |"))
        assert row.split(" | ")[2] == ("yes" if on_hub(field) else "no"), name
    assert "| `LOCAL_ENDPOINT_PORT` |" not in text
    assert "| `LOCAL_ENDPOINT_PORT` |" in section("local-endpoint-settings-table")


def test_every_setting_has_a_description():
    fields = [*Settings.model_fields.values(), *LocalSettings.model_fields.values()]
    assert all(field.description for field in fields)


def test_security_md_lists_every_limit_and_the_readme_links_it():
    security = (PROJECT_ROOT / "SECURITY.md").read_text(encoding="utf-8")
    limit = re.compile(
        r"^(MAX_|IMAGE_(MAX|FETCH|ALLOW|LOCAL|WORKERS)|VIDEO_|ENGINE_\w*TIMEOUT|STREAM_MAX)")
    limits = [name.upper() for name in Settings.model_fields if limit.match(name.upper())]
    assert len(limits) >= 15
    missing = [name for name in limits if f"`{name}`" not in security]
    assert not missing, f"SECURITY.md does not list {missing}"
    assert "(SECURITY.md)" in (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_is_the_front_door_and_links_what_moved():
    for linked in ("docs/configuration.md", "docs/deploy.md", "docs/troubleshooting.md",
                   "docs/benchmarks.md", "docs/field-audit.md", "docs/media.md",
                   "docs/migrating-from-worker-vllm.md", "SECURITY.md"):
        assert f"]({linked})" in README, linked
        assert (PROJECT_ROOT / linked).is_file(), linked
    glance = README.split("## Configuration at a glance")[1].split("\n## ")[0]
    named = {name for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", glance)}
    assert named and named <= set(variables(Settings)) | {"HF_TOKEN"}, named - set(
        variables(Settings))
    assert len(README.splitlines()) < 700
