"""The worker's Prometheus endpoint: node durations and finished runs, as recorded."""

import socket

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from activities.metrics import serve_metrics
from core.config import Settings
from tests.support.api import sign_up
from tests.support.processes import free_port
from tests.test_api_runs import create, finished, start


def sample_values(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def node_count(values: dict, node_type: str, status: str) -> float:
    key = frozenset({("type", node_type), ("status", status)})
    return values.get(("flowpilot_node_duration_seconds_count", key), 0.0)


async def test_node_durations_and_finished_runs_are_served_by_the_worker(
    live_api: httpx.AsyncClient,
) -> None:
    definition = {
        "name": "Counted",
        "nodes": [
            {"id": "ok", "type": "transform", "params": {"value": "fine"}},
            {"id": "nap", "type": "delay", "needs": ["ok"], "params": {"duration": "200ms"}},
            {
                "id": "broken",
                "type": "transform",
                "needs": ["nap"],
                "params": {"value": "{{ inputs.missing }}"},
            },
        ],
    }
    port = free_port()
    async with serve_metrics(Settings(worker_metrics_port=port)):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as scraper:
            before = sample_values((await scraper.get("/metrics")).text)
            headers = await sign_up(live_api)
            workflow_id = await create(live_api, headers, definition)
            run = await finished(live_api, headers, await start(live_api, headers, workflow_id))
            after = sample_values((await scraper.get("/metrics")).text)

    assert run["status"] == "failed"
    for node_type, status in (("transform", "succeeded"), ("delay", "succeeded")):
        assert node_count(after, node_type, status) == node_count(before, node_type, status) + 1
    assert node_count(after, "transform", "failed") == node_count(before, "transform", "failed") + 1
    nap = frozenset({("type", "delay"), ("status", "succeeded")})
    nap_seconds = after[("flowpilot_node_duration_seconds_sum", nap)] - before.get(
        ("flowpilot_node_duration_seconds_sum", nap), 0.0
    )
    assert 0.2 <= nap_seconds < 5
    runs_failed = ("flowpilot_runs_finished_total", frozenset({("status", "failed")}))
    assert after[runs_failed] == before.get(runs_failed, 0.0) + 1


async def test_a_taken_metrics_port_is_logged_and_does_not_stop_the_worker(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings = Settings(worker_metrics_port=taken.getsockname()[1])
        async with serve_metrics(settings):
            served = True

    assert served
    assert "worker metrics not served" in caplog.text
