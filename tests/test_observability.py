"""Observability: JSON log lines that say which request, run and node they are about; request
ids; Prometheus metrics of the API, the worker and its Temporal SDK; one trace from an API
request through the run it starts to its nodes' activities.

Logs and metrics are read from the real processes (`python -m cli api` under uvicorn,
`python -m worker`); traces from the app and a worker in this process, whose spans go to an
in-memory exporter.
"""

import json
import re
import secrets
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from api.request_spans import RequestSpans
from core.config import Settings
from core.logs import log_format
from core.temporal import connect
from core.temporal_runtime import temporal_runtime
from core.tracing import temporal_interceptors, tracer_provider
from tests.support.api import POSTGRES_URL, create_workflow, reset_postgres, sign_up, user_id
from tests.support.local_http import LocalHttpServer
from tests.support.processes import Processes, free_port, wait_ready
from tests.support.runs import eventually
from worker import create_worker

PASSWORD = "correct horse battery"
GENERATED_ID = re.compile(r"[0-9a-f]{32}")


# -- the real processes ------------------------------------------------------------------


@dataclass
class Stack:
    api: httpx.AsyncClient
    headers: dict[str, str]
    processes: Processes
    worker_metrics: str
    sdk_metrics: str

    def log_lines(self, name: str) -> list[dict[str, Any]]:
        """Every line `name` wrote, each of which must be one JSON object."""
        lines = []
        for line in self.processes.log_of(name).splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                raise AssertionError(f"{name} wrote a line that is not JSON: {line!r}") from None
            assert isinstance(entry, dict), line
            lines.append(entry)
        return lines


@pytest.fixture(scope="module")
async def stack(
    temporal_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    await reset_postgres(POSTGRES_URL)
    logs = tmp_path_factory.mktemp("observability")
    api_port, worker_port, sdk_port = free_port(), free_port(), free_port()
    processes = Processes(
        {
            "ENVIRONMENT": "production",
            "LOG_FORMAT": "",  # production's default: json
            "LOG_LEVEL": "INFO",
            "DATABASE_URL": POSTGRES_URL,
            "REDIS_URL": "",
            "TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
            "TEMPORAL_TASK_QUEUE": f"observability-{uuid.uuid4().hex[:8]}",
            "FLOWPILOT_SECRET_KEY": secrets.token_urlsafe(32),
            "DATA_DIR": str(logs),
            "FRONTEND_DIR": str(logs / "no-frontend"),
            "HTTP_ALLOWED_HOSTS": json.dumps(["127.0.0.1"]),
            "API_HOST": "127.0.0.1",
            "API_PORT": str(api_port),
            "API_WORKERS": "1",
            "WORKER_METRICS_PORT": str(worker_port),
            "TEMPORAL_SDK_METRICS_PORT": str(sdk_port),
            "OTEL_EXPORTER_OTLP_ENDPOINT": "",
        },
        logs,
    )
    api_process = processes.start("api", "-m", "cli", "api")
    processes.start("worker", "-m", "worker")
    api = httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}", timeout=30)
    try:
        await wait_ready(api, api_process)
        email = f"ops-{uuid.uuid4().hex[:8]}@example.com"
        registered = await api.post(
            "/api/auth/register", json={"email": email, "password": PASSWORD}
        )
        assert registered.status_code == 201, registered.text
        login = await api.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        yield Stack(
            api,
            {"Authorization": f"Bearer {login.json()['access_token']}"},
            processes,
            worker_metrics=f"http://127.0.0.1:{worker_port}/metrics",
            sdk_metrics=f"http://127.0.0.1:{sdk_port}/metrics",
        )
    finally:
        await api.aclose()
        processes.stop_all()


def fetch_definition(url: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": "Fetch",
        "nodes": [
            {
                "id": "fetch",
                "type": "http.request",
                "params": {"url": url},
                "retry": {"initial_interval": "100ms"},
            },
            {"id": "say", "type": "transform", "needs": ["fetch"], "params": {"value": "done"}},
        ],
        **fields,
    }


async def finished_run(
    api: httpx.AsyncClient, headers: dict[str, str], run_id: str
) -> dict[str, Any]:
    async def read() -> dict[str, Any]:
        answer = await api.get(f"/api/runs/{run_id}", headers=headers)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    return await eventually(
        read, lambda run: run["status"] in ("succeeded", "failed", "cancelled"), within=30
    )


async def test_a_sane_request_id_is_kept_and_any_other_is_replaced(stack: Stack) -> None:
    kept = await stack.api.get("/healthz", headers={"X-Request-ID": "edge-7f3a.1:2_b"})
    made = await stack.api.get("/healthz")
    insane = ['x" forged="1', "a" * 129, "-starts-with-a-dash", "caf\u00e9".encode(), "a b"]
    replaced = [await stack.api.get("/healthz", headers={"X-Request-ID": bad}) for bad in insane]

    assert kept.headers["X-Request-ID"] == "edge-7f3a.1:2_b"
    assert GENERATED_ID.fullmatch(made.headers["X-Request-ID"])
    for answer in replaced:
        assert GENERATED_ID.fullmatch(answer.headers["X-Request-ID"])
    returned = {answer.headers["X-Request-ID"] for answer in [kept, made, *replaced]}
    access = await eventually(
        lambda: _access_ids(stack), lambda ids: returned <= ids, within=5
    )  # uvicorn's access lines carry the id the response returned
    assert returned <= access


async def _access_ids(stack: Stack) -> set[str]:
    return {
        line["request_id"]
        for line in stack.log_lines("api")
        if line["logger"] == "uvicorn.access" and "request_id" in line
    }


async def test_every_line_of_a_run_through_the_api_and_worker_is_json_with_its_ids(
    stack: Stack, local_http: LocalHttpServer
) -> None:
    local_http.route("/flaky", responses=[(503, "busy"), (200, {"temp": 21})])
    workflow = await create_workflow(
        stack.api, stack.headers, fetch_definition(local_http.url("/flaky"))
    )
    request_id = f"test-{uuid.uuid4().hex}"

    started = await stack.api.post(
        f"/api/workflows/{workflow['id']}/runs",
        json={"inputs": {}},
        headers={**stack.headers, "X-Request-ID": request_id},
    )
    assert started.status_code == 201, started.text
    run = await finished_run(stack.api, stack.headers, started.json()["id"])

    assert run["status"] == "succeeded", run
    assert [node["attempts"] for node in run["nodes"] if node["node_id"] == "fetch"] == [2]
    temporal_id = f"run-{run['id']}"
    api_lines = stack.log_lines("api")
    about_request = [line for line in api_lines if line.get("request_id") == request_id]
    assert {line["logger"] for line in about_request} == {"flowpilot.runs", "uvicorn.access"}
    start_line = next(line for line in about_request if line["logger"] == "flowpilot.runs")
    assert start_line["message"] == "run started (manual trigger)"
    assert start_line["level"] == "INFO"
    assert start_line["run_id"] == temporal_id
    assert start_line["workflow_id"] == workflow["id"]
    assert start_line["user_id"] == await user_id(stack.api, stack.headers)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", start_line["time"])
    access_line = next(line for line in about_request if line["logger"] == "uvicorn.access")
    assert f"POST /api/workflows/{workflow['id']}/runs" in access_line["message"]
    assert access_line["run_id"] == temporal_id
    assert all("request_id" in line for line in api_lines if line["logger"] == "uvicorn.access")

    worker_lines = stack.log_lines("worker")
    about_activities = [line for line in worker_lines if line["logger"] == "temporalio.activity"]
    failed_attempt = [line for line in about_activities if line.get("run_id") == temporal_id]
    assert len(failed_attempt) == 1, about_activities  # the 503, retried
    assert failed_attempt[0]["node_id"] == "fetch"
    assert failed_attempt[0]["level"] == "WARNING"
    assert "503" in failed_attempt[0]["exception"]
    assert all("run_id" in line and "node_id" in line for line in about_activities)


async def test_a_webhook_token_never_reaches_the_logs(stack: Stack) -> None:
    workflow = await create_workflow(
        stack.api,
        stack.headers,
        {
            "name": "Hooked",
            "trigger": {"type": "webhook"},
            "nodes": [{"id": "echo", "type": "transform", "params": {"value": "hi"}}],
        },
    )
    token = workflow["webhook_url"].rsplit("/", 1)[-1]

    delivered = await stack.api.post(f"/api/hooks/{token}?source=test", json={})

    assert delivered.status_code == 202, delivered.text
    request_id = delivered.headers["X-Request-ID"]
    lines = await eventually(
        lambda: _lines_of_request(stack, request_id),
        lambda lines: any(line["logger"] == "uvicorn.access" for line in lines),
        within=5,
    )
    access = next(line for line in lines if line["logger"] == "uvicorn.access")
    assert '"POST /api/hooks/{token}?source=test HTTP/1.1" 202' in access["message"]
    assert token not in stack.processes.log_of("api")


async def _lines_of_request(stack: Stack, request_id: str) -> list[dict[str, Any]]:
    return [line for line in stack.log_lines("api") if line.get("request_id") == request_id]


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(
    metrics: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, found), v in metrics.items() if n == name and wanted <= found)


async def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    async with httpx.AsyncClient() as client:
        answer = await client.get(url)
    assert answer.status_code == 200, answer.text
    return samples(answer.text)


async def test_the_api_the_worker_and_its_temporal_sdk_serve_their_metrics(
    stack: Stack, local_http: LocalHttpServer
) -> None:
    local_http.route("/ok", responses=[(200, {"fine": True})])
    workflow = await create_workflow(
        stack.api, stack.headers, fetch_definition(local_http.url("/ok"))
    )
    started = await stack.api.post(
        f"/api/workflows/{workflow['id']}/runs", json={"inputs": {}}, headers=stack.headers
    )
    assert started.status_code == 201, started.text
    run = await finished_run(stack.api, stack.headers, started.json()["id"])
    assert run["status"] == "succeeded", run

    api = await scrape(str(stack.api.base_url.join("/metrics")))
    starts = [
        count
        for (name, labels), count in api.items()
        if name == "flowpilot_http_request_seconds_count"
        and ("status", "201") in labels
        and dict(labels)["route"].endswith("/workflows/{workflow_id}/runs")
    ]
    assert sum(starts) >= 1
    assert value(api, "flowpilot_runs_started_total", trigger="manual") >= 1
    assert value(api, "flowpilot_runs", status="succeeded") >= 1

    worker = await scrape(stack.worker_metrics)
    node = {"type": "http.request", "status": "succeeded"}
    assert value(worker, "flowpilot_node_duration_seconds_count", **node) >= 1
    assert value(worker, "flowpilot_runs_finished_total", status="succeeded") >= 1

    # The parser names a counter's samples `…_total`; the series served is the counter's name
    # (`temporal_workflow_completed`), as the SDK's Prometheus exporter writes it.
    sdk = await eventually(
        lambda: scrape(stack.sdk_metrics),
        lambda sdk: (
            value(sdk, "temporal_workflow_completed_total", workflow_type="DagWorkflow") >= 1
        ),
        within=10,
    )
    activity = {"activity_type": "http.request"}
    assert value(sdk, "temporal_activity_execution_latency_count", **activity) >= 1
    assert value(sdk, "temporal_activity_schedule_to_start_latency_count") >= 1
    assert value(sdk, "temporal_workflow_endtoend_latency_count", workflow_type="DagWorkflow") >= 1
    assert value(sdk, "temporal_worker_task_slots_available", worker_type="ActivityWorker") > 0


async def test_a_taken_sdk_metrics_port_is_logged_and_the_worker_still_connects(
    temporal_env: WorkflowEnvironment, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings = Settings(
            temporal_address=temporal_env.client.service_client.config.target_host,
            temporal_sdk_metrics_port=taken.getsockname()[1],
        )
        runtime = temporal_runtime(settings)
        client = await connect(settings, runtime=runtime)

    assert await client.service_client.check_health()
    assert "Temporal SDK metrics not served" in caplog.text


def test_json_is_the_log_format_in_production_and_text_elsewhere() -> None:
    secret = secrets.token_urlsafe(32)
    production = Settings(environment="production", flowpilot_secret_key=secret)

    assert log_format(production) == "json"
    assert log_format(Settings(environment="development")) == "text"
    assert (
        log_format(
            Settings(environment="production", flowpilot_secret_key=secret, log_format="text")
        )
        == "text"
    )
    assert log_format(Settings(log_format="json")) == "json"


# -- traces, in this process -------------------------------------------------------------


@dataclass
class Traced:
    api: httpx.AsyncClient
    exporter: InMemorySpanExporter
    providers: tuple[TracerProvider, TracerProvider]

    def spans(self) -> list[ReadableSpan]:
        for provider in self.providers:
            provider.force_flush()
        return list(self.exporter.get_finished_spans())


@pytest.fixture(params=[False, True], ids=["unsandboxed", "sandboxed"])
async def traced(
    request: pytest.FixtureRequest, temporal_env: WorkflowEnvironment, tmp_path: Path
) -> AsyncIterator[Traced]:
    """The app and a worker, their spans in one in-memory exporter, the workflow run with or
    without Temporal's sandbox."""
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'flowpilot.db'}",
        data_dir=tmp_path,
        temporal_address=temporal_env.client.service_client.config.target_host,
        temporal_task_queue=f"traced-{uuid.uuid4()}",
        http_allowed_hosts=["127.0.0.1"],
        redis_url=None,
        worker_workflow_sandbox=request.param,
    )
    exporter = InMemorySpanExporter()
    api_provider = tracer_provider(settings, "api", exporter)
    worker_provider = tracer_provider(settings, "worker", exporter)
    assert api_provider is not None and worker_provider is not None
    worker_client = await connect(settings, interceptors=temporal_interceptors(worker_provider))
    app = create_app(settings, tracer_provider=api_provider)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://test"
            ) as api,
            create_worker(worker_client, settings),
        ):
            yield Traced(api, exporter, (api_provider, worker_provider))
    finally:
        api_provider.shutdown()
        worker_provider.shutdown()


def one(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    named = [span for span in spans if span.name == name]
    assert len(named) == 1, (name, [span.name for span in spans])
    return named[0]


def is_child(child: ReadableSpan, parent: ReadableSpan) -> bool:
    assert child.parent is not None and parent.context is not None
    return child.parent.span_id == parent.context.span_id


async def test_one_trace_runs_from_the_api_request_through_the_run_to_its_activities(
    traced: Traced, local_http: LocalHttpServer
) -> None:
    local_http.route("/ok", responses=[(200, {"fine": True})])
    headers = await sign_up(traced.api)
    workflow = await create_workflow(traced.api, headers, fetch_definition(local_http.url("/ok")))

    started = await traced.api.post(
        f"/api/workflows/{workflow['id']}/runs", json={"inputs": {}}, headers=headers
    )
    assert started.status_code == 201, started.text
    run = await finished_run(traced.api, headers, started.json()["id"])
    assert run["status"] == "succeeded", run

    spans = traced.spans()
    request = one(spans, "POST /api/workflows/{workflow_id}/runs")
    assert request.context is not None
    trace = [
        span for span in spans if span.context and span.context.trace_id == request.context.trace_id
    ]
    start_workflow = one(trace, "StartWorkflow:DagWorkflow")
    run_workflow = one(trace, "RunWorkflow:DagWorkflow")
    start_activity = one(trace, "StartActivity:http.request")
    run_activity = one(trace, "RunActivity:http.request")
    # Temporal's interceptor hangs what the workflow does off the span that started it:
    # RunWorkflow and CompleteWorkflow are instants beside the StartActivity spans (a span
    # held open across a workflow's life would not survive its replay on another worker).
    assert is_child(start_workflow, request)
    assert is_child(run_workflow, start_workflow)
    assert is_child(one(trace, "CompleteWorkflow:DagWorkflow"), start_workflow)
    assert is_child(start_activity, start_workflow)
    assert is_child(run_activity, start_activity)
    assert request.resource.attributes["service.name"] == "flowpilot-api"
    assert run_activity.resource.attributes["service.name"] == "flowpilot-worker"
    assert request.attributes is not None
    assert request.attributes["http.route"] == "/api/workflows/{workflow_id}/runs"
    assert request.attributes["http.response.status_code"] == 201
    assert request.attributes["flowpilot.request_id"] == started.headers["X-Request-ID"]
    assert request.attributes["flowpilot.run_id"] == f"run-{run['id']}"
    # The run's progress is recorded by local activities of the same trace.
    assert any(span.name == "RunActivity:flowpilot.record_progress" for span in trace)


async def test_a_request_continues_the_callers_trace(traced: Traced) -> None:
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"

    answer = await traced.api.get(
        "/healthz", headers={"traceparent": f"00-{trace_id}-{parent_id}-01"}
    )

    assert answer.status_code == 200
    span = one(traced.spans(), "GET /healthz")
    assert span.context is not None and span.parent is not None
    assert format(span.context.trace_id, "032x") == trace_id
    assert format(span.parent.span_id, "016x") == parent_id


def test_without_an_endpoint_nothing_is_traced(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, otel_exporter_otlp_endpoint=None)

    app = create_app(settings)

    assert tracer_provider(settings, "api") is None
    assert temporal_interceptors(None) == ()
    assert app.state.temporal_interceptors == ()
    assert all(middleware.cls is not RequestSpans for middleware in app.user_middleware)


def test_spans_go_to_the_collector_at_the_otlp_endpoint(
    local_http: LocalHttpServer, tmp_path: Path
) -> None:
    local_http.route("/collector/v1/traces", responses=[(200, "")])
    settings = Settings(
        data_dir=tmp_path, otel_exporter_otlp_endpoint=local_http.url("/collector/")
    )
    provider = tracer_provider(settings, "worker")
    assert provider is not None

    with provider.get_tracer("test").start_as_current_span("exported"):
        pass
    provider.shutdown()

    [sent] = local_http.requests("/collector/v1/traces")
    assert sent.method == "POST"
    assert sent.headers["content-type"] == "application/x-protobuf"
    assert b"exported" in sent.body and b"flowpilot-worker" in sent.body
