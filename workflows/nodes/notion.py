"""Node types of the notion connector: notion.create_page, notion.query_database."""

import re
from typing import Any, Self

from pydantic import Field, field_validator, model_validator

from workflows.node_type import NodeType, Params

MAX_CHILDREN = 100
"""Notion accepts at most 100 blocks in one request's `children`."""
MAX_QUERY_RESULTS = 1000
"""Keeps one query's output well under Temporal's payload size limit."""

_HEX_ID = re.compile(r"([0-9a-f]{32})(?![0-9a-f])")


def notion_id(value: str) -> str:
    """A Notion object id in its dashed form, from an id (dashed or not) or a Notion URL.

    Notion URLs end with the id, after the page's title: `…/Tasks-1a2b…?v=…`.
    """
    text = value.strip().lower()
    path = text.split("?", 1)[0].split("#", 1)[0]
    found = _HEX_ID.findall(path.replace("-", ""))
    if not found:
        raise ValueError("must be a Notion id (32 hex digits, dashes optional) or a Notion URL")
    raw = found[-1]
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


def _id_field(description: str) -> Any:
    return Field(default=None, min_length=1, max_length=2000, description=description)


class NotionCreatePageParams(Params):
    database_id: str | None = _id_field(
        "The database to add the page to (id or URL); its schema converts `properties`."
    )
    page_id: str | None = _id_field(
        "Or: the page to create the page under (id or URL); only `title` applies then."
    )
    title: str | None = Field(
        default=None,
        max_length=20_000,
        description="The page title; in a database it fills the title property, whatever its name.",
    )
    properties: dict[str, Any] = Field(
        default_factory=dict,
        description="Property name → value, as plain JSON: text, number, true/false, a date "
        "'2026-12-01' (or {start, end}), a list of option names for multi-select, user ids "
        "for people, page ids for relations, URLs for files; empty text or null clears a "
        'value. A Notion property value object (e.g. {"select": {"name": "Done"}}) is sent '
        "unchanged.",
    )
    content: str | None = Field(
        default=None,
        max_length=200_000,
        description="Plain text for the page body; each block of text separated by a blank "
        "line becomes a paragraph.",
    )
    blocks: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Notion block objects appended after `content`'s paragraphs.",
    )
    icon: str | dict[str, Any] | None = Field(
        default=None,
        description="An emoji, an image URL, or a Notion icon object.",
    )
    cover: str | dict[str, Any] | None = Field(
        default=None, description="An image URL, or a Notion file object."
    )
    simplify: bool = Field(
        default=True,
        description="Output property values as plain JSON; false: Notion's property objects.",
    )

    @field_validator("database_id", "page_id")
    @classmethod
    def _normalized_id(cls, value: str | None) -> str | None:
        return None if value is None else notion_id(value)

    @model_validator(mode="after")
    def _one_parent(self) -> Self:
        if (self.database_id is None) == (self.page_id is None):
            raise ValueError("give exactly one of database_id and page_id")
        if self.page_id is not None and set(self.properties) - {"title"}:
            raise ValueError(
                "a page under a page has no properties but its title: use `title`, "
                "or `database_id` to add a page to a database"
            )
        return self

    @model_validator(mode="after")
    def _children_fit_one_request(self) -> Self:
        paragraphs = len(paragraphs_of(self.content or ""))
        if paragraphs + len(self.blocks) > MAX_CHILDREN:
            raise ValueError(
                f"content and blocks make {paragraphs + len(self.blocks)} blocks; "
                f"Notion takes at most {MAX_CHILDREN} in one page creation"
            )
        return self


def paragraphs_of(text: str) -> list[str]:
    """The paragraphs of plain text: runs of lines separated by blank lines."""
    return [part.strip("\n") for part in re.split(r"\n(?:[ \t]*\n)+", text) if part.strip()]


class NotionQueryDatabaseParams(Params):
    database_id: str = Field(
        min_length=1, max_length=2000, description="The database to query (id or URL)."
    )
    filter: dict[str, Any] | None = Field(
        default=None,
        description="A Notion filter object, e.g. "
        '{"property": "Status", "status": {"equals": "Done"}}, or {"and": [...]}.',
    )
    sorts: list[dict[str, Any]] = Field(
        default_factory=list,
        description='Notion sort objects, e.g. [{"property": "Due", "direction": "ascending"}].',
    )
    limit: int = Field(
        default=100,
        ge=1,
        le=MAX_QUERY_RESULTS,
        description="The most pages to return; pages of results are fetched until it is reached.",
    )
    page_size: int = Field(
        default=100, ge=1, le=100, description="Pages asked of Notion per request."
    )
    start_cursor: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Continue an earlier query from its `next_cursor`.",
    )
    simplify: bool = Field(
        default=True,
        description="Output property values as plain JSON; false: Notion's property objects.",
    )

    @field_validator("database_id")
    @classmethod
    def _normalized_id(cls, value: str) -> str:
        return notion_id(value)


_SIMPLE_VALUES = (
    "text for title, rich_text, url, email and phone_number; a number; true/false for "
    "checkbox; the option name for select and status; a list of names for multi_select; "
    "'YYYY-MM-DD…' for a date, or {start, end, time_zone} for a range; lists of ids for "
    "people and relation; lists of URLs for files"
)

_SAMPLE_ID = "1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d"
SAMPLE_PAGE: dict[str, Any] = {
    "id": _SAMPLE_ID,
    "url": f"https://www.notion.so/Sample-page-{_SAMPLE_ID.replace('-', '')}",
    "created_time": "2026-01-01T09:00:00.000Z",
    "last_edited_time": "2026-01-01T09:00:00.000Z",
    "properties": {"Name": "Sample page", "Status": "In progress", "Tags": ["sample"]},
}


def _created_page_sample(params: dict[str, Any]) -> dict[str, Any]:
    """The page as the params would create it: its title and the properties given."""
    page = NotionCreatePageParams.model_validate(params)
    title = page.title or ""
    slug = "-".join(re.findall(r"[A-Za-z0-9]+", title)) or "Untitled"
    properties = {"title": title} if page.page_id else {"Name": title, **page.properties}
    return {
        **SAMPLE_PAGE,
        "url": f"https://www.notion.so/{slug}-{_SAMPLE_ID.replace('-', '')}",
        "properties": properties,
    }


NODE_TYPES: list[NodeType] = [
    NodeType(
        type="notion.create_page",
        title="Notion: create page",
        description="Add a page to a Notion database (its properties converted from plain "
        "values using the database's schema) or under a page, with optional paragraphs, "
        "blocks, icon and cover. 429 and 5xx answers are retried, honouring Retry-After.",
        params_model=NotionCreatePageParams,
        runs_in="activity",
        credential_kinds=("notion",),
        credential_required=True,
        output_description="{id, url, created_time, properties}; property values are "
        f"plain JSON: {_SIMPLE_VALUES}.",
        sample_output=SAMPLE_PAGE,
        sample_from=_created_page_sample,
    ),
    NodeType(
        type="notion.query_database",
        title="Notion: query database",
        description="List the pages of a Notion database matching a filter, in the given "
        "order, following Notion's pagination up to `limit` pages.",
        params_model=NotionQueryDatabaseParams,
        runs_in="activity",
        credential_kinds=("notion",),
        credential_required=True,
        output_description="{results: [{id, url, created_time, last_edited_time, "
        "properties}], count, has_more, next_cursor}; property values are plain JSON: "
        f"{_SIMPLE_VALUES}.",
        sample_output={
            "results": [SAMPLE_PAGE],
            "count": 1,
            "has_more": False,
            "next_cursor": None,
        },
    ),
]
