"""Record the replay fixtures in `tests/histories/`: one run of every example.

    .venv/bin/python -m tests.record_histories

Starts a Temporal dev server the way `tests/conftest.py` does, runs each definition in
`examples/` on a worker whose `http.request` activity is `fake_http` below (canned bodies
chosen by URL, no network; deterministic failures where an example needs one), and writes
each run's history to `tests/histories/<label>.json`. The workflow id of a run is its
label; a foreach child's id is `<label>/<node id>/<batch number>` and its history is saved
as `<label>.<node id>.<batch number>.json` (each history's start event records its id,
which is where `test_replay.py` reads it).

What differs from running the examples for real:
- HTTP calls are the fakes below: `deliver` in flaky-retry fails its first two attempts
  with a retryable 503, the `pulls` lookup of issue-digest fails with a 403 (the node has
  `on_error: continue`), and on-failure-alert's release lookup answers 404 so the run fails
  and its `on_failure` alert runs.
- `delay` durations are cut to 1s (approval.json waits 5m for its rollout); nothing else
  in a definition is changed.
- The approval run is approved by signal as soon as its gate is waiting.

Re-record after adding or changing an example. Never re-record to make a replay test pass:
a history that no longer replays means the interpreter changed in a way that breaks runs
in flight, which wants `workflow.patched`, not a new fixture.
"""

import asyncio
import json
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from temporalio import activity
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from core.config import Settings
from core.temporal import dev_server_tuning_args, exit_process, temporal_binary
from worker import create_worker
from workflows.catalog import HttpRequestParams
from workflows.contract import NodeInput, NodeResult
from workflows.dag import ApprovalDecision, DagWorkflow, RunInput, RunState
from workflows.definition import resolve_inputs, validate_definition

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
HISTORIES = Path(__file__).resolve().parent / "histories"
TASK_QUEUE = "record-histories"
RUN_TIMEOUT_SECONDS = 60.0
SETTLED = {"succeeded", "failed", "skipped"}


@dataclass(frozen=True)
class Recording:
    label: str
    """The history's file name and the run's workflow id."""
    example: str
    inputs: dict[str, Any] = field(default_factory=dict)
    fails: bool = False
    approve: str | None = None
    """An approval node to approve once it is waiting."""


RECORDINGS = [
    Recording("diamond", "diamond", inputs={"city": "Paris"}),
    Recording("conditional-branch", "conditional-branch"),
    Recording("conditional-branch-red", "conditional-branch", inputs={"repo": "acme/billing"}),
    Recording("foreach-enrich", "foreach-enrich", inputs={"top": 8}),
    Recording("flaky-retry", "flaky-retry"),
    Recording("approval", "approval", approve="sign_off"),
    Recording("on-failure-alert", "on-failure-alert", fails=True),
    Recording("issue-digest", "issue-digest", inputs={"limit": 3}),
]


# -- the fake http.request ------------------------------------------------------------

JSON_HEADERS = {"content-type": "application/json; charset=utf-8"}
TEXT_HEADERS = {"content-type": "text/html; charset=utf-8"}
RED_REPOS = {"acme/billing"}
SHA = "3f9c2e7a41d8b0c65e2f9a7d18c4b3e2a5f60d17"

USERS = {
    "mitsuhiko": ("Armin Ronacher", "@earendil-works", "Austria"),
    "davidism": ("David Lord", "@pallets", "United States"),
    "ThiefMaster": ("Adrian Mönnich", "CERN", "Geneva, Switzerland"),
    "kevin-brown": ("Kevin Brown", None, None),
    "amy-lee": ("Amy Lee", "Acme", "Toronto"),
    "jdoe": (None, None, "Berlin"),
    "rtanaka": ("Rin Tanaka", None, "Osaka, Japan"),
}


def http_error(
    method: str, url: str, status: int, reason: str, retryable: bool
) -> ApplicationError:
    """The error the real activity raises for an unexpected status."""
    return ApplicationError(
        f"{method} {url} returned {status} {reason}",
        type="HttpStatusError",
        non_retryable=not retryable,
    )


def canned(params: HttpRequestParams, attempt: int) -> tuple[int, Any]:
    """The (status, body) the fake answers, or raise the failure an example needs."""
    method, url = params.method, params.url
    host, path = urlsplit(url).hostname or "", urlsplit(url).path
    if host == "geocoding-api.open-meteo.com":
        place = {
            "name": str(params.query.get("name", "Paris")),
            "latitude": 48.85341,
            "longitude": 2.3488,
            "country": "France",
            "timezone": "Europe/Paris",
        }
        return 200, {"results": [place], "generationtime_ms": 0.71}
    if host == "api.open-meteo.com":
        current = {
            "time": "2025-11-26T10:00",
            "temperature_2m": 7.4,
            "relative_humidity_2m": 81,
            "wind_speed_10m": 13.7,
        }
        return 200, {"timezone": "Europe/Paris", "current": current}
    if host == "air-quality-api.open-meteo.com":
        current = {"time": "2025-11-26T10:00", "european_aqi": 38, "pm2_5": 9.1, "pm10": 14.2}
        return 200, {"current": current}
    if host == "api.frankfurter.dev":
        all_rates = {"USD": 1.1532, "GBP": 0.8791, "JPY": 180.47, "CHF": 0.9312}
        wanted = str(params.query.get("symbols", "")).split(",")
        rates = {code: rate for code, rate in all_rates.items() if code in wanted}
        return 200, {"amount": 1.0, "base": "EUR", "date": "2025-11-25", "rates": rates}
    if host == "httpbin.org" and path.startswith("/status/"):
        if attempt <= 2:
            raise http_error(method, url, 503, "Service Unavailable", retryable=True)
        return 200, ""
    if host == "hooks.slack.com":
        return 200, "ok"
    if host == "api.github.com":
        return github(params)
    raise ApplicationError(
        f"no canned response for {method} {url}", type="FakeHttpMissing", non_retryable=True
    )


def github(params: HttpRequestParams) -> tuple[int, Any]:
    method, url = params.method, params.url
    path = urlsplit(url).path
    if match := re.fullmatch(r"/users/([^/]+)", path):
        login = match.group(1)
        name, company, location = USERS[login]
        return 200, {"login": login, "name": name, "company": company, "location": location}
    repo_match = re.fullmatch(r"/repos/([^/]+/[^/]+)(/.*)", path)
    if repo_match is None:
        raise http_error(method, url, 404, "Not Found", retryable=False)
    repo, rest = repo_match.groups()
    if rest == "/actions/runs":
        return 200, {"total_count": 1, "workflow_runs": [actions_run(repo, params)]}
    if rest == "/issues" and method == "POST":
        title = (params.json_body or {}).get("title", "")
        return 201, {
            "number": 482,
            "title": title,
            "html_url": f"https://github.com/{repo}/issues/482",
        }
    if rest == "/issues":
        return 200, [
            issue(repo, 1203, "Crash when the config file is empty", comments=4),
            {**issue(repo, 1202, "Add retry to the exporter", comments=1), "pull_request": {}},
            issue(repo, 1199, "Docs: the quick start misses a step", comments=0),
            issue(repo, 1187, "Timezone is ignored for weekly schedules", comments=7),
            issue(repo, 1180, "Support Python 3.13", comments=12),
        ]
    if rest == "/pulls":
        raise http_error(method, url, 403, "Forbidden: API rate limit exceeded", retryable=False)
    if rest == "/contributors":
        logins = ["mitsuhiko", "davidism", "dependabot[bot]", *list(USERS)[2:]]
        return 200, [
            {
                "login": login,
                "type": "Bot" if login.endswith("[bot]") else "User",
                "contributions": 1200 // (rank + 1),
            }
            for rank, login in enumerate(logins)
        ]
    if rest.startswith("/commits/"):
        commit = {
            "message": "Checkout: charge the card only once when the payment page is reloaded",
            "author": {"name": "Amy Lee", "date": "2025-11-25T16:42:10Z"},
        }
        return 200, {
            "sha": SHA,
            "commit": commit,
            "html_url": f"https://github.com/{repo}/commit/{SHA}",
        }
    if rest == "/dispatches":
        return 204, ""
    if rest == "/releases/latest":
        raise http_error(method, url, 404, "Not Found", retryable=False)
    raise http_error(method, url, 404, "Not Found", retryable=False)


def actions_run(repo: str, params: HttpRequestParams) -> dict[str, Any]:
    if params.query.get("event") == "repository_dispatch":
        name, conclusion = "Deploy production", "success"
    else:
        name, conclusion = "CI", "failure" if repo in RED_REPOS else "success"
    return {
        "id": 11873440211,
        "name": name,
        "head_sha": SHA,
        "status": "completed",
        "conclusion": conclusion,
        "html_url": f"https://github.com/{repo}/actions/runs/11873440211",
    }


def issue(repo: str, number: int, title: str, comments: int) -> dict[str, Any]:
    return {
        "number": number,
        "title": title,
        "comments": comments,
        "html_url": f"https://github.com/{repo}/issues/{number}",
    }


@activity.defn(name="http.request")
async def fake_http(node: NodeInput) -> NodeResult:
    """Stands in for the real `http.request`: same input, output and error types."""
    params = HttpRequestParams.model_validate(node.params)
    attempt = activity.info().attempt
    status, body = canned(params, attempt)
    headers = TEXT_HEADERS if isinstance(body, str) else JSON_HEADERS
    return NodeResult(output={"status": status, "headers": headers, "body": body}, attempt=attempt)


# -- recording ------------------------------------------------------------------------


def for_recording(raw: dict[str, Any]) -> dict[str, Any]:
    """The definition with every `delay` cut to 1s, so recording takes seconds."""

    def shorten(nodes: list[dict[str, Any]]) -> None:
        for node in nodes:
            if node.get("type") == "delay":
                node["params"]["duration"] = "1s"
            if node.get("type") == "foreach":
                shorten(node["params"]["nodes"])

    copy = json.loads(json.dumps(raw))
    shorten(copy["nodes"])
    shorten(copy.get("on_failure", []))
    return copy


async def approve_when_waiting(handle: WorkflowHandle[DagWorkflow, RunState], node_id: str) -> None:
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    while True:
        state = await handle.query(DagWorkflow.status)
        node = state.nodes.get(node_id)
        if node is not None and node.status == "waiting":
            break
        if state.status not in ("running", "waiting") or time.monotonic() > deadline:
            raise RuntimeError(f"{handle.id}: {node_id} never waited for approval: {state}")
        await asyncio.sleep(0.1)
    decision = ApprovalDecision(node_id=node_id, approved=True, by="reviewer", comment="LGTM")
    await handle.signal(DagWorkflow.approve, decision)


async def record(client: Client, recording: Recording) -> dict[str, str]:
    """Run one example; return the JSON history of the run and of its children by id."""
    raw = json.loads((EXAMPLES / f"{recording.example}.json").read_text())
    definition = validate_definition(for_recording(raw))
    handle = await client.start_workflow(
        DagWorkflow.run,
        RunInput(definition=definition, inputs=resolve_inputs(definition, recording.inputs)),
        id=recording.label,
        task_queue=TASK_QUEUE,
    )
    if recording.approve:
        await approve_when_waiting(handle, recording.approve)
    try:
        state = await asyncio.wait_for(handle.result(), RUN_TIMEOUT_SECONDS)
        outcome = f"{state.status}: {json.dumps(state.output, ensure_ascii=False)[:100]}"
        if recording.fails:
            raise RuntimeError(f"{recording.label}: expected the run to fail, it {outcome}")
        unsettled = {n: s.status for n, s in state.nodes.items() if s.status not in SETTLED}
        if unsettled:
            raise RuntimeError(f"{recording.label}: the run ended with {unsettled}")
    except WorkflowFailureError as error:
        if not recording.fails:
            raise
        outcome = f"failed as expected: {error.cause}"
    history = await handle.fetch_history()
    histories = {recording.label: history.to_json()}
    for event in history.events:
        if event.HasField("start_child_workflow_execution_initiated_event_attributes"):
            child_id = event.start_child_workflow_execution_initiated_event_attributes.workflow_id
            histories[child_id] = (
                await client.get_workflow_handle(child_id).fetch_history()
            ).to_json()
    print(f"{recording.label}: {outcome}")
    return histories


def write_all(histories: dict[str, str]) -> None:
    """Replace every stored history with these, named after their workflow ids."""
    HISTORIES.mkdir(exist_ok=True)
    for stale in HISTORIES.glob("*.json"):
        stale.unlink()
    for workflow_id, history_json in histories.items():
        (HISTORIES / f"{workflow_id.replace('/', '.')}.json").write_text(history_json + "\n")
    total = sum(len(text) for text in histories.values())
    print(f"wrote {len(histories)} histories ({total // 1024} KB) to {HISTORIES}")


async def main() -> None:
    # The failures the fakes raise on purpose would each log a warning with a traceback.
    logging.getLogger("temporalio.activity").setLevel(logging.ERROR)
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        dev_server_extra_args=dev_server_tuning_args(),
        data_converter=pydantic_data_converter,
    )
    try:
        settings = Settings(temporal_task_queue=TASK_QUEUE)
        histories: dict[str, str] = {}
        async with create_worker(env.client, settings, activities={"http.request": fake_http}):
            for recording in RECORDINGS:
                histories |= await record(env.client, recording)
        write_all(histories)
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
    exit_process(0)
