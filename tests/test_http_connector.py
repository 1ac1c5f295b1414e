"""The guarded HTTP connector and the `http.request` activity, against a real local server."""

import asyncio
import dataclasses
import ipaddress
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.http import HttpActivities
from connectors.errors import ConnectorError
from connectors.http import HttpClient, parse_retry_after
from connectors.netguard import GuardedTransport, IPAddress, TargetGuard, is_public_address
from tests.support.local_http import LocalHttpServer
from workflows.contract import NodeInput

LOOPBACK = ["127.0.0.1"]


@pytest.fixture
async def http() -> Any:
    async with HttpClient(allowed_hosts=LOOPBACK, max_response_bytes=64 * 1024) as client:
        yield client


async def failure(http: HttpClient, **kwargs: Any) -> ConnectorError:
    with pytest.raises(ConnectorError) as caught:
        await http.request(**kwargs)
    return caught.value


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- responses --------------------------------------------------------------------------


async def test_json_body_is_parsed(http: HttpClient, local_http: LocalHttpServer) -> None:
    local_http.route("/items", [(200, {"items": [1, 2]}, {"X-Total": "2"})])

    response = await http.request(url=local_http.url("/items"))

    assert response.status == 200
    assert response.body == {"items": [1, 2]}
    assert response.headers["x-total"] == "2"


async def test_vendor_json_is_parsed(http: HttpClient, local_http: LocalHttpServer) -> None:
    local_http.route("/p", [(200, '{"a": 1}', {"Content-Type": "application/problem+json"})])

    assert (await http.request(url=local_http.url("/p"))).body == {"a": 1}


async def test_text_body_is_kept(http: HttpClient, local_http: LocalHttpServer) -> None:
    local_http.route("/hello", [(200, "hello, world")])

    assert (await http.request(url=local_http.url("/hello"))).body == "hello, world"


async def test_request_parts_reach_the_server(
    http: HttpClient, local_http: LocalHttpServer
) -> None:
    local_http.route("/echo", [(201, {"ok": True})])

    await http.request(
        method="POST",
        url=local_http.url("/echo?page=1"),
        headers={"X-Token": "abc"},
        query={"q": "open issues", "all": True},
        json_body={"name": "flowpilot"},
        idempotency_key="run-1:fetch",
    )

    [seen] = local_http.requests("/echo")
    assert seen.method == "POST"
    assert seen.query == {"page": ["1"], "q": ["open issues"], "all": ["true"]}
    assert seen.headers["x-token"] == "abc"
    assert seen.headers["idempotency-key"] == "run-1:fetch"
    assert seen.headers["content-type"] == "application/json"
    assert seen.headers["host"] == f"127.0.0.1:{local_http.port}"
    assert seen.json() == {"name": "flowpilot"}


async def test_user_idempotency_key_wins(http: HttpClient, local_http: LocalHttpServer) -> None:
    local_http.route("/k", [(200, "ok")])

    await http.request(
        url=local_http.url("/k"), headers={"idempotency-key": "mine"}, idempotency_key="auto"
    )

    assert local_http.requests("/k")[0].headers["idempotency-key"] == "mine"


async def test_raw_body_is_sent(http: HttpClient, local_http: LocalHttpServer) -> None:
    local_http.route("/raw", [(200, "ok")])

    await http.request(method="PUT", url=local_http.url("/raw"), body="a,b\n1,2")

    assert local_http.requests("/raw")[0].text == "a,b\n1,2"


# --- status handling --------------------------------------------------------------------


async def test_404_is_not_retryable(http: HttpClient, local_http: LocalHttpServer) -> None:
    local_http.route("/missing", [(404, {"message": "Not Found"})])

    err = await failure(http, url=local_http.url("/missing") + "?token=secret")

    assert not err.retryable
    assert err.kind == "HttpStatusError"
    assert "GET" in err.message and "/missing" in err.message and "404" in err.message
    assert "Not Found" in err.message
    assert "secret" not in err.message
    assert "\n" not in err.message


async def test_error_snippet_is_short(http: HttpClient, local_http: LocalHttpServer) -> None:
    local_http.route("/long", [(400, "x" * 5000)])

    err = await failure(http, url=local_http.url("/long"))

    assert len(err.message) < 400


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_server_errors_and_throttling_are_retryable(
    http: HttpClient, local_http: LocalHttpServer, status: int
) -> None:
    local_http.route("/flaky", [(status, "try later")])

    err = await failure(http, url=local_http.url("/flaky"))

    assert err.retryable
    assert err.retry_after is None


async def test_retry_after_seconds(http: HttpClient, local_http: LocalHttpServer) -> None:
    local_http.route("/slow-down", [(429, "slow down", {"Retry-After": "7"})])

    err = await failure(http, url=local_http.url("/slow-down"))

    assert err.retryable
    assert err.retry_after == 7


def test_retry_after_http_date() -> None:
    now = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)

    assert parse_retry_after(later, now=now) == 90
    assert parse_retry_after("Wed, 01 Jan 2020 00:00:00 GMT", now=now) == 0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after("-3", now=now) is None


async def test_expected_status_makes_404_a_success(
    http: HttpClient, local_http: LocalHttpServer
) -> None:
    local_http.route("/gone", [(404, {"found": False})])

    response = await http.request(url=local_http.url("/gone"), expected_status=[404])

    assert response.status == 404
    assert response.body == {"found": False}


async def test_unexpected_2xx_is_not_retryable(
    http: HttpClient, local_http: LocalHttpServer
) -> None:
    local_http.route("/accepted", [(202, "queued")])

    err = await failure(http, url=local_http.url("/accepted"), expected_status=[200])

    assert not err.retryable


# --- the target guard -------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://localhost:8080/",
        "http://10.0.0.1/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:a9fe:a9fe]/",
        "http://[fd00::1]/",
        "http://[fe80::1]/",
        "http://[64:ff9b::a00:1]/",
        "http://2130706433/",
        "http://0177.0.0.1/",
        "http://0x7f.1/",
        "http://127.1/",
        "file:///etc/passwd",
        "ftp://example.com/file",
        "gopher://127.0.0.1:6379/",
        "not a url",
    ],
)
async def test_guard_refuses_internal_targets(url: str) -> None:
    async with HttpClient() as http:
        err = await failure(http, url=url)

    assert err.kind == "TargetRefused"
    assert not err.retryable


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("64:ff9b::808:808", True),
        ("2002:808:808::1", True),
        ("64:ff9b::7f00:1", False),
        ("2002:a9fe:a9fe::1", False),
        ("::8.8.8.8", False),
        ("224.0.0.1", False),
        ("fec0::1", False),
        ("192.0.2.1", False),
    ],
)
def test_public_address_rule(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public


async def test_guard_admits_public_addresses() -> None:
    target = await TargetGuard().resolve("https://93.184.216.34/")

    assert [str(a) for a in target.addresses] == ["93.184.216.34"]
    assert str(target.pinned_url(target.addresses[0])) == "https://93.184.216.34/"


async def test_guard_allowlist_by_network_and_host() -> None:
    guard = TargetGuard(["10.0.0.0/8", "localhost"])

    assert [str(a) for a in (await guard.resolve("http://10.1.2.3/")).addresses] == ["10.1.2.3"]
    assert (await guard.resolve("http://localhost/")).addresses
    with pytest.raises(ConnectorError):
        await guard.resolve("http://192.168.0.1/")


async def test_allowlist_admits_loopback(http: HttpClient, local_http: LocalHttpServer) -> None:
    local_http.route("/ok", [(200, "ok")])

    assert (await http.request(url=local_http.url("/ok"))).status == 200


async def test_redirects_are_followed(http: HttpClient, local_http: LocalHttpServer) -> None:
    local_http.route("/old", [(302, None, {"Location": "/new?x=1"})])
    local_http.route("/new", [(200, {"moved": True})])

    response = await http.request(method="POST", url=local_http.url("/old"), json_body={"a": 1})

    assert response.body == {"moved": True}
    [seen] = local_http.requests("/new")
    assert seen.method == "GET"
    assert seen.body == b""


async def test_307_keeps_method_and_body(http: HttpClient, local_http: LocalHttpServer) -> None:
    local_http.route("/old", [(307, None, {"Location": "/new"})])
    local_http.route("/new", [(200, "ok")])

    await http.request(method="POST", url=local_http.url("/old"), json_body={"a": 1})

    [seen] = local_http.requests("/new")
    assert (seen.method, seen.json()) == ("POST", {"a": 1})


async def test_cross_origin_redirect_drops_credentials(local_http: LocalHttpServer) -> None:
    other_origin = f"http://localhost:{local_http.port}/landing"
    local_http.route("/start", [(302, None, {"Location": other_origin})])
    local_http.route("/landing", [(200, "ok")])

    async with HttpClient(allowed_hosts=["127.0.0.1", "localhost"]) as http:
        await http.request(url=local_http.url("/start"), headers={"Authorization": "Bearer t"})

    assert "authorization" in local_http.requests("/start")[0].headers
    assert "authorization" not in local_http.requests("/landing")[0].headers


async def test_cross_origin_redirect_drops_secret_headers(local_http: LocalHttpServer) -> None:
    other_origin = f"http://localhost:{local_http.port}/landing"
    local_http.route("/start", [(302, None, {"Location": other_origin})])
    local_http.route("/landing", [(200, "ok")])

    async with HttpClient(allowed_hosts=["127.0.0.1", "localhost"]) as http:
        await http.request(
            url=local_http.url("/start"),
            headers={"X-Api-Key": "secret", "X-Trace": "kept"},
            secret_headers=["X-Api-Key"],
        )

    [landing] = local_http.requests("/landing")
    assert local_http.requests("/start")[0].headers["x-api-key"] == "secret"
    assert "x-api-key" not in landing.headers
    assert landing.headers["x-trace"] == "kept"


async def test_same_origin_redirect_keeps_secret_headers(
    http: HttpClient, local_http: LocalHttpServer
) -> None:
    local_http.route("/start", [(302, None, {"Location": "/landing"})])
    local_http.route("/landing", [(200, "ok")])

    await http.request(
        url=local_http.url("/start"), headers={"X-Api-Key": "secret"}, secret_headers=["x-api-key"]
    )

    assert local_http.requests("/landing")[0].headers["x-api-key"] == "secret"


async def test_redirect_not_followed_when_disabled(
    http: HttpClient, local_http: LocalHttpServer
) -> None:
    local_http.route("/old", [(301, None, {"Location": "/new"})])

    response = await http.request(url=local_http.url("/old"), follow_redirects=False)

    assert (response.status, response.headers["location"]) == (301, "/new")
    assert local_http.hits("/new") == 0


async def test_redirect_to_internal_address_is_refused(
    http: HttpClient, local_http: LocalHttpServer
) -> None:
    local_http.route("/jump", [(302, None, {"Location": "http://169.254.169.254/latest/"})])

    err = await failure(http, url=local_http.url("/jump"))

    assert err.kind == "TargetRefused"
    assert not err.retryable


async def test_redirect_loop_stops(http: HttpClient, local_http: LocalHttpServer) -> None:
    local_http.route("/loop", [(302, None, {"Location": "/loop"})])

    err = await failure(http, url=local_http.url("/loop"))

    assert err.kind == "TooManyRedirects"
    assert local_http.hits("/loop") == 6


@pytest.mark.parametrize("headers", [{}, {"Transfer-Encoding": "chunked"}])
async def test_response_over_the_cap_is_refused(
    local_http: LocalHttpServer, headers: dict[str, str]
) -> None:
    local_http.route("/big", [(200, b"x" * 300_000, headers)])

    async with HttpClient(allowed_hosts=LOOPBACK, max_response_bytes=100_000) as http:
        err = await failure(http, url=local_http.url("/big"))

    assert err.kind == "ResponseTooLarge"
    assert not err.retryable


async def test_connection_refused_is_retryable(http: HttpClient) -> None:
    err = await failure(http, url=f"http://127.0.0.1:{closed_port()}/")

    assert err.retryable
    assert err.kind == "HttpNetworkError"


async def test_unresolvable_host_is_retryable(http: HttpClient) -> None:
    err = await failure(http, url="http://does-not-exist.invalid/")

    assert (err.kind, err.retryable) == ("HttpNetworkError", True)


async def test_slow_requests_run_concurrently(
    http: HttpClient, local_http: LocalHttpServer
) -> None:
    local_http.route("/slow", [(200, "done")], delay=0.3)

    await asyncio.gather(*(http.request(url=local_http.url("/slow")) for _ in range(3)))

    first, *rest = local_http.requests("/slow")
    assert first.finished is not None
    assert all(other.started < first.finished for other in rest)


async def test_connects_to_the_checked_address(
    local_http: LocalHttpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`pinned.test` exists only in the guard's answer, so reaching it proves the pin."""

    async def lookup(host: str, port: int) -> tuple[IPAddress, ...]:
        assert host == "pinned.test"
        return (ipaddress.ip_address("127.0.0.1"),)

    monkeypatch.setattr(TargetGuard, "_lookup", staticmethod(lookup))
    local_http.route("/pinned", [(200, "ok")])

    async with HttpClient(allowed_hosts=["pinned.test"]) as http:
        await http.request(url=f"http://pinned.test:{local_http.port}/pinned")

    assert local_http.requests("/pinned")[0].headers["host"] == f"pinned.test:{local_http.port}"


async def test_guarded_transport_refuses_internal_targets() -> None:
    async with httpx.AsyncClient(transport=GuardedTransport()) as client:
        with pytest.raises(ConnectorError) as refused:
            await client.get("http://127.0.0.1:9/")

    assert refused.value.kind == "TargetRefused"
    assert not refused.value.retryable


async def test_guarded_transport_connects_to_the_checked_address(
    local_http: LocalHttpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def lookup(host: str, port: int) -> tuple[IPAddress, ...]:
        assert host == "pinned.test"
        return (ipaddress.ip_address("127.0.0.1"),)

    monkeypatch.setattr(TargetGuard, "_lookup", staticmethod(lookup))
    local_http.route("/pinned", [(200, {"ok": True})])

    transport = GuardedTransport(allowlist=["pinned.test"])
    async with httpx.AsyncClient(transport=transport) as client:
        answer = await client.post(f"http://pinned.test:{local_http.port}/pinned", json={"a": 1})

    assert answer.json() == {"ok": True}
    [seen] = local_http.requests("/pinned")
    assert seen.headers["host"] == f"pinned.test:{local_http.port}"
    assert seen.json() == {"a": 1}


async def test_cookies_do_not_carry_over(http: HttpClient, local_http: LocalHttpServer) -> None:
    local_http.route("/login", [(200, "ok", {"Set-Cookie": "session=abc; Path=/"})])
    local_http.route("/after", [(200, "ok")])

    await http.request(url=local_http.url("/login"))
    await http.request(url=local_http.url("/after"))

    assert "cookie" not in local_http.requests("/after")[0].headers


@pytest.fixture(scope="module")
def tls_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate valid for the name `localhost` only, not for 127.0.0.1."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    command = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost".split()
    san = "subjectAltName=DNS:localhost"
    subprocess.run(
        [*command, "-addext", san, "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture(scope="module")
def https_server(
    tls_certificate: tuple[Path, Path],
) -> Iterator[tuple[LocalHttpServer, list[str | None]]]:
    """An HTTPS server and the SNI names its clients sent."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*tls_certificate)
    server_names: list[str | None] = []
    context.sni_callback = lambda _sock, name, _ctx: server_names.append(name)
    with LocalHttpServer(context) as server:
        yield server, server_names


async def test_https_pins_the_address_and_verifies_the_hostname(
    https_server: tuple[LocalHttpServer, list[str | None]], tls_certificate: tuple[Path, Path]
) -> None:
    server, server_names = https_server
    server.reset()
    server.route("/secure", [(200, {"tls": True})])
    trust = ssl.create_default_context(cafile=str(tls_certificate[0]))

    async with (
        httpx.AsyncClient(verify=trust) as raw,
        HttpClient(allowed_hosts=["localhost"], client=raw) as http,
    ):
        response = await http.request(url=f"https://localhost:{server.port}/secure")

    assert response.body == {"tls": True}
    assert server_names[-1] == "localhost"
    [seen] = server.requests("/secure")
    assert seen.headers["host"] == f"localhost:{server.port}"
    assert seen.headers["connection"] == "close"


async def test_untrusted_certificate_is_not_retryable(
    https_server: tuple[LocalHttpServer, list[str | None]],
) -> None:
    server, _ = https_server

    async with HttpClient(allowed_hosts=["localhost"]) as http:
        err = await failure(http, url=f"https://localhost:{server.port}/secure")

    assert (err.kind, err.retryable) == ("TlsCertificateError", False)


# --- the activity -----------------------------------------------------------------------


def node(params: dict[str, Any]) -> NodeInput:
    return NodeInput(
        run_id="run-1",
        node_id="fetch",
        type="http.request",
        params=params,
        idempotency_key="run-1:fetch",
    )


@pytest.fixture
async def http_activities() -> Any:
    acts = HttpActivities(allowed_hosts=LOOPBACK, max_response_bytes=1024 * 1024)
    yield acts
    await acts.aclose()


async def test_activity_output_shape(
    http_activities: HttpActivities, local_http: LocalHttpServer
) -> None:
    local_http.route("/items", [(200, [{"title": "bug"}])])

    result = await ActivityEnvironment().run(
        http_activities.request, node({"url": local_http.url("/items")})
    )

    assert result.output["status"] == 200
    assert result.output["body"] == [{"title": "bug"}]
    assert result.output["headers"]["content-type"] == "application/json"
    assert result.attempt == 1
    assert local_http.requests("/items")[0].headers["idempotency-key"] == "run-1:fetch"


async def test_activity_404_is_non_retryable(
    http_activities: HttpActivities, local_http: LocalHttpServer
) -> None:
    local_http.route("/missing", [(404, "nope")])

    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(
            http_activities.request, node({"url": local_http.url("/missing")})
        )

    assert caught.value.non_retryable
    assert caught.value.type == "HttpStatusError"


async def test_activity_429_asks_for_a_delay(
    http_activities: HttpActivities, local_http: LocalHttpServer
) -> None:
    local_http.route("/busy", [(429, "busy", {"Retry-After": "7"})])

    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(
            http_activities.request, node({"url": local_http.url("/busy")})
        )

    assert not caught.value.non_retryable
    assert caught.value.next_retry_delay == timedelta(seconds=7)


async def test_activity_refused_target(http_activities: HttpActivities) -> None:
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(
            http_activities.request, node({"url": "http://169.254.169.254/"})
        )

    assert (caught.value.type, caught.value.non_retryable) == ("TargetRefused", True)


async def test_activity_invalid_params(http_activities: HttpActivities) -> None:
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(http_activities.request, node({"method": "GET"}))

    assert (caught.value.type, caught.value.non_retryable) == ("InvalidParams", True)


async def test_activity_heartbeats_while_waiting(
    http_activities: HttpActivities, local_http: LocalHttpServer
) -> None:
    local_http.route("/slow", [(200, "done")], delay=0.5)
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, heartbeat_timeout=timedelta(seconds=0.3))
    beats: list[tuple[Any, ...]] = []
    env.on_heartbeat = lambda *details: beats.append(details)

    await env.run(http_activities.request, node({"url": local_http.url("/slow")}))

    assert len(beats) >= 3


async def test_activity_refuses_a_credential_it_cannot_resolve() -> None:
    activities = HttpActivities(allowed_hosts=[], max_response_bytes=1024)
    node = NodeInput(
        run_id="run-1",
        node_id="call",
        type="http.request",
        params={"url": "https://api.example.com/"},
        credential="github-bot",
        idempotency_key="run-1:call",
    )
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(activities.request, node)
    assert raised.value.type == "CredentialUnavailable"
    assert raised.value.non_retryable
