"""Live connection tests for credentials: the cheapest real call that proves one works.

The API makes these calls itself, through the same connector clients and the same outbound
guard as the worker (`HTTP_ALLOWED_HOSTS`), so a credential cannot be used to probe an
internal address either.
"""

from collections.abc import Awaitable, Callable
from typing import Any

from api.schemas import CredentialTestResult
from connectors import email, llm, notion, s3, sheets, slack
from connectors.errors import ConnectorError
from connectors.netguard import GuardedTransport
from core.config import Settings
from core.credential_kinds import secret_values
from core.redaction import redact

Check = Callable[[dict[str, Any], Settings], Awaitable[str]]


async def _smtp(data: dict[str, Any], settings: Settings) -> str:
    return await email.test_connection(
        data,
        allowed_hosts=settings.http_allowed_hosts,
        timeout_seconds=settings.connector_timeout_seconds,
    )


async def _openai(data: dict[str, Any], settings: Settings) -> str:
    return await llm.test_connection(
        data,
        allowed_hosts=settings.http_allowed_hosts,
        default_base_url=settings.openai_base_url,
        timeout_seconds=settings.connector_timeout_seconds,
    )


async def _slack(data: dict[str, Any], settings: Settings) -> str:
    return await slack.test_connection(
        data,
        api_url=settings.slack_api_url,
        allowed_hosts=settings.http_allowed_hosts,
        timeout_seconds=settings.connector_timeout_seconds,
    )


async def _notion(data: dict[str, Any], settings: Settings) -> str:
    transport = GuardedTransport(settings.http_allowed_hosts)
    try:
        return await notion.test_connection(
            data,
            base_url=settings.notion_api_url,
            version=settings.notion_version,
            transport=transport,
            timeout_seconds=settings.connector_timeout_seconds,
        )
    finally:
        await transport.aclose()


async def _s3(data: dict[str, Any], settings: Settings) -> str:
    return await s3.test_connection(
        data,
        allowed_hosts=settings.http_allowed_hosts,
        timeout_seconds=settings.connector_timeout_seconds,
    )


def _google(kind: str) -> Check:
    async def check(data: dict[str, Any], settings: Settings) -> str:
        return await sheets.test_connection(
            kind,
            data,
            sheets_api_url=settings.google_sheets_api_url,
            token_url=settings.google_token_url,
            allowed_hosts=settings.http_allowed_hosts,
            timeout_seconds=settings.connector_timeout_seconds,
        )

    return check


CHECKS: dict[str, Check] = {
    "smtp": _smtp,
    "openai": _openai,
    "slack": _slack,
    "notion": _notion,
    "google_service_account": _google("google_service_account"),
    "google_oauth_token": _google("google_oauth_token"),
    "s3": _s3,
}
NOT_LIVE = {
    "bearer": "a bearer token is not tied to one service: it is checked on its first use",
    "basic": "a username and password are not tied to one service: checked on first use",
    "api_key_header": "an API-key header is not tied to one service: checked on first use",
}


async def check_connection(
    kind: str, data: dict[str, Any], settings: Settings
) -> CredentialTestResult:
    """Contact the credential's service where its kind allows; never raises for a failure."""
    check = CHECKS.get(kind)
    if check is None:
        reason = NOT_LIVE.get(kind, f"no live test for kind '{kind}' yet")
        return CredentialTestResult(ok=True, live=False, message=f"stored and valid; {reason}")
    # An incoming webhook cannot be tested without posting: only its host is vetted.
    live = not (kind == "slack" and not data.get("bot_token"))
    secrets = secret_values(kind, data)  # a service may quote what it was sent
    try:
        message = await check(data, settings)
    except ConnectorError as error:
        return CredentialTestResult(ok=False, live=live, message=redact(error.message, secrets))
    return CredentialTestResult(ok=True, live=live, message=redact(message, secrets))
