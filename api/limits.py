"""Limits on what a request body may be, checked before any handler runs."""

from typing import Any

from fastapi import Request

from api.errors import Unprocessable
from workflows.definition import MAX_RUN_DATA_BYTES, json_size

MAX_JSON_DEPTH = 64
"""How deeply a JSON body may nest. Far beyond any definition, input or webhook payload, and
well below what the API and the worker can serialize again (pydantic stops at 255 levels, and
a run's state nests its definition and inputs a few levels further down)."""


def json_depth(value: Any, stop_after: int) -> int:
    """How many levels of arrays and objects `value` nests, counted up to `stop_after + 1`."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > stop_after:
            break
        stack.extend((child, depth + 1) for child in children)
    return deepest


def refuse_nul(value: Any, location: list[str]) -> None:
    """422 when any string in `value`, key or value, holds a NUL character: PostgreSQL
    cannot store one in text or JSONB, and run inputs are stored as they come."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str) and "\x00" in item:
            message = "strings must not contain a NUL character (\\u0000)"
            raise Unprocessable([{"loc": location, "msg": message, "type": "nul_character"}])
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def refuse_oversized_run_data(**parts: Any) -> None:
    """422 when what a run is given to start with is over MAX_RUN_DATA_BYTES together."""
    size = json_size(parts)
    if size > MAX_RUN_DATA_BYTES:
        names = " and ".join(name for name, value in parts.items() if value)
        message = (
            f"the run's {names} are {size / 1024:.0f} KB; at most "
            f"{MAX_RUN_DATA_BYTES // 1024} KB (pass large data by URL)"
        )
        location = ["body", next(name for name, value in parts.items() if value)]
        raise Unprocessable([{"loc": location, "msg": message, "type": "run_data_too_large"}])


async def check_json_body(request: Request) -> None:
    """422 for a JSON body nested more than MAX_JSON_DEPTH levels deep.

    Too deep a body would be stored (a workflow, a run's row) and then fail to serialize in
    the answer or on its way to Temporal. A body that is not JSON is left to the route.
    """
    if not await request.body():
        return
    try:
        value = await request.json()  # cached on the request: the route does not parse again
    except RecursionError:
        depth = MAX_JSON_DEPTH + 1
    except ValueError:
        return
    else:
        depth = json_depth(value, MAX_JSON_DEPTH)
    if depth > MAX_JSON_DEPTH:
        raise Unprocessable(
            [
                {
                    "loc": ["body"],
                    "msg": f"JSON nested more than {MAX_JSON_DEPTH} levels deep",
                    "type": "json_too_deep",
                }
            ]
        )
