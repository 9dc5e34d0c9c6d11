"""Local job inputs: JSON text, a file, or test_input.json, with clear refusals."""

import json

import pytest

from sglang_worker.errors import InvalidRequest
from sglang_worker.jobs.local_run import load_test_input

JOB = {"input": {"prompt": "hi"}}


def test_json_text_and_file_and_default_id(tmp_path):
    assert load_test_input(json.dumps(JOB)) == {**JOB, "id": "local_test"}
    path = tmp_path / "job.json"
    path.write_text(json.dumps({**JOB, "id": "mine"}))
    assert load_test_input(str(path))["id"] == "mine"


def test_test_input_json_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_test_input(None) is None
    (tmp_path / "test_input.json").write_text(json.dumps(JOB))
    assert load_test_input(None)["input"] == JOB["input"]


@pytest.mark.parametrize("value, fragment", [
    ("no-such-file.json", "neither JSON nor a file"),
    ("{not json", "not valid JSON"),
    ('{"no_input": 1}', 'must be a JSON object with an "input" key'),
])
def test_refusals(value, fragment):
    with pytest.raises(InvalidRequest, match=fragment):
        load_test_input(value)
