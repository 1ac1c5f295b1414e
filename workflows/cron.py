"""Validation of the five-field cron expressions Temporal Schedules accept."""

import re

from workflows.durations import parse_duration

MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
_MONTHS = "jan feb mar apr may jun jul aug sep oct nov dec".split()
_DAYS = "sun mon tue wed thu fri sat".split()
_FIELDS: list[tuple[str, int, int, list[str]]] = [
    ("minute", 0, 59, []),
    ("hour", 0, 23, []),
    ("day of month", 1, 31, []),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
]
_TERM = re.compile(r"(\*|[a-z0-9]+(?:-[a-z0-9]+)?)(?:/(\d+))?")


def check_cron(expression: str) -> None:
    """Raise ValueError naming the bad field if `expression` is not a valid cron string."""
    text = expression.strip().lower()
    if text in MACROS:
        return
    if text.startswith("@every "):
        _check_every(text.removeprefix("@every ").strip())
        return
    fields = text.split()
    if len(fields) != 5:
        count = f"{len(fields)} field" + ("" if len(fields) == 1 else "s")
        raise ValueError(
            f"{expression!r} has {count}; a cron expression has 5 "
            "(minute hour day-of-month month day-of-week), or use @daily, @hourly, …"
        )
    for value, (name, low, high, names) in zip(fields, _FIELDS, strict=True):
        for term in value.split(","):
            _check_term(term, name, low, high, names)


def _check_every(interval: str) -> None:
    """`@every <interval>[/<offset>]`, e.g. `@every 15m` or `@every 1h/5m`."""
    every, _, offset = interval.partition("/")
    try:
        parse_duration(every)
        if offset:
            parse_duration(offset)
    except ValueError as error:
        raise ValueError(f"@every: {error}") from None


def _check_term(term: str, name: str, low: int, high: int, names: list[str]) -> None:
    match = _TERM.fullmatch(term)
    if not match:
        raise ValueError(f"{name} field: {term!r} is not a valid cron term")
    span, step = match.groups()
    if step is not None and int(step) == 0:
        raise ValueError(f"{name} field: step must be at least 1 in {term!r}")
    if span == "*":
        return
    bounds = [_cron_number(part, name, low, high, names) for part in span.split("-")]
    if len(bounds) == 2 and bounds[0] > bounds[1]:
        raise ValueError(f"{name} field: range {span!r} runs backwards")


def _cron_number(part: str, name: str, low: int, high: int, names: list[str]) -> int:
    if part in names:
        return names.index(part) + (1 if name == "month" else 0)
    if not part.isdigit():
        raise ValueError(f"{name} field: {part!r} is not a number")
    number = int(part)
    if not low <= number <= high:
        raise ValueError(f"{name} field: {number} is outside {low}-{high}")
    return number
