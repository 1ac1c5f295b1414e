"""An SMTP client for the `email.send` node.

The SMTP host comes from a user's credential, so it is vetted like an `http.request`
target: its name is resolved once, every address must be public or allowlisted, and the
connection goes to a checked address while TLS is verified for the real hostname. The
message is composed (and refused, on a line break in any header) before any connection
is made. SMTP replies decide retryability: 4xx is temporary, 5xx is final.
"""

import asyncio
import base64
import hashlib
import ipaddress
import mimetypes
import re
import socket
import ssl
from collections.abc import AsyncIterator, Collection, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime, make_msgid
from typing import Any, Literal

import aiosmtplib
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from connectors.errors import ConnectorError, caused_by, one_line
from connectors.netguard import (
    Allowlist,
    IPAddress,
    describe_address,
    is_public_address,
    refused,
)

DEFAULT_TIMEOUT = 60.0
SNIPPET_CHARS = 300

_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,76}$")
_CONTENT_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_COMPOSED_HEADERS = frozenset(
    {
        "from",
        "sender",
        "to",
        "cc",
        "bcc",
        "reply-to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "content-disposition",
    }
)
"""Headers this client writes itself; a caller's copy would duplicate or contradict them."""


class SmtpAccount(BaseModel):
    """The `smtp` credential's fields, as the worker receives them."""

    model_config = ConfigDict(
        extra="ignore", populate_by_name=True, hide_input_in_errors=True, frozen=True
    )

    host: str = Field(min_length=1, max_length=255)
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    """`tls`: TLS from the first byte (port 465); `starttls`: upgrade, required; `none`: plain."""
    username: str | None = Field(default=None, max_length=1000)
    password: SecretStr | None = None
    sender: str = Field(alias="from", min_length=3, max_length=320)

    @field_validator("host")
    @classmethod
    def _bare_host(cls, value: str) -> str:
        """`[::1]` and ` mail.example.com ` name the hosts `::1` and `mail.example.com`."""
        return value.strip().strip("[]")

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> "SmtpAccount":
        """Read credential data; a bad field is named, its value never shown."""
        try:
            return cls.model_validate(dict(data))
        except ValidationError as error:
            fields = ", ".join(
                ".".join(str(part) for part in problem["loc"]) or "data"
                for problem in error.errors(include_input=False)
            )
            raise ConnectorError(
                f"the smtp credential is invalid ({fields})",
                retryable=False,
                kind="InvalidCredential",
            ) from None


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes | str
    """Text is sent as UTF-8."""
    content_type: str | None = None
    """Guessed from the filename when not given."""


@dataclass(frozen=True)
class OutgoingEmail:
    """What to send; addresses are mailboxes like `a@example.com` or `Ann <a@example.com>`."""

    to: Sequence[str] = ()
    cc: Sequence[str] = ()
    bcc: Sequence[str] = ()
    """Receive the message without appearing in any header."""
    reply_to: Sequence[str] = ()
    subject: str = ""
    text: str | None = None
    html: str | None = None
    attachments: Sequence[Attachment] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    from_name: str | None = None
    """Display name for the account's address; the credential's own name otherwise."""


@dataclass(frozen=True)
class Refusal:
    recipient: str
    code: int
    message: str


@dataclass(frozen=True)
class SentEmail:
    message_id: str
    accepted: list[str]
    refused: list[Refusal]
    """Recipients the server refused while accepting others."""
    response: str
    """The server's answer to the message data, usually with its queue id."""


@dataclass(frozen=True)
class _Composed:
    message: EmailMessage
    sender: str
    recipients: list[str]


class SmtpClient:
    """Sends mail through user-given SMTP servers; one connection per call."""

    def __init__(
        self,
        *,
        allowed_hosts: Collection[str] = (),
        timeout: float = DEFAULT_TIMEOUT,
        ca_pem: str | None = None,
        local_hostname: str | None = None,
    ) -> None:
        """`ca_pem` adds trusted CA certificates (PEM) beside the system's, for servers
        with a private CA; certificate and hostname verification are never turned off.
        `local_hostname` is the EHLO name (the machine's FQDN when not given).
        """
        self._allowlist = Allowlist.parse(allowed_hosts)
        self._timeout = timeout
        self._local_hostname = local_hostname
        self._tls = ssl.create_default_context()
        if ca_pem:
            self._tls.load_verify_locations(cadata=ca_pem)

    async def send(
        self, account: SmtpAccount, email: OutgoingEmail, *, idempotency_key: str | None = None
    ) -> SentEmail:
        """Send `email` from the account's address.

        With an `idempotency_key` the Message-ID is derived from it, so every retry of one
        send carries the same Message-ID and receivers can recognise a duplicate.
        """
        composed = compose(account, email, idempotency_key=idempotency_key)
        async with self._session(account) as smtp:
            with _smtp_errors(account):
                errors, response = await smtp.send_message(
                    composed.message, sender=composed.sender, recipients=composed.recipients
                )
        refusals = [
            Refusal(recipient, reply.code, _snippet(reply.message, account))
            for recipient, reply in errors.items()
        ]
        return SentEmail(
            message_id=str(composed.message["Message-ID"]),
            accepted=[address for address in composed.recipients if address not in errors],
            refused=refusals,
            response=_snippet(response, account),
        )

    async def verify(self, account: SmtpAccount) -> str:
        """Connect, negotiate TLS and log in as a send would, then hang up."""
        async with self._session(account):
            pass
        who = f"logged in as {account.username}" if account.username else "no login configured"
        return f"connected to {account.host}:{account.port} ({account.security}), {who}"

    @asynccontextmanager
    async def _session(self, account: SmtpAccount) -> AsyncIterator[aiosmtplib.SMTP]:
        """A connected (and, when configured, encrypted and logged-in) SMTP session."""
        addresses = await self._vetted_addresses(account.host, account.port)
        sock = await self._connect(account, addresses)
        password = account.password.get_secret_value() if account.password else None
        smtp = aiosmtplib.SMTP(
            hostname=account.host,
            sock=sock,
            username=account.username,
            password=password if account.username else None,
            local_hostname=self._local_hostname,
            timeout=self._timeout,
            use_tls=account.security == "tls",
            start_tls=account.security == "starttls",
            tls_context=self._tls,
        )
        try:
            with _smtp_errors(account):
                await smtp.connect()
        except BaseException:
            sock.close()
            raise
        try:
            yield smtp
        finally:
            await _hang_up(smtp)

    async def _vetted_addresses(self, host: str, port: int) -> tuple[IPAddress, ...]:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as error:
            raise ConnectorError(
                f"cannot resolve SMTP host {host}: {error}",
                retryable=True,
                kind="SmtpNetworkError",
            ) from error
        addresses = tuple(
            dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos)
        )
        if not self._allowlist.admits_host(host):
            for address in addresses:
                if not is_public_address(address) and not self._allowlist.admits_address(address):
                    raise refused(
                        f"refused SMTP host {host}: it resolves to {address}, "
                        f"{describe_address(address)}, which is not in the allowlist"
                    )
        return addresses

    async def _connect(self, account: SmtpAccount, addresses: Sequence[IPAddress]) -> socket.socket:
        """A socket connected to the first checked address that answers, in resolver order."""
        loop = asyncio.get_running_loop()
        problems: list[str] = []
        for address in addresses:
            family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setblocking(False)
            try:
                await asyncio.wait_for(
                    loop.sock_connect(sock, (str(address), account.port)), self._timeout
                )
            except (OSError, TimeoutError) as error:
                sock.close()
                problems.append(f"{address}: {error or type(error).__name__}")
                continue
            except BaseException:
                sock.close()
                raise
            return sock
        raise ConnectorError(
            f"cannot connect to SMTP server {account.host}:{account.port} ({'; '.join(problems)})",
            retryable=True,
            kind="SmtpNetworkError",
        )


async def test_connection(
    credential: Mapping[str, Any] | SmtpAccount,
    *,
    allowed_hosts: Collection[str] = (),
    timeout_seconds: float = DEFAULT_TIMEOUT,
    ca_pem: str | None = None,
) -> str:
    """Prove an smtp credential works: connect, EHLO, TLS as configured, AUTH, QUIT."""
    if isinstance(credential, SmtpAccount):
        account = credential
    else:
        account = SmtpAccount.from_data(credential)
    client = SmtpClient(allowed_hosts=allowed_hosts, timeout=timeout_seconds, ca_pem=ca_pem)
    return await client.verify(account)


def compose(
    account: SmtpAccount,
    email: OutgoingEmail,
    *,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> _Composed:
    """The MIME message and its envelope; raises before anything is sent on a bad field."""
    sender = _mailboxes("from", [account.sender])
    if len(sender) != 1:
        raise _invalid("from", "must be exactly one address")
    sender_address = sender[0]
    if email.from_name is not None:
        _single_line("from_name", email.from_name)
        sender_address = Address(email.from_name, addr_spec=sender_address.addr_spec)
    to, cc, bcc = (_mailboxes(name, getattr(email, name)) for name in ("to", "cc", "bcc"))
    reply_to = _mailboxes("reply_to", email.reply_to)
    recipients = list(dict.fromkeys(a.addr_spec for a in (*to, *cc, *bcc)))
    if not recipients:
        raise _invalid("to", "give at least one recipient in to, cc or bcc")
    _single_line("subject", email.subject)

    message = EmailMessage(policy=default_policy)
    message["From"] = sender_address
    if to:
        message["To"] = to
    if cc:
        message["Cc"] = cc
    if reply_to:
        message["Reply-To"] = reply_to
    message["Subject"] = email.subject
    message["Date"] = format_datetime(now or datetime.now(UTC))
    message["Message-ID"] = _message_id(sender_address.domain, idempotency_key)
    for name, value in _extra_headers(email.headers):
        message[name] = value
    _set_body(message, email.text, email.html)
    for index, attachment in enumerate(email.attachments):
        _attach(message, attachment, f"attachments.{index}")
    return _Composed(message, sender_address.addr_spec, recipients)


def _mailboxes(field_name: str, values: Sequence[str]) -> list[Address]:
    found: list[Address] = []
    for value in [values] if isinstance(values, str) else values:
        _single_line(field_name, value)
        header = default_policy.header_factory("to", value)
        if header.defects:
            raise _invalid(field_name, "is not a valid list of email addresses")
        for address in header.addresses:
            if not address.username or not address.domain:
                raise _invalid(field_name, "has an address without a user or a domain")
            found.append(address)
    return found


def _extra_headers(headers: Mapping[str, str]) -> Iterator[tuple[str, str]]:
    for name, value in headers.items():
        if not _HEADER_NAME.match(name):
            raise _invalid("headers", "a header name may hold only letters, digits and '-'")
        if name.lower() in _COMPOSED_HEADERS:
            raise _invalid(f"headers.{name}", "is set from the other params, not as a header")
        _single_line(f"headers.{name}", value)
        yield name, value


def _set_body(message: EmailMessage, text: str | None, html: str | None) -> None:
    """Plain text, HTML, or both as multipart/alternative (plain first, as RFC 2046 asks)."""
    if html is None:
        message.set_content(text or "")
        return
    if text is None:
        message.set_content(html, subtype="html")
        return
    message.set_content(text)
    message.add_alternative(html, subtype="html")


def _attach(message: EmailMessage, attachment: Attachment, where: str) -> None:
    _single_line(f"{where}.filename", attachment.filename)
    if not attachment.filename.strip() or _CONTROL.search(attachment.filename):
        raise _invalid(f"{where}.filename", "must be a non-empty name without control characters")
    content_type = attachment.content_type or _guess_type(attachment)
    _single_line(f"{where}.content_type", content_type)
    if not _CONTENT_TYPE.match(content_type):
        raise _invalid(f"{where}.content_type", "must look like 'type/subtype'")
    maintype, subtype = content_type.lower().split("/", 1)
    content = attachment.content
    data = content.encode() if isinstance(content, str) else content
    params = {"charset": "utf-8"} if isinstance(content, str) and maintype == "text" else None
    message.add_attachment(
        data, maintype=maintype, subtype=subtype, filename=attachment.filename, params=params
    )


def _guess_type(attachment: Attachment) -> str:
    guessed, _ = mimetypes.guess_type(attachment.filename, strict=False)
    if guessed:
        return guessed
    return "text/plain" if isinstance(attachment.content, str) else "application/octet-stream"


def _message_id(domain: str, idempotency_key: str | None) -> str:
    if idempotency_key is None:
        return make_msgid(domain=domain)
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    return f"<{digest}.flowpilot@{domain}>"


def _single_line(field_name: str, value: str) -> None:
    if "\r" in value or "\n" in value:
        raise ConnectorError(
            f"{field_name} contains a line break (CR or LF), which could inject headers; "
            "nothing was sent",
            retryable=False,
            kind="HeaderInjection",
        )


def _invalid(field_name: str, problem: str) -> ConnectorError:
    return ConnectorError(
        f"{field_name} {problem}; nothing was sent", retryable=False, kind="InvalidMessage"
    )


async def _hang_up(smtp: aiosmtplib.SMTP) -> None:
    """QUIT politely; the mail is already accepted, so a failing goodbye is no error."""
    if smtp.is_connected:
        try:
            await smtp.quit()
        except (aiosmtplib.SMTPException, OSError):
            pass
    smtp.close()


@contextmanager
def _smtp_errors(account: SmtpAccount) -> Iterator[None]:
    """Turn aiosmtplib's failures into ConnectorErrors: 4xx and network retry, 5xx do not."""
    try:
        yield
    except ConnectorError:
        raise
    except aiosmtplib.SMTPRecipientsRefused as error:
        raise _recipients_refused(account, error) from None
    except aiosmtplib.SMTPAuthenticationError as error:
        raise _reply_error(account, error, "authentication failed", "SmtpAuthError") from None
    except aiosmtplib.SMTPResponseException as error:
        raise _reply_error(account, error, "refused", "SmtpReplyError") from None
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as error:
        if caused_by(error, ssl.SSLCertVerificationError):
            raise _failure(account, error, "TlsCertificateError", retryable=False) from None
        if caused_by(error, ssl.SSLError):
            raise _failure(account, error, "TlsError", retryable=False) from None
        raise _failure(account, error, "SmtpNetworkError", retryable=True) from None
    except aiosmtplib.SMTPException as error:
        raise _failure(account, error, "SmtpNotSupported", retryable=False) from None
    except ValueError as error:
        raise _failure(account, error, "InvalidMessage", retryable=False) from None


def _reply_error(
    account: SmtpAccount, error: aiosmtplib.SMTPResponseException, what: str, kind: str
) -> ConnectorError:
    reply = _snippet(f"{error.code} {error.message}", account)
    return ConnectorError(
        f"SMTP server {account.host} {what}: {reply}",
        retryable=400 <= error.code < 500,
        kind=kind,
    )


def _recipients_refused(
    account: SmtpAccount, error: aiosmtplib.SMTPRecipientsRefused
) -> ConnectorError:
    each = "; ".join(
        f"{refusal.recipient}: {refusal.code} {refusal.message}" for refusal in error.recipients
    )
    return ConnectorError(
        f"SMTP server {account.host} refused every recipient: {_snippet(each, account)}",
        retryable=any(400 <= refusal.code < 500 for refusal in error.recipients),
        kind="SmtpRecipientsRefused",
    )


def _failure(
    account: SmtpAccount, error: BaseException, kind: str, *, retryable: bool
) -> ConnectorError:
    detail = _snippet(str(error), account) or "no detail"
    return ConnectorError(
        f"SMTP {account.host}:{account.port} failed: {type(error).__name__}: {detail}",
        retryable=retryable,
        kind=kind,
    )


def _snippet(text: str, account: SmtpAccount) -> str:
    """One line of server text for messages and outputs, with the password blotted out.

    A server is free to echo what it was sent; AUTH carries the password in base64.
    """
    line = one_line(text)
    for secret in _secret_forms(account):
        line = line.replace(secret, "[secret]")
    return one_line(line, SNIPPET_CHARS)


def _secret_forms(account: SmtpAccount) -> list[str]:
    if account.password is None:
        return []
    password = account.password.get_secret_value()
    user = account.username or ""
    encoded = [
        base64.b64encode(raw.encode()).decode()
        for raw in (password, f"\0{user}\0{password}", f"{user}\0{password}")
    ]
    return [form for form in (password, *encoded) if len(form) >= 4]
