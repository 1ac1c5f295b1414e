"""GET /api/instance tells the web app what this server offers, without revealing secrets."""

import httpx
from pydantic import SecretStr

from core.config import Settings
from tests.support.api import app_client, sign_up


async def test_without_a_model_key_generation_is_reported_off(api: httpx.AsyncClient) -> None:
    headers = await sign_up(api)

    info = (await api.get("/api/instance", headers=headers)).json()

    assert info["nl_generation"] is False
    assert info["nl_model"] is None
    assert info["version"] == "0.1.0"


async def test_with_a_model_key_generation_is_on_and_the_key_stays_secret(
    api_settings: Settings,
) -> None:
    key = "sk-canary-instance-info"
    settings = api_settings.model_copy(
        update={"openai_api_key": SecretStr(key), "openai_model": "gpt-4o-mini"}
    )
    async with app_client(settings) as api:
        headers = await sign_up(api)
        answer = await api.get("/api/instance", headers=headers)

    assert answer.json()["nl_generation"] is True
    assert answer.json()["nl_model"] == "gpt-4o-mini"
    assert key not in answer.text


async def test_an_empty_model_key_counts_as_none(api_settings: Settings) -> None:
    settings = api_settings.model_copy(update={"openai_api_key": SecretStr("")})
    async with app_client(settings) as api:
        headers = await sign_up(api)
        assert (await api.get("/api/instance", headers=headers)).json()["nl_generation"] is False


async def test_instance_info_needs_a_signed_in_user(api: httpx.AsyncClient) -> None:
    assert (await api.get("/api/instance")).status_code == 401
