"""Schedule triggers become Temporal Schedules that fire and record runs."""

import asyncio
from typing import Any

import httpx
import pytest
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from tests.support.api import sign_up


def scheduled(cron: str = "@every 2s", **fields: Any) -> dict[str, Any]:
    return {
        "name": "Every few seconds",
        "trigger": {"type": "schedule", "cron": cron, "timezone": "Europe/Paris"},
        "inputs": {"greeting": {"type": "string", "default": "tick"}},
        "nodes": [{"id": "say", "type": "transform", "params": {"value": "{{ inputs.greeting }}"}}],
        "output": "{{ nodes.say.output }}",
        **fields,
    }


async def test_a_schedule_fires_and_records_its_runs(
    live_api: httpx.AsyncClient, temporal_env: WorkflowEnvironment
) -> None:
    headers = await sign_up(live_api)
    created = await live_api.post(
        "/api/workflows", json={"definition": scheduled()}, headers=headers
    )
    assert created.status_code == 201, created.text
    workflow_id = created.json()["id"]

    schedule = (
        await live_api.get(f"/api/workflows/{workflow_id}/schedule", headers=headers)
    ).json()
    assert schedule["next_fire_times"]
    runs: list[dict[str, Any]] = []
    for _ in range(100):
        listed = await live_api.get(
            "/api/runs", params={"workflow_id": workflow_id, "status": "succeeded"}, headers=headers
        )
        runs = listed.json()["items"]
        if runs:
            break
        await asyncio.sleep(0.1)
    assert runs, "the schedule fired and its run was recorded"
    assert runs[0]["trigger"] == "schedule"
    assert runs[0]["output"] == "tick"
    detail = (await live_api.get(f"/api/runs/{runs[0]['id']}", headers=headers)).json()
    assert [(node["status"], node["output"]) for node in detail["nodes"]] == [("succeeded", "tick")]

    paused = await live_api.post(f"/api/workflows/{workflow_id}/pause", headers=headers)
    assert paused.json()["paused"] is True
    handle = temporal_env.client.get_schedule_handle(f"workflow-{workflow_id}")
    assert (await handle.describe()).schedule.state.paused is True
    await live_api.post(f"/api/workflows/{workflow_id}/resume", headers=headers)
    assert (await handle.describe()).schedule.state.paused is False

    assert (
        await live_api.delete(f"/api/workflows/{workflow_id}", headers=headers)
    ).status_code == 204
    with pytest.raises(RPCError):
        await handle.describe()


async def test_changing_the_trigger_removes_the_schedule(
    live_api: httpx.AsyncClient, temporal_env: WorkflowEnvironment
) -> None:
    headers = await sign_up(live_api)
    created = await live_api.post(
        "/api/workflows", json={"definition": scheduled("0 9 * * 1-5")}, headers=headers
    )
    workflow_id = created.json()["id"]
    handle = temporal_env.client.get_schedule_handle(f"workflow-{workflow_id}")
    description = await handle.describe()
    assert description.schedule.spec.cron_expressions or description.schedule.spec.calendars
    manual = scheduled(trigger={"type": "manual"})
    updated = await live_api.put(
        f"/api/workflows/{workflow_id}", json={"definition": manual}, headers=headers
    )
    assert updated.status_code == 200
    with pytest.raises(RPCError):
        await handle.describe()
    no_schedule = await live_api.get(f"/api/workflows/{workflow_id}/schedule", headers=headers)
    assert no_schedule.status_code == 404


async def test_a_scheduled_workflow_needs_defaults_for_its_inputs(
    live_api: httpx.AsyncClient,
) -> None:
    headers = await sign_up(live_api)
    definition = scheduled(inputs={"greeting": {"type": "string"}})
    created = await live_api.post(
        "/api/workflows", json={"definition": definition}, headers=headers
    )
    assert created.status_code == 422
    assert created.json()["detail"][0]["field"] == "inputs.greeting"
    assert (await live_api.get("/api/workflows", headers=headers)).json()["items"] == []
