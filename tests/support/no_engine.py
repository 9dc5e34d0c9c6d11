"""A pytest plugin for the Python 3.12 worker environment (builder/setup_worker_env.sh), which
has the worker's dependencies but no engine: ``pytest -p tests.support.no_engine tests/unit``.

A unit test that needs the engine's packages (``ENGINE_PACKAGES``: SGLang, torch and what only
they bring) cannot run there. Such a test is reported as skipped, with the package it lacked,
when the package is missing at import, in a fixture or in the test itself; every other failure,
a missing worker dependency included, stays a failure. So the selection needs no list to keep:
a test that starts to need the engine moves to the skipped count, and the summary line names how
many did, per package.
"""

from __future__ import annotations

from collections import Counter
from importlib import metadata

import pytest

ENGINE_PACKAGES = frozenset({"sglang", "sgl_kernel", "torch", "torchvision", "torchaudio",
                             "triton", "transformers", "tokenizers", "safetensors"})
SKIPPED: Counter[str] = Counter()


def engine_package(exc: BaseException | None) -> str | None:
    """The engine package ``exc`` (or what caused it) says is missing, else None."""
    while exc is not None:
        if isinstance(exc, ModuleNotFoundError) and exc.name:
            top = exc.name.split(".")[0]
            return top if top in ENGINE_PACKAGES else None
        if isinstance(exc, metadata.PackageNotFoundError):
            name = (exc.name or "").replace("-", "_").lower()
            return name if name in ENGINE_PACKAGES else None
        exc = exc.__cause__ or exc.__context__
    return None


def skip_reason(package: str) -> str:
    return f"needs the engine environment: no {package} in the Python 3.12 worker env"


@pytest.hookimpl(tryfirst=True)
def pytest_make_collect_report(collector):
    if not isinstance(collector, pytest.Module):
        return None
    try:
        collector.obj  # noqa: B018 - imports the test module
    except Exception as exc:  # the default hook imports it again and reports the error
        package = engine_package(exc)
        if package is None:
            return None
        SKIPPED[package] += 1
        return pytest.CollectReport(collector.nodeid, "skipped",
                                    (str(collector.path), 0, f"Skipped: {skip_reason(package)}"),
                                    [])
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.failed or call.excinfo is None:
        return
    package = engine_package(call.excinfo.value)
    if package is not None:
        SKIPPED[package] += 1
        line = item.location[1] or 0
        report.outcome = "skipped"
        report.longrepr = (str(item.path), line, f"Skipped: {skip_reason(package)}")


def pytest_terminal_summary(terminalreporter):
    if SKIPPED:
        counts = ", ".join(f"{name} {n}" for name, n in sorted(SKIPPED.items()))
        terminalreporter.write_line(
            f"no_engine: {sum(SKIPPED.values())} skipped for an engine package ({counts})")
