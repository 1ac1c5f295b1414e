"""Scrubbing known secret values out of data that is about to leave (see
`activities.secret_redaction` for why a service's answer can hold one)."""

from collections.abc import Iterable
from typing import Any

REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 4
"""Shorter values are left alone: scrubbing them would mangle ordinary text and hide nothing."""


def redact(value: Any, secrets: Iterable[str]) -> Any:
    """`value` (JSON data) with every occurrence of every secret replaced, keys included."""
    scrubbed = sorted(
        {secret for secret in secrets if len(secret) >= MIN_SECRET_LENGTH}, key=len, reverse=True
    )
    return _redact(value, scrubbed) if scrubbed else value


def _redact(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, dict):
        return {_redact(key, secrets): _redact(item, secrets) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(item, secrets) for item in value]
    return value
