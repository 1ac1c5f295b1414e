"""Looking for a planted secret (a canary) in text that may hide it in base64."""

import base64
import binascii
import json
from collections.abc import Iterator
from typing import Any


def readable(text: str, canary: str) -> bool:
    """Whether `canary` can be read in `text` (JSON): as it is, or inside any base64 string."""
    if canary in text:
        return True
    return any(canary.encode() in _unbase64(value) for value in _strings(json.loads(text)))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _unbase64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return b""
