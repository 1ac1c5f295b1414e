"""The API serves the built web app at / and keeps its own paths its own."""

from pathlib import Path

import httpx

from api.main import create_app
from core.config import Settings
from tests.support.api import app_client, sign_up


def build(directory: Path) -> Path:
    """A stand-in for `npm run build`'s output: an index page and one hashed asset."""
    (directory / "assets").mkdir(parents=True)
    (directory / "index.html").write_text("<!doctype html><div id=root></div>")
    (directory / "assets" / "index-3f2a1b.js").write_text("console.log('flowpilot')")
    (directory / "favicon.svg").write_text("<svg/>")
    return directory


async def test_every_app_route_answers_the_index_and_assets_are_cached_for_good(
    tmp_path: Path,
) -> None:
    dist = build(tmp_path / "dist")
    settings = Settings(data_dir=tmp_path, frontend_dir=dist, redis_url=None)
    async with app_client(settings) as api:
        for path in ("/", "/workflows/3f0c/edit", "/runs?status=failed", "/login"):
            page = await api.get(path)
            assert page.status_code == 200, path
            assert page.text.startswith("<!doctype html>")
            assert page.headers["cache-control"] == "no-cache"
        asset = await api.get("/assets/index-3f2a1b.js")
        assert asset.text == "console.log('flowpilot')"
        assert "immutable" in asset.headers["cache-control"]
        assert (await api.get("/favicon.svg")).text == "<svg/>"


async def test_api_paths_stay_the_apis_and_files_outside_the_build_stay_hidden(
    tmp_path: Path,
) -> None:
    dist = build(tmp_path / "dist")
    (tmp_path / "secret.txt").write_text("not for the web")
    settings = Settings(data_dir=tmp_path, frontend_dir=dist, redis_url=None)
    async with app_client(settings) as api:
        for method in ("GET", "POST", "DELETE"):
            missing = await api.request(method, "/api/no-such-thing")
            assert missing.status_code == 404, method
            assert missing.json() == {"detail": "not found"}
        assert (await api.post("/workflows")).status_code == 404
        assert (await api.get("/healthz")).json()["status"] == "ok"
        assert (await api.get("/openapi.json")).json()["info"]["title"] == "Flowpilot"
        headers = await sign_up(api)
        assert (await api.get("/api/auth/me", headers=headers)).status_code == 200
        for sneaky in ("/../secret.txt", "/%2e%2e/secret.txt", "/assets/../../secret.txt"):
            answer = await api.get(sneaky)
            assert "not for the web" not in answer.text, sneaky


async def test_without_a_build_the_api_serves_only_the_api(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, frontend_dir=tmp_path / "none", redis_url=None)
    async with app_client(settings) as api:
        assert (await api.get("/")).status_code == 404
        assert (await api.get("/healthz")).status_code == 200


async def test_routes_added_after_the_app_is_built_are_not_shadowed_by_the_web_app(
    tmp_path: Path,
) -> None:
    dist = build(tmp_path / "dist")
    app = create_app(Settings(data_dir=tmp_path, frontend_dir=dist, redis_url=None))

    @app.post("/api/extra/ping")
    async def ping() -> dict[str, bool]:
        return {"pong": True}

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as api:
            assert (await api.post("/api/extra/ping")).json() == {"pong": True}
            assert (await api.get("/workflows")).text.startswith("<!doctype html>")
