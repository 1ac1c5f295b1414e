"""The `flowpilot` command, run as a real process against the test Temporal server."""

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from core.config import Settings
from tests.support.fake_openai import FakeOpenAI
from tests.support.local_http import LocalHttpServer

ROOT = Path(__file__).resolve().parent.parent


async def flowpilot(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m cli …` without blocking the event loop the in-process worker needs."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli",
        *args,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return subprocess.CompletedProcess(args, process.returncode, stdout.decode(), stderr.decode())


def write(tmp_path: Path, definition: dict[str, Any]) -> str:
    path = tmp_path / "workflow.json"
    path.write_text(json.dumps(definition))
    return str(path)


async def test_validate_accepts_an_example() -> None:
    result = await flowpilot("validate", "examples/diamond.json")
    assert result.returncode == 0
    assert "valid" in result.stdout


async def test_openapi_prints_the_api_document(tmp_path: Path) -> None:
    result = await flowpilot("openapi", env={"DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["info"]["title"] == "Flowpilot"
    assert "/api/runs/{run_id}" in document["paths"]


async def test_validate_lists_every_problem_and_exits_1(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "name": "broken",
            "nodes": [
                {"id": "a", "type": "transform", "params": {"value": 1}, "needs": ["ghost"]},
                {"id": "b", "type": "teleport"},
            ],
        },
    )
    result = await flowpilot("validate", path)
    assert result.returncode == 1
    assert "node 'a', field 'needs'" in result.stderr
    assert "ghost" in result.stderr
    assert "node 'b', field 'type'" in result.stderr


async def test_validate_reports_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    result = await flowpilot("validate", str(path))
    assert result.returncode == 1
    assert "not valid JSON" in result.stderr


@pytest.fixture
def temporal_env_vars(temporal_env: WorkflowEnvironment, settings: Settings) -> dict[str, str]:
    return {
        "TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        "TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
    }


@pytest.mark.usefixtures("worker")
async def test_run_follows_nodes_and_prints_the_output(
    tmp_path: Path, temporal_env_vars: dict[str, str], local_http: LocalHttpServer
) -> None:
    local_http.route("/weather", responses=[(200, {"temp": 21}, {})])
    path = write(
        tmp_path,
        {
            "name": "weather",
            "inputs": {"city": {"type": "string"}, "days": {"type": "integer", "default": 1}},
            "nodes": [
                {
                    "id": "fetch",
                    "type": "http.request",
                    "params": {
                        "url": local_http.url("/weather"),
                        "query": {"q": "{{ inputs.city }}"},
                    },
                },
                {
                    "id": "report",
                    "type": "transform",
                    "needs": ["fetch"],
                    "params": {
                        "value": {
                            "city": "{{ inputs.city }}",
                            "days": "{{ inputs.days }}",
                            "temp": "{{ nodes.fetch.output.body.temp }}",
                        }
                    },
                },
            ],
            "output": "{{ nodes.report.output }}",
        },
    )
    result = await flowpilot(
        "run", path, "--input", "city=Paris", "--input", "days=3", env=temporal_env_vars
    )
    assert result.returncode == 0, result.stderr
    assert "http://localhost:8233/namespaces/default/workflows/run-" in result.stdout
    assert "fetch" in result.stdout and "succeeded" in result.stdout
    output = json.loads(result.stdout[result.stdout.index("{") :])
    assert output == {"city": "Paris", "days": 3, "temp": 21}
    assert local_http.requests("/weather")[0].query["q"] == ["Paris"]


@pytest.mark.usefixtures("worker")
async def test_run_exits_non_zero_when_the_run_fails(
    tmp_path: Path, temporal_env_vars: dict[str, str], local_http: LocalHttpServer
) -> None:
    local_http.route("/missing", responses=[(404, {"error": "not found"}, {})])
    path = write(
        tmp_path,
        {
            "name": "fails",
            "nodes": [
                {
                    "id": "fetch",
                    "type": "http.request",
                    "params": {"url": local_http.url("/missing")},
                }
            ],
        },
    )
    result = await flowpilot("run", path, env=temporal_env_vars)
    assert result.returncode == 1
    assert "failed" in result.stdout
    assert "node 'fetch' failed" in result.stderr
    assert "404" in result.stderr


async def test_run_refuses_missing_required_input(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "name": "needs input",
            "inputs": {"city": {"type": "string"}},
            "nodes": [{"id": "a", "type": "transform", "params": {"value": "{{ inputs.city }}"}}],
        },
    )
    result = await flowpilot("run", path)
    assert result.returncode == 1
    assert "inputs.city" in result.stderr


async def test_generate_prints_the_definition_and_explains_on_stderr(
    fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    definition = {
        "schema": "flowpilot/v1",
        "name": "Hello",
        "nodes": [{"id": "hello", "type": "transform", "params": {"value": "hi"}}],
    }
    fake_openai.queue(json.dumps({"definition": definition, "explanation": "Says hi."}))
    env = {"OPENAI_API_KEY": fake_openai.api_key, "OPENAI_BASE_URL": fake_openai.base_url}
    result = await flowpilot("generate", "a workflow that says hi", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == definition
    assert "Says hi." in result.stderr
    prompt = fake_openai.requests[0].json()["messages"][-1]["content"]
    assert "a workflow that says hi" in prompt

    changed = {**definition, "name": "Hello again"}
    fake_openai.queue(
        json.dumps({"definition": changed, "explanation": "Says hi.", "summary": "Renamed."})
    )
    output = tmp_path / "changed.json"
    edited = await flowpilot(
        "generate", "rename it", "--edit", write(tmp_path, definition), "-o", str(output), env=env
    )
    assert edited.returncode == 0, edited.stderr
    assert json.loads(output.read_text()) == changed
    assert "Change: Renamed." in edited.stderr


async def test_generate_without_a_key_exits_2_saying_how_to_configure() -> None:
    result = await flowpilot("generate", "a workflow that says hi", env={"OPENAI_API_KEY": ""})
    assert result.returncode == 2
    assert "OPENAI_API_KEY" in result.stderr and result.stdout == ""
