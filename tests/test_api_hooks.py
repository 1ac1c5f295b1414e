"""Webhook triggers: secret URLs, body as inputs, at most one run per delivery."""

import asyncio
from typing import Any

import httpx

from tests.support.api import sign_up


def hook_definition(respond: str = "accepted", chain: int = 1) -> dict[str, Any]:
    nodes: list[dict[str, Any]] = [
        {
            "id": "n0",
            "type": "transform",
            "params": {"value": "hello {{ inputs.name }} ({{ inputs.webhook.body.extra }})"},
        }
    ]
    for index in range(1, chain):
        nodes.append(
            {
                "id": f"n{index}",
                "type": "transform",
                "needs": [f"n{index - 1}"],
                "params": {"value": f"{{{{ nodes.n{index - 1}.output }}}}"},
            }
        )
    return {
        "name": "Hook",
        "trigger": {"type": "webhook", "respond": respond, "timeout": "20s"},
        "inputs": {"name": {"type": "string"}},
        "nodes": nodes,
        "output": f"{{{{ nodes.n{chain - 1}.output }}}}",
    }


async def hook_path(api: httpx.AsyncClient, headers: dict[str, str], definition: Any) -> str:
    created = await api.post("/api/workflows", json={"definition": definition}, headers=headers)
    assert created.status_code == 201, created.text
    url: str = created.json()["webhook_url"]
    return url.removeprefix("http://localhost:8000")


async def test_a_webhook_starts_a_run_with_the_body_as_inputs(live_api: httpx.AsyncClient) -> None:
    headers = await sign_up(live_api)
    path = await hook_path(live_api, headers, hook_definition())
    delivered = await live_api.post(path, json={"name": "Ana", "extra": 7})
    assert delivered.status_code == 202, delivered.text
    run_id = delivered.json()["run_id"]
    for _ in range(100):
        run = (await live_api.get(f"/api/runs/{run_id}", headers=headers)).json()
        if run["status"] == "succeeded":
            break
        await asyncio.sleep(0.1)
    assert run["status"] == "succeeded"
    assert run["trigger"] == "webhook"
    assert run["output"] == "hello Ana (7)"


async def test_five_concurrent_deliveries_with_one_key_start_one_run(
    live_api: httpx.AsyncClient,
) -> None:
    headers = await sign_up(live_api)
    path = await hook_path(live_api, headers, hook_definition())
    deliveries = await asyncio.gather(
        *(
            live_api.post(path, json={"name": "Bo"}, headers={"Idempotency-Key": "delivery-1"})
            for _ in range(5)
        )
    )
    assert {answer.status_code for answer in deliveries} == {202}
    assert len({answer.json()["run_id"] for answer in deliveries}) == 1
    assert sum(answer.json()["new"] for answer in deliveries) == 1
    other = await live_api.post(
        path, json={"name": "Bo"}, headers={"Idempotency-Key": "delivery-2"}
    )
    assert other.json()["run_id"] != deliveries[0].json()["run_id"]
    runs = (await live_api.get("/api/runs", headers=headers)).json()["items"]
    assert len(runs) == 2


async def test_respond_with_output_answers_with_the_runs_result(
    live_api: httpx.AsyncClient,
) -> None:
    headers = await sign_up(live_api)
    path = await hook_path(live_api, headers, hook_definition(respond="output", chain=40))
    answer = await live_api.post(path, json={"name": "Cy", "extra": 1})
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "succeeded"
    assert answer.json()["output"] == "hello Cy (1)"


async def test_unknown_or_bad_webhook_requests_get_clear_4xx(live_api: httpx.AsyncClient) -> None:
    headers = await sign_up(live_api)
    path = await hook_path(live_api, headers, hook_definition())
    assert (await live_api.post("/api/hooks/not-a-token", json={})).status_code == 404
    assert (await live_api.post("/api/hooks/" + "x" * 500, json={})).status_code == 404
    missing_input = await live_api.post(path, json={"extra": 1})
    assert missing_input.status_code == 422
    not_json = await live_api.post(
        path, content=b"{oops", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 422
    assert (await live_api.post(path, json=[1, 2])).status_code == 422
    nul = await live_api.post(path, json={"name": "ok", "extra\x00": 1})
    assert nul.status_code == 422
    assert "NUL" in nul.json()["detail"][0]["msg"]
    runs = await live_api.get("/api/runs", headers=headers)
    assert runs.json()["items"] == []
