"""The real app on a real database (PostgreSQL or SQLite), driven over HTTP in-process."""

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url
from temporalio.testing import WorkflowEnvironment

from api.main import create_app
from core.config import Settings
from worker import create_worker

POSTGRES_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


async def reset_postgres(url: str) -> None:
    """Drop every table of the test database, so each test starts from an empty schema."""
    parsed = make_url(url)
    connection = await asyncpg.connect(
        host=parsed.host, port=parsed.port, user=parsed.username, database=parsed.database
    )
    try:
        await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await connection.close()


@pytest.fixture(params=["postgresql", "sqlite"])
async def api_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "postgresql":
        await reset_postgres(POSTGRES_URL)
        url = POSTGRES_URL
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'flowpilot.db'}"
    return Settings(
        database_url=url,
        data_dir=tmp_path,
        temporal_task_queue=f"test-{uuid.uuid4()}",
        http_allowed_hosts=["127.0.0.1"],
        redis_url=None,
    )


@contextlib.asynccontextmanager
async def app_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app on `settings`, started (its database migrated), and a client calling it."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@pytest.fixture
async def api(api_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(api_settings) as client:
        yield client


@pytest.fixture
async def live_api(
    temporal_env: WorkflowEnvironment, api_settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    """The app wired to the test Temporal server, with a worker recording into its database."""
    address = temporal_env.client.service_client.config.target_host
    settings = api_settings.model_copy(update={"temporal_address": address})
    async with app_client(settings) as client, create_worker(temporal_env.client, settings):
        yield client


async def sign_up(api: httpx.AsyncClient, email: str | None = None) -> dict[str, str]:
    """Register and log in a new user; returns their Authorization header."""
    email = email or f"user-{uuid.uuid4().hex[:8]}@example.com"
    password = "correct horse battery"
    registered = await api.post("/api/auth/register", json={"email": email, "password": password})
    assert registered.status_code == 201, registered.text
    login = await api.post("/api/auth/login", json={"email": email, "password": password})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


async def create_workflow(
    api: httpx.AsyncClient, headers: dict[str, str], definition: dict[str, Any]
) -> dict[str, Any]:
    """Save `definition` as a new workflow of the signed-in user; the API's answer."""
    created = await api.post("/api/workflows", json={"definition": definition}, headers=headers)
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


async def user_id(api: httpx.AsyncClient, headers: dict[str, str]) -> str:
    me = await api.get("/api/auth/me", headers=headers)
    return str(me.json()["id"])


async def admin_and_viewer(api: httpx.AsyncClient) -> tuple[dict[str, str], dict[str, str]]:
    """The instance's admin (first account) and a second account the admin made a viewer."""
    admin = await sign_up(api)
    viewer = await sign_up(api)
    changed = await api.patch(
        f"/api/users/{await user_id(api, viewer)}", json={"role": "viewer"}, headers=admin
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["role"] == "viewer"
    return admin, viewer


def simple_definition(name: str = "Greeting", **fields: Any) -> dict[str, Any]:
    return {
        "schema": "flowpilot/v1",
        "name": name,
        "inputs": {"who": {"type": "string", "default": "world"}},
        "nodes": [{"id": "greet", "type": "transform", "params": {"value": "hi {{ inputs.who }}"}}],
        "output": "{{ nodes.greet.output }}",
        **fields,
    }


async def replace_credential(
    api: httpx.AsyncClient, headers: dict[str, str], name: str, kind: str, data: dict[str, Any]
) -> None:
    """Give the credential `name` another kind after workflows naming it were saved (the one
    way a node can meet a credential of the wrong kind: saving refuses it)."""
    listed = await api.get("/api/credentials", headers=headers)
    for item in listed.json()["items"]:
        if item["name"] == name:
            deleted = await api.delete(f"/api/credentials/{item['id']}", headers=headers)
            assert deleted.status_code == 204, deleted.text
    stored = await api.post(
        "/api/credentials", json={"name": name, "kind": kind, "data": data}, headers=headers
    )
    assert stored.status_code == 201, stored.text
