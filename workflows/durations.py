"""Durations written as `"500ms"`, `"30s"`, `"5m"`, `"2h"`, `"1d"` or compounds like `"1h30m"`."""

import re
from datetime import timedelta
from typing import Annotated

from pydantic import AfterValidator

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"(\d+)(ms|s|m|h|d)")
_WHOLE = re.compile(r"(?:\d+(?:ms|s|m|h|d))+")


def parse_duration(text: str) -> timedelta:
    """Parse a duration string; raises ValueError with a message fit for a user."""
    if not isinstance(text, str) or not _WHOLE.fullmatch(text.strip()):
        raise ValueError(
            f"{text!r} is not a duration; use a number and a unit, e.g. '500ms', '30s', "
            "'5m', '2h', '1d' or '1h30m'"
        )
    seconds = sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(text))
    if seconds <= 0:
        raise ValueError(f"{text!r} must be longer than zero")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"{text!r} is too long") from None


def _check_duration(text: str) -> str:
    parse_duration(text)
    return text


Duration = Annotated[str, AfterValidator(_check_duration)]
"""A string field that must hold a valid duration."""
