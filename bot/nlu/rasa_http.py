"""A Rasa server reached over HTTP (`rasa run --enable-api`, POST /model/parse).

Used when NLU_URL is set, e.g. when several bot replicas share a pool of Rasa servers.
"""

from __future__ import annotations

import httpx

from bot.nlu import NLUUnavailable, Understanding, from_rasa_parse
from bot.nlu.batching import answers_probe


class RasaHttpNLU:
    """Client for Rasa's `/model/parse`; every failure becomes NLUUnavailable."""

    def __init__(self, base_url: str, timeout: float, token: str | None = None) -> None:
        params = {"token": token} if token else None
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=timeout, params=params
        )

    async def parse(self, text: str) -> Understanding:
        try:
            response = await self._client.post("/model/parse", json={"text": text})
            response.raise_for_status()
            return from_rasa_parse(response.json())
        except (httpx.HTTPError, ValueError) as error:
            raise NLUUnavailable(type(error).__name__) from error

    async def ready(self) -> bool:
        return await answers_probe(self.parse)

    async def close(self) -> None:
        await self._client.aclose()
