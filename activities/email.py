"""The activities of email.send over SMTP."""

from dataclasses import asdict

from temporalio import activity

from activities.credentials import CredentialStore
from activities.support import ActivityRegistry, connector_errors, heartbeating, validate_params
from connectors.email import Attachment, OutgoingEmail, SmtpAccount, SmtpClient
from core.config import Settings
from workflows.contract import NodeInput, NodeResult
from workflows.nodes.email import EmailSendParams


class EmailActivities:
    def __init__(
        self, settings: Settings, credentials: CredentialStore, *, ca_pem: str | None = None
    ) -> None:
        """SMTP hosts are vetted against the same allowlist as every outbound connection."""
        self._credentials = credentials
        self._smtp = SmtpClient(
            allowed_hosts=settings.http_allowed_hosts,
            timeout=settings.connector_timeout_seconds,
            ca_pem=ca_pem,
        )

    def activities(self) -> ActivityRegistry:
        """Node type → activity."""
        return {"email.send": self.send}

    async def aclose(self) -> None:
        """Nothing to release: each send opens and closes its own SMTP connection."""

    @activity.defn(name="email.send")
    async def send(self, node: NodeInput) -> NodeResult:
        """Send one email; output `{message_id, accepted, refused, response}`."""
        params = validate_params(EmailSendParams, node.params)
        account = await self._account(node)
        async with heartbeating():
            with connector_errors():
                sent = await self._smtp.send(
                    account, outgoing_email(params), idempotency_key=node.idempotency_key
                )
        return NodeResult(output=asdict(sent), attempt=activity.info().attempt)

    async def _account(self, node: NodeInput) -> SmtpAccount:
        resolved = await self._credentials.resolve_for(node)
        with connector_errors():
            return SmtpAccount.from_data(resolved.data)


def outgoing_email(params: EmailSendParams) -> OutgoingEmail:
    return OutgoingEmail(
        to=params.to,
        cc=params.cc,
        bcc=params.bcc,
        reply_to=params.reply_to,
        subject=params.subject,
        text=params.text,
        html=params.html,
        attachments=[
            Attachment(item.filename, item.decoded(), item.content_type)
            for item in params.attachments
        ],
        headers=params.headers,
        from_name=params.from_name,
    )
