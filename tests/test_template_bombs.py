"""Template bombs in every templated field fail their node fast, small and without effect.

Each case saves a workflow through the API whose node `bomb` carries one bomb (a huge
string, power or range, deep recursion, a sandbox escape, ...) in one field, with valid
params everywhere else and a node `after` that needs it, and runs it on the Temporal dev
server with the real worker. A case passes when:

- the node fails with a template error naming the field, and `after` never runs;
- the run closes within 2 s of the node's start (its recorded `started_at`: the start of the
  workflow task that began it), by Temporal's clock, and no workflow task failed;
- the worker's peak RSS rose less than 100 MB over its RSS just before the run;
- no service (local HTTP, SMTP, Slack, OpenAI, Notion, Google Sheets, S3) received a request,
  and the file a sandbox escape would create does not exist.

The worker runs as its own process (`python -m worker`, with its production defaults), so
its memory is measured alone and whole: its peak-RSS mark (VmHWM) is reset through
/proc/<pid>/clear_refs before each run and read after it. (`tracemalloc` in an in-process
worker would count the test's own allocations, miss memory outside Python's allocator, and
slow every bomb down.) A normal run of every node type before the bombs and again after
them proves that the probes see what each node does, and that the worker is still healthy.

The fields come from the node catalog: `TEMPLATED_PARAMS` lists every param of every node
type and every place inside one where its schema declares a string, and a test fails when
the catalog declares a field the table does not list (or the reverse). Bombs rotate over the
fields, so each field gets one and each bomb goes into several.
"""

import asyncio
import contextlib
import itertools
import json
import re
import secrets
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from core.config import Settings
from tests.support.api import POSTGRES_URL, app_client, reset_postgres, sign_up
from tests.support.fake_notion import TOKEN as NOTION_TOKEN
from tests.support.fake_notion import FakeNotion, serve_notion
from tests.support.fake_openai import FakeOpenAI
from tests.support.fake_s3 import FakeS3
from tests.support.fake_sheets import FakeGoogleSheets
from tests.support.fake_slack import TOKEN as SLACK_TOKEN
from tests.support.fake_slack import FakeSlack
from tests.support.fake_smtp import FakeSmtpServer, serve_smtp
from tests.support.local_http import LocalHttpServer
from tests.support.processes import Processes
from workflows.catalog import NODE_TYPES
from workflows.definition import Definition, Node

MAX_SECONDS = 2.0
"""From the worker starting the node to the run's end (the issue's bar)."""
MAX_EXTRA_MB = 100
"""What a bomb may add to the worker's resident memory (the issue's bar)."""
RUN_TIMEOUT = 15.0
"""How long a case waits for its run before calling it hung."""
SHEET_ID = "bombSheet"
CHILD_WORKFLOW = "bomb-child"
BOMB_KEY = "X-Bomb"
"""The key a bomb is planted under in a mapping field (a valid extra header name)."""
HTTP_PATHS = ("/effect", "/after", "/child")

# --- the bombs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Bomb:
    name: str
    source: str
    """The template; MARKER stands for a file path that must never be created."""
    refused: str
    """What the node's error says (a fragment)."""


_WIDE_COPIES = "".join(f"{{% set v{i} = wide ~ '{i}' %}}" for i in range(48))

BOMBS: tuple[Bomb, ...] = (
    Bomb("huge_string", "{{ 'a' * 10**9 }}", "would exceed 1,000,000 characters"),
    # Jinja's `**` is left-associative: `9 ** 9 ** 9` is (9**9)**9, a 78-digit number.
    Bomb("huge_power", "{{ 9 ** (9 ** 9) }}", "exponents are limited to 100"),
    Bomb("huge_range", "{% for i in range(10**9) %}x{% endfor %}", "range() is limited"),
    Bomb(
        "recursive_macro",
        "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
        "calls are nested more than 30 deep",
    ),
    Bomb(
        "recursive_loop",
        "{% for x in [[1]] recursive %}{{ loop([x]) }}{% endfor %}",
        "calls are nested more than 30 deep",
    ),
    Bomb("class_escape", "{{ ''.__class__.__mro__[1].__subclasses__() }}", "is unsafe"),
    Bomb(
        "globals_escape",
        "{{ cycler.__init__.__globals__.os.system('touch MARKER') }}",
        "is unsafe",
    ),
    Bomb("nested_lists", "{{ [[[0] * 1000] * 1000] * 1000 }}", "would exceed 1,000,000"),
    Bomb(
        "nested_loops",
        "{% for a in range(10000) %}{% for b in range(10000) %}x{% endfor %}{% endfor %}",
        "loops ran more than 100,000 iterations",
    ),
    Bomb(
        "busy_loop",
        "{% for i in range(9000) %}{% for j in range(10) %}{{ (i ~ j) | length }}"
        "{% endfor %}{% endfor %}",
        "does too much work",
    ),
    Bomb("format_width", "{{ '%0999999999d' % 1 }}", "widths and precisions are limited"),
    Bomb("input_string", "{{ 'a' * inputs.n }}", "would exceed 1,000,000 characters"),
    Bomb(
        "wide_copies",
        "{% set wide = '\U0001f600' * 999990 %}" + _WIDE_COPIES + "{{ v47 | length }}",
        "does too much work",
    ),
)
"""`input_string` takes its size from the run's inputs, so nothing can fold it at save time.
`wide_copies` keeps 48 copies of a 4-bytes-a-character string alive."""

# --- the templated fields ----------------------------------------------------------------

TEMPLATED_PARAMS: dict[str, tuple[str, ...]] = {
    "http.request": (
        "method",
        "url",
        "headers",
        "headers.*",
        "query",
        "query.*",
        "json",
        "body",
        "expected_status",
        "follow_redirects",
    ),
    "transform": ("value",),
    "delay": ("duration",),
    "approval": ("message", "timeout", "timeout_decision", "on_reject"),
    "foreach": ("items", "nodes", "output", "concurrency", "batch_size"),
    "subworkflow": ("workflow", "inputs"),
    "email.send": (
        "to",
        "to[]",
        "cc",
        "cc[]",
        "bcc",
        "bcc[]",
        "reply_to",
        "reply_to[]",
        "subject",
        "text",
        "html",
        "from_name",
        "attachments",
        "attachments[].filename",
        "attachments[].content",
        "attachments[].encoding",
        "attachments[].content_type",
        "headers",
        "headers.*",
    ),
    "llm.chat": (
        "prompt",
        "system",
        "messages",
        "messages[].role",
        "messages[].content",
        "model",
        "temperature",
        "top_p",
        "max_tokens",
        "frequency_penalty",
        "presence_penalty",
        "stop",
        "stop[]",
        "seed",
        "json_output",
        "json_schema",
        "schema_name",
        "strict",
    ),
    "slack.post_message": (
        "channel",
        "text",
        "blocks",
        "thread_ts",
        "reply_broadcast",
        "unfurl_links",
        "unfurl_media",
        "mrkdwn",
        "username",
        "icon_emoji",
        "icon_url",
        "via",
    ),
    "notion.create_page": (
        "database_id",
        "page_id",
        "title",
        "properties",
        "content",
        "blocks",
        "icon",
        "cover",
        "simplify",
    ),
    "notion.query_database": (
        "database_id",
        "filter",
        "sorts",
        "limit",
        "page_size",
        "start_cursor",
        "simplify",
    ),
    "sheets.append_rows": (
        "spreadsheet_id",
        "range",
        "rows",
        "rows[][]",
        "rows[].*",
        "value_input_option",
        "insert_data_option",
        "unknown_columns",
    ),
    "sheets.read_range": (
        "spreadsheet_id",
        "range",
        "header_row",
        "value_render_option",
        "major_dimension",
    ),
    "s3.put_object": (
        "bucket",
        "key",
        "body",
        "encoding",
        "content_type",
        "metadata",
        "metadata.*",
    ),
    "s3.get_object": ("bucket", "key", "as", "max_bytes"),
    "s3.list_objects": ("bucket", "prefix", "delimiter", "max_keys"),
    "s3.presign_url": ("bucket", "key", "method", "expires"),
}
"""Every param (any of them may be written as a template), and every place inside a param
where its schema declares a string: `a.*` a mapping's values, `a[]` a list's items, `a[].b`
a field of a list's objects. Free-form params (`Any`) have no declared places inside."""

NODE_FIELDS_RENDERED = {"params", "when"}
NODE_FIELDS_NOT_RENDERED = {
    "id",
    "type",
    "name",
    "needs",
    "credential",
    "retry",
    "timeout",
    "on_error",
    "join",
    "mode",
    "position",
}
DEFINITION_FIELDS_RENDERED = {"nodes", "on_failure", "output"}
DEFINITION_FIELDS_NOT_RENDERED = {
    "schema_",
    "name",
    "description",
    "inputs",
    "trigger",
    "defaults",
}
PLANT_AT = {("foreach", "nodes"): "nodes[].params.value"}
"""Fields whose bomb goes deeper than the field itself: a foreach body is never rendered as
such (saving refuses a template there), its nodes' params are, once per item."""


def _resolved(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    reference = schema.get("$ref")
    if isinstance(reference, str):
        resolved: dict[str, Any] = root["$defs"][reference.rsplit("/", 1)[-1]]
        return resolved
    return schema


def _admits_string(schema: dict[str, Any], root: dict[str, Any]) -> bool:
    schema = _resolved(schema, root)
    if schema.get("type") == "string":
        return True
    return any(_admits_string(option, root) for option in schema.get("anyOf", []))


def _string_places(schema: Any, root: dict[str, Any], path: str) -> set[str]:
    """The places inside the value at `path` where `schema` declares a string."""
    if not isinstance(schema, dict):
        return set()
    schema = _resolved(schema, root)
    found: set[str] = set()
    for option in schema.get("anyOf", []):
        found |= _string_places(option, root, path)
    for name, inner in schema.get("properties", {}).items():
        found |= {f"{path}.{name}"} | _string_places(inner, root, f"{path}.{name}")
    values = schema.get("additionalProperties")
    if isinstance(values, dict):
        if _admits_string(values, root):
            found.add(f"{path}.*")
        found |= _string_places(values, root, f"{path}.*")
    items = schema.get("items")
    if isinstance(items, dict):
        if _admits_string(items, root):
            found.add(f"{path}[]")
        found |= _string_places(items, root, f"{path}[]")
    return found


def declared_fields(node_type: str) -> set[str]:
    """What the catalog's params schema of `node_type` says may hold a template."""
    schema = NODE_TYPES[node_type].params_schema()
    found: set[str] = set()
    for name, inner in schema["properties"].items():
        found |= {name} | _string_places(inner, schema, name)
    return found


# --- the cases ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    where: str
    """A node type and field (`http.request:headers.*`), or `when`, `output`, `on_failure`."""
    bomb: Bomb

    @property
    def node_type(self) -> str:
        return self.where.split(":", 1)[0]

    @property
    def field(self) -> str:
        return self.where.split(":", 1)[1] if ":" in self.where else self.where


def _cases() -> list[Case]:
    places = [f"{kind}:{field}" for kind, fields in TEMPLATED_PARAMS.items() for field in fields]
    places += ["when", "output", "on_failure"]
    return [Case(where, bomb) for where, bomb in zip(places, itertools.cycle(BOMBS))]


CASES = _cases()


@dataclass(frozen=True)
class Services:
    http: str
    notion_database: str
    marker: Path
    s3_bucket: str = ""


def _tokens(path: str) -> list[str]:
    return re.findall(r"\[\]|\*|[A-Za-z_]+", path)


def _planted(value: Any, tokens: list[str], bomb: Any) -> Any:
    """`value` with `bomb` at the place `tokens` name (creating what is missing)."""
    if not tokens:
        return bomb
    head, rest = tokens[0], tokens[1:]
    if head == "[]":
        items = list(value) if isinstance(value, list) and value else [None]
        return [_planted(items[0], rest, bomb), *items[1:]]
    mapping = dict(value) if isinstance(value, dict) else {}
    if head == "*":
        return {**mapping, BOMB_KEY: _planted(None, rest, bomb)}
    return {**mapping, head: _planted(mapping.get(head), rest, bomb)}


CREDENTIALS = {
    "email.send": "mail",
    "llm.chat": "openai",
    "slack.post_message": "slack",
    "notion.create_page": "notion",
    "notion.query_database": "notion",
    "sheets.append_rows": "sheets",
    "sheets.read_range": "sheets",
    "s3.put_object": "s3",
    "s3.get_object": "s3",
    "s3.list_objects": "s3",
    "s3.presign_url": "s3",
}


def base_params(node_type: str, services: Services) -> dict[str, Any]:
    """Params of `node_type` that succeed and reach its service (or, for control nodes,
    do their work) in a normal run; a bomb replaces one field of them."""
    email = "ann@example.com"
    params: dict[str, dict[str, Any]] = {
        "http.request": {
            "method": "POST",
            "url": f"{services.http}/effect",
            "headers": {"X-Trace": "1"},
            "query": {"q": "1"},
            "json": {"a": [1, "two"]},
            "expected_status": [200],
            "follow_redirects": False,
        },
        "transform": {"value": {"ok": "{{ inputs.n > 0 }}"}},
        "delay": {"duration": "10ms"},
        "approval": {
            "message": "Go?",
            "timeout": "100ms",
            "timeout_decision": "approve",
            "on_reject": "fail",
        },
        "foreach": {
            "items": [1, 2],
            "nodes": [{"id": "each", "type": "transform", "params": {"value": "{{ item }}"}}],
            "output": "{{ nodes.each.output }}",
            "concurrency": 1,
            "batch_size": 1,
        },
        "subworkflow": {"workflow": CHILD_WORKFLOW, "inputs": {"who": "bombs"}},
        "email.send": {
            "to": [email],
            "cc": ["bo@example.com"],
            "bcc": ["cy@example.com"],
            "reply_to": ["help@example.com"],
            "subject": "Hello",
            "text": "Hello",
            "html": "<p>Hello</p>",
            "from_name": "Flowpilot",
            "attachments": [
                {
                    "filename": "a.txt",
                    "content": "hi",
                    "encoding": "text",
                    "content_type": "text/plain",
                }
            ],
            "headers": {"X-Trace": "1"},
        },
        "llm.chat": {
            "prompt": "Hello",
            "system": "Be brief.",
            "messages": [{"role": "user", "content": "Hi"}],
            "model": "gpt-4o",
            "temperature": 0.2,
            "top_p": 1,
            "max_tokens": 50,
            "frequency_penalty": 0,
            "presence_penalty": 0,
            "stop": ["END"],
            "seed": 1,
            "json_output": False,
            "schema_name": "output",
            "strict": True,
        },
        "slack.post_message": {
            "channel": "#general",
            "text": "Hello",
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*Hello*"}}],
            "unfurl_links": False,
            "unfurl_media": False,
            "mrkdwn": True,
            "via": "bot_token",
        },
        "notion.create_page": {
            "database_id": services.notion_database,
            "title": "Hello",
            "properties": {"Status": "Open"},
            "content": "Hello",
            "blocks": [],
            "icon": "\U0001f680",
            "cover": "https://example.com/cover.png",
            "simplify": True,
        },
        "notion.query_database": {
            "database_id": services.notion_database,
            "filter": {"property": "Name", "title": {"is_not_empty": True}},
            "sorts": [{"property": "Name", "direction": "ascending"}],
            "limit": 10,
            "page_size": 10,
            "simplify": True,
        },
        "sheets.append_rows": {
            "spreadsheet_id": SHEET_ID,
            "range": "Sheet1",
            "rows": [["a", "b"]],
            "value_input_option": "RAW",
            "insert_data_option": "INSERT_ROWS",
            "unknown_columns": "error",
        },
        "sheets.read_range": {
            "spreadsheet_id": SHEET_ID,
            "range": "Sheet1",
            "header_row": True,
            "value_render_option": "FORMATTED_VALUE",
            "major_dimension": "ROWS",
        },
        "s3.put_object": {
            "bucket": services.s3_bucket,
            "key": "bombs/a.txt",
            "body": "Hello",
            "encoding": "text",
            "content_type": "text/plain",
            "metadata": {"X-Trace": "1"},
        },
        "s3.get_object": {
            "bucket": services.s3_bucket,
            "key": "seeded.txt",
            "as": "text",
            "max_bytes": 1000,
        },
        "s3.list_objects": {
            "bucket": services.s3_bucket,
            "prefix": "",
            "delimiter": "/",
            "max_keys": 10,
        },
        "s3.presign_url": {
            "bucket": services.s3_bucket,
            "key": "seeded.txt",
            "method": "get",
            "expires": "1h",
        },
    }
    return params[node_type]


def node(node_id: str, node_type: str, params: dict[str, Any], **fields: Any) -> dict[str, Any]:
    credential = CREDENTIALS.get(node_type)
    return {
        "id": node_id,
        "type": node_type,
        "params": params,
        **({"credential": credential} if credential else {}),
        "retry": {"max_attempts": 1},
        **fields,
    }


def after(services: Services) -> dict[str, Any]:
    """A node that needs the bomb's: it must never run."""
    return node(
        "after", "http.request", {"method": "POST", "url": f"{services.http}/after"}, needs=["bomb"]
    )


def case_definition(case: Case, services: Services) -> dict[str, Any]:
    source = case.bomb.source.replace("MARKER", str(services.marker))
    definition: dict[str, Any] = {
        "name": f"bomb {case.where} {case.bomb.name}",
        "inputs": {"n": {"type": "integer", "default": 10**9}},
    }
    if case.where == "when":
        bomb = node("bomb", "transform", base_params("transform", services), when=source)
        definition["nodes"] = [bomb, after(services)]
    elif case.where == "output":
        definition["nodes"] = [node("bomb", "transform", base_params("transform", services))]
        definition["output"] = {"result": source}
    elif case.where == "on_failure":
        gate = {"message": "Go?", "timeout": "10ms", "timeout_decision": "reject"}
        definition["nodes"] = [node("gate", "approval", gate)]
        params = base_params("http.request", services) | {"url": source}
        definition["on_failure"] = [node("bomb", "http.request", params), after(services)]
    else:
        path = PLANT_AT.get((case.node_type, case.field), case.field)
        params = _planted(base_params(case.node_type, services), _tokens(path), source)
        definition["nodes"] = [node("bomb", case.node_type, params), after(services)]
    return definition


def _location(path: str) -> str:
    """Where a bomb planted at `path` sits, as errors write it: `headers['X-Bomb']`,
    `attachments[0].filename`."""
    written = ""
    for token in _tokens(path):
        if token == "[]":
            written += "[0]"
        elif token == "*":
            written += f"[{BOMB_KEY!r}]"
        else:
            written += f".{token}" if written else token
    return written


def field_named(case: Case) -> str:
    """How the failing node's error names the field the bomb is in."""
    if case.where in ("when", "output"):
        return f"{case.where}: "
    if case.where == "on_failure":
        return "param 'url': "
    if case.node_type == "foreach" and case.field == "nodes":
        return "node 'each' failed: param 'value': "
    if case.node_type == "foreach" and case.field == "output":
        return "item 0: output: "
    return f"param '{_location(case.field)}': "


# --- the stack: API in this process, the worker in its own ---------------------------------


class WorkerProcess:
    """The worker subprocess and its memory, read from /proc."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process

    def _status_kb(self, key: str) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
        raise AssertionError(f"no {key} in /proc/{self.process.pid}/status")

    def rss_mb(self) -> float:
        return self._status_kb("VmRSS") / 1024

    def peak_mb(self) -> float:
        return self._status_kb("VmHWM") / 1024

    def reset_peak(self) -> None:
        """Start the peak-RSS mark again from the current RSS (Linux, `man 5 proc`)."""
        Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")


@dataclass
class Probes:
    local_http: LocalHttpServer
    smtp: FakeSmtpServer
    slack: FakeSlack
    openai: FakeOpenAI
    notion: FakeNotion
    sheets: FakeGoogleSheets
    s3: FakeS3
    marker: Path

    def counts(self) -> dict[str, int]:
        """Requests each service has received so far."""
        return {
            **{f"http {path}": self.local_http.hits(path) for path in HTTP_PATHS},
            "smtp": self.smtp.connections,
            "slack": len(self.slack.requests()),
            "openai": len(self.openai.requests),
            "notion": len(self.notion.requests),
            "sheets": len(self.sheets.requests("sheets")) + len(self.sheets.requests("token")),
            "s3": len(self.s3.requests),
            "escape marker file": int(self.marker.exists()),
        }


@dataclass
class Outcome:
    run: dict[str, Any]
    first_task: datetime
    closed: datetime
    """When the worker started the run's first workflow task, and when the run closed
    (Temporal's clock, from the run's history)."""
    failed_tasks: int
    """Workflow tasks that failed (and that Temporal would retry forever)."""
    extra_mb: float
    """The worker's peak RSS during the run over its RSS before it."""
    effects: dict[str, int]
    """Requests each service received during the run (only those that did)."""

    def node(self, node_id: str) -> dict[str, Any] | None:
        return next((n for n in self.run["nodes"] if n["node_id"] == node_id), None)

    def seconds_from_start_of(self, node_id: str) -> float:
        """From the start of the workflow task that started the node (its recorded
        `started_at`; the first task's for a node that failed before starting) to the end."""
        node = self.node(node_id)
        started = node and node["started_at"]
        begun = datetime.fromisoformat(started) if started else self.first_task
        return (self.closed - begun).total_seconds()


@dataclass
class Stack:
    api: httpx.AsyncClient
    headers: dict[str, str]
    client: Client
    worker: WorkerProcess
    probes: Probes
    services: Services
    warm_rss_mb: float = 0.0
    """The worker's RSS after its first run."""

    async def save(self, definition: dict[str, Any]) -> httpx.Response:
        return await self.api.post(
            "/api/workflows", json={"definition": definition}, headers=self.headers
        )

    async def run(self, definition: dict[str, Any], within: float = RUN_TIMEOUT) -> Outcome:
        """Save and run `definition`, measuring the run as the module docstring says."""
        saved = await self.save(definition)
        assert saved.status_code == 201, saved.text
        before = self.probes.counts()
        self.worker.reset_peak()
        baseline = self.worker.rss_mb()
        started = await self.api.post(
            f"/api/workflows/{saved.json()['id']}/runs", json={"inputs": {}}, headers=self.headers
        )
        assert started.status_code == 201, started.text
        run_id = started.json()["id"]
        handle = self.client.get_workflow_handle(f"run-{run_id}")
        try:
            await asyncio.wait_for(handle.result(), within)
        except WorkflowFailureError:
            pass
        except TimeoutError:
            raise AssertionError(f"the run did not end within {within}s") from None
        extra_mb = self.worker.peak_mb() - baseline
        assert self.worker.process.poll() is None, "the worker died"
        answer = await self.api.get(f"/api/runs/{run_id}", headers=self.headers)
        assert answer.status_code == 200, answer.text
        events = (await handle.fetch_history()).events
        after = self.probes.counts()
        return Outcome(
            run=answer.json(),
            first_task=next(
                event.event_time.ToDatetime(tzinfo=UTC)
                for event in events
                if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
            ),
            closed=events[-1].event_time.ToDatetime(tzinfo=UTC),
            failed_tasks=sum(
                event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED for event in events
            ),
            extra_mb=extra_mb,
            effects={
                name: after[name] - count for name, count in before.items() if after[name] != count
            },
        )


@contextlib.contextmanager
def _worker_process(env: dict[str, str], logs: Path) -> Iterator[WorkerProcess]:
    processes = Processes(env, logs)
    try:
        yield WorkerProcess(processes.start("worker", "-m", "worker"))
    finally:
        processes.stop_all()


async def _store(
    stack_api: httpx.AsyncClient,
    headers: dict[str, str],
    name: str,
    kind: str,
    data: dict[str, Any],
) -> None:
    stored = await stack_api.post(
        "/api/credentials", json={"name": name, "kind": kind, "data": data}, headers=headers
    )
    assert stored.status_code == 201, stored.text


@pytest.fixture(scope="module")
async def stack(
    temporal_env: WorkflowEnvironment,
    tmp_path_factory: pytest.TempPathFactory,
    local_http_server: LocalHttpServer,
    fake_slack_server: FakeSlack,
    fake_openai_server: FakeOpenAI,
    fake_sheets_server: FakeGoogleSheets,
    fake_s3_server: FakeS3,
) -> AsyncIterator[Stack]:
    for server in (local_http_server, fake_slack_server, fake_openai_server, fake_sheets_server):
        server.reset()
    local_http_server.route("/effect", [(200, {"ok": True})])
    local_http_server.route("/child", [(200, {"ok": True})])
    local_http_server.route("/after", [(200, {"ok": True})])
    fake_sheets_server.add_spreadsheet(SHEET_ID, {"Sheet1": [["a", "b"]]})
    sheets_token = fake_sheets_server.oauth_token()
    s3_bucket = fake_s3_server.create_bucket("bombs")
    fake_s3_server.seed(s3_bucket, ["seeded.txt"], b"Hello")
    await reset_postgres(POSTGRES_URL)
    directory = tmp_path_factory.mktemp("template-bombs")
    secret = secrets.token_urlsafe(32)
    address = temporal_env.client.service_client.config.target_host
    queue = f"bombs-{uuid.uuid4().hex[:8]}"
    with serve_notion() as notion:
        database = notion.add_database("Tasks", {"Name": "title", "Status": "rich_text"})
        settings = Settings(
            database_url=POSTGRES_URL,
            data_dir=directory,
            temporal_address=address,
            temporal_task_queue=queue,
            flowpilot_secret_key=secret,
            redis_url=None,
            rate_limit_api_per_minute=100_000,
        )
        env = {
            "DATABASE_URL": POSTGRES_URL,
            "DATA_DIR": str(directory),
            "TEMPORAL_ADDRESS": address,
            "TEMPORAL_TASK_QUEUE": queue,
            "FLOWPILOT_SECRET_KEY": secret,
            "REDIS_URL": "",
            "HTTP_ALLOWED_HOSTS": json.dumps(["127.0.0.1"]),
            "SLACK_API_URL": fake_slack_server.api_url,
            "NOTION_API_URL": notion.base_url,
            "OPENAI_BASE_URL": fake_openai_server.base_url,
            "GOOGLE_SHEETS_API_URL": fake_sheets_server.sheets_api_url,
            "WORKER_METRICS_PORT": "0",
            "TEMPORAL_SDK_METRICS_PORT": "0",
        }
        async with serve_smtp("plain") as smtp, app_client(settings) as api:
            headers = await sign_up(api)
            await _store(api, headers, "mail", "smtp", smtp.credential())
            await _store(api, headers, "openai", "openai", {"api_key": fake_openai_server.api_key})
            await _store(api, headers, "slack", "slack", {"bot_token": SLACK_TOKEN})
            await _store(api, headers, "notion", "notion", {"token": NOTION_TOKEN})
            await _store(
                api, headers, "sheets", "google_oauth_token", {"access_token": sheets_token}
            )
            await _store(api, headers, "s3", "s3", fake_s3_server.credential())
            services = Services(
                local_http_server.base_url, database, directory / "escaped", s3_bucket
            )
            child = {
                "name": CHILD_WORKFLOW,
                "inputs": {"who": {"type": "string"}},
                "nodes": [
                    node(
                        "call", "http.request", {"method": "POST", "url": f"{services.http}/child"}
                    )
                ],
            }
            saved = await api.post("/api/workflows", json={"definition": child}, headers=headers)
            assert saved.status_code == 201, saved.text
            probes = Probes(
                local_http_server,
                smtp,
                fake_slack_server,
                fake_openai_server,
                notion,
                fake_sheets_server,
                fake_s3_server,
                services.marker,
            )
            with _worker_process(env, directory) as worker:
                stack = Stack(api, headers, temporal_env.client, worker, probes, services)
                await run_control(stack, 120)  # the worker is up, its imports and caches warm
                stack.warm_rss_mb = worker.rss_mb()
                yield stack


def control_definition(services: Services) -> dict[str, Any]:
    """One node of every type, with the params the bombs are planted in, all harmless."""
    nodes = [node(kind.replace(".", "_"), kind, base_params(kind, services)) for kind in NODE_TYPES]
    return {
        "name": "every node type",
        "inputs": {"n": {"type": "integer", "default": 1}},
        "nodes": nodes,
    }


async def run_control(stack: Stack, within: float = RUN_TIMEOUT) -> Outcome:
    outcome = await stack.run(control_definition(stack.services), within)
    assert outcome.run["status"] == "succeeded", outcome.run
    return outcome


# --- tests -------------------------------------------------------------------------------


def test_the_table_lists_every_field_the_catalog_declares() -> None:
    assert set(TEMPLATED_PARAMS) == set(NODE_TYPES), "a node type without its fields listed"
    for kind in NODE_TYPES:
        listed, declared = set(TEMPLATED_PARAMS[kind]), declared_fields(kind)
        assert listed == declared, (
            f"{kind}: not listed {sorted(declared - listed)}, "
            f"not in the schema {sorted(listed - declared)}"
        )
    assert set(Node.model_fields) == NODE_FIELDS_RENDERED | NODE_FIELDS_NOT_RENDERED
    assert set(Definition.model_fields) == (
        DEFINITION_FIELDS_RENDERED | DEFINITION_FIELDS_NOT_RENDERED
    )


def test_every_bomb_goes_into_a_field_and_every_field_gets_a_bomb() -> None:
    assert {case.bomb.name for case in CASES} == {bomb.name for bomb in BOMBS}
    places = [case.where for case in CASES]
    assert len(places) == len(set(places))
    assert len(places) == sum(map(len, TEMPLATED_PARAMS.values())) + len(
        ("when", "output", "on_failure")
    )


async def test_a_normal_run_of_every_node_type_reaches_every_probe(stack: Stack) -> None:
    """The probes can fail: the params the bombs are planted in, harmless, reach every
    service (the sub-workflow's child calls /child)."""
    outcome = await run_control(stack)

    assert set(outcome.effects) == set(stack.probes.counts()) - {
        "http /after",
        "escape marker file",
    }


def assert_contained(outcome: Outcome, named: str, refused: str) -> None:
    """The node `bomb` failed on its own, at once, in little memory, and touched nothing.
    `named` is a pattern, `refused` a fragment of the error."""
    assert outcome.run["status"] == "failed", outcome.run
    bomb = outcome.node("bomb")
    assert bomb is not None, outcome.run
    error = bomb["error"] if bomb["status"] == "failed" else outcome.run["error"]
    assert re.search(named, error) and refused in error, error
    downstream = outcome.node("after")
    assert downstream is None or downstream["status"] == "cancelled", downstream
    assert outcome.effects == {}
    assert outcome.failed_tasks == 0
    assert outcome.seconds_from_start_of("bomb") < MAX_SECONDS
    assert outcome.extra_mb < MAX_EXTRA_MB


@pytest.mark.parametrize("case", CASES, ids=[f"{c.where}-{c.bomb.name}" for c in CASES])
async def test_a_bomb_fails_its_node_fast_small_and_without_effect(
    stack: Stack, case: Case
) -> None:
    definition = case_definition(case, stack.services)
    outcome = await stack.run(definition)

    assert_contained(outcome, re.escape(field_named(case)), case.bomb.refused)
    if case.where == "output":
        assert outcome.run["error"].startswith("the run failed: output: ")


AMPLIFIERS: dict[str, tuple[str, dict[str, Any], str, str]] = {
    "templates_spread_over_params": (
        "http.request",
        {"headers": {"X-Big": "{{ 'x' * 600000 }}"}, "json": "{{ 'y' * 600000 }}"},
        r"param '(json|headers\['X-Big'\])': ",  # in the order the database keeps them
        "the rendered templates together would exceed 1,000,000 characters",
    ),
    "many_templates_in_one_param": (
        "transform",
        {"value": ["{{ 'x' * 999999 }}"] * 20},
        r"param 'value\[1\]': ",
        "the rendered templates together would exceed 1,000,000 characters",
    ),
}
"""Templates that each stay under the caps of one template but add up past what a node may
render: (node type, params, named, refused). (Params that render to more bytes than
characters, e.g. 1M control characters escaped to 6 MB of JSON, are no longer refused: large
params travel through the payload store, outside Temporal's history.)"""


@pytest.mark.parametrize("name", AMPLIFIERS)
async def test_a_node_cannot_add_templates_up_past_its_caps(stack: Stack, name: str) -> None:
    kind, bombs, named, refused = AMPLIFIERS[name]
    params = base_params(kind, stack.services) | bombs
    definition = {"name": name, "nodes": [node("bomb", kind, params), after(stack.services)]}

    outcome = await stack.run(definition)

    assert_contained(outcome, named, refused)


async def test_the_worker_still_runs_every_node_type_after_the_bombs(stack: Stack) -> None:
    """The same worker process, not grown by what the bombs left behind."""
    await run_control(stack)

    assert stack.worker.process.poll() is None
    assert stack.worker.rss_mb() - stack.warm_rss_mb < MAX_EXTRA_MB
