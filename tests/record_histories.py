"""Record the replay fixtures in `tests/histories/`: one run of every example.

    .venv/bin/python -m tests.record_histories                  # every recording
    .venv/bin/python -m tests.record_histories LABEL [LABEL ...]  # only these

Starts a Temporal dev server the way `tests/conftest.py` does, runs each definition in
`examples/` on a worker whose activities are the fakes below (no network, no credentials:
the credential names in a definition are ignored), and writes each run's history to
`tests/histories/<label>.json`. The workflow id of a run is its label; a foreach child's id
is `<label>/<node id>/<batch number>` and its history is saved as
`<label>.<node id>.<batch number>.json` (each history's start event records its id, which
is where `test_replay.py` reads it).

Without labels every stored history is deleted and all of RECORDINGS are recorded again.
With labels (see RECORDINGS) only those runs are recorded: their files, and their
children's, are written (a stored child of theirs the new run no longer has is deleted),
and every other file in `tests/histories/` is left untouched. Use that to add the history
of a new example, without re-recording the others.

What differs from running the examples for real:
- HTTP calls are the fakes below: `deliver` in flaky-retry fails its first two attempts
  with a retryable 503, the `pulls` lookup of issue-digest fails with a 403 (the node has
  `on_error: continue`), and on-failure-alert's release lookup answers 404 so the run fails
  and its `on_failure` alert runs.
- The connector node types are fakes too, registered under the real activity names. Each
  validates its params with the real model and answers the real activity's output dict,
  built with the connector's own helpers where it has them; ids and message ids are derived
  from the node's idempotency key and their timestamps are fixed, so what they answer does
  not depend on the clock (a template's `run.started_at` still does):
  - `email.send`: the connector composes the message from a fixed account
    (flowpilot@example.com), and the server accepts every recipient.
  - `llm.chat`: answers a canned triage for the ticket whose subject the prompt holds (the
    inputs of llm-ticket-triage and support-inbox), cut down to the node's json_schema
    and checked against it; the support-inbox ticket is critical, so its on-call email runs.
  - `slack.post_message`: a bot token posting to #releases and #support (channel ids
    C07RELEASES, C07SUPPORT); a run's messages get increasing timestamps.
  - `notion.create_page`: pages under any page, or in the tickets database (default of
    support-inbox; properties Ticket, Customer, Category, Urgency) converted by the
    connector. `notion.query_database`: the tasks database of notion-task-digest answers
    three open tasks (Task, Status, Due), whatever the filter.
  - `sheets.append_rows` / `sheets.read_range`: the spreadsheet of sheets-signup-log, whose
    'Signups' sheet holds a header row and two signups; a run reads back what it appended.
- Webhook- and schedule-triggered examples are started directly, with RECORDINGS' inputs.
- `delay` durations are cut to 1s (approval.json waits 5m for its rollout); nothing else
  in a definition is changed.
- The approval run is approved by signal as soon as its gate is waiting.

Record after adding an example (its label alone), or after changing one (that label).
Never re-record to make a replay test pass: a history that no longer replays means the
interpreter changed in a way that breaks runs in flight, which wants `workflow.patched`,
not a new fixture. Re-recording everything rewrites every fixture, so it hides exactly
that; name the labels you mean instead.
"""

import argparse
import asyncio
import hashlib
import json
import logging
import re
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema_rs
from temporalio import activity
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.email import outgoing_email
from activities.llm import chat_request
from activities.support import connector_errors, validate_params
from connectors.email import SentEmail, SmtpAccount, compose
from connectors.llm import ChatAnswer, parse_json_answer
from connectors.notion import database_properties, page_properties, page_summary
from connectors.sheets import header_names, parse_a1, rows_as_objects
from core.config import Settings
from core.temporal import dev_server_tuning_args, exit_process, temporal_binary
from worker import create_worker
from workflows.catalog import HttpRequestParams
from workflows.contract import NodeInput, NodeResult
from workflows.dag import ApprovalDecision, DagWorkflow, RunInput, RunState
from workflows.definition import resolve_inputs, validate_definition
from workflows.nodes.email import EmailSendParams
from workflows.nodes.llm import LlmChatParams
from workflows.nodes.notion import NotionCreatePageParams, NotionQueryDatabaseParams, notion_id
from workflows.nodes.sheets import (
    Cell,
    SheetsAppendRowsParams,
    SheetsReadRangeParams,
    column_letters,
)
from workflows.nodes.slack import SlackPostMessageParams

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
    # Recorded after the `node-activity-ids` patch (the ones above were recorded before it),
    # so that replay covers runs from both sides of it.
    Recording("diamond-node-activity-ids", "diamond", inputs={"city": "Paris"}),
    Recording("foreach-enrich-node-activity-ids", "foreach-enrich", inputs={"top": 8}),
    Recording("flaky-retry", "flaky-retry"),
    Recording("approval", "approval", approve="sign_off"),
    Recording("on-failure-alert", "on-failure-alert", fails=True),
    Recording("issue-digest", "issue-digest", inputs={"limit": 3}),
    Recording("email-issue-report", "email-issue-report"),
    Recording(
        "llm-ticket-triage",
        "llm-ticket-triage",
        inputs={
            "subject": "Charged twice for the November invoice",
            "body": "Hi, my card was charged twice for invoice INV-20931 (49 EUR each time). "
            "Could you refund one of the charges? Thanks, Lena",
            "customer": "Lena Fischer",
            "plan": "pro",
        },
    ),
    Recording("notion-task-digest", "notion-task-digest"),
    Recording(
        "sheets-signup-log",
        "sheets-signup-log",
        inputs={"name": "Lena Fischer", "email": "lena.fischer@example.de", "plan": "pro"},
    ),
    Recording("slack-release-announcement", "slack-release-announcement"),
    Recording(
        "support-inbox",
        "support-inbox",
        inputs={
            "subject": "Exports lost since this morning's update",
            "body": "Since the 9:00 update every scheduled CSV export comes out empty, and "
            "yesterday's exports are gone from the history. Our month-end close depends "
            "on them.",
            "customer": "Northwind Traders",
        },
    ),
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


# -- the fake connectors --------------------------------------------------------------
# Each validates its params with the real model and answers the real activity's output
# dict, built where it can be with the connector's own helpers; ids, timestamps and
# message ids are derived from the node's idempotency key (`<label>:<node id>`) or fixed.

FAKE_TIME = "2025-11-26T08:30:00.000Z"
"""created_time of every Notion page the fakes answer with: no clock in the fixtures."""


def fake_missing(service: str, what: str) -> ApplicationError:
    return ApplicationError(
        f"no canned {service} answer for {what}", type="FakeMissing", non_retryable=True
    )


def digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


# email.send: the message is composed by the connector, so the message id and the accepted
# recipients are the ones a real send reports; the SMTP server accepts everyone.

SMTP_ACCOUNT = SmtpAccount.model_validate(
    {"host": "smtp.example.com", "from": "flowpilot@example.com"}
)


@activity.defn(name="email.send")
async def fake_email(node: NodeInput) -> NodeResult:
    """Stands in for the real `email.send`: `{message_id, accepted, refused, response}`."""
    params = validate_params(EmailSendParams, node.params)
    with connector_errors():
        composed = compose(
            SMTP_ACCOUNT, outgoing_email(params), idempotency_key=node.idempotency_key
        )
    message_id = str(composed.message["Message-ID"])
    queue_id = digest(message_id)[:10].upper()
    sent = SentEmail(
        message_id=message_id,
        accepted=composed.recipients,
        refused=[],
        response=f"250 2.0.0 Ok: queued as {queue_id}",
    )
    return NodeResult(output=asdict(sent), attempt=activity.info().attempt)


# llm.chat: a canned triage per ticket subject, cut down to the properties the node's
# json_schema asks for and checked against it, as the connector checks a real answer.

TRIAGES = {
    "Charged twice for the November invoice": {
        "category": "billing",
        "urgency": "normal",
        "sentiment": "negative",
        "summary": "Pro customer was charged twice for invoice INV-20931 and asks for a refund "
        "of the duplicate charge.",
        "reply_draft": "Hi Lena, thanks for letting us know, and sorry for the trouble. We are "
        "looking into the double charge on invoice INV-20931 and will get back to you as "
        "soon as our billing team has checked it.",
    },
    "Exports lost since this morning's update": {
        "category": "bug",
        "urgency": "critical",
        "sentiment": "negative",
        "summary": "Since today's update every scheduled CSV export is empty and past exports "
        "are missing from the history (possible data loss).",
        "reply_draft": "Thanks for the report. Our engineers are looking into the missing "
        "exports right now; we will keep you posted.",
    },
}
DEFAULT_MODEL = Settings.model_fields["openai_model"].default


@activity.defn(name="llm.chat")
async def fake_llm(node: NodeInput) -> NodeResult:
    """Stands in for the real `llm.chat`: `{text, json, model, finish_reason, usage, id,
    refusal}`; the model's answer is the triage of the ticket the prompt is about."""
    params = validate_params(LlmChatParams, node.params)
    request = chat_request(params, params.model or DEFAULT_MODEL)
    prompt = "\n".join(message["content"] for message in request.messages)
    subject = next((subject for subject in TRIAGES if subject in prompt), None)
    if subject is None or request.json_schema is None:
        raise fake_missing("llm.chat", f"the prompt of {node.node_id}")
    schema = request.json_schema.schema
    answer = {key: TRIAGES[subject][key] for key in schema.get("properties", {})}
    text = json.dumps(answer, ensure_ascii=False)
    parsed = parse_json_answer(text)
    jsonschema_rs.validator_for(schema).validate(parsed)
    prompt_tokens, completion_tokens = len(prompt) // 4, len(text) // 4
    output = ChatAnswer(
        id=f"chatcmpl-{digest(node.idempotency_key)[:24]}",
        text=text,
        json=parsed,
        model=request.model,
        finish_reason="stop",
        usage={
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    ).as_output()
    return NodeResult(output=output, attempt=activity.info().attempt)


# slack.post_message: a bot token posting to known channels, answering as chat.postMessage
# does; each run's messages get increasing timestamps, so a thread reply follows its parent.

SLACK_CHANNELS = {"releases": "C07RELEASES", "support": "C07SUPPORT"}
SLACK_EPOCH = 1764145800
"""2025-11-26T08:30:00Z, the seconds of every fake message timestamp."""
slack_posts: dict[str, int] = {}


@activity.defn(name="slack.post_message")
async def fake_slack(node: NodeInput) -> NodeResult:
    """Stands in for the real `slack.post_message`: `{ok, channel, ts, message}` as a bot
    token gets them, `{ok: true}` when the node insists on a webhook."""
    params = validate_params(SlackPostMessageParams, node.params)
    attempt = activity.info().attempt
    if params.via == "webhook":
        return NodeResult(output={"ok": True}, attempt=attempt)
    ref = (params.channel or "").removeprefix("#")
    channel = SLACK_CHANNELS.get(ref, ref if ref in SLACK_CHANNELS.values() else None)
    if channel is None:
        raise fake_missing("slack.post_message", f"channel {params.channel!r}")
    slack_posts[node.run_id] = slack_posts.get(node.run_id, 0) + 1
    ts = f"{SLACK_EPOCH}.{slack_posts[node.run_id] * 100:06d}"
    message: dict[str, Any] = {
        "type": "message",
        "subtype": "bot_message",
        "text": params.text or "",
        "user": "U07FLOWBOT",
        "bot_id": "B07FLOWBOT",
        "team": "T07ACME",
        "ts": ts,
    }
    if params.blocks:
        message["blocks"] = params.blocks
    if params.thread_ts:
        message["thread_ts"] = params.thread_ts
    output = {"ok": True, "channel": channel, "ts": ts, "message": message}
    return NodeResult(output=output, attempt=attempt)


# notion.*: a tickets database (support-inbox logs into it) and a tasks database
# (notion-task-digest queries it). Pages are Notion page objects, summarised by the
# connector's own `page_summary`; created pages carry the properties the connector converts.

TICKETS_DATABASE = notion_id("00000000000000000000000000000000")
TASKS_DATABASE = notion_id("0f8e2d6c9b7a4c3e8d1f2a3b4c5d6e7f")
NOTION_SCHEMAS: dict[str, dict[str, dict[str, Any]]] = {
    TICKETS_DATABASE: {
        "Ticket": {"id": "title", "type": "title"},
        "Customer": {"id": "c%3Ds", "type": "rich_text"},
        "Category": {"id": "K%40tg", "type": "select"},
        "Urgency": {"id": "u%5Ez%3F", "type": "select"},
    },
}
TASKS = [
    ("Renew the TLS certificate of api.acme.dev", "In progress", "2025-11-21"),
    ("Send the Q4 price change notice to customers", "Not started", "2025-11-24"),
    ("Review the onboarding checklist with Amy", "In review", "2025-11-26"),
]


def notion_page(page_id: str, title: str, properties: dict[str, Any]) -> dict[str, Any]:
    """A page object as Notion answers it; `properties` are `{name: {id, type, <type>}}`."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-")
    return {
        "object": "page",
        "id": page_id,
        "created_time": FAKE_TIME,
        "last_edited_time": FAKE_TIME,
        "archived": False,
        "url": f"https://www.notion.so/{slug + '-' if slug else ''}{page_id.replace('-', '')}",
        "properties": properties,
    }


def task_page(index: int, title: str, status: str, due: str) -> dict[str, Any]:
    text = {"type": "text", "text": {"content": title}, "plain_text": title}
    properties = {
        "Task": {"id": "title", "type": "title", "title": [text]},
        "Status": {"id": "St%40t", "type": "status", "status": {"name": status}},
        "Due": {
            "id": "D%3Due",
            "type": "date",
            "date": {"start": due, "end": None, "time_zone": None},
        },
    }
    page_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{TASKS_DATABASE}/{index}"))
    return notion_page(page_id, title, properties)


@activity.defn(name="notion.create_page")
async def fake_notion_create_page(node: NodeInput) -> NodeResult:
    """Stands in for the real `notion.create_page`: `{id, url, created_time,
    last_edited_time, properties}`."""
    params = validate_params(NotionCreatePageParams, node.params)
    with connector_errors():
        if params.database_id is not None:
            schema = NOTION_SCHEMAS.get(params.database_id)
            if schema is None:
                raise fake_missing("notion.create_page", f"database {params.database_id}")
            converted = database_properties(schema, params.properties, params.title)
            kinds = {name: (schema[name]["id"], schema[name]["type"]) for name in converted}
        else:
            converted = page_properties(params.properties, params.title)
            kinds = {name: ("title", "title") for name in converted}
    properties = {
        name: {"id": kinds[name][0], "type": kinds[name][1], **value}
        for name, value in converted.items()
    }
    page_id = str(uuid.uuid5(uuid.NAMESPACE_URL, node.idempotency_key))
    page = notion_page(page_id, params.title or "", properties)
    output = page_summary(page, simplify=params.simplify)
    return NodeResult(output=output, attempt=activity.info().attempt)


@activity.defn(name="notion.query_database")
async def fake_notion_query_database(node: NodeInput) -> NodeResult:
    """Stands in for the real `notion.query_database`: `{results, count, has_more,
    next_cursor}`; the tasks database answers its open tasks, most overdue first."""
    params = validate_params(NotionQueryDatabaseParams, node.params)
    if params.database_id != TASKS_DATABASE:
        raise fake_missing("notion.query_database", f"database {params.database_id}")
    pages = [task_page(index, *task) for index, task in enumerate(TASKS)]
    found, has_more = pages[: params.limit], len(pages) > params.limit
    results = [page_summary(page, simplify=params.simplify) for page in found]
    output = {
        "results": results,
        "count": len(results),
        "has_more": has_more,
        "next_cursor": found[-1]["id"] if has_more else None,
    }
    return NodeResult(output=output, attempt=activity.info().attempt)


# sheets.*: one spreadsheet whose 'Signups' sheet has a header row and two signups; rows
# a run appends are read back by that run only, so every recording starts from the same
# sheet. Cells read back as FORMATTED_VALUE text, the default.

SPREADSHEET_ID = "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms"
SIGNUPS: list[list[Cell]] = [
    ["name", "email", "plan", "signed_up_at"],
    ["Amy Lee", "amy.lee@example.com", "pro", "2025-11-24T09:12:44+00:00"],
    ["Rin Tanaka", "rin@example.jp", "free", "2025-11-25T14:03:10+00:00"],
]
appended: dict[tuple[str, str], list[list[Cell]]] = {}


def sheet_of(spreadsheet_id: str, range_: str) -> str:
    with connector_errors():
        sheet = parse_a1(range_).sheet
    if spreadsheet_id != SPREADSHEET_ID or sheet != "Signups":
        raise fake_missing("sheets", f"{range_!r} of spreadsheet {spreadsheet_id}")
    return sheet


def as_cells(row: list[Cell] | dict[str, Cell], header: list[str], ignore: bool) -> list[Cell]:
    """A row as Google stores it: an object row placed by the header, as the connector does."""
    if isinstance(row, list):
        return row
    unknown = [key for key in row if key not in header]
    if unknown and not ignore:
        raise ApplicationError(
            f"no column named {unknown} in the header row", type="UnknownColumn", non_retryable=True
        )
    width = max((header.index(key) + 1 for key in row if key in header), default=0)
    return ["" if row.get(name) is None else row[name] for name in header[:width]]


def formatted(cell: Cell) -> str:
    if isinstance(cell, bool):
        return "TRUE" if cell else "FALSE"
    return "" if cell is None else str(cell)


@activity.defn(name="sheets.append_rows")
async def fake_sheets_append(node: NodeInput) -> NodeResult:
    """Stands in for the real `sheets.append_rows`: `{spreadsheetId, tableRange,
    updatedRange, updatedRows, updatedColumns, updatedCells}`."""
    params = validate_params(SheetsAppendRowsParams, node.params)
    sheet = sheet_of(params.spreadsheet_id, params.range)
    header = [formatted(cell) for cell in SIGNUPS[0]]
    ignore = params.unknown_columns == "ignore"
    rows = [as_cells(row, header, ignore) for row in params.rows]
    table = [*SIGNUPS, *appended.get((node.run_id, sheet), [])]
    appended.setdefault((node.run_id, sheet), []).extend(rows)
    width = max(len(row) for row in rows)
    first, last = len(table) + 1, len(table) + len(rows)
    output = {
        "spreadsheetId": params.spreadsheet_id,
        "tableRange": f"{sheet}!A1:{column_letters(len(header))}{len(table)}",
        "updatedRange": f"{sheet}!A{first}:{column_letters(width)}{last}",
        "updatedRows": len(rows),
        "updatedColumns": width,
        "updatedCells": sum(len(row) for row in rows),
    }
    return NodeResult(output=output, attempt=activity.info().attempt)


@activity.defn(name="sheets.read_range")
async def fake_sheets_read(node: NodeInput) -> NodeResult:
    """Stands in for the real `sheets.read_range`: `{range, majorDimension, values}`, and
    `{headers, rows}` with header_row."""
    params = validate_params(SheetsReadRangeParams, node.params)
    sheet = sheet_of(params.spreadsheet_id, params.range)
    if params.major_dimension != "ROWS":
        raise fake_missing("sheets.read_range", "majorDimension COLUMNS")
    table = [*SIGNUPS, *appended.get((node.run_id, sheet), [])]
    values = [[formatted(cell) for cell in row] for row in table]
    output: dict[str, Any] = {
        "range": f"{sheet}!A1:D1000",
        "majorDimension": "ROWS",
        "values": values,
    }
    if params.header_row:
        headers = header_names(values[0]) if values else []
        output["headers"] = headers
        output["rows"] = rows_as_objects(headers, values[1:])
    return NodeResult(output=output, attempt=activity.info().attempt)


FAKE_ACTIVITIES = {
    "http.request": fake_http,
    "email.send": fake_email,
    "llm.chat": fake_llm,
    "slack.post_message": fake_slack,
    "notion.create_page": fake_notion_create_page,
    "notion.query_database": fake_notion_query_database,
    "sheets.append_rows": fake_sheets_append,
    "sheets.read_range": fake_sheets_read,
}


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


def file_name(workflow_id: str) -> str:
    return f"{workflow_id.replace('/', '.')}.json"


def recorded_id(path: Path) -> str:
    """The workflow id a stored history's start event records."""
    events = json.loads(path.read_text())["events"]
    return str(events[0]["workflowExecutionStartedEventAttributes"]["workflowId"])


def belongs_to(workflow_id: str, labels: set[str]) -> bool:
    """Whether a run (or a foreach child, `<label>/<node id>/<batch>`) is one of `labels`'."""
    return workflow_id.split("/", 1)[0] in labels


def write(histories: dict[str, str], labels: set[str] | None) -> None:
    """Store these histories, named after their workflow ids.

    With `labels`, only the histories of those runs are replaced (with their children, so
    a child the new run no longer has goes too); every other file is left as it is.
    Without, every stored history is replaced.
    """
    HISTORIES.mkdir(exist_ok=True)
    for stale in HISTORIES.glob("*.json"):
        if labels is None or belongs_to(recorded_id(stale), labels):
            stale.unlink()
    for workflow_id, history_json in histories.items():
        (HISTORIES / file_name(workflow_id)).write_text(history_json + "\n")
        if labels is not None:
            size = len(history_json) + 1
            print(f"wrote {file_name(workflow_id)} ({size / 1024:.1f} KB)")
    total = sum(len(text) for text in histories.values())
    print(f"wrote {len(histories)} histories ({total // 1024} KB) to {HISTORIES}")


def chosen(argv: list[str]) -> tuple[list[Recording], set[str] | None]:
    """The recordings named on the command line, in RECORDINGS order, and their labels;
    every recording and None without names."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.record_histories",
        description="Record the replay fixtures in tests/histories/ (see the module docstring).",
    )
    parser.add_argument(
        "labels",
        nargs="*",
        metavar="LABEL",
        help="record only these runs and their children, leaving every other history as it "
        "is; default: re-record all",
    )
    labels = parser.parse_args(argv).labels
    known = [recording.label for recording in RECORDINGS]
    unknown = sorted(set(labels) - set(known))
    if unknown:
        parser.error(f"unknown label(s) {', '.join(unknown)}; known: {', '.join(known)}")
    if not labels:
        return RECORDINGS, None
    return [recording for recording in RECORDINGS if recording.label in labels], set(labels)


async def main(recordings: list[Recording], only: set[str] | None) -> None:
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
        async with create_worker(env.client, settings, activities=FAKE_ACTIVITIES):
            for recording in recordings:
                histories |= await record(env.client, recording)
        write(histories, only)
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main(*chosen(sys.argv[1:])))
    exit_process(0)
