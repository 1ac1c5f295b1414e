"""Flowpilot's own processes (`python -m cli api`, `python -m worker`) started for a test."""

import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def flowpilot_env(
    temporal_address: str, data: Path, database_url: str, **settings: str
) -> dict[str, str]:
    """The settings an API and a worker of one test share: one secret key (the worker
    decrypts what the API stored), a task queue of their own, the API on a free port, the
    test's own services on loopback allowed, no Redis, limits and metrics ports out of the
    way; `settings` add to or override them."""
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": "",
        "TEMPORAL_ADDRESS": temporal_address,
        "TEMPORAL_TASK_QUEUE": f"test-{uuid.uuid4().hex[:8]}",
        "FLOWPILOT_SECRET_KEY": secrets.token_urlsafe(32),
        "DATA_DIR": str(data),
        "FRONTEND_DIR": str(data / "no-frontend"),
        "HTTP_ALLOWED_HOSTS": json.dumps(["127.0.0.1"]),
        "RATE_LIMIT_API_PER_MINUTE": "100000",
        "WORKER_METRICS_PORT": "0",
        "TEMPORAL_SDK_METRICS_PORT": "0",
        "API_HOST": "127.0.0.1",
        "API_PORT": str(free_port()),
        **settings,
    }


class Processes:
    """Starts processes with a shared environment, logging each to a file; stops them all."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = {**os.environ, **env}
        self.logs = logs
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, *args: str, **env: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env={**self.env, **env}, stdout=log, stderr=log
        )
        self.started.append(process)
        return process

    def log_of(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.terminate()
        for process in self.started:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def wait_ready(client: httpx.AsyncClient, process: subprocess.Popen[bytes]) -> None:
    """Until the API in `process` answers /readyz with 200; fails if it exits first."""
    for _ in range(300):
        if process.poll() is not None:
            raise AssertionError(f"{client.base_url} exited with {process.returncode}")
        try:
            if (await client.get("/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"{client.base_url} never became ready")
