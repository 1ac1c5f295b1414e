"""Flowpilot's own processes (`python -m cli api`, `python -m worker`) started for a test."""

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


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
