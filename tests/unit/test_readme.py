"""The README's configuration table is the settings model's, word for word."""

from sglang_worker.settings import PROJECT_ROOT, Settings, markdown_table


def test_readme_table_is_generated_from_the_settings_model():
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("<!-- settings-table:start -->")[1]
    section = section.split("<!-- settings-table:end -->")[0]
    assert section.strip() == markdown_table(), "run `make docs` to regenerate the table"
    for name in Settings.model_fields:
        assert f"| `{name.upper()}` |" in section


def test_every_setting_has_a_description():
    assert all(field.description for field in Settings.model_fields.values())


def test_security_md_lists_every_limit_and_the_readme_links_it():
    import re

    security = (PROJECT_ROOT / "SECURITY.md").read_text(encoding="utf-8")
    limit = re.compile(
        r"^(MAX_|IMAGE_(MAX|FETCH|ALLOW|LOCAL|WORKERS)|ENGINE_\w*TIMEOUT|STREAM_MAX)")
    limits = [name.upper() for name in Settings.model_fields if limit.match(name.upper())]
    assert len(limits) >= 15
    missing = [name for name in limits if f"`{name}`" not in security]
    assert not missing, f"SECURITY.md does not list {missing}"
    assert "(SECURITY.md)" in (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
