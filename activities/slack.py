"""The activities of slack.post_message.

Slack's `chat.postMessage` has no idempotency key. Answers that say nothing was posted
(429, 5xx, `ratelimited`) are retried, and so are network errors: one that cuts the call
after Slack posted (a read timeout, a worker killed mid-call) makes the retry post again.
Delivery is at least once, as a lost announcement is usually worse than a repeated one.
"""

from dataclasses import dataclass, field
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.credentials import CredentialStore
from activities.support import ActivityRegistry, connector_errors, heartbeating, validate_params
from connectors.netguard import GuardedTransport
from connectors.slack import SlackClient, SlackMessage
from core.config import Settings
from workflows.contract import NodeInput, NodeResult
from workflows.nodes.slack import SlackPostMessageParams

NODE_TYPE = "slack.post_message"


class SlackActivities:
    def __init__(self, settings: Settings, credentials: CredentialStore) -> None:
        self._credentials = credentials
        self._slack = SlackClient(
            api_url=settings.slack_api_url,
            transport=GuardedTransport(settings.http_allowed_hosts),
            timeout=settings.connector_timeout_seconds,
        )

    def activities(self) -> ActivityRegistry:
        """Node type → activity."""
        return {NODE_TYPE: self.post_message}

    async def aclose(self) -> None:
        """Release connections."""
        await self._slack.aclose()

    @activity.defn(name=NODE_TYPE)
    async def post_message(self, node: NodeInput) -> NodeResult:
        """Post with the credential's bot token or incoming webhook (see the `via` param)."""
        params = validate_params(SlackPostMessageParams, node.params)
        credential = await self._slack_credential(node)
        message = SlackMessage.model_validate(
            params.model_dump(exclude={"channel", "via"}, exclude_none=True)
        )
        route = _choose_route(params, credential, node.credential or "")
        async with heartbeating():
            with connector_errors():
                if isinstance(route, _BotToken):
                    output = await self._slack.post_message(route.token, route.channel, message)
                else:
                    output = await self._slack.post_webhook(route, message)
        return NodeResult(output=output, attempt=activity.info().attempt)

    async def _slack_credential(self, node: NodeInput) -> dict[str, Any]:
        resolved = await self._credentials.resolve_for(node)
        return resolved.data


@dataclass(frozen=True)
class _BotToken:
    token: str = field(repr=False)
    channel: str


def _choose_route(
    params: SlackPostMessageParams, credential: dict[str, Any], name: str
) -> _BotToken | str:
    """The Web API route (token and channel), or the incoming webhook's URL.

    The data was checked against the `slack` kind when it was stored.
    """
    token = _text_field(credential, "bot_token")
    webhook = _text_field(credential, "webhook_url")
    use_token = params.via == "bot_token" or (params.via == "auto" and token is not None)
    if use_token:
        if token is None:
            raise _unusable(f"credential '{name}' has no bot_token, and via is 'bot_token'")
        if params.channel is None:
            raise ApplicationError(
                "invalid params: channel: required when posting with a bot token",
                type="InvalidParams",
                non_retryable=True,
            )
        return _BotToken(token, params.channel)
    if webhook is None:
        raise _unusable(f"credential '{name}' has no webhook_url, and via is 'webhook'")
    return webhook


def _text_field(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    return value if isinstance(value, str) and value else None


def _unusable(message: str) -> ApplicationError:
    return ApplicationError(message, type="CredentialUnavailable", non_retryable=True)
