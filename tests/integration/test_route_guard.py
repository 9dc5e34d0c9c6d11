"""Issue 10 on the real SGLang server: no spelling of a route reaches an admin route.

SGLang's own request log (its access lines, ``tests.support.engine_log``) is the witness: between
two marker requests, the hostile spellings add no line at all, and a model id with a slash still
answers (from SGLang's ``/v1/models`` list: the id itself is never sent).
"""

from __future__ import annotations

import json

import pytest

from tests.support.engine_log import served_between
from tests.support.fuzz_strategies import HOSTILE_ROUTES
from tests.support.worker_jobs import run_job

pytestmark = pytest.mark.integration

async def test_hostile_spellings_fail_as_jobs_and_reach_nothing(worker, engine, engine_info):
    await run_job(worker, {"openai_route": "/v1/models"})
    for spelling in HOSTILE_ROUTES:
        for job_input in ({"openai_route": spelling},
                          {"openai_route": spelling, "openai_input": {"x": 1}}):
            outputs = await run_job(worker, job_input)
            assert len(outputs) == 1 and set(outputs[0]) == {"error"}, (spelling, outputs)
            error = json.loads(outputs[0]["error"])["error"]
            assert (error["code"], error["param"]) == (400, "openai_route"), (spelling, error)
            assert "is not a valid route" in error["message"]
    outputs = await run_job(worker, {"openai_route": f"/v1/models/{engine_info.served_model}"})
    assert outputs[0]["id"] == engine_info.served_model
    await run_job(worker, {"openai_route": "/model_info"})
    served = served_between(lambda: engine.tail().splitlines(), "/v1/models", "/model_info")
    assert served == [], f"SGLang was asked for {served} between the markers"


async def test_a_model_id_with_a_slash_still_answers(worker, engine_info):
    assert "/" in engine_info.served_model
    outputs = await run_job(worker, {"openai_route": f"/v1/models/{engine_info.served_model}"})
    assert outputs == [{**outputs[0], "id": engine_info.served_model, "object": "model"}]
