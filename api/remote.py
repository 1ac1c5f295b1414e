"""A client of Flowpilot's own HTTP API: what the `flowpilot` CLI uses against a remote server.

Synchronous, as the CLI is. Answers are parsed into the API's own response models
(api/schemas.py), and every failure is a `RemoteError` carrying a sentence a person can act
on and, for refusals, the API's `detail` — never an httpx exception or a traceback. The API
key travels only in the Authorization header; it is in no message, repr or log line.

Only api/schemas.py is imported from the API: no FastAPI, database or Temporal machinery.
"""

import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, RootModel, ValidationError

from api.schemas import (
    Page,
    RunPublic,
    RunStatus,
    TaskPublic,
    UserPublic,
    ValidateResponse,
    ValidationIssue,
    WorkflowPublic,
    WorkflowVersionPublic,
)

FINISHED: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})
_PAGE_LIMIT = 200
_STREAM_READ_TIMEOUT = 300.0
"""The event stream is silent while nothing changes (an approval may wait for days): after
this long without a byte the stream is reopened, which also notices a half-open connection."""
_RECONNECTS = 5
_REOPEN_PAUSE = 0.5
_RATE_LIMIT_RETRIES = 3
_LONGEST_RETRY_AFTER = 60.0
M = TypeVar("M", bound=BaseModel)


class RemoteError(Exception):
    """Anything that went wrong talking to the API, said in one sentence."""


class Unreachable(RemoteError):
    """No answer: nothing listens at the URL, DNS failed, the connection dropped or timed out."""


class KeyRefused(RemoteError):
    """401: the API does not accept the key (unknown, revoked, or its user deactivated)."""


class RequestFailed(RemoteError):
    """The API answered with an error status; `detail` is its `{"detail": …}`."""

    def __init__(self, message: str, status_code: int, detail: Any) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.detail = detail

    @property
    def issues(self) -> list[ValidationIssue]:
        """A definition's problems, when the API refused one (422 with `[{node, field, …}]`)."""
        if not isinstance(self.detail, list):
            return []
        return [
            ValidationIssue.model_validate(item)
            for item in self.detail
            if isinstance(item, dict) and {"node", "field", "message"} <= item.keys()
        ]


class RunChanged(BaseModel):
    """The `run` event of GET /api/runs/{id}/events."""

    id: uuid.UUID
    status: RunStatus
    error: str | None = None


class _Versions(RootModel[list[WorkflowVersionPublic]]):
    pass


RunEvent = TaskPublic | RunChanged
"""What following a run yields: a node whose status or attempts changed, or the run's status."""


class RemoteApi:
    """One Flowpilot server, reached at `base_url` (its root; a trailing `/api` is tolerated)
    with a bearer token: an `fp_…` API key (or a login token)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        root = base_url.strip().rstrip("/")
        root = root.removesuffix("/api")
        if not root.startswith(("http://", "https://")):
            raise Unreachable(f"cannot reach {root!r}: the API URL must start with http(s)://")
        if not api_key.isascii() or not api_key.isprintable() or " " in api_key:
            # Never echoed: a mistyped key may be most of a real one.
            raise KeyRefused("the API key is malformed (spaces or characters a key never has)")
        self.base_url = root
        self._timeout = timeout
        self._http = httpx.Client(
            base_url=root,
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"RemoteApi({self.base_url!r})"

    def __enter__(self) -> "RemoteApi":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- the calls ------------------------------------------------------------------------

    def me(self) -> UserPublic:
        return self._call(UserPublic, "GET", "/api/auth/me")

    def workflows(self) -> list[WorkflowPublic]:
        """Every workflow the key's user can see (all of them for an admin), newest first."""
        items: list[WorkflowPublic] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": _PAGE_LIMIT}
            if cursor:
                params["cursor"] = cursor
            page = self._call(Page[WorkflowPublic], "GET", "/api/workflows", params=params)
            items.extend(page.items)
            if not page.next_cursor:
                return items
            cursor = page.next_cursor

    def workflow(self, workflow_id: uuid.UUID) -> WorkflowPublic:
        return self._call(WorkflowPublic, "GET", f"/api/workflows/{workflow_id}")

    def workflow_versions(self, workflow_id: uuid.UUID) -> list[WorkflowVersionPublic]:
        """Every version of the workflow, newest first."""
        path = f"/api/workflows/{workflow_id}/versions"
        return self._call(_Versions, "GET", path).root

    def validate(self, definition: Any) -> ValidateResponse:
        body = {"definition": definition}
        return self._call(ValidateResponse, "POST", "/api/workflows/validate", json=body)

    def create_workflow(self, definition: dict[str, Any]) -> WorkflowPublic:
        body = {"definition": definition}
        return self._call(WorkflowPublic, "POST", "/api/workflows", json=body)

    def update_workflow(self, workflow_id: uuid.UUID, definition: dict[str, Any]) -> WorkflowPublic:
        """A new version of the workflow (the API always adds one: compare first)."""
        body = {"definition": definition}
        return self._call(WorkflowPublic, "PUT", f"/api/workflows/{workflow_id}", json=body)

    def runs(
        self,
        workflow_id: uuid.UUID | None = None,
        status: RunStatus | None = None,
        limit: int = 20,
    ) -> list[RunPublic]:
        """The newest `limit` runs (at most one page of the API), optionally filtered."""
        params: dict[str, Any] = {"limit": limit}
        if workflow_id is not None:
            params["workflow_id"] = str(workflow_id)
        if status is not None:
            params["status"] = status
        return self._call(Page[RunPublic], "GET", "/api/runs", params=params).items

    def run(self, run_id: uuid.UUID) -> RunPublic:
        """The run with every node's status, attempts, input, output and error."""
        return self._call(RunPublic, "GET", f"/api/runs/{run_id}")

    def start_run(self, workflow_id: uuid.UUID, inputs: dict[str, Any]) -> RunPublic:
        body = {"inputs": inputs}
        return self._call(RunPublic, "POST", f"/api/workflows/{workflow_id}/runs", json=body)

    def follow(self, run_id: uuid.UUID, known: Iterable[TaskPublic] = ()) -> Iterator[RunEvent]:
        """Node and run changes from the run's event stream until the run has finished;
        nodes in the state they have in `known` (read before) are not repeated.

        A stream that ends early or drops (an API replica restarting, a proxy's idle timeout)
        is reopened; the API then replays the current state, of which only what was not
        seen yet is yielded.
        """
        seen_nodes = {node.node_id: (node.status, node.attempts) for node in known}
        seen_status: str | None = None
        failures = 0
        while True:
            try:
                for event in self._events(run_id):
                    failures = 0
                    if isinstance(event, RunChanged):
                        if event.status != seen_status:
                            seen_status = event.status
                            yield event
                        if event.status in FINISHED:
                            return
                    elif seen_nodes.get(event.node_id) != (event.status, event.attempts):
                        seen_nodes[event.node_id] = (event.status, event.attempts)
                        yield event
            except Unreachable:
                failures += 1
                if failures > _RECONNECTS:
                    raise
                time.sleep(min(2.0**failures, 10.0))
                continue
            # The stream ended without the run finishing: ask once before reopening it.
            if self.run(run_id).status in FINISHED:
                return
            time.sleep(_REOPEN_PAUSE)

    # -- plumbing -------------------------------------------------------------------------

    def _events(self, run_id: uuid.UUID) -> Iterator[RunEvent]:
        timeout = httpx.Timeout(self._timeout, read=_STREAM_READ_TIMEOUT)
        path = f"/api/runs/{run_id}/events"
        headers = {"Accept": "text/event-stream"}
        try:
            with self._http.stream("GET", path, headers=headers, timeout=timeout) as response:
                if response.status_code >= 400:
                    response.read()
                    raise self._refusal(response)
                for name, data in _server_sent_events(response.iter_lines()):
                    event = _parse_event(name, data, self.base_url)
                    if event is not None:
                        yield event
        except httpx.TransportError as error:
            raise self._unreachable(error) from None

    def _call(self, model: type[M], method: str, path: str, **options: Any) -> M:
        for attempt in range(_RATE_LIMIT_RETRIES + 1):
            try:
                response = self._http.request(method, path, **options)
            except httpx.TransportError as error:
                raise self._unreachable(error) from None
            wait = _retry_after(response)
            if wait is None or attempt == _RATE_LIMIT_RETRIES:
                break
            # A 429 is answered before the route runs, so even a POST is safe to send again.
            time.sleep(wait)
        if response.status_code >= 400:
            raise self._refusal(response)
        try:
            return model.model_validate(response.json())
        except (ValueError, ValidationError):
            raise RemoteError(
                f"{self.base_url} answered {method} {path} with something that is not "
                "Flowpilot's API (is the URL right?)"
            ) from None

    def _unreachable(self, error: httpx.TransportError) -> Unreachable:
        if isinstance(error, httpx.TimeoutException):
            return Unreachable(f"{self.base_url} did not answer in time ({type(error).__name__})")
        if isinstance(error, httpx.ConnectError):
            return Unreachable(f"cannot reach {self.base_url} ({_reason(error)})")
        return Unreachable(f"lost the connection to {self.base_url} ({_reason(error)})")

    def _refusal(self, response: httpx.Response) -> RemoteError:
        detail = _detail(response)
        if response.status_code == 401:
            return KeyRefused(f"the API key was refused by {self.base_url} ({detail})")
        message = f"{response.request.method} {response.request.url.path}: "
        message += f"HTTP {response.status_code}: {_describe(detail)}"
        if response.status_code == 429 and "retry-after" in response.headers:
            message += f" (retry after {response.headers['retry-after']}s)"
        return RequestFailed(message, response.status_code, detail)


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait before sending a rate-limited request again; None: do not."""
    if response.status_code != 429:
        return None
    try:
        seconds = float(response.headers.get("retry-after", ""))
    except ValueError:
        return None
    return seconds if 0 <= seconds <= _LONGEST_RETRY_AFTER else None


def _reason(error: httpx.TransportError) -> str:
    text = str(error) or type(error).__name__
    # "[Errno 111] Connection refused" → "connection refused"
    return text.rpartition("] ")[2].strip().lower() if "] " in text else text


def _detail(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or f"HTTP {response.status_code}"
    return body.get("detail", body) if isinstance(body, dict) else body


def _describe(detail: Any) -> str:
    """The API's detail as one line: a definition's issues as `node 'x', field 'y': …`."""
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict) and "message" in item:
                node = f"node '{item['node']}', " if item.get("node") else ""
                parts.append(f"{node}field '{item.get('field', '')}': {item['message']}")
            elif isinstance(item, dict) and "msg" in item:
                where = ".".join(str(part) for part in item.get("loc", []))
                parts.append(f"{where}: {item['msg']}")
            else:
                parts.append(str(item))
        return "; ".join(parts)
    if isinstance(detail, dict) and "message" in detail:
        return str(detail["message"])
    return str(detail)


def _server_sent_events(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """(event, data) pairs of a text/event-stream (the subset the API sends)."""
    event, data = "message", []
    for line in lines:
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", []
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)
    if data:
        yield event, "\n".join(data)


_EVENT_MODELS: dict[str, type[TaskPublic] | type[RunChanged]] = {
    "node": TaskPublic,
    "run": RunChanged,
}


def _parse_event(event: str, data: str, base_url: str) -> RunEvent | None:
    """The event's model; None for an event this client does not know (a newer API's)."""
    model = _EVENT_MODELS.get(event)
    if model is None:
        return None
    try:
        return model.model_validate_json(data)
    except ValidationError:
        raise RemoteError(f"{base_url} sent a malformed {event!r} event") from None
