"""Fixtures: a local slack server speaking the service's documented wire protocol.

`FakeSlack` answers like slack.com does:

- Web API methods under `/api/<method>` (`auth.test`, `chat.postMessage`), POSTed with a
  JSON body (`Content-Type: application/json; charset=utf-8`) and the token in
  `Authorization: Bearer …`. Every answer is HTTP 200 with `{"ok": true, …}` or
  `{"ok": false, "error": "<code>"}` (plus `needed`/`provided` for `missing_scope`,
  `response_metadata.messages` for `invalid_blocks`, a `missing_charset` warning when the
  content type names no charset), except rate limits: HTTP 429 with `Retry-After` and
  `{"ok": false, "error": "ratelimited"}`.
- Incoming webhooks under `/services/T…/B…/<secret>`: a JSON message answered `200 ok`
  as text, or an error code as text with its status (`400 invalid_payload`, `400 no_text`,
  `403 action_prohibited`, `404 channel_not_found`, `404 no_service`,
  `410 channel_is_archived`).

Tests shape the workspace (tokens and their scopes, channels, webhooks) and script
outages (`throttle`, `fail`); the server records every request and every posted message.
"""

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

import pytest

from tests.support.threaded_http import RecordedRequest, ThreadedHttpServer

TOKEN = "xoxb-1111-2222-fake-bot-token"
TEAM = "Acme Corp"
TEAM_ID = "T0ACME"
BOT_USER = "flowbot"
BOT_USER_ID = "U0FLOWBOT"
BOT_ID = "B0FLOWBOT"
WEBHOOK_PATH = "/services/T0ACME/B0HOOK/hooksecret0123456789abcd"
BLOCK_TYPES = frozenset(
    {"section", "divider", "image", "actions", "context", "header", "input", "rich_text", "video"}
)
MAX_TEXT_CHARS = 40_000


@dataclass
class Channel:
    id: str
    name: str
    member: bool = True
    archived: bool = False
    private: bool = False


@dataclass
class Webhook:
    channel: str
    state: str = "active"
    """'active', 'archived' (410), 'prohibited' (403) or 'channel_gone' (404)."""


@dataclass
class Posted:
    """A message the fake accepted: where it went, how, and exactly what was sent."""

    via: str
    """'api' or 'webhook'."""
    channel: str
    payload: dict[str, Any]
    ts: str | None = None


@dataclass
class _Outage:
    status: int
    remaining: int
    retry_after: str | None
    code: str = ""
    """With status 200: the `ok: false` error code to answer."""


@dataclass
class _Workspace:
    tokens: dict[str, tuple[str, ...]] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)
    webhooks: dict[str, Webhook] = field(default_factory=dict)
    outages: dict[str, _Outage] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    posted: list[Posted] = field(default_factory=list)
    counter: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.tokens = {TOKEN: ("chat:write",)}
            self.channels = {
                c.id: c
                for c in (
                    Channel("C0GENERAL", "general"),
                    Channel("C0RANDOM", "random", member=False),
                    Channel("C0SECRET", "secret-plans", member=False, private=True),
                    Channel("C0OLD", "old-news", archived=True),
                )
            }
            self.webhooks = {WEBHOOK_PATH: Webhook("C0GENERAL")}
            self.outages = {}
            self.requests = []
            self.posted = []

    def next_ts(self) -> str:
        self.counter += 1
        return f"{int(time.time())}.{self.counter:06d}"

    def find_channel(self, ref: str) -> Channel | None:
        if ref in self.channels:
            return self.channels[ref]
        name = ref.removeprefix("#")
        return next((c for c in self.channels.values() if c.name == name), None)

    def take_outage(self, key: str) -> _Outage | None:
        outage = self.outages.get(key)
        if outage is None or outage.remaining <= 0:
            return None
        outage.remaining -= 1
        return outage


Answer = tuple[int, bytes, dict[str, str]]


def _json(body: dict[str, Any], status: int = 200, **headers: str) -> Answer:
    return status, json.dumps(body).encode(), {"Content-Type": "application/json", **headers}


def _text(status: int, body: str) -> Answer:
    return status, body.encode(), {"Content-Type": "text/html"}


def _error(code: str, **extra: Any) -> Answer:
    return _json({"ok": False, "error": code, **extra})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    workspace: _Workspace

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        recorded = RecordedRequest("POST", self.path, headers, body)
        with self.workspace.lock:
            self.workspace.requests.append(recorded)
            answer = self._answer(recorded)
        self._send(*answer)

    def do_GET(self) -> None:
        self._send(*_text(405, "method_not_allowed"))

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _answer(self, request: RecordedRequest) -> Answer:
        if request.path.startswith("/api/"):
            return _WebApi(self.workspace, request).answer()
        if request.path.startswith("/services/"):
            return _IncomingWebhook(self.workspace, request).answer()
        return _text(404, "not found")


class _WebApi:
    def __init__(self, workspace: _Workspace, request: RecordedRequest) -> None:
        self.workspace = workspace
        self.request = request
        self.method = request.path.removeprefix("/api/").split("?", 1)[0]

    def answer(self) -> Answer:
        outage = self.workspace.take_outage(self.method)
        if outage is not None and outage.status == 429:
            headers = {"Retry-After": outage.retry_after} if outage.retry_after else {}
            return _json({"ok": False, "error": "ratelimited"}, 429, **headers)
        if outage is not None and outage.status == 200:
            return _error(outage.code)
        if outage is not None:
            status, body, headers = _text(outage.status, "<html><body>Unavailable</body></html>")
            retry = {"Retry-After": outage.retry_after} if outage.retry_after else {}
            return status, body, {**headers, **retry}
        args, warnings = self._args()
        if isinstance(args, tuple):
            return args
        handler = {"auth.test": self._auth_test, "chat.postMessage": self._post_message}.get(
            self.method
        )
        if handler is None:
            return _json({"ok": False, "error": "unknown_method"}, 404)
        scopes = self._scopes(args)
        if isinstance(scopes, tuple):
            return scopes
        status, body, headers = handler(args, scopes)
        if warnings and status == 200:
            answer = json.loads(body)
            answer["warning"] = ",".join(warnings)
            answer["response_metadata"] = {"warnings": warnings}
            return _json(answer)
        return status, body, headers

    def _args(self) -> tuple[dict[str, Any] | Answer, list[str]]:
        """The call's arguments from a JSON or form body, and any warnings about it."""
        content_type = self.request.headers.get("content-type", "")
        media_type, _, parameters = content_type.partition(";")
        warnings = [] if "charset=" in parameters.lower() else ["missing_charset"]
        media_type = media_type.strip().lower()
        if media_type == "application/x-www-form-urlencoded":
            form = parse_qs(self.request.body.decode())
            return {key: values[-1] for key, values in form.items()}, warnings
        if media_type != "application/json":
            return _error("invalid_arguments"), []
        try:
            args = json.loads(self.request.body) if self.request.body.strip() else {}
        except ValueError:
            return _error("invalid_json"), []
        if not isinstance(args, dict):
            return _error("json_not_object"), []
        return args, warnings

    def _scopes(self, args: dict[str, Any]) -> frozenset[str] | Answer:
        authorization = self.request.headers.get("authorization", "")
        token = authorization.removeprefix("Bearer ") if authorization.startswith("Bearer ") else ""
        token = token or str(args.get("token", ""))
        if not token:
            return _error("not_authed")
        scopes = self.workspace.tokens.get(token)
        if scopes is None:
            return _error("invalid_auth")
        return frozenset(scopes)

    def _auth_test(self, args: dict[str, Any], scopes: frozenset[str]) -> Answer:
        return _json(
            {
                "ok": True,
                "url": "https://acme-corp.slack.com/",
                "team": TEAM,
                "user": BOT_USER,
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "bot_id": BOT_ID,
                "is_enterprise_install": False,
            }
        )

    def _post_message(self, args: dict[str, Any], scopes: frozenset[str]) -> Answer:
        if "chat:write" not in scopes:
            return _error("missing_scope", needed="chat:write", provided=",".join(sorted(scopes)))
        channel = self.workspace.find_channel(str(args.get("channel") or ""))
        if channel is None or (channel.private and not channel.member):
            return _error("channel_not_found")
        if channel.archived:
            return _error("is_archived")
        if not channel.member and "chat:write.public" not in scopes:
            return _error("not_in_channel")
        text, blocks = args.get("text"), args.get("blocks")
        if not text and not blocks:
            return _error("no_text")
        if isinstance(text, str) and len(text) > MAX_TEXT_CHARS:
            return _error("msg_too_long")
        if blocks is not None:
            problems = _block_problems(blocks)
            if problems:
                return _error("invalid_blocks", response_metadata={"messages": problems})
        ts = self.workspace.next_ts()
        self.workspace.posted.append(Posted("api", channel.id, args, ts))
        message: dict[str, Any] = {
            "type": "message",
            "subtype": "bot_message",
            "text": text or "",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "team": TEAM_ID,
            "ts": ts,
        }
        if blocks:
            message["blocks"] = blocks
        if args.get("thread_ts"):
            message["thread_ts"] = args["thread_ts"]
        if args.get("username"):
            message["username"] = args["username"]
        return _json({"ok": True, "channel": channel.id, "ts": ts, "message": message})


def _block_problems(blocks: Any) -> list[str]:
    if not isinstance(blocks, list):
        return ["[ERROR] must be an array [json-pointer:/blocks]"]
    problems = []
    for index, block in enumerate(blocks):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind not in BLOCK_TYPES:
            problems.append(
                f"[ERROR] unsupported type `{kind}` [json-pointer:/blocks/{index}/type]"
            )
    return problems


class _IncomingWebhook:
    def __init__(self, workspace: _Workspace, request: RecordedRequest) -> None:
        self.workspace = workspace
        self.request = request

    def answer(self) -> Answer:
        outage = self.workspace.take_outage("webhook")
        if outage is not None:
            headers = {"Retry-After": outage.retry_after} if outage.retry_after else {}
            status, body, base = _text(
                outage.status, "rate_limited" if outage.status == 429 else ""
            )
            return status, body, {**base, **headers}
        webhook = self.workspace.webhooks.get(self.request.path)
        if webhook is None:
            return _text(404, "no_service")
        refusal = {
            "archived": (410, "channel_is_archived"),
            "prohibited": (403, "action_prohibited"),
            "channel_gone": (404, "channel_not_found"),
        }.get(webhook.state)
        if refusal is not None:
            return _text(*refusal)
        if not self.request.headers.get("content-type", "").startswith("application/json"):
            return _text(400, "invalid_payload")
        try:
            payload = json.loads(self.request.body)
        except ValueError:
            return _text(400, "invalid_payload")
        if not isinstance(payload, dict):
            return _text(400, "invalid_payload")
        if not payload.get("text") and not payload.get("blocks"):
            return _text(400, "no_text")
        if payload.get("blocks") is not None and _block_problems(payload["blocks"]):
            return _text(400, "invalid_blocks")
        self.workspace.posted.append(Posted("webhook", webhook.channel, payload))
        return _text(200, "ok")


class FakeSlack:
    """A threaded Slack look-alike on 127.0.0.1 with an ephemeral port."""

    def __init__(self) -> None:
        self._workspace = _Workspace()
        self._workspace.reset()
        handler = type("Handler", (_Handler,), {"workspace": self._workspace})
        self._http = ThreadedHttpServer(handler)

    @property
    def base_url(self) -> str:
        return self._http.base_url

    @property
    def api_url(self) -> str:
        """What `Settings.slack_api_url` is in production: `https://slack.com/api`."""
        return f"{self.base_url}/api"

    @property
    def webhook_url(self) -> str:
        return f"{self.base_url}{WEBHOOK_PATH}"

    def start(self) -> "FakeSlack":
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    def reset(self) -> None:
        self._workspace.reset()

    def add_token(self, token: str, scopes: tuple[str, ...]) -> None:
        with self._workspace.lock:
            self._workspace.tokens[token] = scopes

    def set_webhook_state(self, state: str) -> None:
        with self._workspace.lock:
            self._workspace.webhooks[WEBHOOK_PATH].state = state

    def throttle(self, key: str, *, times: int = 1, retry_after: str | None = "1") -> None:
        """Answer the next `times` calls of `key` (a method name or 'webhook') with 429."""
        self.fail(key, 429, times=times, retry_after=retry_after)

    def fail(
        self, key: str, status: int, *, times: int = 1, retry_after: str | None = None
    ) -> None:
        """Answer the next `times` calls of `key` (a method name or 'webhook') with `status`."""
        with self._workspace.lock:
            self._workspace.outages[key] = _Outage(status, times, retry_after)

    def error_next(self, method: str, code: str, *, times: int = 1) -> None:
        """Answer the next `times` calls of `method` with HTTP 200 and `ok: false`, `code`."""
        with self._workspace.lock:
            self._workspace.outages[method] = _Outage(200, times, None, code)

    @property
    def posted(self) -> list[Posted]:
        with self._workspace.lock:
            return list(self._workspace.posted)

    def requests(self, path: str | None = None) -> list[RecordedRequest]:
        """Every request received, or those to `path` (e.g. '/api/chat.postMessage')."""
        with self._workspace.lock:
            return [r for r in self._workspace.requests if path is None or r.path == path]


@pytest.fixture(scope="session")
def fake_slack_server() -> Iterator[FakeSlack]:
    server = FakeSlack().start()
    yield server
    server.stop()


@pytest.fixture
def fake_slack(fake_slack_server: FakeSlack) -> FakeSlack:
    """The session's fake Slack with a fresh workspace: token `TOKEN` (chat:write), channels
    #general (bot is a member), #random (public, not a member), a private #secret-plans,
    an archived #old-news, and one active incoming webhook posting to #general."""
    fake_slack_server.reset()
    return fake_slack_server
