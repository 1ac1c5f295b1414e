"""Outbound requests of real runs never reach internal targets (SSRF), whatever the node,
with or without a credential, however the address is spelled, wherever a redirect points,
and whatever DNS answers after the check.

The worker's allowlist is `127.0.0.1/32` only (the test's own services); everything below
is an internal target that allowlist does not admit. Loopback spellings point at a server
listening on every IPv4 address, so a guard that let one through would be caught by a hit
there, not only by a missing error. Per-address unit tests are in test_http_connector.py.
"""

import socket
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import httpx
import pytest

from core.config import Settings
from tests.support.api import sign_up
from tests.support.fake_smtp import FakeSmtpServer
from tests.support.local_http import LocalHttpServer
from tests.test_api_runs import create, finished, start


class _Counting(BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        self.send_response(200)
        self.end_headers()

    do_POST = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def everywhere() -> Iterator[tuple[int, type[_Counting]]]:
    """A server on 0.0.0.0: reachable as 127.0.0.2, 2130706434, 0x7f000002 … if let through."""
    handler = type("Counting", (_Counting,), {"hits": 0})
    server = ThreadingHTTPServer(("0.0.0.0", 0), handler)
    Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], handler
    server.shutdown()
    server.server_close()


@pytest.fixture
def api_settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'flowpilot.db'}",
        data_dir=tmp_path,
        temporal_task_queue=f"test-{uuid.uuid4()}",
        http_allowed_hosts=["127.0.0.1/32"],
        redis_url=None,
    )


def internal_urls(port: int) -> dict[str, str]:
    return {
        "loopback": f"http://127.0.0.2:{port}/",
        "loopback_v6": f"http://[::1]:{port}/",
        "decimal": f"http://2130706434:{port}/",
        "octal": f"http://0177.0.0.2:{port}/",
        "hex": f"http://0x7f000002:{port}/",
        "short_form": f"http://127.2:{port}/",
        "unspecified": f"http://0.0.0.0:{port}/",
        "ipv4_mapped": f"http://[::ffff:127.0.0.2]:{port}/",
        "ipv4_mapped_metadata": "http://[::ffff:a9fe:a9fe]/latest/meta-data/",
        "private_10": "http://10.0.0.1/",
        "private_172": "http://172.16.0.1/",
        "private_192": "http://192.168.1.1/",
        "cgnat": "http://100.64.0.1/",
        "metadata": "http://169.254.169.254/latest/meta-data/",
        "link_local_v6": "http://[fe80::1]/",
        "unique_local_v6": "http://[fd00::1]/",
        "nat64": "http://[64:ff9b::a9fe:a9fe]/",
        "file": "file:///etc/passwd",
        "ftp": "ftp://127.0.0.2/",
        "gopher": "gopher://127.0.0.2:6379/_INFO",
        "dict": f"dict://127.0.0.2:{port}/",
    }


def request_nodes(urls: dict[str, str], credential: str | None) -> list[dict[str, Any]]:
    suffix = "_with_credential" if credential else ""
    return [
        {
            "id": f"{name}{suffix}",
            "type": "http.request",
            "on_error": "continue",
            "params": {"url": url, "method": "POST"},
            **({"credential": credential} if credential else {}),
        }
        for name, url in urls.items()
    ]


async def test_every_internal_target_is_refused_with_and_without_a_credential(
    live_api: httpx.AsyncClient, everywhere: tuple[int, type[_Counting]]
) -> None:
    port, server = everywhere
    headers = await sign_up(live_api)
    stored = await live_api.post(
        "/api/credentials",
        json={"name": "token", "kind": "bearer", "data": {"token": "t0ken-value"}},
        headers=headers,
    )
    assert stored.status_code == 201, stored.text
    urls = internal_urls(port)
    nodes = request_nodes(urls, None) + request_nodes(urls, "token")
    workflow_id = await create(live_api, headers, {"name": "Probe", "nodes": nodes})

    run = await finished(live_api, headers, await start(live_api, headers, workflow_id))

    assert run["status"] == "succeeded", run  # every node failed and the run went on
    results = {node["node_id"]: node for node in run["nodes"]}
    assert set(results) == {node["id"] for node in nodes}
    for node_id, node in results.items():
        assert node["status"] == "failed", (node_id, node)
        assert node["error"].startswith("refused"), (node_id, node["error"])
        assert node["attempts"] == 1, (node_id, "a refusal is not retried")
    assert server.hits == 0


async def test_a_redirect_to_an_internal_target_is_refused(
    live_api: httpx.AsyncClient,
    local_http: LocalHttpServer,
    everywhere: tuple[int, type[_Counting]],
) -> None:
    port, server = everywhere
    targets = {
        "to_loopback": f"http://127.0.0.2:{port}/",
        "to_metadata": "http://169.254.169.254/latest/meta-data/",
        "to_decimal": f"http://2130706434:{port}/",
        "to_file": "file:///etc/passwd",
    }
    for name, target in targets.items():
        local_http.route(f"/{name}", [(302, None, {"Location": target})])
    headers = await sign_up(live_api)
    nodes = [
        {
            "id": name,
            "type": "http.request",
            "on_error": "continue",
            "params": {"url": local_http.url(f"/{name}")},
        }
        for name in targets
    ]
    workflow_id = await create(live_api, headers, {"name": "Bounce", "nodes": nodes})

    run = await finished(live_api, headers, await start(live_api, headers, workflow_id))

    for node in run["nodes"]:
        assert node["status"] == "failed", node
        assert "refused" in node["error"], node["error"]
    assert all(local_http.hits(f"/{name}") == 1 for name in targets)
    assert server.hits == 0


async def test_dns_is_asked_once_and_the_checked_address_is_the_one_connected_to(
    live_api: httpx.AsyncClient, local_http: LocalHttpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the name first resolves to the admitted address, then to an internal
    one. The request must go to the address that was checked, without asking again."""
    lookups: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def rebinding(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "rebind.test":
            return real_getaddrinfo(host, *args, **kwargs)
        lookups.append(host)
        address = "127.0.0.1" if len(lookups) == 1 else "169.254.169.254"
        return real_getaddrinfo(address, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    local_http.route("/rebind", [(200, {"reached": "the checked address"})])
    headers = await sign_up(live_api)
    url = f"http://rebind.test:{local_http.port}/rebind"
    definition = {
        "name": "Rebind",
        "nodes": [{"id": "call", "type": "http.request", "params": {"url": url}}],
        "output": "{{ nodes.call.output.body.reached }}",
    }
    workflow_id = await create(live_api, headers, definition)

    run = await finished(live_api, headers, await start(live_api, headers, workflow_id))

    assert run["status"] == "succeeded", run
    assert run["output"] == "the checked address"
    assert lookups == ["rebind.test"]
    assert local_http.requests("/rebind")[0].headers["host"] == f"rebind.test:{local_http.port}"


async def test_connector_credentials_cannot_point_at_internal_targets(
    live_api: httpx.AsyncClient, fake_smtp: FakeSmtpServer, everywhere: tuple[int, type[_Counting]]
) -> None:
    """Hosts and URLs inside credentials (SMTP host, OpenAI base URL, Slack webhook) are
    vetted like node URLs, both by the credential test and in a run."""
    port, server = everywhere
    headers = await sign_up(live_api)
    credentials = {
        "mail": ("smtp", fake_smtp.credential(host="127.0.0.2", port=port)),
        "model": ("openai", {"api_key": "sk-test-key", "base_url": "http://169.254.169.254/v1"}),
        "hook": ("slack", {"webhook_url": f"https://127.0.0.2:{port}/services/T/B/x"}),
    }
    for name, (kind, data) in credentials.items():
        stored = await live_api.post(
            "/api/credentials", json={"name": name, "kind": kind, "data": data}, headers=headers
        )
        assert stored.status_code == 201, stored.text
        tested = await live_api.post(
            f"/api/credentials/{stored.json()['id']}/test", headers=headers
        )
        assert tested.status_code == 200, tested.text
        assert tested.json()["ok"] is False, (name, tested.json())
        assert "refused" in tested.json()["message"], (name, tested.json())
    nodes = [
        {
            "id": "mail",
            "type": "email.send",
            "credential": "mail",
            "on_error": "continue",
            "params": {"to": "ops@example.com", "subject": "s", "text": "t"},
        },
        {
            "id": "model",
            "type": "llm.chat",
            "credential": "model",
            "on_error": "continue",
            "params": {"prompt": "hi"},
        },
        {
            "id": "hook",
            "type": "slack.post_message",
            "credential": "hook",
            "on_error": "continue",
            "params": {"via": "webhook", "text": "hi"},
        },
    ]
    workflow_id = await create(live_api, headers, {"name": "Connectors", "nodes": nodes})

    run = await finished(live_api, headers, await start(live_api, headers, workflow_id))

    for node in run["nodes"]:
        assert node["status"] == "failed", node
        assert "refused" in node["error"], node["error"]
        assert node["attempts"] == 1, node
    assert server.hits == 0
    assert fake_smtp.connections == 0
