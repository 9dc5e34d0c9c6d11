"""The builder's retrieval variants: the reranker (the Qwen2-VL with a reranker template whose
``yes`` and ``no`` are single tokens always among the top first tokens) and the sequence
classifier (a 3-label score head, no lm_head); both deterministic."""

import json

import pytest

from sglang_worker.engine.model_files import chat_template, reranks_media
from tiny_models.build import CLASSIFIER_LABELS, build_tiny_model, main


@pytest.fixture(scope="module")
def reranker(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("reranker") / "m", variant="qwen2-vl-reranker")


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("classifier") / "m", variant="qwen2-classifier")


def test_the_reranker_is_detected_as_sglangs_vl_reranker_and_judges_in_single_tokens(reranker):
    from tokenizers import Tokenizer

    assert reranks_media(chat_template(str(reranker), None, {}), str(reranker))
    tokenizer = Tokenizer.from_file(str(reranker / "tokenizer.json"))
    assert len(tokenizer.encode("yes", add_special_tokens=False).ids) == 1
    assert len(tokenizer.encode("no", add_special_tokens=False).ids) == 1
    config = json.loads((reranker / "config.json").read_text())
    assert config["architectures"] == ["Qwen2VLForConditionalGeneration"]


def test_the_judge_rows_read_the_constant_embedding_dimension(reranker):
    from safetensors import safe_open
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(reranker / "tokenizer.json"))
    yes, no = tokenizer.token_to_id("yes"), tokenizer.token_to_id("no")
    with safe_open(reranker / "model.safetensors", framework="pt") as weights:
        embed = weights.get_tensor("model.embed_tokens.weight")
        head = weights.get_tensor("lm_head.weight")
    assert (embed[:, 0] == 1.0).all()
    assert head[yes, 0] == head[no, 0] == 1.0 and head[2, 0].abs() < 0.2


def test_the_classifier_has_a_score_head_and_labels(classifier):
    from safetensors import safe_open

    config = json.loads((classifier / "config.json").read_text())
    assert config["architectures"] == ["Qwen2ForSequenceClassification"]
    assert config["id2label"] == {str(i): label for i, label in enumerate(CLASSIFIER_LABELS)}
    with safe_open(classifier / "model.safetensors", framework="pt") as weights:
        names = set(weights.keys())
        assert weights.get_slice("score.weight").get_shape() == [3, 64]
    assert "lm_head.weight" not in names
    assert not reranks_media(chat_template(str(classifier), None, {}), str(classifier))


def test_the_variants_build_byte_identically_from_the_command_line(tmp_path, reranker, capsys):
    assert main(["--out", str(tmp_path / "r"), "--reranker"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "r")
    assert (tmp_path / "r" / "model.safetensors").read_bytes() == \
        (reranker / "model.safetensors").read_bytes()
    with pytest.raises(ValueError, match="unknown variant"):
        build_tiny_model(tmp_path / "x", variant="qwen9")
