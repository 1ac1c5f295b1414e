"""Node types of the email connector: email.send (SMTP).

Params are checked here, before anything is sent, so a bad address or a line break that
would inject a header fails the node at once with the field named. The checks use only
the standard library's pure header parser: this module is loaded in the workflow sandbox.
"""

import base64
import binascii
import re
from email.policy import default as default_policy
from typing import Annotated, Any, Literal, Self

from pydantic import BeforeValidator, Field, WithJsonSchema, field_validator, model_validator

from workflows.node_type import NodeType, Params

MAX_RECIPIENTS = 100
MAX_ATTACHMENTS = 20
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
"""Total decoded size of a message's attachments; most providers refuse 20-25 MB."""
MAX_BODY_CHARS = 1_000_000

SAFE_HEADERS = frozenset(
    {
        "in-reply-to",
        "references",
        "list-id",
        "list-unsubscribe",
        "list-unsubscribe-post",
        "auto-submitted",
        "precedence",
        "importance",
        "priority",
        "keywords",
        "comments",
    }
)
"""Extra headers a node may set, besides any `X-…` header. Everything else (From, To,
Bcc, Content-Type, Received, DKIM-Signature…) is composed by the client or is not the
sender's to set."""

_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,76}$")
_CONTENT_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LINE_BREAK = "contains a line break (CR or LF), which could inject headers"


def _single_line(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError(_LINE_BREAK)
    return value


def _mailboxes(value: Any) -> Any:
    """`"a@x.com, Bob <b@y.com>"` or a list of such strings → one mailbox per item."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        return value
    mailboxes: list[str] = []
    for item in value:
        _single_line(item)
        header = default_policy.header_factory("to", item)
        if header.defects or not item.strip():
            raise ValueError(f"{_shown(item)} is not a valid list of email addresses")
        for address in header.addresses:
            _check_address(address.addr_spec, address.domain)
            mailboxes.append(str(address))
    return mailboxes


def _check_address(addr_spec: str, domain: str) -> None:
    if not addr_spec.isascii():
        raise ValueError(f"{_shown(addr_spec)}: non-ASCII addresses are not supported")
    user, _, _ = addr_spec.rpartition("@")
    if not user or "." not in domain or domain.startswith(".") or domain.endswith("."):
        raise ValueError(f"{_shown(addr_spec)} is not a valid email address")


def _shown(value: str) -> str:
    return repr(value if len(value) <= 80 else value[:79] + "…")


AddressList = Annotated[
    list[str],
    BeforeValidator(_mailboxes),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "string"}},
            ]
        }
    ),
]


def _addresses(description: str) -> Any:
    return Field(default_factory=list, description=description)


class EmailAttachment(Params):
    filename: str = Field(min_length=1, max_length=255, description="The name shown to readers.")
    content: str = Field(
        description="The file's content, usually an earlier node's output: text as is, or "
        "binary data base64-encoded (then set `encoding` to 'base64')."
    )
    encoding: Literal["text", "base64"] = Field(
        default="text",
        description="How `content` is written: plain text (sent as UTF-8) or base64.",
    )
    content_type: str | None = Field(
        default=None,
        max_length=255,
        description="MIME type such as 'text/csv' or 'application/pdf'; guessed from the "
        "filename when left out.",
    )

    @field_validator("filename")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        _single_line(value)
        if _CONTROL.search(value) or not value.strip():
            raise ValueError("must be a name without control characters")
        return value

    @field_validator("content_type")
    @classmethod
    def _mime_type(cls, value: str | None) -> str | None:
        if value is not None and not _CONTENT_TYPE.match(_single_line(value)):
            raise ValueError("must look like 'type/subtype', e.g. 'application/pdf'")
        return value

    @model_validator(mode="after")
    def _decodable(self) -> Self:
        if self.encoding == "base64":
            self.decoded()
        return self

    def decoded(self) -> str | bytes:
        """Text stays text; base64 becomes the bytes it encodes."""
        if self.encoding == "text":
            return self.content
        try:
            return base64.b64decode(self.content, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("content is not valid base64 (encoding is 'base64')") from None

    def size(self) -> int:
        data = self.decoded()
        return len(data.encode() if isinstance(data, str) else data)


class EmailSendParams(Params):
    to: AddressList = _addresses(
        "Recipients: a list, or one string of comma-separated addresses such as "
        "'ann@example.com, Bob <bob@example.com>'."
    )
    cc: AddressList = _addresses("Copy recipients, shown to everyone; same forms as `to`.")
    bcc: AddressList = _addresses(
        "Blind-copy recipients: they receive the message but appear in no header."
    )
    reply_to: AddressList = _addresses("Where replies should go, if not to the sender.")
    subject: str = Field(default="", max_length=998)
    text: str | None = Field(
        default=None, max_length=MAX_BODY_CHARS, description="The plain-text body."
    )
    html: str | None = Field(
        default=None,
        max_length=MAX_BODY_CHARS,
        description="The HTML body; with `text` too, both are sent (multipart/alternative) "
        "and the reader's client picks one.",
    )
    from_name: str | None = Field(
        default=None,
        max_length=200,
        description="Display name for the credential's sender address.",
    )
    attachments: list[EmailAttachment] = Field(
        default_factory=list,
        max_length=MAX_ATTACHMENTS,
        description=f"Files to attach, at most {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MiB in all.",
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        max_length=20,
        description="Extra headers: any 'X-…' header, or one of "
        + ", ".join(sorted(SAFE_HEADERS))
        + ".",
    )

    @field_validator("subject", "from_name")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        return None if value is None else _single_line(value)

    @field_validator("headers")
    @classmethod
    def _safe_headers(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, value in headers.items():
            if not _HEADER_NAME.match(name):
                raise ValueError(f"{_shown(name)} is not a header name (letters, digits, '-')")
            if not (name.lower().startswith("x-") or name.lower() in SAFE_HEADERS):
                raise ValueError(f"header {name!r} may not be set; allowed: X-… and the listed")
            if "\r" in value or "\n" in value:
                raise ValueError(f"header {name!r} {_LINE_BREAK}")
            if len(value) > 998:
                raise ValueError(f"header {name!r} is longer than 998 characters")
        return headers

    @model_validator(mode="after")
    def _complete(self) -> Self:
        count = len(self.to) + len(self.cc) + len(self.bcc)
        if count == 0:
            raise ValueError("give at least one recipient in to, cc or bcc")
        if count > MAX_RECIPIENTS:
            raise ValueError(f"at most {MAX_RECIPIENTS} recipients in to, cc and bcc together")
        if self.text is None and self.html is None:
            raise ValueError("give a body: text, html or both")
        total = sum(attachment.size() for attachment in self.attachments)
        if total > MAX_ATTACHMENT_BYTES:
            raise ValueError(
                f"attachments total {total} bytes, more than the {MAX_ATTACHMENT_BYTES} allowed"
            )
        return self


SAMPLE_OUTPUT: dict[str, Any] = {
    "message_id": "<0f1e2d3c4b5a69788796a5b4c3d2e1f0.flowpilot@example.com>",
    "accepted": ["ann@example.com"],
    "refused": [],
    "response": "250 2.0.0 Ok: queued as 4C1A2B3D4E",
}


def _sample(params: dict[str, Any]) -> dict[str, Any]:
    """What a server that takes every recipient answers: `accepted` lists their addresses."""
    email = EmailSendParams.model_validate(params)
    addresses = [
        address.addr_spec
        for mailbox in [*email.to, *email.cc, *email.bcc]
        for address in default_policy.header_factory("to", mailbox).addresses
    ]
    return {**SAMPLE_OUTPUT, "accepted": list(dict.fromkeys(addresses)), "refused": []}


NODE_TYPES: list[NodeType] = [
    NodeType(
        type="email.send",
        title="Send email",
        description="Send an email over SMTP with an smtp credential: to/cc/bcc, text and/or "
        "HTML body, attachments. Temporary SMTP answers (4xx) and network errors are "
        "retried; permanent ones (5xx) and failed logins are not.",
        params_model=EmailSendParams,
        runs_in="activity",
        credential_kinds=("smtp",),
        credential_required=True,
        output_description="{message_id, accepted, refused: [{recipient, code, message}], "
        "response}; `refused` lists recipients the server turned down while accepting others.",
        sample_output=SAMPLE_OUTPUT,
        sample_from=_sample,
    )
]
