"""A Slack client: `chat.postMessage` and `auth.test` with a bot token, and incoming webhooks.

Slack's Web API answers most failures with HTTP 200 and `{"ok": false, "error": "<code>"}`;
incoming webhooks answer a plain-text code with a 4xx status. Both become `ConnectorError`s
naming Slack's code, with a hint for the common ones. Rate limits (HTTP 429 or
`ratelimited`) and outages are retryable and carry Slack's `Retry-After`.

Secrets (the bot token, the webhook URL, whose path is its secret) are never put in a
message: every text that leaves this module passes through `_Redactor`.
"""

import json
import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict

from connectors.errors import ConnectorError, one_line
from connectors.http import parse_retry_after
from connectors.netguard import GuardedTransport, TargetGuard

DEFAULT_API_URL = "https://slack.com/api"
DEFAULT_TIMEOUT_SECONDS = 30.0
MAX_ANSWER_BYTES = 1024 * 1024
SNIPPET_CHARS = 200

_RETRYABLE_CODES = frozenset(
    {"ratelimited", "rate_limited", "internal_error", "service_unavailable", "request_timeout"}
)
"""`ok: false` codes worth retrying. `fatal_error` is not among them: Slack says part of the
call may have succeeded, so a retry could post the message twice."""
_AUTH_CODES = frozenset(
    {
        "not_authed",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "missing_scope",
        "no_permission",
        "not_allowed_token_type",
    }
)
_HINTS = {
    "not_in_channel": "the bot is not a member of this channel: invite it (/invite @your-app) "
    "or give the app the chat:write.public scope",
    "channel_not_found": "no channel by that ID or name is visible to this token: use the "
    "channel ID (C0123ABCD), and invite the bot to private channels",
    "is_archived": "the channel is archived",
    "msg_too_long": "the text is too long for one message",
    "no_text": "give text or blocks",
    "invalid_blocks": "the blocks are not valid Block Kit",
    "invalid_blocks_format": "blocks must be a list of Block Kit objects",
    "too_many_attachments": "too many attachments for one message",
    "restricted_action": "a workspace setting prevents this app from posting here",
    "restricted_action_read_only_channel": "the channel is read-only for this app",
    "restricted_action_thread_only_channel": "the channel only accepts thread replies",
    "restricted_action_non_threadable_channel": "the channel does not allow threads",
    "ekm_access_denied": "workspace administrators have suspended posting",
    "not_authed": "no bot token reached Slack",
    "invalid_auth": "the bot token is not valid: check the credential",
    "account_inactive": "the token belongs to a deleted user or workspace",
    "token_revoked": "the bot token has been revoked: reinstall the app and update the credential",
    "token_expired": "the bot token has expired: refresh it and update the credential",
    "missing_scope": "the app lacks a scope: add it in the app's OAuth settings and reinstall",
    "not_allowed_token_type": "this method does not accept this kind of token; use a bot token",
    "ratelimited": "Slack is rate-limiting this app",
    "internal_error": "a transient error on Slack's side",
    "service_unavailable": "Slack is temporarily unavailable",
    "fatal_error": "Slack hit a serious error; the message may or may not have been posted",
}
_WEBHOOK_HINTS = {
    "invalid_payload": "Slack could not read the message (malformed JSON or blocks)",
    "no_text": "give text or blocks",
    "user_not_found": "the webhook's user no longer exists",
    "channel_not_found": "the webhook's channel no longer exists",
    "channel_is_archived": "the webhook's channel is archived",
    "action_prohibited": "a workspace administrator has restricted posting to this channel",
    "posting_to_general_channel_denied": "only admins may post to this channel",
    "too_many_attachments": "too many attachments for one message",
    "no_service": "the webhook was disabled or removed: create a new one",
    "no_service_id": "the webhook URL is incomplete",
    "no_team": "the webhook's workspace no longer exists",
    "team_disabled": "the webhook's workspace is disabled",
    "invalid_token": "the webhook URL's token is not valid",
}


class SlackMessage(BaseModel):
    """What a message says and how it is shown; `None` fields are not sent."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = None
    blocks: list[dict[str, Any]] | None = None
    thread_ts: str | None = None
    reply_broadcast: bool = False
    unfurl_links: bool | None = None
    unfurl_media: bool | None = None
    mrkdwn: bool | None = None
    username: str | None = None
    icon_emoji: str | None = None
    icon_url: str | None = None

    def api_payload(self, channel: str) -> dict[str, Any]:
        payload = self.model_dump(exclude_none=True, exclude={"reply_broadcast"})
        if self.reply_broadcast:
            payload["reply_broadcast"] = True
        return {"channel": channel, **payload}

    def webhook_payload(self) -> dict[str, Any]:
        """Incoming webhooks post as the app, to the channel chosen when it was installed."""
        fields = {"text", "blocks", "thread_ts", "unfurl_links", "unfurl_media", "mrkdwn"}
        return self.model_dump(exclude_none=True, include=fields)


class SlackClient:
    """One connection pool for every Slack call of a worker; all traffic goes through `transport`.

    `transport` is normally a `GuardedTransport`: the API base URL and the webhook URLs are
    configuration and user data, so they get the same SSRF vetting as `http.request`.
    """

    def __init__(
        self,
        *,
        api_url: str = DEFAULT_API_URL,
        transport: httpx.AsyncBaseTransport,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self._api_url = api_url.rstrip("/")
        self._transport = transport
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, 10.0))
        self._client = httpx.AsyncClient(
            transport=transport, timeout=self._timeout, trust_env=False, follow_redirects=False
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> "SlackClient":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def post_message(self, token: str, channel: str, message: SlackMessage) -> dict[str, Any]:
        """`chat.postMessage`; returns `{ok, channel, ts, message}` as Slack answered them."""
        answer = await self._call("chat.postMessage", token, message.api_payload(channel))
        return {key: answer.get(key) for key in ("ok", "channel", "ts", "message")}

    async def auth_test(self, token: str) -> dict[str, Any]:
        """`auth.test`: who the token is (`team`, `user`, `team_id`, `user_id`, `url`)."""
        return await self._call("auth.test", token, {})

    async def post_webhook(self, url: str, message: SlackMessage) -> dict[str, Any]:
        """Post to an incoming webhook; Slack answers `ok` as plain text, so there is no ts.

        The request goes straight to the guarded transport rather than through
        `httpx.AsyncClient.send`, which logs every request URL at INFO level, and a
        webhook URL is a secret.
        """
        redact = _Redactor([url])
        content = _json_bytes(message.webhook_payload())
        request = httpx.Request(
            "POST",
            url,
            content=content,
            headers={"Content-Type": "application/json; charset=utf-8"},
            extensions={"timeout": self._timeout.as_dict()},
        )
        where = "Slack incoming webhook"
        try:
            response = await self._transport.handle_async_request(request)
            try:
                body = await _read_capped(response)
            finally:
                await response.aclose()
        except httpx.HTTPError as exc:
            raise _transport_error(where, exc, redact) from None
        except ConnectorError as exc:
            raise ConnectorError(
                f"{where}: {redact(exc.message)}", retryable=exc.retryable, kind=exc.kind
            ) from None
        if 200 <= response.status_code < 300:
            return {"ok": True}
        raise _webhook_error(response, body, redact)

    async def _call(self, method: str, token: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """POST a Web API method with a JSON body; the answer when it says `ok: true`."""
        redact = _Redactor([token])
        where = f"Slack {method}"
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json; charset=utf-8",
        }
        try:
            async with self._client.stream(
                "POST", f"{self._api_url}/{method}", content=_json_bytes(payload), headers=headers
            ) as response:
                body = await _read_capped(response)
        except httpx.HTTPError as exc:
            raise _transport_error(where, exc, redact) from None
        answer = _api_answer(where, response, body, redact)
        if answer.get("ok") is True:
            return answer
        raise _api_error(where, response, answer, redact)


async def test_connection(
    credential: Mapping[str, Any],
    *,
    api_url: str = DEFAULT_API_URL,
    allowed_hosts: Collection[str] = (),
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    transport: httpx.AsyncBaseTransport | None = None,
) -> str:
    """Prove a `slack` credential works without posting anything; a short human message.

    A bot token is checked with `auth.test`. An incoming webhook cannot be checked without
    posting a message, so only its host is vetted (it resolves and is not refused).
    """
    token = credential.get("bot_token")
    webhook_url = credential.get("webhook_url")
    if not token and not webhook_url:
        raise ConnectorError(
            "the credential has neither a bot_token nor a webhook_url",
            retryable=False,
            kind="SlackCredentialError",
        )
    webhook_note = (
        "the incoming webhook cannot be tested without posting a message; it will be "
        "used as is on the first run"
    )
    if webhook_url:
        await _vet_webhook_host(str(webhook_url), allowed_hosts)
    if not token:
        return f"Not tested: {webhook_note}."
    async with SlackClient(
        api_url=api_url,
        transport=transport or GuardedTransport(allowed_hosts),
        timeout=timeout_seconds,
    ) as slack:
        who = await slack.auth_test(str(token))
    connected = f"Connected to workspace {who.get('team', '?')} as {who.get('user', '?')}"
    return f"{connected}; {webhook_note}." if webhook_url else f"{connected}."


async def _vet_webhook_host(url: str, allowed_hosts: Collection[str]) -> None:
    redact = _Redactor([url])
    try:
        await TargetGuard(allowed_hosts).resolve(url)
    except ConnectorError as exc:
        raise ConnectorError(
            f"the webhook URL is refused: {redact(exc.message)}", retryable=False, kind=exc.kind
        ) from None
    except OSError as exc:
        raise ConnectorError(
            f"the webhook URL's host does not resolve: {redact(str(exc))}",
            retryable=True,
            kind="SlackNetworkError",
        ) from None


class _Redactor:
    """Replaces secrets (and a URL's path, which holds a webhook's secret) in texts."""

    def __init__(self, secrets: Iterable[str]) -> None:
        pieces: set[str] = set()
        for secret in secrets:
            if not secret:
                continue
            pieces.add(secret)
            path = httpx.URL(secret).path if secret.startswith(("http://", "https://")) else ""
            if len(path) > 1:
                pieces.add(path)
        self._pieces = sorted(pieces, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for piece in self._pieces:
            text = text.replace(piece, "<redacted>")
        return text


def _json_bytes(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


async def _read_capped(response: httpx.Response) -> bytes:
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > MAX_ANSWER_BYTES:
            break
    return bytes(body[:MAX_ANSWER_BYTES])


def _api_answer(
    where: str, response: httpx.Response, body: bytes, redact: _Redactor
) -> dict[str, Any]:
    """The JSON object Slack answered, or the error an HTTP-level failure means."""
    status = response.status_code
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    try:
        answer = json.loads(body) if body.strip() else None
    except ValueError:
        answer = None
    if status == 429:
        code = answer.get("error") if isinstance(answer, dict) else None
        raise ConnectorError(
            f"{where}: rate-limited by Slack (HTTP 429{', ' + code if code else ''}); "
            f"retry after {_seconds(retry_after)}",
            retryable=True,
            retry_after=retry_after,
            kind="SlackRateLimited",
        )
    if status >= 500:
        raise ConnectorError(
            f"{where}: Slack answered HTTP {status}{_snippet(body, redact)}",
            retryable=True,
            retry_after=retry_after,
            kind="SlackUnavailable",
        )
    if isinstance(answer, dict) and ("ok" in answer):
        return answer
    raise ConnectorError(
        f"{where}: unexpected answer (HTTP {status}, not a Slack API response); "
        f"is the Slack API URL right?{_snippet(body, redact)}",
        retryable=False,
        kind="SlackBadResponse",
    )


def _api_error(
    where: str, response: httpx.Response, answer: Mapping[str, Any], redact: _Redactor
) -> ConnectorError:
    code = str(answer.get("error") or "unknown_error")
    hint = _HINTS.get(code, "")
    if code == "missing_scope":
        needed, provided = answer.get("needed"), answer.get("provided")
        hint = f"{hint} (needed: {needed or '?'}; the token has: {provided or 'none'})"
    details = _response_messages(answer)
    message = f"{where} failed: {code}" + (f" ({hint})" if hint else "") + details
    retryable = code in _RETRYABLE_CODES
    retry_after = parse_retry_after(response.headers.get("retry-after")) if retryable else None
    if code in ("ratelimited", "rate_limited"):
        kind = "SlackRateLimited"
    elif retryable:
        kind = "SlackUnavailable"
    elif code in _AUTH_CODES:
        kind = "SlackAuthError"
    else:
        kind = "SlackApiError"
    return ConnectorError(redact(message), retryable=retryable, retry_after=retry_after, kind=kind)


def _response_messages(answer: Mapping[str, Any]) -> str:
    """Slack's own explanations (e.g. which block is invalid), when it gives them."""
    metadata = answer.get("response_metadata")
    messages = metadata.get("messages") if isinstance(metadata, dict) else None
    if not isinstance(messages, list) or not messages:
        return ""
    return ": " + "; ".join(str(item) for item in messages[:5])


def _webhook_error(response: httpx.Response, body: bytes, redact: _Redactor) -> ConnectorError:
    status = response.status_code
    code = re.sub(r"\s+", " ", body.decode("utf-8", errors="replace")).strip()[:SNIPPET_CHARS]
    code = redact(code) or "no detail"
    hint = _WEBHOOK_HINTS.get(code)
    described = f"{code} ({hint})" if hint else code
    where = "Slack incoming webhook"
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return ConnectorError(
            f"{where}: rate-limited by Slack (HTTP 429); retry after {_seconds(retry_after)}",
            retryable=True,
            retry_after=retry_after,
            kind="SlackRateLimited",
        )
    if status >= 500:
        return ConnectorError(
            f"{where}: Slack answered HTTP {status}: {described}",
            retryable=True,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
            kind="SlackUnavailable",
        )
    return ConnectorError(
        f"{where} refused the message: HTTP {status} {described}",
        retryable=False,
        kind="SlackWebhookError",
    )


_RETRYABLE_TRANSPORT_ERRORS = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)


def _transport_error(where: str, exc: httpx.HTTPError, redact: _Redactor) -> ConnectorError:
    detail = redact(re.sub(r"\s+", " ", str(exc)).strip()[:SNIPPET_CHARS]) or "no detail"
    return ConnectorError(
        f"{where} failed: {type(exc).__name__}: {detail}",
        retryable=isinstance(exc, _RETRYABLE_TRANSPORT_ERRORS),
        kind="SlackNetworkError",
    )


def _snippet(body: bytes, redact: _Redactor) -> str:
    text = one_line(body.decode("utf-8", errors="replace"), SNIPPET_CHARS)
    return f": {redact(text)}" if text else ""


def _seconds(retry_after: float | None) -> str:
    return f"{retry_after:g}s" if retry_after is not None else "a while (no Retry-After)"
