"""email.send against a real SMTP server (aiosmtpd) on loopback, through the production client."""

import base64
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from temporalio.testing import WorkflowEnvironment

from connectors import email as smtp
from connectors.email import Attachment, OutgoingEmail, Refusal, SmtpAccount, SmtpClient
from connectors.errors import ConnectorError
from tests.support.api import replace_credential, sign_up
from tests.support.fake_smtp import (
    PASSWORD,
    USERNAME,
    FakeSmtpServer,
    TlsMaterial,
    make_tls_material,
    serve_smtp,
)
from tests.test_api_runs import create, finished, start
from workflows.nodes.email import MAX_ATTACHMENT_BYTES, EmailSendParams

LOOPBACK = ["127.0.0.1"]


def client(**options: Any) -> SmtpClient:
    return SmtpClient(allowed_hosts=options.pop("allowed_hosts", LOOPBACK), timeout=20, **options)


def account(server: FakeSmtpServer, **fields: Any) -> SmtpAccount:
    return SmtpAccount.from_data(server.credential(**fields))


def hello(**fields: Any) -> OutgoingEmail:
    return OutgoingEmail(**{"to": ["ann@example.com"], "subject": "Hi", "text": "Hello", **fields})


async def failure(server: FakeSmtpServer, email: OutgoingEmail, **options: Any) -> ConnectorError:
    with pytest.raises(ConnectorError) as caught:
        await client(**options).send(account(server), email)
    return caught.value


# Composition and delivery


async def test_text_and_html_arrive_as_alternatives_with_every_header(
    fake_smtp: FakeSmtpServer,
) -> None:
    email = OutgoingEmail(
        to=["Ann <ann@example.com>", "bob@example.com"],
        cc=["carol@example.com"],
        bcc=["dave@example.com"],
        reply_to=["support@example.com"],
        subject="Résumé of today",
        text="Plain body",
        html="<p>HTML body</p>",
        headers={"X-Campaign": "weekly", "In-Reply-To": "<abc@example.com>"},
        from_name="Reports Bot",
    )

    sent = await client().send(account(fake_smtp), email, idempotency_key="run-1:mail")

    [mail] = fake_smtp.mails
    message = mail.message
    assert mail.mail_from == "bot@example.com"
    assert mail.rcpt_tos == [
        "ann@example.com",
        "bob@example.com",
        "carol@example.com",
        "dave@example.com",
    ]
    assert message["From"] == "Reports Bot <bot@example.com>"
    assert message["To"] == "Ann <ann@example.com>, bob@example.com"
    assert message["Cc"] == "carol@example.com"
    assert message["Bcc"] is None
    assert "dave@example.com" not in mail.data.decode()
    assert message["Reply-To"] == "support@example.com"
    assert message["Subject"] == "Résumé of today"
    assert message["Date"] is not None
    assert message["X-Campaign"] == "weekly"
    assert message["In-Reply-To"] == "<abc@example.com>"
    assert message.get_content_type() == "multipart/alternative"
    plain, html = message.iter_parts()
    assert (plain.get_content_type(), plain.get_content().strip()) == ("text/plain", "Plain body")
    assert (html.get_content_type(), html.get_content().strip()) == (
        "text/html",
        "<p>HTML body</p>",
    )
    assert sent.message_id == message["Message-ID"]
    assert sent.message_id.endswith("@example.com>")
    assert sent.accepted == mail.rcpt_tos
    assert sent.refused == []
    assert "queued as Q1" in sent.response


async def test_the_login_reaches_the_server_as_smtp_auth(fake_smtp: FakeSmtpServer) -> None:
    await client().send(account(fake_smtp), hello())

    assert fake_smtp.auth_attempts == [(USERNAME, PASSWORD)]
    assert fake_smtp.mails[0].login == USERNAME


async def test_an_account_without_username_sends_without_auth(fake_smtp: FakeSmtpServer) -> None:
    anonymous = account(fake_smtp, username=None, password=None)

    await client().send(anonymous, hello())

    assert fake_smtp.auth_attempts == []
    assert fake_smtp.mails[0].login is None


async def test_an_html_only_email_is_a_single_html_part(fake_smtp: FakeSmtpServer) -> None:
    await client().send(account(fake_smtp), hello(text=None, html="<b>only</b>"))

    message = fake_smtp.mails[0].message
    assert message.get_content_type() == "text/html"
    assert message.get_content().strip() == "<b>only</b>"


async def test_attachments_arrive_with_their_names_types_and_exact_bytes(
    fake_smtp: FakeSmtpServer,
) -> None:
    binary = bytes(range(256)) * 4
    email = hello(
        html="<p>see attached</p>",
        attachments=[
            Attachment("report.csv", "name,total\nÉlodie,3\n"),
            Attachment("blob.bin", binary, "application/x-custom"),
            Attachment("photo.png", b"\x89PNG\r\n"),
        ],
    )

    await client().send(account(fake_smtp), email)

    message = fake_smtp.mails[0].message
    assert message.get_content_type() == "multipart/mixed"
    body, csv, blob, png = message.iter_parts()
    assert body.get_content_type() == "multipart/alternative"
    assert csv.get_filename() == "report.csv"
    assert csv.get_content_type() == "text/csv"
    assert csv.get_content_charset() == "utf-8"
    assert csv.get_payload(decode=True) == "name,total\nÉlodie,3\n".encode()
    assert (blob.get_filename(), blob.get_content_type()) == ("blob.bin", "application/x-custom")
    assert blob.get_payload(decode=True) == binary
    assert png.get_content_type() == "image/png"
    assert png.get_content_disposition() == "attachment"


async def test_the_message_id_is_stable_for_one_idempotency_key(fake_smtp: FakeSmtpServer) -> None:
    smtp_client = client()
    first = await smtp_client.send(account(fake_smtp), hello(), idempotency_key="run-9:notify")
    retry = await smtp_client.send(account(fake_smtp), hello(), idempotency_key="run-9:notify")
    other = await smtp_client.send(account(fake_smtp), hello(), idempotency_key="run-10:notify")
    unkeyed = await smtp_client.send(account(fake_smtp), hello())

    assert first.message_id == retry.message_id
    assert len({first.message_id, other.message_id, unkeyed.message_id}) == 3
    assert [mail.message["Message-ID"] for mail in fake_smtp.mails[:2]] == [first.message_id] * 2


# TLS


async def test_starttls_upgrades_before_login_and_verifies_with_the_given_ca(
    fake_smtp_starttls: FakeSmtpServer, smtp_tls: TlsMaterial
) -> None:
    await client(ca_pem=smtp_tls.ca_pem).send(account(fake_smtp_starttls), hello())

    [mail] = fake_smtp_starttls.mails
    assert mail.tls
    assert mail.login == USERNAME


async def test_an_untrusted_certificate_fails_and_is_not_retried(
    fake_smtp_starttls: FakeSmtpServer,
) -> None:
    error = await failure(fake_smtp_starttls, hello())

    assert error.kind == "TlsCertificateError"
    assert not error.retryable
    assert fake_smtp_starttls.auth_attempts == []
    assert fake_smtp_starttls.mails == []


async def test_implicit_tls_sends_over_tls_from_the_first_byte(
    fake_smtps: FakeSmtpServer, smtp_tls: TlsMaterial
) -> None:
    await client(ca_pem=smtp_tls.ca_pem).send(account(fake_smtps), hello())

    assert fake_smtps.mails[0].tls


async def test_tls_is_verified_for_the_hostname_while_connecting_to_its_checked_address(
    tmp_path: Path,
) -> None:
    named_only = make_tls_material(tmp_path, ["localhost"])
    async with serve_smtp("starttls", named_only) as server:
        by_name = account(server, host="localhost")
        await client(ca_pem=named_only.ca_pem, allowed_hosts=["localhost"]).send(by_name, hello())
        assert server.mails[0].tls

        with pytest.raises(ConnectorError) as caught:
            await client(ca_pem=named_only.ca_pem).send(account(server), hello())
        assert caught.value.kind == "TlsCertificateError"
        assert len(server.mails) == 1


async def test_starttls_required_but_not_offered_fails_clearly(fake_smtp: FakeSmtpServer) -> None:
    with pytest.raises(ConnectorError) as caught:
        await client().send(account(fake_smtp, security="starttls"), hello())

    assert "STARTTLS" in caught.value.message
    assert not caught.value.retryable
    assert fake_smtp.auth_attempts == []


# Refusals and retryability


@pytest.mark.parametrize(
    ("reply", "retryable"),
    [("451 4.3.0 Mail server temporarily rejected message", True), ("554 5.7.1 Spam", False)],
)
async def test_a_data_reply_is_retryable_only_when_temporary(
    fake_smtp: FakeSmtpServer, reply: str, retryable: bool
) -> None:
    fake_smtp.data_replies.append(reply)

    error = await failure(fake_smtp, hello())

    assert error.retryable is retryable
    assert error.kind == "SmtpReplyError"
    assert reply in error.message
    assert fake_smtp.mails == []


async def test_some_refused_recipients_are_reported_and_the_rest_delivered(
    fake_smtp: FakeSmtpServer,
) -> None:
    fake_smtp.rcpt_replies["gone@example.com"] = "550 5.1.1 No such user"

    sent = await client().send(
        account(fake_smtp), hello(to=["ann@example.com", "gone@example.com"])
    )

    assert sent.accepted == ["ann@example.com"]
    assert sent.refused == [Refusal("gone@example.com", 550, "5.1.1 No such user")]
    assert fake_smtp.mails[0].rcpt_tos == ["ann@example.com"]


@pytest.mark.parametrize(
    ("reply", "retryable"),
    [("450 4.2.1 Mailbox busy", True), ("550 5.1.1 No such user", False)],
)
async def test_every_recipient_refused_fails_retryable_only_when_temporary(
    fake_smtp: FakeSmtpServer, reply: str, retryable: bool
) -> None:
    fake_smtp.rcpt_replies["ann@example.com"] = reply

    error = await failure(fake_smtp, hello())

    assert error.kind == "SmtpRecipientsRefused"
    assert error.retryable is retryable
    assert "ann@example.com" in error.message
    assert fake_smtp.mails == []


async def test_a_wrong_password_is_an_auth_error_that_is_not_retried(
    fake_smtp: FakeSmtpServer,
) -> None:
    wrong = "wrong-password-canary"

    with pytest.raises(ConnectorError) as caught:
        await client().send(account(fake_smtp, password=wrong), hello())

    assert caught.value.kind == "SmtpAuthError"
    assert not caught.value.retryable
    assert "535" in caught.value.message
    assert wrong not in caught.value.message
    assert set(fake_smtp.auth_attempts) == {(USERNAME, wrong)}
    assert fake_smtp.mails == []


async def test_a_server_that_echoes_the_password_does_not_get_it_into_the_error(
    fake_smtp: FakeSmtpServer,
) -> None:
    plain = base64.b64encode(f"\0{USERNAME}\0{PASSWORD}".encode()).decode()
    fake_smtp.data_replies.append(f"554 5.7.1 you sent {PASSWORD} and {plain}")

    error = await failure(fake_smtp, hello())

    assert PASSWORD not in error.message
    assert plain not in error.message
    assert "[secret]" in error.message


async def test_an_unreachable_server_is_a_retryable_network_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    down = FakeSmtpServer(mode="plain", port=closed_port)

    error = await failure(down, hello())

    assert error.kind == "SmtpNetworkError"
    assert error.retryable


# Refused before anything is sent


@pytest.mark.parametrize(
    "email",
    [
        hello(subject="Hi\r\nBcc: victim@example.com"),
        hello(to=["ann@example.com\nBcc: victim@example.com"]),
        hello(cc=["carol@example.com\r\n"]),
        hello(bcc=["\rdave@example.com"]),
        hello(reply_to=["x@example.com\nX-Evil: 1"]),
        hello(from_name="Bot\r\nBcc: victim@example.com"),
        hello(headers={"X-Tag": "a\r\nBcc: victim@example.com"}),
        hello(attachments=[Attachment("a.txt\r\nX-Evil: 1", "x")]),
        hello(attachments=[Attachment("a.txt", "x", "text/plain\r\nX-Evil: 1")]),
    ],
    ids=["subject", "to", "cc", "bcc", "reply_to", "from_name", "header", "filename", "type"],
)
async def test_a_line_break_in_any_header_field_is_refused_before_connecting(
    fake_smtp: FakeSmtpServer, email: OutgoingEmail
) -> None:
    error = await failure(fake_smtp, email)

    assert error.kind == "HeaderInjection"
    assert not error.retryable
    assert "line break" in error.message
    assert fake_smtp.connections == 0


async def test_a_line_break_in_the_credential_sender_is_refused_before_connecting(
    fake_smtp: FakeSmtpServer,
) -> None:
    forged = account(fake_smtp, **{"from": "bot@example.com\r\nBcc: victim@example.com"})

    with pytest.raises(ConnectorError) as caught:
        await client().send(forged, hello())

    assert (caught.value.kind, caught.value.retryable) == ("HeaderInjection", False)
    assert caught.value.message.startswith("from ")
    assert fake_smtp.connections == 0


@pytest.mark.parametrize("name", ["Bcc", "Content-Type", "Message-ID"])
async def test_headers_the_client_composes_cannot_be_set_again(
    fake_smtp: FakeSmtpServer, name: str
) -> None:
    error = await failure(fake_smtp, hello(headers={name: "x"}))

    assert (error.kind, error.retryable) == ("InvalidMessage", False)
    assert name in error.message
    assert fake_smtp.connections == 0


@pytest.mark.parametrize("host", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "::1"])
async def test_internal_smtp_hosts_are_refused_unless_allowlisted(
    fake_smtp: FakeSmtpServer, host: str
) -> None:
    with pytest.raises(ConnectorError) as caught:
        await client(allowed_hosts=[]).send(account(fake_smtp, host=host), hello())

    assert (caught.value.kind, caught.value.retryable) == ("TargetRefused", False)
    assert "not in the allowlist" in caught.value.message
    assert fake_smtp.connections == 0


# test_connection


async def test_test_connection_logs_in_without_sending(fake_smtp: FakeSmtpServer) -> None:
    message = await smtp.test_connection(fake_smtp.credential(), allowed_hosts=LOOPBACK)

    assert f"127.0.0.1:{fake_smtp.port}" in message
    assert USERNAME in message
    assert PASSWORD not in message
    assert fake_smtp.auth_attempts == [(USERNAME, PASSWORD)]
    assert fake_smtp.mails == []


async def test_test_connection_reports_a_refused_login(fake_smtp: FakeSmtpServer) -> None:
    with pytest.raises(ConnectorError) as caught:
        await smtp.test_connection(fake_smtp.credential(password="nope"), allowed_hosts=LOOPBACK)

    assert (caught.value.kind, caught.value.retryable) == ("SmtpAuthError", False)


async def test_test_connection_names_the_bad_credential_field_but_not_its_value() -> None:
    with pytest.raises(ConnectorError) as caught:
        await smtp.test_connection({"host": "mail.example.com", "port": "x", "password": "p4ss"})

    assert caught.value.kind == "InvalidCredential"
    assert "port" in caught.value.message and "from" in caught.value.message
    assert "p4ss" not in caught.value.message


# Params (validated in the workflow after rendering, and again in the activity)


def params(**fields: Any) -> EmailSendParams:
    return EmailSendParams.model_validate({"to": "ann@example.com", "text": "hi", **fields})


def problems(**fields: Any) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        params(**fields)
    return [(".".join(map(str, e["loc"])), e["msg"]) for e in caught.value.errors()]


def test_addresses_may_be_a_comma_separated_string_or_a_list() -> None:
    parsed = params(to='ann@example.com, "Doe, John" <john@example.com>', cc=["a@x.io", "b@y.io"])

    assert parsed.to == ["ann@example.com", '"Doe, John" <john@example.com>']
    assert parsed.cc == ["a@x.io", "b@y.io"]


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"to": "not-an-address"}, "to"),
        ({"cc": "ann@example"}, "cc"),
        ({"bcc": ["ok@example.com", "Bob <bob@example.com"]}, "bcc"),
        ({"reply_to": "a@x.com; b@y.com"}, "reply_to"),
        ({"to": "ann@example.com\r\nBcc: victim@example.com"}, "to"),
        ({"subject": "Hi\nBcc: victim@example.com"}, "subject"),
        ({"from_name": "Bot\rX: y"}, "from_name"),
        ({"headers": {"Bcc": "victim@example.com"}}, "headers"),
        ({"headers": {"X-Ok": "a\nb"}}, "headers"),
        ({"attachments": [{"filename": "a\nb", "content": "x"}]}, "attachments.0.filename"),
        (
            {"attachments": [{"filename": "a", "content": "x", "content_type": "pdf"}]},
            "attachments.0.content_type",
        ),
        (
            {"attachments": [{"filename": "a", "content": "%%%", "encoding": "base64"}]},
            "attachments.0",
        ),
    ],
)
def test_bad_params_are_refused_naming_the_field(fields: dict[str, Any], where: str) -> None:
    assert [location for location, _ in problems(**fields)] == [where]


def test_an_email_needs_a_recipient_and_a_body() -> None:
    assert problems(to=[]) == [("", "Value error, give at least one recipient in to, cc or bcc")]
    assert problems(text=None) == [("", "Value error, give a body: text, html or both")]


def test_attachments_are_capped_in_total_size() -> None:
    half = base64.b64encode(b"\0" * (MAX_ATTACHMENT_BYTES // 2 + 1)).decode()
    attachment = {"filename": "big.bin", "content": half, "encoding": "base64"}

    [(where, message)] = problems(attachments=[attachment, attachment])

    assert where == ""
    assert "attachments total" in message


def test_safe_extra_headers_are_accepted() -> None:
    headers = {"X-Mailer": "flowpilot", "List-Unsubscribe": "<mailto:u@example.com>"}

    assert params(headers=headers).headers == headers


# Real runs: API → Temporal → worker → SMTP, with the credential stored encrypted


def email_definition(**node: Any) -> dict[str, Any]:
    return {
        "name": "Notify",
        "inputs": {"subject": {"type": "string", "default": "Daily report"}},
        "nodes": [
            {
                "id": "notify",
                "type": "email.send",
                "credential": "mail",
                "retry": {"initial_interval": "100ms", "max_attempts": 3},
                "params": {
                    "to": "Ann <ann@example.com>, bob@example.com",
                    "bcc": "audit@example.com",
                    "subject": "{{ inputs.subject }}",
                    "text": "All good.",
                    "attachments": [
                        {
                            "filename": "numbers.bin",
                            "content": base64.b64encode(b"\x00\x01\x02").decode(),
                            "encoding": "base64",
                        }
                    ],
                },
                **node,
            }
        ],
        "output": "{{ nodes.notify.output }}",
    }


async def store_credential(
    api: httpx.AsyncClient, headers: dict[str, str], kind: str, data: dict[str, Any]
) -> None:
    stored = await api.post(
        "/api/credentials", json={"name": "mail", "kind": kind, "data": data}, headers=headers
    )
    assert stored.status_code == 201, stored.text


async def test_a_run_sends_the_email_and_the_password_reaches_only_the_smtp_server(
    live_api: httpx.AsyncClient, fake_smtp: FakeSmtpServer, temporal_env: WorkflowEnvironment
) -> None:
    canary = "canary-smtp-5e1f0-password"
    fake_smtp.users[USERNAME] = canary
    fake_smtp.data_replies.append("451 4.3.0 Try again later")
    headers = await sign_up(live_api)
    await store_credential(live_api, headers, "smtp", fake_smtp.credential(password=canary))
    workflow_id = await create(live_api, headers, email_definition())

    run_id = await start(live_api, headers, workflow_id)
    run = await finished(live_api, headers, run_id)

    assert run["status"] == "succeeded", run
    [node] = run["nodes"]
    assert node["attempts"] == 2
    [rejected], [mail] = fake_smtp.rejected, fake_smtp.mails
    assert rejected.message["Message-ID"] == mail.message["Message-ID"]
    assert node["output"]["message_id"] == mail.message["Message-ID"]
    assert node["output"]["accepted"] == ["ann@example.com", "bob@example.com", "audit@example.com"]
    assert mail.message["Subject"] == "Daily report"
    assert mail.message["Bcc"] is None
    attachment = next(mail.message.iter_attachments())
    assert attachment.get_payload(decode=True) == b"\x00\x01\x02"
    assert fake_smtp.auth_attempts[-1] == (USERNAME, canary)
    answers = [
        await live_api.get(f"/api/runs/{run_id}", headers=headers),
        await live_api.get("/api/runs", headers=headers),
        await live_api.get("/api/credentials", headers=headers),
    ]
    assert all(canary not in answer.text for answer in answers)
    history = await temporal_env.client.get_workflow_handle(f"run-{run_id}").fetch_history()
    assert canary not in history.to_json()


async def test_a_run_refuses_an_injected_subject_before_the_server_is_reached(
    live_api: httpx.AsyncClient, fake_smtp: FakeSmtpServer
) -> None:
    headers = await sign_up(live_api)
    await store_credential(live_api, headers, "smtp", fake_smtp.credential())
    workflow_id = await create(live_api, headers, email_definition())

    run_id = await start(live_api, headers, workflow_id, subject="Hi\r\nBcc: victim@example.com")
    run = await finished(live_api, headers, run_id)

    assert run["status"] == "failed"
    [node] = run["nodes"]
    assert "params.subject" in node["error"] and "line break" in node["error"]
    assert fake_smtp.connections == 0


async def test_a_run_with_a_credential_of_another_kind_fails_without_retrying(
    live_api: httpx.AsyncClient, fake_smtp: FakeSmtpServer, temporal_env: WorkflowEnvironment
) -> None:
    headers = await sign_up(live_api)
    await store_credential(live_api, headers, "smtp", fake_smtp.credential())
    workflow_id = await create(live_api, headers, email_definition())
    await replace_credential(live_api, headers, "mail", "bearer", {"token": "not-smtp"})

    run_id = await start(live_api, headers, workflow_id)
    run = await finished(live_api, headers, run_id)

    assert run["status"] == "failed"
    [node] = run["nodes"]
    history = await temporal_env.client.get_workflow_handle(f"run-{run_id}").fetch_history()
    [started] = [
        event.activity_task_started_event_attributes
        for event in history.events
        if event.HasField("activity_task_started_event_attributes")
    ]
    assert started.attempt == 1
    assert "kind 'bearer'" in node["error"] and "smtp" in node["error"]
    assert "not-smtp" not in node["error"]
    assert fake_smtp.connections == 0
