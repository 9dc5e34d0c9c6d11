"""Which chat template SGLang's rerank renders for the served model, and whether that rerank
takes images and videos (``engine.model_files.chat_template``, ``reranks_media``); and the
``--chat-template`` the engine gets (``launch_plan``)."""

from __future__ import annotations

import json

import pytest

from sglang_worker.engine.launch_plan import flag_value, plan_launch
from sglang_worker.engine.model_files import chat_template, reranks_media
from sglang_worker.settings import Settings
from tiny_models.build import QWEN2_VL_CHAT_TEMPLATE, RERANKER_CHAT_TEMPLATE

TEXT_RERANKER = ('<|im_start|>system\nJudge whether the Document meets the requirements. Note '
                 'that the answer can only be "yes" or "no".<|im_end|>{{ messages }}')


def test_only_a_vision_reranker_template_or_a_qwen3_vl_model_reranks_media():
    assert reranks_media(RERANKER_CHAT_TEMPLATE, "/models/tiny")
    assert not reranks_media(TEXT_RERANKER, "/models/tiny")
    assert not reranks_media(QWEN2_VL_CHAT_TEMPLATE, "/models/tiny")
    assert not reranks_media(None, "BAAI/bge-reranker-v2-m3")
    assert reranks_media(None, "Qwen/Qwen3-VL-Reranker-2B")
    assert reranks_media(None, "/runpod-volume/hub/models--Qwen--Qwen3VL-x/snapshots/abc")


def test_the_template_is_the_chosen_jinja_file_else_the_processors_else_the_tokenizers(
        tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "tokenizer_config.json").write_text(json.dumps({"chat_template": "tokenizer"}))
    assert chat_template(str(model), None, {}) == "tokenizer"
    (model / "chat_template.json").write_text(json.dumps({"chat_template": "processor"}))
    assert chat_template(str(model), None, {}) == "processor"
    (model / "chat_template.jinja").write_text("jinja file")
    assert chat_template(str(model), None, {}) == "jinja file"
    chosen = tmp_path / "reranker.jinja"
    chosen.write_text(RERANKER_CHAT_TEMPLATE)
    assert chat_template(str(model), str(chosen), {}) == RERANKER_CHAT_TEMPLATE
    assert chat_template(str(model), "chatml", {}) == "jinja file"  # a name keeps the model's
    assert chat_template(str(model), str(tmp_path / "missing.jinja"), {}) is None


def test_several_named_templates_give_the_default_one(tmp_path):
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"chat_template": [
        {"name": "tool_use", "template": "tools"}, {"name": "default", "template": "plain"}]}))
    assert chat_template(str(tmp_path), None, {}) == "plain"
    assert chat_template(str(tmp_path / "absent"), None, {}) is None


@pytest.mark.parametrize(("args", "env", "expected"), [
    ("", {}, None),
    ("", {"CHAT_TEMPLATE": "/t/a.jinja"}, "/t/a.jinja"),
    ("--chat-template /t/b.jinja", {"CHAT_TEMPLATE": "/t/a.jinja"}, "/t/b.jinja"),
    ("--chat-template=/t/b.jinja --chat-template /t/c.jinja", {}, "/t/c.jinja"),
])
def test_the_chat_template_argument_sglang_args_win(args, env, expected):
    assert plan_launch(Settings(sglang_args=args), env).chat_template == expected


def test_a_flag_value_is_its_last_occurrence_in_either_spelling():
    assert flag_value(("--revision", "a", "--revision=b"), "--revision") == "b"
    assert flag_value(("--revision",), "--revision") is None
    assert flag_value(("--revision-x=1",), "--revision") is None
