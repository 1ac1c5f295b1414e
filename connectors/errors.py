"""The one error type connectors raise, and how they quote a service's text in messages."""

import re


class ConnectorError(Exception):
    """A call to an external service failed.

    `retryable` says whether trying the same call again may succeed (5xx, 429, network
    trouble) or not (a 4xx, a refused target). `retry_after` is the delay in seconds the
    service asked for, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        kind: str = "ConnectorError",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after
        self.kind = kind


def caused_by(error: BaseException, cause: type[BaseException]) -> bool:
    """Whether `cause` is anywhere in the error's chain (clients wrap TLS failures twice)."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, cause):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def one_line(text: str, limit: int | None = None) -> str:
    """`text` on one line (runs of whitespace as one space), cut to `limit` characters."""
    line = re.sub(r"\s+", " ", text).strip()
    return line if limit is None or len(line) <= limit else line[: limit - 1] + "…"
