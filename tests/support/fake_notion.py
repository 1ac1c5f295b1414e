"""Fixtures: a local notion server speaking the service's documented wire protocol.

It serves, under `/v1`, the endpoints Flowpilot uses, the way api.notion.com does:
`GET /users/me`, `GET /databases/{id}`, `POST /databases/{id}/query` and `POST /pages`,
with in-memory databases (a property schema each) and pages. Like Notion it checks the
`Authorization: Bearer` token and the `Notion-Version` header, validates page properties
against the database schema (a wrong type is a 400 `validation_error`), adds unknown
select options but refuses unknown status options, evaluates filters and sorts, pages
results with `page_size` ≤ 100 and `next_cursor`, and answers every error with
`{"object": "error", "status", "code", "message"}`. `fail_next` scripts failures such as
a 429 `rate_limited` with `Retry-After`.
"""

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from tests.support.threaded_http import RecordedRequest, ThreadedHttpServer

VERSIONS = frozenset({"2021-05-13", "2021-08-16", "2022-02-22", "2022-06-28"})
TOKEN = "ntn_fake_integration_token"
MAX_TEXT = 2000
MAX_CHILDREN = 100
COLORS = ("default", "gray", "brown", "orange", "yellow", "green", "blue", "purple", "pink")
RICH_TEXT_BLOCKS = frozenset(
    {
        "paragraph",
        "heading_1",
        "heading_2",
        "heading_3",
        "bulleted_list_item",
        "numbered_list_item",
        "to_do",
        "quote",
        "callout",
        "toggle",
    }
)
COMPUTED = frozenset(
    {"created_time", "last_edited_time", "created_by", "last_edited_by", "unique_id", "formula"}
)


class NotionError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def invalid(message: str) -> NotionError:
    return NotionError(400, "validation_error", message)


def failed(where: str, expectation: str, value: Any) -> NotionError:
    """A schema failure, worded like Notion's: "body failed validation: … instead was …"."""
    return invalid(f"body failed validation: {where} {expectation}, instead was {shown(value)}.")


def shown(value: Any) -> str:
    return f"`{json.dumps(value)}`" if value is not None else "`undefined`"


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def dashed(raw: str) -> str | None:
    """Notion takes ids with or without dashes."""
    compact = raw.replace("-", "").lower()
    if len(compact) != 32 or any(c not in "0123456789abcdef" for c in compact):
        return None
    return str(uuid.UUID(compact))


@dataclass
class Fault:
    status: int
    body: Any
    headers: dict[str, str]
    after: int = 0
    """Requests to serve normally before this failure."""


@dataclass
class FakeNotion:
    """The service's state; tests set it up and inspect it."""

    base_url: str = ""
    tokens: set[str] = field(default_factory=lambda: {TOKEN})
    bot: dict[str, Any] = field(
        default_factory=lambda: {
            "object": "user",
            "id": str(uuid.uuid4()),
            "name": "Flowpilot bot",
            "avatar_url": None,
            "type": "bot",
            "bot": {"owner": {"type": "workspace", "workspace": True}, "workspace_name": "Acme"},
        }
    )
    databases: dict[str, dict[str, Any]] = field(default_factory=dict)
    pages: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Every page, in creation order."""
    children: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Page id → its blocks."""
    requests: list[RecordedRequest] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # --- setup ----------------------------------------------------------------------------

    def add_database(
        self, title: str, schema: dict[str, str], options: dict[str, list[str]] | None = None
    ) -> str:
        """A database with `schema` (property name → type) and select/status `options`."""
        database_id = str(uuid.uuid4())
        properties: dict[str, Any] = {}
        for position, (name, kind) in enumerate(schema.items()):
            config: dict[str, Any] = {}
            if kind in ("select", "multi_select", "status"):
                config = {"options": [self._option(n) for n in (options or {}).get(name, [])]}
            if kind == "unique_id":
                config = {"prefix": "TASK"}
            prop_id = "title" if kind == "title" else f"p{position:03d}"
            properties[name] = {"id": prop_id, "name": name, "type": kind, kind: config}
        self.databases[database_id] = {
            "object": "database",
            "id": database_id,
            "created_time": now(),
            "last_edited_time": now(),
            "title": rich_text_answer([{"type": "text", "text": {"content": title}}]),
            "description": [],
            "icon": None,
            "cover": None,
            "properties": properties,
            "parent": {"type": "workspace", "workspace": True},
            "url": f"https://www.notion.so/{database_id.replace('-', '')}",
            "archived": False,
            "is_inline": False,
            "public_url": None,
        }
        return database_id

    def add_page(self, title: str) -> str:
        """A standalone page, to create pages under."""
        page_id = str(uuid.uuid4())
        title_value = {
            "id": "title",
            "type": "title",
            "title": rich_text_answer([{"type": "text", "text": {"content": title}}]),
        }
        self.pages[page_id] = self._page(
            page_id, {"type": "workspace", "workspace": True}, {"title": title_value}, None, None
        )
        return page_id

    def fail_next(
        self,
        status: int,
        code: str = "",
        message: str = "",
        *,
        retry_after: int | None = None,
        times: int = 1,
        after: int = 0,
        body: Any = None,
    ) -> None:
        """Answer `times` requests with this error instead of serving them, once `after`
        requests have been served."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        answer = body if body is not None else error_body(status, code, message)
        with self.lock:
            self.faults.extend(Fault(status, answer, headers, after) for _ in range(times))

    def requests_to(self, method: str, path_suffix: str) -> list[RecordedRequest]:
        with self.lock:
            return [r for r in self.requests if r.method == method and r.path.endswith(path_suffix)]

    def pages_of(self, database_id: str) -> list[dict[str, Any]]:
        return [
            page
            for page in self.pages.values()
            if page["parent"].get("database_id") == database_id and not page["archived"]
        ]

    # --- serving --------------------------------------------------------------------------

    def serve(
        self, method: str, path: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        with self.lock:
            self.requests.append(RecordedRequest(method, path, headers, raw, time.monotonic()))
            if self.faults and self.faults[0].after > 0:
                for fault in self.faults:
                    fault.after -= 1
            elif self.faults:
                fault = self.faults.pop(0)
                return fault.status, fault.body, fault.headers
            try:
                return 200, self._route(method, path, headers, raw), {}
            except NotionError as error:
                return error.status, error_body(error.status, error.code, error.message), {}

    def _route(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> Any:
        authorization = headers.get("authorization", "")
        if not authorization.startswith("Bearer ") or authorization[7:] not in self.tokens:
            raise NotionError(401, "unauthorized", "API token is invalid.")
        version = headers.get("notion-version")
        if version is None:
            raise NotionError(
                400,
                "missing_version",
                "Notion-Version header failed validation: Notion-Version header should be "
                "defined, instead was `undefined`.",
            )
        if version not in VERSIONS:
            raise invalid(f"Notion-Version header failed validation: unknown version {version}.")
        parts = path.strip("/").split("/")
        if parts[:1] != ["v1"]:
            raise NotionError(400, "invalid_request_url", "Invalid request URL.")
        route = parts[1:]
        body = self._body(raw) if method == "POST" else None
        if method == "GET" and route == ["users", "me"]:
            return self.bot
        if method == "GET" and len(route) == 2 and route[0] == "databases":
            return self._database(route[1])
        if method == "POST" and len(route) == 3 and route[::2] == ["databases", "query"]:
            return self._query(self._database(route[1]), body)
        if method == "POST" and route == ["pages"]:
            return self._create_page(body)
        raise NotionError(400, "invalid_request_url", "Invalid request URL.")

    @staticmethod
    def _body(raw: bytes) -> dict[str, Any]:
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            raise NotionError(400, "invalid_json", "Error parsing JSON body.") from None
        if not isinstance(body, dict):
            raise failed("body", "should be an object", body)
        return body

    def _database(self, raw_id: str) -> dict[str, Any]:
        database_id = dashed(raw_id)
        if database_id is None:
            raise invalid(
                "path failed validation: path.database_id should be a valid uuid, "
                f"instead was {shown(raw_id)}."
            )
        database = self.databases.get(database_id)
        if database is None:
            raise NotionError(
                404,
                "object_not_found",
                f"Could not find database with ID: {database_id}. Make sure the relevant "
                "pages and databases are shared with your integration.",
            )
        return database

    # --- pages ----------------------------------------------------------------------------

    def _create_page(self, body: dict[str, Any]) -> dict[str, Any]:
        parent = body.get("parent")
        if not isinstance(parent, dict):
            raise failed("body.parent", "should be an object", parent)
        properties = body.get("properties")
        if not isinstance(properties, dict):
            raise failed("body.properties", "should be defined", properties)
        if "database_id" in parent:
            database = self._database(str(parent["database_id"]))
            values = self._database_values(database, properties)
            parent_answer = {"type": "database_id", "database_id": database["id"]}
        elif "page_id" in parent:
            page_id = dashed(str(parent["page_id"]))
            if page_id is None or page_id not in self.pages:
                raise NotionError(
                    404,
                    "object_not_found",
                    f"Could not find page with ID: {page_id or parent['page_id']}. Make sure "
                    "the relevant pages and databases are shared with your integration.",
                )
            values = self._page_values(properties)
            parent_answer = {"type": "page_id", "page_id": page_id}
        else:
            raise failed("body.parent.database_id", "should be defined", None)
        blocks = self._children(body.get("children", []))
        icon = self._icon(body.get("icon"))
        cover = self._cover(body.get("cover"))
        page_id = str(uuid.uuid4())
        page = self._page(page_id, parent_answer, values, icon, cover)
        self.pages[page_id] = page
        self.children[page_id] = blocks
        return page

    def _page(
        self,
        page_id: str,
        parent: dict[str, Any],
        properties: dict[str, Any],
        icon: Any,
        cover: Any,
    ) -> dict[str, Any]:
        stamp = now()
        for prop in properties.values():
            if prop["type"] in ("created_time", "last_edited_time"):
                prop[prop["type"]] = stamp
            elif prop["type"] in ("created_by", "last_edited_by"):
                prop[prop["type"]] = {"object": "user", "id": self.bot["id"]}
        title = next(
            (
                "".join(t["plain_text"] for t in p["title"])
                for p in properties.values()
                if p["type"] == "title"
            ),
            "",
        )
        slug = "-".join(title.split()[:6])
        compact = page_id.replace("-", "")
        return {
            "object": "page",
            "id": page_id,
            "created_time": stamp,
            "last_edited_time": stamp,
            "created_by": {"object": "user", "id": self.bot["id"]},
            "last_edited_by": {"object": "user", "id": self.bot["id"]},
            "cover": cover,
            "icon": icon,
            "parent": parent,
            "archived": False,
            "in_trash": False,
            "properties": properties,
            "url": f"https://www.notion.so/{slug + '-' if slug else ''}{compact}",
            "public_url": None,
        }

    def _page_values(self, properties: dict[str, Any]) -> dict[str, Any]:
        for key in properties:
            if key != "title":
                raise invalid(f"{key} is not a property that exists.")
        given = properties.get("title", {"title": []})
        if not isinstance(given, dict) or "title" not in given:
            raise failed("body.properties.title.title", "should be defined", None)
        text = self._rich_text(given["title"], "body.properties.title.title")
        return {"title": {"id": "title", "type": "title", "title": text}}

    def _database_values(self, database: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
        schema: dict[str, Any] = database["properties"]
        by_id = {prop["id"]: name for name, prop in schema.items()}
        values = {
            name: {"id": prop["id"], "type": prop["type"], **empty_value(prop)}
            for name, prop in schema.items()
        }
        for key, value in given.items():
            name = key if key in schema else by_id.get(key)
            if name is None:
                raise invalid(f"{key} is not a property that exists.")
            prop = schema[name]
            kind = prop["type"]
            where = f"body.properties.{name}"
            if not isinstance(value, dict) or kind not in value:
                raise failed(f"{where}.{kind}", "should be defined", None)
            if kind in COMPUTED:
                raise invalid(f"Cannot update {kind} property {name}.")
            values[name][kind] = self._value(prop, value[kind], f"{where}.{kind}")
        if "unique_id" in {p["type"] for p in schema.values()}:
            number = len(self.pages_of(database["id"])) + 1
            for name, prop in schema.items():
                if prop["type"] == "unique_id":
                    values[name]["unique_id"] = {
                        "prefix": prop["unique_id"]["prefix"],
                        "number": number,
                    }
        return values

    def _value(self, prop: dict[str, Any], value: Any, where: str) -> Any:
        kind = prop["type"]
        if kind in ("title", "rich_text"):
            return self._rich_text(value, where)
        if kind == "number":
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise failed(where, "should be a number or `null`", value)
            return value
        if kind == "checkbox":
            if not isinstance(value, bool):
                raise failed(where, "should be a boolean", value)
            return value
        if kind in ("url", "email", "phone_number"):
            if value is not None and not isinstance(value, str):
                raise failed(where, "should be a string or `null`", value)
            return value
        if kind in ("select", "status"):
            return None if value is None else self._choose(prop, value, where)
        if kind == "multi_select":
            if not isinstance(value, list):
                raise failed(where, "should be an array", value)
            return [self._choose(prop, item, f"{where}[{i}]") for i, item in enumerate(value)]
        if kind == "date":
            return self._date(value, where)
        if kind in ("people", "relation"):
            if not isinstance(value, list) or not all(
                isinstance(i, dict) and isinstance(i.get("id"), str) for i in value
            ):
                raise failed(where, "should be an array of objects with an id", value)
            if kind == "people":
                return [{"object": "user", "id": item["id"]} for item in value]
            return [{"id": item["id"]} for item in value]
        if kind == "files":
            if not isinstance(value, list) or not all(
                isinstance(f, dict) and isinstance(f.get("external", {}).get("url"), str)
                for f in value
            ):
                raise failed(where, "should be an array of external files", value)
            return value
        raise invalid(f"body failed validation: {where} is not supported.")

    def _choose(self, prop: dict[str, Any], value: Any, where: str) -> dict[str, Any]:
        kind = prop["type"]
        if not isinstance(value, dict) or not isinstance(value.get("name"), str):
            raise failed(f"{where}.name", "should be defined", value)
        name = value["name"]
        if "," in name and kind != "status":
            raise invalid(f"Invalid select option, commas not allowed: {name}")
        options: list[dict[str, Any]] = prop[kind]["options"]
        for option in options:
            if option["name"] == name:
                return option
        if kind == "status":
            raise invalid(f'Invalid status option. Status option "{name}" does not exist".')
        option = self._option(name)
        options.append(option)
        return option

    @staticmethod
    def _option(name: str) -> dict[str, Any]:
        return {"id": uuid.uuid4().hex[:4], "name": name, "color": COLORS[len(name) % len(COLORS)]}

    @staticmethod
    def _date(value: Any, where: str) -> Any:
        if value is None:
            return None
        if not isinstance(value, dict) or not isinstance(value.get("start"), str):
            raise failed(f"{where}.start", "should be defined", value)
        for key in ("start", "end"):
            text = value.get(key)
            if key == "end" and text is None:
                continue
            try:
                datetime.fromisoformat(str(text))
            except ValueError:
                raise failed(
                    f"{where}.{key}", "should be a valid ISO 8601 date string", text
                ) from None
        return {
            "start": value["start"],
            "end": value.get("end"),
            "time_zone": value.get("time_zone"),
        }

    @staticmethod
    def _rich_text(value: Any, where: str) -> list[dict[str, Any]]:
        if not isinstance(value, list):
            raise failed(where, "should be an array", value)
        if len(value) > 100:
            raise failed(f"{where}.length", "should be ≤ `100`", len(value))
        for index, item in enumerate(value):
            content = item.get("text", {}).get("content") if isinstance(item, dict) else None
            if not isinstance(content, str):
                raise failed(f"{where}[{index}].text.content", "should be a string", content)
            if len(content) > MAX_TEXT:
                raise failed(
                    f"{where}[{index}].text.content.length",
                    f"should be ≤ `{MAX_TEXT}`",
                    len(content),
                )
        return rich_text_answer(value)

    def _children(self, blocks: Any) -> list[dict[str, Any]]:
        if not isinstance(blocks, list):
            raise failed("body.children", "should be an array", blocks)
        if len(blocks) > MAX_CHILDREN:
            raise failed("body.children.length", f"should be ≤ `{MAX_CHILDREN}`", len(blocks))
        stored = []
        for index, block in enumerate(blocks):
            kind = block.get("type") if isinstance(block, dict) else None
            if not isinstance(kind, str) or not isinstance(block.get(kind), dict):
                raise invalid(
                    f"body failed validation: body.children[{index}] should be a block object."
                )
            content = dict(block[kind])
            if kind in RICH_TEXT_BLOCKS:
                where = f"body.children[{index}].{kind}.rich_text"
                content["rich_text"] = self._rich_text(content.get("rich_text"), where)
            stored.append({"object": "block", "id": str(uuid.uuid4()), "type": kind, kind: content})
        return stored

    @staticmethod
    def _icon(icon: Any) -> Any:
        if icon is None:
            return None
        if isinstance(icon, dict) and isinstance(icon.get("emoji"), str):
            return {"type": "emoji", "emoji": icon["emoji"]}
        if isinstance(icon, dict) and isinstance(icon.get("external", {}).get("url"), str):
            return {"type": "external", "external": {"url": icon["external"]["url"]}}
        raise failed("body.icon", "should be an emoji or external file", icon)

    @staticmethod
    def _cover(cover: Any) -> Any:
        if cover is None:
            return None
        if isinstance(cover, dict) and isinstance(cover.get("external", {}).get("url"), str):
            return {"type": "external", "external": {"url": cover["external"]["url"]}}
        raise failed("body.cover", "should be an external file", cover)

    # --- queries --------------------------------------------------------------------------

    def _query(self, database: dict[str, Any], body: dict[str, Any] | None) -> dict[str, Any]:
        body = body or {}
        page_size = body.get("page_size", 100)
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise failed("body.page_size", "should be a positive integer", page_size)
        if page_size > 100:
            raise failed("body.page_size", "should be ≤ `100`", page_size)
        schema = database["properties"]
        pages = self.pages_of(database["id"])
        if body.get("filter") is not None:
            matches(schema, None, body["filter"], "body.filter")
            pages = [p for p in pages if matches(schema, p, body["filter"], "body.filter")]
        for sort in reversed(body.get("sorts") or []):
            pages = sort_pages(schema, pages, sort)
        start = 0
        cursor = body.get("start_cursor")
        if cursor is not None:
            ids = [page["id"] for page in pages]
            if cursor not in ids:
                raise invalid(f"start_cursor provided is invalid: {cursor}")
            start = ids.index(cursor)
        window = pages[start : start + page_size]
        rest = pages[start + page_size :]
        return {
            "object": "list",
            "results": window,
            "next_cursor": rest[0]["id"] if rest else None,
            "has_more": bool(rest),
            "type": "page_or_database",
            "page_or_database": {},
        }


def error_body(status: int, code: str, message: str) -> dict[str, Any]:
    return {
        "object": "error",
        "status": status,
        "code": code,
        "message": message,
        "request_id": str(uuid.uuid4()),
    }


def rich_text_answer(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rich text as Notion answers it: with annotations and plain_text."""
    return [
        {
            "type": "text",
            "text": {"content": item["text"]["content"], "link": item["text"].get("link")},
            "annotations": {
                "bold": False,
                "italic": False,
                "strikethrough": False,
                "underline": False,
                "code": False,
                "color": "default",
                **item.get("annotations", {}),
            },
            "plain_text": item["text"]["content"],
            "href": None,
        }
        for item in items
    ]


def empty_value(prop: dict[str, Any]) -> dict[str, Any]:
    kind = prop["type"]
    if kind in ("title", "rich_text", "multi_select", "people", "relation", "files"):
        return {kind: []}
    if kind == "checkbox":
        return {kind: False}
    return {kind: None}


# --- filters and sorts -------------------------------------------------------------------


def plain(prop: dict[str, Any]) -> Any:
    kind = prop["type"]
    value = prop[kind]
    if kind in ("title", "rich_text"):
        return "".join(item["plain_text"] for item in value)
    if kind in ("select", "status"):
        return value["name"] if value else None
    if kind == "multi_select":
        return [option["name"] for option in value]
    if kind == "date":
        return value["start"] if value else None
    return value


def matches(
    schema: dict[str, Any], page: dict[str, Any] | None, condition: Any, where: str
) -> bool:
    """Whether `page` passes the filter; with no page, only check the filter, as Notion
    does before it looks at any page."""
    if not isinstance(condition, dict):
        raise failed(where, "should be an object", condition)
    for compound, combine in (("and", all), ("or", any)):
        if compound in condition:
            parts = condition[compound]
            if not isinstance(parts, list):
                raise failed(f"{where}.{compound}", "should be an array", parts)
            return combine([matches(schema, page, c, f"{where}.{compound}") for c in parts])
    if "timestamp" in condition:
        kind = condition["timestamp"]
        if kind not in ("created_time", "last_edited_time"):
            raise failed(f"{where}.timestamp", "should be created_time or last_edited_time", kind)
        return compare(kind, page[kind] if page else None, condition.get(kind), where)
    name = condition.get("property")
    if name not in schema:
        raise invalid(f"Could not find property with name or id: {name}")
    prop = schema[name]
    kind = prop["type"]
    if kind not in condition:
        given = next((k for k in condition if k != "property"), "undefined")
        raise invalid(
            f"body failed validation: {where}.{given} should be not present, the property "
            f"{name} is of type {kind}."
        )
    value = plain(page["properties"][name]) if page else None
    return compare(kind, value, condition[kind], f"{where}.{kind}")


def compare(kind: str, value: Any, test: Any, where: str) -> bool:
    if not isinstance(test, dict) or len(test) != 1:
        raise invalid(f"body failed validation: {where} should have exactly one condition.")
    ((operator, operand),) = test.items()
    empty = value in (None, "", [])
    checks = {
        "is_empty": lambda: empty,
        "is_not_empty": lambda: not empty,
        "equals": lambda: value == operand,
        "does_not_equal": lambda: value != operand,
        "contains": lambda: operand in (value or ""),
        "does_not_contain": lambda: operand not in (value or ""),
        "starts_with": lambda: str(value or "").startswith(operand),
        "ends_with": lambda: str(value or "").endswith(operand),
        "greater_than": lambda: not empty and value > operand,
        "less_than": lambda: not empty and value < operand,
        "greater_than_or_equal_to": lambda: not empty and value >= operand,
        "less_than_or_equal_to": lambda: not empty and value <= operand,
        "before": lambda: not empty and value < operand,
        "after": lambda: not empty and value > operand,
        "on_or_before": lambda: not empty and value <= operand,
        "on_or_after": lambda: not empty and value >= operand,
    }
    check = checks.get(operator)
    if check is None:
        raise invalid(
            f"body failed validation: {where}.{operator} is not a valid {kind} filter condition."
        )
    return bool(check())


def sort_pages(
    schema: dict[str, Any], pages: list[dict[str, Any]], sort: Any
) -> list[dict[str, Any]]:
    if not isinstance(sort, dict) or sort.get("direction") not in ("ascending", "descending"):
        raise invalid(
            "body failed validation: body.sorts[].direction should be `ascending` or `descending`."
        )
    descending = sort["direction"] == "descending"
    if "timestamp" in sort:
        return sorted(pages, key=lambda page: page[sort["timestamp"]], reverse=descending)
    name = sort.get("property")
    if name not in schema:
        raise invalid(f"Could not find sort property with name or id: {name}")
    present = [p for p in pages if plain(p["properties"][name]) is not None]
    missing = [p for p in pages if plain(p["properties"][name]) is None]
    ordered = sorted(present, key=lambda page: plain(page["properties"][name]), reverse=descending)
    return ordered + missing


# --- HTTP ---------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    notion: FakeNotion

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        path = self.path.split("?", 1)[0]
        status, body, extra = self.notion.serve(self.command, path, headers, raw)
        content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        content_type = "text/html" if isinstance(body, str) else "application/json; charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(content)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_POST = do_PATCH = do_DELETE = _handle


@contextlib.contextmanager
def serve_notion() -> Iterator[FakeNotion]:
    """A fresh fake Notion on 127.0.0.1 until the block ends (for wider-scoped fixtures)."""
    notion = FakeNotion()
    handler = type("NotionHandler", (_Handler,), {"notion": notion})
    http = ThreadedHttpServer(handler).start()
    notion.base_url = f"{http.base_url}/v1"
    try:
        yield notion
    finally:
        http.stop()


@pytest.fixture
def fake_notion() -> Iterator[FakeNotion]:
    """A fresh fake Notion on 127.0.0.1; its API base URL is `fake_notion.base_url`."""
    with serve_notion() as notion:
        yield notion
