"""Fixtures: a local SMTP server speaking the real protocol (aiosmtpd), on 127.0.0.1.

    fake_smtp            plain SMTP; AUTH PLAIN/LOGIN allowed without TLS
    fake_smtp_starttls   STARTTLS offered and required before MAIL and AUTH
    fake_smtps           TLS from the first byte (the port-465 style)
    smtp_tls             a throwaway CA and a server certificate for 127.0.0.1 and localhost

Every server records what really crossed the wire: the number of connections, the AUTH
login and password, the envelope (MAIL FROM, RCPT TO) and the DATA bytes. Replies
can be scripted per recipient (`rcpt_replies`) and for DATA (`data_replies`, in order),
to make the server answer 4xx or 5xx like a real one would.
"""

import asyncio
import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any, Literal

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

Mode = Literal["plain", "starttls", "tls"]

USERNAME = "mailer@example.com"
PASSWORD = "s3cret-smtp-pass"


@dataclass(frozen=True)
class TlsMaterial:
    ca_pem: str
    """The CA that signed the server certificate: what a client must trust."""
    certfile: Path
    keyfile: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.certfile, self.keyfile)
        return context


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    login: str | None
    tls: bool

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class FakeSmtpServer:
    mode: Mode
    host: str = "127.0.0.1"
    port: int = 0
    users: dict[str, str] = field(default_factory=lambda: {USERNAME: PASSWORD})
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    """Recipient → the reply to its RCPT TO, e.g. `"550 5.1.1 No such user"`."""
    data_replies: list[str] = field(default_factory=list)
    """Replies to DATA, used in order; then `250` again."""
    connections: int = 0
    auth_attempts: list[tuple[str, str]] = field(default_factory=list)
    """(login, password) as the server decoded them from AUTH."""
    mails: list[ReceivedMail] = field(default_factory=list)
    """Messages accepted (a 250 answer to DATA)."""
    rejected: list[ReceivedMail] = field(default_factory=list)
    """Messages whose DATA got a scripted error reply."""

    def credential(self, **fields: Any) -> dict[str, Any]:
        """The `smtp` credential data that reaches this server."""
        security = {"plain": "none", "starttls": "starttls", "tls": "tls"}[self.mode]
        return {
            "host": self.host,
            "port": self.port,
            "security": security,
            "username": USERNAME,
            "password": PASSWORD,
            "from": "Flowpilot <bot@example.com>",
            **fields,
        }

    # aiosmtpd handler hooks

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        reply = self.rcpt_replies.get(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        authenticated = session.auth_data if session.authenticated else None
        login = authenticated.login.decode() if isinstance(authenticated, LoginPassword) else None
        transport = server.transport
        tls = transport is not None and transport.get_extra_info("ssl_object") is not None
        assert isinstance(envelope.content, bytes)
        mail = ReceivedMail(
            mail_from=str(envelope.mail_from),
            rcpt_tos=list(envelope.rcpt_tos),
            data=envelope.content,
            login=login,
            tls=tls,
        )
        reply = self.data_replies.pop(0) if self.data_replies else "250"
        if not reply.startswith("250"):
            self.rejected.append(mail)
            return reply
        self.mails.append(mail)
        return f"250 2.0.0 Ok: queued as Q{len(self.mails)}"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.auth_attempts.append((login, password))
        success = self.users.get(login) == password
        return AuthResult(success=success, handled=False, auth_data=auth_data)


@asynccontextmanager
async def serve_smtp(mode: Mode, tls: TlsMaterial | None = None) -> AsyncIterator[FakeSmtpServer]:
    """Run a fake SMTP server on a free port of 127.0.0.1 in the current event loop."""
    fake = FakeSmtpServer(mode=mode)
    server_context = tls.server_context() if tls else None
    if mode != "plain" and server_context is None:
        raise ValueError(f"mode {mode} needs TLS material")

    def protocol() -> SMTP:
        fake.connections += 1
        return SMTP(
            fake,
            hostname="fake-smtp.test",
            tls_context=server_context if mode == "starttls" else None,
            require_starttls=mode == "starttls",
            auth_require_tls=mode == "starttls",
            authenticator=fake.authenticate,
        )

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        protocol, fake.host, 0, ssl=server_context if mode == "tls" else None
    )
    fake.port = server.sockets[0].getsockname()[1]
    try:
        yield fake
    finally:
        server.close()
        await server.wait_closed()


def make_tls_material(directory: Path, names: list[str]) -> TlsMaterial:
    """A CA and a server certificate it signed, valid for `names` (DNS names or IPs)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Flowpilot test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    alt_names: list[x509.GeneralName] = []
    for name in names:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt_names.append(x509.DNSName(name))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    certfile, keyfile = directory / "server.pem", directory / "server.key"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM).decode()
    return TlsMaterial(ca_pem=ca_pem, certfile=certfile, keyfile=keyfile)


@pytest.fixture(scope="session")
def smtp_tls(tmp_path_factory: pytest.TempPathFactory) -> TlsMaterial:
    return make_tls_material(tmp_path_factory.mktemp("smtp-tls"), ["localhost", "127.0.0.1"])


@pytest.fixture
async def fake_smtp() -> AsyncIterator[FakeSmtpServer]:
    async with serve_smtp("plain") as server:
        yield server


@pytest.fixture
async def fake_smtp_starttls(smtp_tls: TlsMaterial) -> AsyncIterator[FakeSmtpServer]:
    async with serve_smtp("starttls", smtp_tls) as server:
        yield server


@pytest.fixture
async def fake_smtps(smtp_tls: TlsMaterial) -> AsyncIterator[FakeSmtpServer]:
    async with serve_smtp("tls", smtp_tls) as server:
        yield server
