"""Schemathesis fuzzes every operation of the app's own OpenAPI document (`/openapi.json`).

The app runs as in the other API tests (`live_api`: a migrated PostgreSQL or SQLite database,
the session's Temporal dev server, a worker on the test's own task queue). Every generated
request carries the bearer token of a signed-up admin, so it reaches the handler instead of
stopping at 401, and may use every route. A few real things are created first (workflows with
manual, webhook and schedule triggers, finished and waiting runs, a credential, an API key, a
second user) and their ids are drawn as path parameters beside generated ones, so the code
behind the 404 is fuzzed too. The spec declares a definition as a free-form object, so the
operations taking a definition (or a node) also get bodies generated from the definition
format's own JSON Schema (`flowpilot schema`), with nodes of the catalog's types.

Each operation gets schema-valid (positive) and schema-violating (negative) cases,
derandomized, so every run sends the same requests. No answer may be a 5xx
(`not_a_server_error`; an exception escaping the app counts as one, with its traceback), and
every answer must match what the spec declares for its status and media type
(`response_schema_conformance`, `content_type_conformance`).

Shortened or left out, and why:
- `GET /api/runs/{run_id}/events` streams server-sent events until its run ends (forever for a
  run waiting for approval), so it is fuzzed with ids of finished runs only (and generated
  ids, which answer 404 or 422).
- A test step waits for its node; generated definition-format nodes are tested with
  `timeout_seconds` 0.5 (an approval node would otherwise hold the request for a minute).
- Generated definitions use only node types that do no I/O, and no request whose body names
  one that does is sent (an `http.request` node would call whatever URL was generated); workflow
  updates never replace the webhook workflow's definition (a generated `"respond": "output"`
  could make its webhook wait for a day).
- Rate limits (login per IP, API per user, webhooks per token, generation per user) are
  raised for this test, or most answers would be 429s.
- Natural-language generation talks to the local OpenAI-compatible server, whose default
  answer is prose, not a workflow: generation and explanation run their repair rounds and
  answer 422 (or 404/409 for runs that are not theirs or did not fail).
- DELETE operations go last, so the created things live through every other operation.
"""

import asyncio
import json
import re
import traceback
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, reject, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from core.config import Settings
from tests.support.api import sign_up, simple_definition, user_id
from tests.support.fake_openai import FakeOpenAI
from tests.support.runs import eventually
from workflows.catalog import NODE_TYPES
from workflows.definition import json_schema

# About 30 s of requests on SQLite for the whole spec (2 cores); each failure is shrunk.
FUZZ_SETTINGS = settings(
    max_examples=30,
    derandomize=True,
    database=None,
    deadline=None,
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
    suppress_health_check=list(HealthCheck),
)
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
STREAMING = ("GET", "/api/runs/{run_id}/events")
REQUEST_TIMEOUT = 30.0
TEST_STEP_SECONDS = 0.5
# Generated definitions are saved and may run: they are made of node types that do no I/O, and
# a request naming a node type that does (anywhere in its body) is never sent.
PURE_NODE_TYPES = [name for name, entry in NODE_TYPES.items() if entry.runs_in == "workflow"]
IO_NODE_TYPES = {name for name, entry in NODE_TYPES.items() if entry.runs_in != "workflow"}
# Operations whose body holds a definition (or a node): the body field and its schema.
DEFINITION_BODIES = {
    ("POST", "/api/workflows"): ("definition", "Definition"),
    ("PUT", "/api/workflows/{workflow_id}"): ("definition", "Definition"),
    ("POST", "/api/workflows/validate"): ("definition", "Definition"),
    ("POST", "/api/workflows/test-node"): ("node", "Node"),
    ("POST", "/api/workflows/dry-run"): ("definition", "Definition"),
    ("POST", "/api/workflows/generate"): ("definition", "Definition"),
}
_REQUEST_FIELDS = ("method", "url", "headers", "params", "cookies", "json", "data", "files")


@pytest.fixture
def api_settings(api_settings: Settings, fake_openai: FakeOpenAI) -> Settings:
    """The shared settings (each database) with rate limits no fuzz run reaches, and
    natural-language generation on the local OpenAI-compatible server."""
    return api_settings.model_copy(
        update={
            "rate_limit_login_per_minute": 1_000_000,
            "rate_limit_api_per_minute": 1_000_000,
            "rate_limit_webhook_per_minute": 1_000_000,
            "rate_limit_generate_per_minute": 1_000_000,
            "openai_api_key": SecretStr(fake_openai.api_key),
            "openai_base_url": fake_openai.base_url,
        }
    )


# --- real things to fuzz against --------------------------------------------------------------


class Seeded:
    """Ids of real things, by the name of the path parameter they fill."""

    def __init__(self) -> None:
        self.ids: dict[str, list[str]] = {}
        self.finished_runs: list[str] = []
        self.webhook_workflow = ""

    def add(self, name: str, value: str) -> None:
        self.ids.setdefault(name, []).append(value)

    def for_operation(self, method: str, path: str) -> dict[str, list[str]]:
        """The ids `method path` may draw: only finished runs for the event stream (it ends
        with its run), never the webhook workflow for an update."""
        pools = dict(self.ids)
        if (method, path) == STREAMING:
            pools["run_id"] = self.finished_runs
        if (method, path) == ("PUT", "/api/workflows/{workflow_id}"):
            pools["workflow_id"] = [
                i for i in self.ids["workflow_id"] if i != self.webhook_workflow
            ]
        return pools


async def _created(api: httpx.AsyncClient, headers: dict[str, str], path: str, body: Any) -> Any:
    answer = await api.post(path, json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    return answer.json()


async def _run_until(
    api: httpx.AsyncClient, headers: dict[str, str], workflow_id: str, status: str
) -> str:
    run = await _created(api, headers, f"/api/workflows/{workflow_id}/runs", {"inputs": {}})

    async def read() -> str:
        return str((await api.get(f"/api/runs/{run['id']}", headers=headers)).json()["status"])

    await eventually(read, lambda current: current == status, within=30)
    return str(run["id"])


async def seed(api: httpx.AsyncClient, headers: dict[str, str]) -> Seeded:
    seeded = Seeded()
    seeded.add("user_id", await user_id(api, headers))
    seeded.add("user_id", await user_id(api, await sign_up(api)))
    definitions = {
        "manual": simple_definition("Manual"),
        "webhook": simple_definition("Hook", trigger={"type": "webhook"}),
        "schedule": simple_definition("Daily", trigger={"type": "schedule", "cron": "0 3 * * *"}),
        "rejected": {
            "name": "Rejected",
            "nodes": [
                {
                    "id": "gate",
                    "type": "approval",
                    "params": {"timeout": "10ms", "timeout_decision": "reject"},
                }
            ],
        },
        "gate": {
            "name": "Gate",
            "nodes": [{"id": "gate", "type": "approval", "params": {"message": "ok?"}}],
        },
    }
    workflows = {}
    for key, definition in definitions.items():
        workflows[key] = await _created(api, headers, "/api/workflows", {"definition": definition})
        seeded.add("workflow_id", workflows[key]["id"])
    seeded.webhook_workflow = workflows["webhook"]["id"]
    seeded.add("token", workflows["webhook"]["webhook_url"].rsplit("/", 1)[-1])

    seeded.finished_runs = [
        await _run_until(api, headers, workflows["manual"]["id"], "succeeded"),
        await _run_until(api, headers, workflows["rejected"]["id"], "failed"),
    ]
    waiting = await _run_until(api, headers, workflows["gate"]["id"], "waiting")
    for run_id in [*seeded.finished_runs, waiting]:
        seeded.add("run_id", run_id)

    credential = {"name": "bot", "kind": "bearer", "data": {"token": "secret-token"}}
    seeded.add(
        "credential_id", (await _created(api, headers, "/api/credentials", credential))["id"]
    )
    seeded.add("key_id", (await _created(api, headers, "/api/api-keys", {"name": "ci"}))["id"])
    return seeded


# --- what to send -------------------------------------------------------------------------------


def definition_format() -> schemathesis.BaseSchema:
    """The definition format as an OpenAPI document schemathesis can generate bodies from:
    `POST /Definition` and `POST /Node`, each node typed by one of the pure catalog types."""
    definition = json_schema()
    components = definition.pop("$defs")
    node = components["Node"]
    variants = []
    for name in PURE_NODE_TYPES:
        params = NODE_TYPES[name].params_schema()
        components.update(params.pop("$defs", {}))
        properties = {**node["properties"], "type": {"const": name}, "params": params}
        variants.append({**node, "properties": properties, "required": ["id", "type", "params"]})
    components["Node"] = {"anyOf": variants}
    components["Definition"] = definition
    schema = {"$ref": "#/components/schemas/{kind}"}
    document = {
        "openapi": "3.1.0",
        "info": {"title": "Flowpilot definition format", "version": "1"},
        "paths": {
            f"/{kind}": {
                "post": {
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": schema["$ref"].format(kind=kind)}
                            }
                        },
                    },
                    "responses": {"200": {"description": "ok"}},
                }
            }
            for kind in ("Definition", "Node")
        },
        "components": {"schemas": components},
    }
    text = json.dumps(document).replace("#/$defs/", "#/components/schemas/")
    return schemathesis.openapi.from_dict(json.loads(text))


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _with_body(field: str, kind: str) -> Callable[[tuple[Case, Any]], Case]:
    def put(pair: tuple[Case, Any]) -> Case:
        case, value = pair
        body = dict(case.body) if isinstance(case.body, dict) else {}
        body[field] = value
        if kind == "Node":
            body["timeout_seconds"] = TEST_STEP_SECONDS
        case.body = body
        return case

    return put


def cases(
    operation: APIOperation, seeded: Seeded, formats: schemathesis.BaseSchema
) -> st.SearchStrategy[Case]:
    """Positive and negative cases, also with the path parameter set to each real id, and for a
    definition body also with definitions (or nodes) of the definition format."""
    method = operation.method.upper()
    strategies = [operation.as_strategy(generation_mode=mode) for mode in MODES]
    names = re.findall(r"{(\w+)}", operation.path)
    pools = seeded.for_operation(method, operation.path)
    paths: list[dict[str, str] | None] = [None]
    if names and names[0] in pools:
        paths += [{names[0]: value} for value in pools[names[0]]]
        strategies += [
            operation.as_strategy(generation_mode=mode, path_parameters=path)
            for mode in MODES
            for path in paths[1:]
        ]
    if (method, operation.path) in DEFINITION_BODIES:
        field, kind = DEFINITION_BODIES[method, operation.path]
        generated = formats[f"/{kind}"]["POST"]
        values = (
            st.one_of([generated.as_strategy(generation_mode=mode) for mode in MODES])
            .map(lambda case: case.body)
            .filter(_is_json)
        )
        strategies += [
            st.tuples(operation.as_strategy(path_parameters=path), values).map(
                _with_body(field, kind)
            )
            for path in paths
        ]
    return st.one_of(strategies)


# --- sending and checking -----------------------------------------------------------------------


def _names_io_node(value: Any) -> bool:
    if isinstance(value, str):
        return value in IO_NODE_TYPES
    if isinstance(value, dict):
        return any(_names_io_node(key) or _names_io_node(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_names_io_node(item) for item in value)
    return False


def _describe(error: BaseException) -> str:
    if isinstance(error, BaseExceptionGroup):
        return "\n".join(_describe(inner) for inner in error.exceptions)
    notes = "\n".join(getattr(error, "__notes__", []))
    return f"{type(error).__name__}: {error}\n{notes}".strip()


class Fuzzer:
    """Sends schemathesis cases through the `live_api` client, from a thread beside its loop.

    The app, its database engine and the Temporal worker live on the test's event loop; the
    synchronous Hypothesis tests run in a thread and hand each request over to that loop.
    """

    def __init__(self, api: httpx.AsyncClient, headers: dict[str, str], seeded: Seeded) -> None:
        self.api = api
        self.headers = headers
        self.seeded = seeded
        self.formats = definition_format()
        self.loop = asyncio.get_running_loop()

    def send(self, case: Case) -> None:
        if _names_io_node(case.body):
            reject()
        kwargs = case.as_transport_kwargs(base_url=str(self.api.base_url), headers=self.headers)
        fields = {key: value for key, value in kwargs.items() if key in _REQUEST_FIELDS}
        # Negative cases may leave the bearer header out: send it anyway, to reach the handler.
        fields["headers"].update(self.headers)
        prepared = requests.Request(**fields).prepare()
        request = self.api.build_request(
            str(prepared.method),
            str(prepared.url),
            headers=[
                (k.encode("latin-1"), v.encode("latin-1")) for k, v in prepared.headers.items()
            ],
            content=prepared.body,
        )
        future = asyncio.run_coroutine_threadsafe(self.api.send(request), self.loop)
        try:
            response = future.result(timeout=REQUEST_TIMEOUT)
        except TimeoutError:
            future.cancel()
            raise AssertionError(
                f"{case.method} {case.formatted_path} did not answer in {REQUEST_TIMEOUT} s"
                f"\nReproduce with:\n    {case.as_curl_command()}"
            ) from None
        except Exception as error:
            raise AssertionError(
                f"{case.method} {case.formatted_path} raised in the app (a 500):\n"
                + "".join(traceback.format_exception(error))
                + f"\nReproduce with:\n    {case.as_curl_command()}"
            ) from None
        case.validate_response(response, checks=CHECKS, headers=self.headers)

    def failures(self, operation: APIOperation) -> str | None:
        """What Hypothesis found wrong with `operation`'s answers, or None."""

        @FUZZ_SETTINGS
        @given(case=cases(operation, self.seeded, self.formats))
        def fuzz_operation(case: Case) -> None:
            self.send(case)

        try:
            fuzz_operation()
        except (Exception, BaseExceptionGroup) as error:  # schemathesis' FailureGroup is Base…
            return f"{operation.method.upper()} {operation.path}:\n{_describe(error)}"
        return None


async def delete_every_workflow(api: httpx.AsyncClient, headers: dict[str, str]) -> None:
    """Generated definitions may have schedule triggers: remove their Temporal schedules."""
    for _ in range(100):
        items = (await api.get("/api/workflows", headers=headers)).json()["items"]
        deleted = [
            await api.delete(f"/api/workflows/{workflow['id']}", headers=headers)
            for workflow in items
        ]
        if not any(answer.status_code == 204 for answer in deleted):
            return


async def test_no_operation_answers_5xx_and_every_answer_matches_the_spec(
    live_api: httpx.AsyncClient,
) -> None:
    admin = await sign_up(live_api)  # the first account
    seeded = await seed(live_api, admin)
    schema = schemathesis.openapi.from_dict((await live_api.get("/openapi.json")).json())
    operations = [schema[path][method] for path in schema for method in schema[path]]
    operations.sort(key=lambda operation: operation.method.upper() == "DELETE")
    fuzzer = Fuzzer(live_api, admin, seeded)

    def fuzz_every_operation() -> list[str]:
        return [found for operation in operations if (found := fuzzer.failures(operation))]

    try:
        failures = await asyncio.to_thread(fuzz_every_operation)
    finally:
        await delete_every_workflow(live_api, admin)
    assert len(operations) >= 37, [operation.label for operation in operations]
    assert not failures, f"{len(failures)} operation(s) failed:\n\n" + "\n\n".join(failures)


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


async def test_requests_that_answered_500_before_answer_4xx(live_api: httpx.AsyncClient) -> None:
    """Found while fuzzing: each of these escaped the app as an exception (a 500)."""
    admin = await sign_up(live_api)
    definition = simple_definition(
        inputs={"items": {"type": "array", "default": []}}, trigger={"type": "webhook"}
    )
    workflow = await _created(live_api, admin, "/api/workflows", {"definition": definition})
    hook = workflow["webhook_url"].removeprefix("http://localhost:8000")
    deep = _nested(300)  # pydantic serializes 255 levels at most
    node = {"id": "a", "type": "transform", "params": {"value": 1}}
    requests_: list[tuple[str, str, dict[str, Any]]] = [
        # a zone offset that takes the time past year 9999 (or before year 1) in UTC
        ("GET", "/api/audit-logs", {"params": {"since": "0001-01-01T00:00:00+14:00"}}),
        ("GET", "/api/audit-logs", {"params": {"since": "9999-12-31T23:59:59-14:00"}}),
        # `needs` of a test step that is not a list of strings
        ("POST", "/api/workflows/test-node", {"json": {"node": {**node, "needs": 5}}}),
        ("POST", "/api/workflows/test-node", {"json": {"node": {**node, "needs": [["b"]]}}}),
        # a credential name with a NUL character, which PostgreSQL refuses to compare
        (
            "POST",
            "/api/workflows/test-node",
            {"json": {"node": {**node, "type": "http.request", "credential": "a\x00b"}}},
        ),
        # bodies nested too deeply to be serialized again (the answer, Temporal's payload)
        ("POST", "/api/workflows", {"json": {"definition": simple_definition(output=deep)}}),
        ("POST", f"/api/workflows/{workflow['id']}/runs", {"json": {"inputs": {"items": deep}}}),
        ("POST", hook, {"json": {"items": deep}}),
        ("POST", "/api/workflows/test-node", {"json": {"node": node, "inputs": {"x": deep}}}),
        # nested deeper than Python's JSON parser goes (a RecursionError)
        ("POST", "/api/credentials", {"content": b"[" * 100_000 + b"]" * 100_000}),
    ]
    for method, path, options in requests_:
        headers = {**admin, "Content-Type": "application/json"}
        answer = await live_api.request(method, path, headers=headers, **options)
        assert answer.status_code == 422, (method, path, answer.status_code, answer.text)
    stored = (await live_api.get("/api/workflows", headers=admin)).json()["items"]
    assert [item["id"] for item in stored] == [workflow["id"]], "nothing too deep was saved"
    runs = (await live_api.get("/api/runs", headers=admin)).json()["items"]
    assert runs == [], "no run row was left behind"


async def test_a_null_role_or_active_flag_changes_nothing(live_api: httpx.AsyncClient) -> None:
    """Found while fuzzing: an explicit null answered 409 (a NOT NULL column refused it)."""
    admin = await sign_up(live_api)
    editor = await user_id(live_api, await sign_up(live_api))
    for body in ({"role": None}, {"is_active": None}, {"role": None, "is_active": None}):
        answer = await live_api.patch(f"/api/users/{editor}", json=body, headers=admin)
        assert answer.status_code == 200, answer.text
        assert (answer.json()["role"], answer.json()["is_active"]) == ("editor", True)
