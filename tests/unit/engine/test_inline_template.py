"""An inline Jinja chat template becomes a file SGLang reads; a name or a path is left alone."""

import pytest

from sglang_worker.engine.inline_template import template_file

JINJA = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"


def test_inline_jinja_is_written_once_and_the_variable_points_at_it(tmp_path):
    first = template_file({"CHAT_TEMPLATE": JINJA}, tmp_path / "templates")
    path = first["CHAT_TEMPLATE"]
    assert path.endswith(".jinja")  # the suffix is what makes SGLang read it as Jinja
    assert (tmp_path / "templates" / path.rsplit("/", 1)[1]).read_text() == JINJA
    assert template_file({"CHAT_TEMPLATE": JINJA}, tmp_path / "templates") == first
    other = template_file({"CHAT_TEMPLATE": JINJA + " "}, tmp_path / "templates")
    assert other["CHAT_TEMPLATE"] != path
    assert sorted(p.name for p in (tmp_path / "templates").iterdir()) == sorted(
        [path.rsplit("/", 1)[1], other["CHAT_TEMPLATE"].rsplit("/", 1)[1]])  # no partial files


@pytest.mark.parametrize("value", ["chatml", "qwen2-vl", "/models/template.jinja", "", None])
def test_a_name_or_a_path_is_sglangs_to_read(tmp_path, value):
    env = {} if value is None else {"CHAT_TEMPLATE": value}
    assert template_file(env, tmp_path) == {}
    assert list(tmp_path.iterdir()) == []
