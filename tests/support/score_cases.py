"""SGLang's own ``/v1/score`` tests (``TestOpenAIV1Score`` in SGLang's OpenAI-server suite:
text input, token input, error handling), rewritten as checks a test runs against any base URL,
so one module runs them on bare SGLang and through a face of the worker, side by side.

Each check posts the request SGLang's test posts and asserts what it asserts: one score list per
item, as many floats as label tokens, summing to 1 with ``apply_softmax``; and for a label token
out of the vocabulary a 400 whose body is SGLang's top-level error (``type`` "BadRequestError",
a message naming the token).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
from transformers import AutoTokenizer

QUERY = "The capital of France is"
ITEMS = ["Paris", "London", "Berlin"]


class ScoreCases:
    def __init__(self, model: Path) -> None:
        self.tokenizer = AutoTokenizer.from_pretrained(str(model))

    def ids(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False)

    @staticmethod
    async def post(url: str, body: dict[str, Any]) -> tuple[int, Any]:
        async with aiohttp.ClientSession() as http, http.post(
                url, json=body, headers={"Authorization": "Bearer sk-123456"}) as response:
            return response.status, await response.json(content_type=None)

    def _check_scores(self, status: int, response: Any, labels: list[int]) -> None:
        assert status == 200 and response.get("type") != "BadRequestError", response
        assert isinstance(response["scores"], list) and len(response["scores"]) == len(ITEMS)
        for scores in response["scores"]:
            assert isinstance(scores, list) and len(scores) == len(labels)
            assert all(isinstance(value, float) for value in scores)
            assert abs(sum(scores) - 1.0) < 1e-6

    async def text_input(self, url: str) -> list[list[float]]:
        labels = [self.ids(item)[0] for item in ITEMS]
        status, response = await self.post(url, {"model": "default", "query": QUERY,
                                                 "items": ITEMS, "label_token_ids": labels,
                                                 "apply_softmax": True, "item_first": False})
        self._check_scores(status, response, labels)
        return response["scores"]

    async def token_input(self, url: str) -> list[list[float]]:
        items = [self.ids(item) for item in ITEMS]
        labels = [ids[0] for ids in items]
        status, response = await self.post(url, {"model": "default", "query": self.ids(QUERY),
                                                 "items": items, "label_token_ids": labels,
                                                 "apply_softmax": True, "item_first": False})
        self._check_scores(status, response, labels)
        return response["scores"]

    async def error_handling(self, url: str) -> dict[str, Any]:
        status, response = await self.post(url, {"model": "default", "query": QUERY,
                                                 "items": ITEMS, "label_token_ids": [999999],
                                                 "apply_softmax": True})
        assert status == 400, response
        assert response["type"] == "BadRequestError", response
        assert "Token ID 999999 is out of vocabulary" in response["message"], response
        return response
