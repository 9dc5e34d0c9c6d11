"""The test tree can be collected in one run: no two test modules outside a package share a
basename (pytest imports them by basename and refuses the second)."""

from collections import Counter

from tests.support.paths import PROJECT_ROOT


def test_no_two_top_level_test_modules_share_a_name():
    tests = PROJECT_ROOT / "tests"
    loose = [path.name for path in tests.rglob("test_*.py")
             if not (path.parent / "__init__.py").exists()]
    assert [name for name, count in Counter(loose).items() if count > 1] == []
