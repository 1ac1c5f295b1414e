"""A Notion REST API client: create pages in databases, query databases, check a token.

Callers give plain values ("Done", 3, "2026-12-01", ["a", "b"]); the client turns them
into Notion's property value objects using the target database's schema, and turns the
property objects Notion answers with back into plain values. Failures become
`ConnectorError`s that carry Notion's own error code and message and say whether a retry
can help; the token is never part of a message.
"""

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

import httpx

from connectors.errors import ConnectorError, one_line
from connectors.http import parse_retry_after

MAX_TEXT = 2000
"""Notion's limit on the `content` of one rich text object; longer text is split."""
MESSAGE_CHARS = 500

_HEADER_SAFE = re.compile(r"^[\x21-\x7e]+$")
_NETWORK_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
_COMPUTED = frozenset(
    {
        "formula",
        "rollup",
        "created_time",
        "created_by",
        "last_edited_time",
        "last_edited_by",
        "unique_id",
        "button",
        "verification",
    }
)
_BLANK_IS_EMPTY = frozenset(
    {"number", "select", "status", "date", "url", "email", "phone_number", "people", "relation"}
)
"""Types where blank text (what a template renders for a missing value) clears the value."""
_KINDS_BY_CODE = {
    "unauthorized": "NotionUnauthorized",
    "restricted_resource": "NotionUnauthorized",
    "object_not_found": "NotionNotFound",
    "rate_limited": "NotionRateLimited",
    "conflict_error": "NotionConflict",
}
_HINTS = {
    "unauthorized": "check the credential's integration token",
    "restricted_resource": "the integration lacks the capability for this (e.g. insert content)",
    "object_not_found": "is it shared with the integration? (••• menu → Connections)",
}


@dataclass(frozen=True)
class QueryResult:
    pages: list[dict[str, Any]]
    """Notion page objects, as Notion sent them."""
    has_more: bool
    """Whether the database holds more matching pages than were fetched."""
    next_cursor: str | None
    """Where a later query continues (`start_cursor`) when `has_more`."""


class NotionClient:
    """Calls Notion on behalf of whichever integration token each call is given."""

    def __init__(
        self,
        *,
        base_url: str,
        version: str,
        transport: httpx.AsyncBaseTransport,
        timeout_seconds: float = 60.0,
    ) -> None:
        """`transport` decides where connections may go (the worker gives a
        `GuardedTransport`); the client ignores proxy environment variables, which would
        resolve hosts behind the guard's back."""
        self._version = version
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/",
            transport=transport,
            trust_env=False,
            timeout=httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 10.0)),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> "NotionClient":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def me(self, token: str) -> dict[str, Any]:
        """The bot user the token belongs to (`GET /users/me`)."""
        return await self._call(token, "GET", "users/me", action="reading the token's bot user")

    async def retrieve_database(self, token: str, database_id: str) -> dict[str, Any]:
        """The database object, whose `properties` is its schema."""
        return await self._call(
            token,
            "GET",
            f"databases/{_segment(database_id)}",
            action=f"reading database {database_id}",
        )

    async def create_page(
        self,
        token: str,
        *,
        database_id: str | None = None,
        page_id: str | None = None,
        title: str | None = None,
        properties: Mapping[str, Any] | None = None,
        paragraphs: Sequence[str] = (),
        blocks: Sequence[Mapping[str, Any]] = (),
        icon: str | Mapping[str, Any] | None = None,
        cover: str | Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Create a page in a database (plain values converted with its schema) or under a
        page (which only has a title); returns the page object Notion answers with."""
        if (database_id is None) == (page_id is None):
            raise _invalid("give exactly one of database_id and page_id")
        values = dict(properties or {})
        if database_id is not None:
            database = await self.retrieve_database(token, database_id)
            parent: dict[str, Any] = {"database_id": database_id}
            converted = database_properties(_schema_of(database), values, title)
        else:
            parent = {"page_id": str(page_id)}
            converted = page_properties(values, title)
        body: dict[str, Any] = {"parent": parent, "properties": converted}
        children = [*paragraph_blocks(paragraphs), *blocks]
        if children:
            body["children"] = children
        if icon is not None:
            body["icon"] = icon_object(icon)
        if cover is not None:
            body["cover"] = cover_object(cover)
        where = f"database {database_id}" if database_id else f"page {page_id}"
        return await self._call(
            token, "POST", "pages", json_body=body, action=f"creating a page in {where}"
        )

    async def query_database(
        self,
        token: str,
        database_id: str,
        *,
        filter: Mapping[str, Any] | None = None,
        sorts: Sequence[Mapping[str, Any]] = (),
        limit: int = 100,
        page_size: int = 100,
        start_cursor: str | None = None,
    ) -> QueryResult:
        """Up to `limit` matching pages, following `next_cursor` from page to page."""
        pages: list[dict[str, Any]] = []
        cursor, has_more = start_cursor, False
        while len(pages) < limit:
            body: dict[str, Any] = {"page_size": min(page_size, limit - len(pages))}
            if filter:
                body["filter"] = filter
            if sorts:
                body["sorts"] = list(sorts)
            if cursor:
                body["start_cursor"] = cursor
            answer = await self._call(
                token,
                "POST",
                f"databases/{_segment(database_id)}/query",
                json_body=body,
                action=f"querying database {database_id}",
            )
            results = _list_of_pages(answer, database_id)
            pages.extend(results[: limit - len(pages)])
            cursor = (
                answer.get("next_cursor") if isinstance(answer.get("next_cursor"), str) else None
            )
            has_more = bool(answer.get("has_more")) and cursor is not None
            if not has_more or not results:
                break
        return QueryResult(pages, has_more, cursor if has_more else None)

    async def _call(
        self,
        token: str,
        method: str,
        path: str,
        *,
        action: str,
        json_body: Any = None,
    ) -> dict[str, Any]:
        headers = {
            "Authorization": f"Bearer {_checked_token(token)}",
            "Notion-Version": self._version,
        }
        content = None
        if json_body is not None:
            content = json.dumps(json_body, ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"
        try:
            response = await self._http.request(method, path, content=content, headers=headers)
        except _NETWORK_ERRORS as error:
            detail = _one_line(str(error)) or "no detail"
            raise ConnectorError(
                f"Notion: {action} failed: {type(error).__name__}: {detail}",
                retryable=True,
                kind="NotionNetworkError",
            ) from error
        except httpx.HTTPError as error:
            raise ConnectorError(
                f"Notion: {action} failed: {type(error).__name__}",
                retryable=False,
                kind="NotionRequestError",
            ) from error
        if not response.is_success:
            raise status_error(response, action)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise ConnectorError(
                f"Notion: {action}: the answer ({response.status_code}) is not a JSON object",
                retryable=False,
                kind="NotionBadAnswer",
            )
        return answer


async def test_connection(
    credential: Mapping[str, Any],
    *,
    base_url: str,
    version: str,
    transport: httpx.AsyncBaseTransport,
    timeout_seconds: float = 30.0,
) -> str:
    """Prove a `notion` credential works with the cheapest call there is (`GET /users/me`)."""
    token = credential.get("token")
    if hasattr(token, "get_secret_value"):
        token = token.get_secret_value()
    if not isinstance(token, str) or not token:
        raise _invalid("the credential has no token")
    async with NotionClient(
        base_url=base_url, version=version, transport=transport, timeout_seconds=timeout_seconds
    ) as client:
        me = await client.me(token)
    name = me.get("name") or "(unnamed)"
    if me.get("type") != "bot":
        return f"connected as {name}"
    bot = me.get("bot") if isinstance(me.get("bot"), dict) else {}
    workspace = bot.get("workspace_name")
    return f"connected as bot {name}" + (f" in workspace {workspace}" if workspace else "")


# --- errors -------------------------------------------------------------------------------


def status_error(response: httpx.Response, action: str) -> ConnectorError:
    """The error for a non-2xx answer, from Notion's `{object: "error", code, message}` body.

    429 (rate_limited, with Retry-After), 409 (conflict_error, which Notion says to retry)
    and 5xx are retryable; every other 4xx is a mistake a retry cannot fix.
    """
    status = response.status_code
    code, message = _error_body(response)
    retryable = status == 429 or status >= 500 or code == "conflict_error"
    parts = [f"Notion: {action} failed: {status} {code or response.reason_phrase}"]
    if message:
        parts.append(f": {message}")
    if code in _HINTS:
        parts.append(f" ({_HINTS[code]})")
    if status >= 500:
        kind = "NotionUnavailable"
    else:
        kind = _KINDS_BY_CODE.get(code or "", "NotionInvalidRequest")
    return ConnectorError(
        "".join(parts),
        retryable=retryable,
        retry_after=parse_retry_after(response.headers.get("retry-after")) if retryable else None,
        kind=kind,
    )


def _error_body(response: httpx.Response) -> tuple[str | None, str]:
    try:
        body = response.json()
    except ValueError:
        return None, _one_line(response.text)
    if isinstance(body, dict) and body.get("object") == "error":
        return str(body.get("code") or "") or None, _one_line(str(body.get("message") or ""))
    return None, _one_line(response.text)


def _one_line(text: str) -> str:
    return one_line(text, MESSAGE_CHARS)


def _invalid(message: str) -> ConnectorError:
    return ConnectorError(message, retryable=False, kind="NotionInvalidProperty")


def _segment(object_id: str) -> str:
    """An id as one URL path segment, whatever it holds."""
    return quote(object_id, safe="-")


def _checked_token(token: str) -> str:
    """Refuse a token httpx could not send, before its error message could quote it."""
    if not _HEADER_SAFE.match(token):
        raise ConnectorError(
            "the Notion token holds spaces or characters not allowed in an HTTP header",
            retryable=False,
            kind="NotionUnauthorized",
        )
    return token


def _schema_of(database: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    schema = database.get("properties")
    if not isinstance(schema, dict) or not all(
        isinstance(prop, dict) and isinstance(prop.get("type"), str) for prop in schema.values()
    ):
        raise ConnectorError(
            "Notion: the database answer has no property schema",
            retryable=False,
            kind="NotionBadAnswer",
        )
    return schema


def _list_of_pages(answer: Mapping[str, Any], database_id: str) -> list[dict[str, Any]]:
    results = answer.get("results")
    if not isinstance(results, list) or not all(isinstance(page, dict) for page in results):
        raise ConnectorError(
            f"Notion: querying database {database_id}: the answer has no list of results",
            retryable=False,
            kind="NotionBadAnswer",
        )
    return results


# --- plain values → Notion ----------------------------------------------------------------


def database_properties(
    schema: Mapping[str, Mapping[str, Any]], values: Mapping[str, Any], title: str | None
) -> dict[str, Any]:
    """Property values for a page of a database with this schema.

    Keys may be property names or ids. A value that is already a Notion property value
    object of the property's type (`{"select": {...}}` for a select) goes through as is.
    """
    names_by_id = {prop.get("id"): name for name, prop in schema.items()}
    converted: dict[str, Any] = {}
    for key, value in values.items():
        name = key if key in schema else names_by_id.get(key)
        if name is None:
            known = ", ".join(f"'{name}'" for name in schema)
            raise _invalid(f"the database has no property '{key}'; its properties: {known}")
        converted[name] = property_value(name, str(schema[name]["type"]), value)
    if title is not None:
        title_name = next((n for n, prop in schema.items() if prop["type"] == "title"), None)
        if title_name is None:
            raise _invalid("the database has no title property to put the title in")
        if title_name in converted:
            raise _invalid(f"both `title` and properties['{title_name}'] set the page title")
        converted[title_name] = {"title": rich_text(title)}
    return converted


def page_properties(values: Mapping[str, Any], title: str | None) -> dict[str, Any]:
    """Properties of a page under a page: its title is the only one."""
    extra = set(values) - {"title"}
    if extra:
        raise _invalid(f"a page under a page has only a title; not {', '.join(sorted(extra))}")
    if title is not None and "title" in values:
        raise _invalid("both `title` and properties['title'] set the page title")
    if title is not None:
        return {"title": {"title": rich_text(title)}}
    if "title" in values:
        return {"title": property_value("title", "title", values["title"])}
    return {}


def property_value(name: str, kind: str, value: Any) -> dict[str, Any]:
    """`{kind: …}` for one property, or a clear error naming it."""
    if isinstance(value, dict) and kind in value:
        return value
    if isinstance(value, dict) and value.keys() & (_CONVERTERS.keys() | _COMPUTED):
        given = ", ".join(sorted(value.keys() & (_CONVERTERS.keys() | _COMPUTED)))
        raise _invalid(f"property '{name}' is a {kind} property; a {given} value does not fit it")
    if kind in _COMPUTED:
        raise _invalid(f"property '{name}' is a {kind} property, which Notion computes")
    if isinstance(value, str) and not value.strip() and kind in _BLANK_IS_EMPTY:
        value = None
    converter = _CONVERTERS.get(kind)
    if converter is None:
        raise _invalid(
            f"property '{name}' is a {kind} property: give a Notion property value object "
            f'like {{"{kind}": ...}}'
        )
    try:
        return {kind: converter(value)}
    except (TypeError, ValueError) as error:
        raise _invalid(f"property '{name}' ({kind}): {error}") from None


def rich_text(text: Any) -> list[dict[str, Any]]:
    """Rich text objects for plain text, split at Notion's 2000-character limit."""
    if text is None:
        return []
    if isinstance(text, list) and all(isinstance(item, dict) for item in text):
        return text
    if isinstance(text, dict | list):
        raise TypeError("expected text")
    content = text if isinstance(text, str) else _text_of_scalar(text)
    return [
        {"type": "text", "text": {"content": content[start : start + MAX_TEXT]}}
        for start in range(0, len(content), MAX_TEXT)
    ]


def paragraph_blocks(paragraphs: Sequence[str]) -> list[dict[str, Any]]:
    return [
        {"object": "block", "type": "paragraph", "paragraph": {"rich_text": rich_text(text)}}
        for text in paragraphs
    ]


def icon_object(icon: str | Mapping[str, Any]) -> dict[str, Any]:
    """An emoji, or an image URL, as Notion's icon object; an object goes through as is."""
    if not isinstance(icon, str):
        return dict(icon)
    if icon.startswith(("https://", "http://")):
        return {"type": "external", "external": {"url": icon}}
    return {"type": "emoji", "emoji": icon}


def cover_object(cover: str | Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(cover, str):
        return dict(cover)
    if not cover.startswith(("https://", "http://")):
        raise _invalid("cover must be an image URL or a Notion file object")
    return {"type": "external", "external": {"url": cover}}


def _text_of_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise TypeError(f"expected text, got {type(value).__name__}")


def _number(value: Any) -> int | float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(f"expected a number, got {_json_type(value)}")
    if isinstance(value, str):
        try:
            value = int(value) if re.fullmatch(r"\s*[-+]?\d+\s*", value) else float(value)
        except ValueError:
            raise ValueError(f"expected a number, got the text {value[:50]!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("expected a finite number")
    return value


def _option(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TypeError(f"expected an option name, got {_json_type(value)}")
    name = str(value).strip()
    if not name:
        raise ValueError("expected an option name, got empty text")
    return {"name": name}


def _options(value: Any) -> list[dict[str, str]]:
    if value is None:
        return []
    names = value.split(",") if isinstance(value, str) else value
    if not isinstance(names, list):
        raise TypeError(f"expected a list of option names, got {_json_type(value)}")
    return [option for name in names if (option := _option(name)) is not None]


def _date(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return {"start": _iso_date(value)}
    if isinstance(value, dict) and isinstance(value.get("start"), str):
        extra = set(value) - {"start", "end", "time_zone"}
        if extra:
            raise ValueError(f"a date range has start, end and time_zone; not {sorted(extra)}")
        end = value.get("end")
        return {
            "start": _iso_date(value["start"]),
            "end": None if end is None else _iso_date(str(end)),
            **({"time_zone": value["time_zone"]} if value.get("time_zone") else {}),
        }
    raise TypeError(f"expected an ISO 8601 date or {{start, end}}, got {_json_type(value)}")


def _iso_date(text: str) -> str:
    text = text.strip()
    try:
        if len(text) == 10:
            date.fromisoformat(text)
        else:
            datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"expected an ISO 8601 date like 2026-12-01 or 2026-12-01T09:30:00Z, got {text[:40]!r}"
        ) from None
    return text


def _checkbox(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise TypeError(f"expected true or false, got {_json_type(value)}")


def _text_or_null(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else _text_of_scalar(value)
    return text or None


def _ids(value: Any) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    ids = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            ids.append(item["id"])
        elif isinstance(item, str) and item.strip():
            ids.append(item.strip())
        else:
            raise TypeError(f"expected ids, got {_json_type(item)}")
    return ids


def _people(value: Any) -> list[dict[str, str]]:
    return [{"object": "user", "id": user_id} for user_id in _ids(value)]


def _relation(value: Any) -> list[dict[str, str]]:
    return [{"id": page_id} for page_id in _ids(value)]


def _files(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    files = []
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, dict):
            files.append(item)
        elif isinstance(item, str) and item.startswith(("https://", "http://")):
            name = item.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or item
            files.append({"name": name[:100], "type": "external", "external": {"url": item}})
        else:
            raise TypeError(f"expected file URLs, got {_json_type(item)}")
    return files


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "title": rich_text,
    "rich_text": rich_text,
    "number": _number,
    "select": _option,
    "status": _option,
    "multi_select": _options,
    "date": _date,
    "checkbox": _checkbox,
    "url": _text_or_null,
    "email": _text_or_null,
    "phone_number": _text_or_null,
    "people": _people,
    "relation": _relation,
    "files": _files,
}


# --- Notion → plain values ----------------------------------------------------------------


def page_summary(page: Mapping[str, Any], *, simplify: bool = True) -> dict[str, Any]:
    """`{id, url, created_time, last_edited_time, properties}` of a page object."""
    properties = page.get("properties") if isinstance(page.get("properties"), dict) else {}
    return {
        "id": page.get("id"),
        "url": page.get("url"),
        "created_time": page.get("created_time"),
        "last_edited_time": page.get("last_edited_time"),
        "properties": simple_properties(properties) if simplify else properties,
    }


def simple_properties(properties: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: simple_value(prop) if isinstance(prop, dict) else prop
        for name, prop in properties.items()
    }


def simple_value(prop: Mapping[str, Any]) -> Any:
    """The plain JSON value of one property value object (the inverse of `property_value`)."""
    kind = prop.get("type")
    value = prop.get(kind) if isinstance(kind, str) else None
    if kind in ("title", "rich_text"):
        return _plain_text(value)
    if kind in ("select", "status"):
        return value.get("name") if isinstance(value, dict) else None
    if kind == "multi_select":
        return [option.get("name") for option in value or []]
    if kind == "date":
        return _simple_date(value)
    if kind in ("people", "relation"):
        return [item.get("id") for item in value or []]
    if kind == "files":
        return [_file_url(item) for item in value or []]
    if kind in ("created_by", "last_edited_by"):
        return value.get("id") if isinstance(value, dict) else None
    if kind in ("formula", "rollup"):
        return _computed(value)
    if kind == "unique_id" and isinstance(value, dict):
        prefix, number = value.get("prefix"), value.get("number")
        return f"{prefix}-{number}" if prefix else number
    if kind == "verification" and isinstance(value, dict):
        return value.get("state")
    return value


def _plain_text(items: Any) -> str:
    return "".join(
        str(item.get("plain_text", item.get("text", {}).get("content", "")))
        for item in items or []
        if isinstance(item, dict)
    )


def _simple_date(value: Any) -> Any:
    if not isinstance(value, dict):
        return None
    if value.get("end") is None and value.get("time_zone") is None:
        return value.get("start")
    return {key: value.get(key) for key in ("start", "end", "time_zone")}


def _file_url(item: Mapping[str, Any]) -> str | None:
    inner = item.get(str(item.get("type")))
    return inner.get("url") if isinstance(inner, dict) else None


def _computed(value: Any) -> Any:
    """A formula's or rollup's result: `{type: "number", number: 3}` → 3."""
    if not isinstance(value, dict):
        return value
    kind = value.get("type")
    inner = value.get(kind) if isinstance(kind, str) else None
    if kind == "date":
        return _simple_date(inner)
    if kind == "array":
        return [simple_value(item) for item in inner or [] if isinstance(item, dict)]
    return inner
