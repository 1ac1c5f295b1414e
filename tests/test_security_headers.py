"""Every answer of the API carries the browser security headers nginx.conf sets, the web app
its Content-Security-Policy; the docs page and a run's event stream keep working."""

import json
import re
from pathlib import Path

import httpx
from fastapi.responses import PlainTextResponse

from api.main import create_app
from api.security_headers import CONTENT_SECURITY_POLICY, SECURITY_HEADERS
from core.config import Settings
from tests.support.api import app_client, create_workflow, sign_up
from tests.support.local_http import LocalHttpServer
from tests.test_api_frontend import build

NGINX_CONF = Path(__file__).parents[1] / "temporal-docker" / "nginx.conf"


def assert_secured(answer: httpx.Response, *, policy: bool = True) -> None:
    for name, value in SECURITY_HEADERS:
        assert answer.headers.get_list(name) == [value], (answer.request.url, name)
    if policy:
        assert answer.headers.get_list("content-security-policy") == [CONTENT_SECURITY_POLICY]
    else:
        assert "content-security-policy" not in answer.headers


def web_app_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, frontend_dir=build(tmp_path / "dist"), redis_url=None)


async def test_api_answers_and_error_answers_carry_the_headers(tmp_path: Path) -> None:
    async with app_client(web_app_settings(tmp_path)) as api:
        headers = await sign_up(api)
        me = await api.get("/api/auth/me", headers=headers)
        assert me.status_code == 200
        assert_secured(me)
        for path, status in (("/api/auth/me", 401), ("/api/no-such-thing", 404)):
            refused = await api.get(path)
            assert refused.status_code == status, path
            assert_secured(refused)
        invalid = await api.post("/api/auth/login", json={"email": 3})
        assert invalid.status_code == 422
        assert_secured(invalid)
        assert_secured(await api.get("/healthz"))


async def test_the_web_app_and_its_assets_carry_the_policy(tmp_path: Path) -> None:
    async with app_client(web_app_settings(tmp_path)) as api:
        for path in ("/", "/runs/3f0c", "/assets/index-3f2a1b.js"):
            page = await api.get(path)
            assert page.status_code == 200, path
            assert_secured(page)
        index = await api.get("/workflows")
        assert index.headers["content-type"].startswith("text/html")
        policy = dict(part.strip().split(" ", 1) for part in CONTENT_SECURITY_POLICY.split(";"))
        assert policy["script-src"] == "'self'" and policy["frame-ancestors"] == "'none'"


async def test_the_docs_pages_load_their_cdn_without_the_apps_policy(tmp_path: Path) -> None:
    async with app_client(web_app_settings(tmp_path)) as api:
        for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
            page = await api.get(path)
            assert page.status_code == 200, path
            assert page.headers["content-type"].startswith("text/html")
            assert_secured(page, policy=False)
        swagger = (await api.get("/docs")).text
        assert "cdn.jsdelivr.net" in swagger and "SwaggerUIBundle" in swagger
        # Only the pages: the schema they load is an API answer like any other.
        assert_secured(await api.get("/openapi.json"))


async def test_a_header_a_route_sets_itself_is_kept(tmp_path: Path) -> None:
    app = create_app(web_app_settings(tmp_path))

    @app.get("/api/extra/embeddable")
    async def embeddable() -> PlainTextResponse:
        return PlainTextResponse(
            "ok",
            headers={"X-Frame-Options": "SAMEORIGIN", "Content-Security-Policy": "sandbox"},
        )

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as api:
            answer = await api.get("/api/extra/embeddable")
    assert answer.headers.get_list("x-frame-options") == ["SAMEORIGIN"]
    assert answer.headers.get_list("content-security-policy") == ["sandbox"]
    assert answer.headers["x-content-type-options"] == "nosniff"


async def test_a_runs_event_stream_carries_the_headers_and_still_delivers_its_events(
    live_api: httpx.AsyncClient, local_http: LocalHttpServer
) -> None:
    local_http.route("/step", responses=[(200, {"ok": True}, {})], delay=0.5)
    headers = await sign_up(live_api)
    step = {"id": "step", "type": "http.request", "params": {"url": local_http.url("/step")}}
    workflow = await create_workflow(live_api, headers, {"name": "Streamed", "nodes": [step]})
    started = await live_api.post(
        f"/api/workflows/{workflow['id']}/runs", json={"inputs": {}}, headers=headers
    )
    assert started.status_code == 201, started.text
    run_id = started.json()["id"]

    path = f"/api/runs/{run_id}/events"
    async with live_api.stream("GET", path, headers=headers, timeout=30) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        assert_secured(answer)
        text = "".join([chunk async for chunk in answer.aiter_text()])
    events = [block.split("\n", 1) for block in text.strip().split("\n\n")]
    kinds = [(kind, json.loads(data.removeprefix("data: "))["status"]) for kind, data in events]
    assert ("event: node", "running") in kinds
    assert kinds[-1] == ("event: run", "succeeded")


def test_the_headers_are_the_ones_nginx_sets_in_front_of_the_same_app() -> None:
    conf = NGINX_CONF.read_text()
    server = conf[conf.index("server {") : conf.index("\n    location ")]
    nginx = dict(re.findall(r'add_header\s+(\S+)\s+"([^"]*)"\s+always;', server))
    assert nginx == {**dict(SECURITY_HEADERS), "Content-Security-Policy": CONTENT_SECURITY_POLICY}
