"""Node types of the slack connector: slack.post_message."""

from typing import Any, Literal, Self

from pydantic import Field, model_validator

from workflows.node_type import NodeType, Params

MAX_TEXT_CHARS = 40_000
"""Slack truncates longer messages and refuses them with `msg_too_long`."""
MAX_BLOCKS = 50
"""Block Kit's limit for one message."""


class SlackPostMessageParams(Params):
    channel: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Channel ID (C0123ABCD), #channel-name or a user ID for a DM. Required "
        "with a bot token; an incoming webhook always posts to its own channel and ignores it.",
    )
    text: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_TEXT_CHARS,
        description="The message in Slack mrkdwn; with blocks, the notification fallback.",
    )
    blocks: list[dict[str, Any]] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_BLOCKS,
        description='Block Kit blocks, e.g. [{"type": "section", "text": {"type": '
        '"mrkdwn", "text": "*Hi*"}}].',
    )
    thread_ts: str | None = Field(
        default=None,
        pattern=r"^\d+\.\d+$",
        description="The ts of the parent message, to reply in its thread.",
    )
    reply_broadcast: bool = Field(
        default=False, description="Also show a thread reply in the channel (bot token only)."
    )
    unfurl_links: bool | None = Field(default=None, description="Unfurl text links.")
    unfurl_media: bool | None = Field(default=None, description="Unfurl media links.")
    mrkdwn: bool | None = Field(
        default=None, description="Set false to send the text without mrkdwn formatting."
    )
    username: str | None = Field(
        default=None,
        min_length=1,
        max_length=80,
        description="Bot token only: the name shown for this message (chat:write.customize).",
    )
    icon_emoji: str | None = Field(
        default=None,
        pattern=r"^:[^:\s]+:$",
        description="Bot token only: emoji shown as the icon, e.g. ':robot_face:'.",
    )
    icon_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        max_length=2000,
        description="Bot token only: image URL shown as the icon.",
    )
    via: Literal["auto", "bot_token", "webhook"] = Field(
        default="auto",
        description="How to post: 'auto' uses the credential's bot token when it has one, "
        "else its incoming webhook; 'bot_token' or 'webhook' insist on one.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.text is None and self.blocks is None:
            raise ValueError("give text, blocks or both")
        if self.reply_broadcast and self.thread_ts is None:
            raise ValueError("reply_broadcast needs thread_ts")
        if self.icon_emoji is not None and self.icon_url is not None:
            raise ValueError("give icon_emoji or icon_url, not both")
        return self


_SAMPLE_TS = "1767258000.000100"
SAMPLE_OUTPUT: dict[str, Any] = {
    "ok": True,
    "channel": "C0123ABCD",
    "ts": _SAMPLE_TS,
    "message": {
        "type": "message",
        "subtype": "bot_message",
        "text": "Deploy finished :white_check_mark:",
        "bot_id": "B0123ABCD",
        "ts": _SAMPLE_TS,
    },
}


def _sample(params: dict[str, Any]) -> dict[str, Any]:
    """Slack's answer to the message (the ids are made up); an incoming webhook's is `ok`."""
    post = SlackPostMessageParams.model_validate(params)
    if post.via == "webhook":
        return {"ok": True}
    message = {**SAMPLE_OUTPUT["message"], "text": post.text or ""}
    if post.blocks is not None:
        message["blocks"] = post.blocks
    if post.thread_ts is not None:
        message["thread_ts"] = post.thread_ts
    return {**SAMPLE_OUTPUT, "message": message}


NODE_TYPES: list[NodeType] = [
    NodeType(
        type="slack.post_message",
        title="Slack: post a message",
        description="Post a message (text and/or Block Kit blocks, optionally in a thread) "
        "with a bot token (chat.postMessage) or an incoming webhook. Rate limits and Slack "
        "outages are retried, honouring Retry-After; errors such as channel_not_found or "
        "not_in_channel fail at once with Slack's error code and a hint.",
        params_model=SlackPostMessageParams,
        runs_in="activity",
        credential_kinds=("slack",),
        credential_required=True,
        output_description="Bot token: {ok, channel, ts, message} (channel is the ID, ts the "
        "message's timestamp, usable as a later thread_ts). Incoming webhook: {ok: true}.",
        sample_output=SAMPLE_OUTPUT,
        sample_from=_sample,
    )
]
