"""n8n running the head-to-head's shape: a webhook answering with the last of 40 Set nodes.

`bench/api.py --n8n` uses this to measure n8n on the same machine, in the same run, with the
same load generator as Flowpilot. n8n is installed into `bench/n8n/node_modules` by
`make bench-n8n-install` (2.3 GB; its `xlsx` dependency is pinned to the npm registry's
release because n8n's own points at a CDN this machine cannot reach). n8n runs with its
defaults (SQLite, executions saved), its state in a temporary folder.
"""

import asyncio
import contextlib
import json
import os
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

N8N_BIN = Path(__file__).resolve().parent / "n8n" / "node_modules" / ".bin" / "n8n"
WORKFLOW_ID = "flowpilotbench001"
WEBHOOK_PATH = "chain"


def chain_workflow(length: int) -> dict[str, Any]:
    """A webhook and `length` Set nodes computing what `bench/api.py`'s transform chain does.

    Each Set node outputs `{step, seed, acc}` from the previous item, as each transform does
    from the previous node's output; the webhook answers with the last node's item.
    """
    nodes: list[dict[str, Any]] = [
        {
            "id": str(uuid.uuid4()),
            "name": "Webhook",
            "type": "n8n-nodes-base.webhook",
            "typeVersion": 2,
            "position": [0, 0],
            "webhookId": str(uuid.uuid4()),
            "parameters": {
                "httpMethod": "POST",
                "path": WEBHOOK_PATH,
                "responseMode": "lastNode",
                "options": {},
            },
        }
    ]
    connections: dict[str, Any] = {}
    previous = "Webhook"
    for index in range(length):
        source = "$json.body" if index == 0 else "$json"
        acc = "$json.body.n" if index == 0 else "$json.acc + 1"
        fields = {
            "step": ("number", str(index)),
            "seed": ("string", f"={{{{ {source}.seed }}}}"),
            "acc": ("number", f"={{{{ {acc} }}}}"),
        }
        name = f"Set {index}"
        nodes.append(
            {
                "id": str(uuid.uuid4()),
                "name": name,
                "type": "n8n-nodes-base.set",
                "typeVersion": 3.4,
                "position": [200 * (index + 1), 0],
                "parameters": {
                    "assignments": {
                        "assignments": [
                            {"id": str(uuid.uuid4()), "name": key, "type": kind, "value": value}
                            for key, (kind, value) in fields.items()
                        ]
                    },
                    "options": {},
                },
            }
        )
        connections[previous] = {"main": [[{"node": name, "type": "main", "index": 0}]]}
        previous = name
    return {
        "id": WORKFLOW_ID,
        "name": f"Webhook + {length} Set nodes",
        "nodes": nodes,
        "connections": connections,
        "active": False,
        "settings": {"executionOrder": "v1"},
    }


def _cli(env: dict[str, str], *args: str) -> None:
    subprocess.run([str(N8N_BIN), *args], env=env, check=True, capture_output=True, timeout=300)


@contextlib.asynccontextmanager
async def running_n8n(port: int, broker_port: int, length: int) -> AsyncIterator[tuple[str, int]]:
    """n8n serving the chain workflow; yields (its webhook URL, its pid) once it answers."""
    if not N8N_BIN.exists():
        raise FileNotFoundError(f"{N8N_BIN} is missing: run `make bench-n8n-install`")
    with tempfile.TemporaryDirectory(prefix="flowpilot-bench-n8n-") as home:
        env = {
            **os.environ,
            "N8N_USER_FOLDER": home,
            "N8N_PORT": str(port),
            "N8N_LISTEN_ADDRESS": "127.0.0.1",
            "N8N_RUNNERS_BROKER_PORT": str(broker_port),
            "N8N_DIAGNOSTICS_ENABLED": "false",
            "N8N_VERSION_NOTIFICATIONS_ENABLED": "false",
            "N8N_PERSONALIZATION_ENABLED": "false",
        }
        workflow_file = Path(home) / "workflow.json"
        workflow_file.write_text(json.dumps([chain_workflow(length)]))
        await asyncio.to_thread(_cli, env, "import:workflow", f"--input={workflow_file}")
        await asyncio.to_thread(_cli, env, "publish:workflow", f"--id={WORKFLOW_ID}")
        process = await asyncio.create_subprocess_exec(
            str(N8N_BIN),
            "start",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}/webhook/{WEBHOOK_PATH}"
        try:
            await _until_active(url, process, length)
            yield url, process.pid
        finally:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _until_active(
    url: str, process: asyncio.subprocess.Process, length: int, limit_s: float = 120
) -> None:
    """Wait until the webhook answers a probe with the chain's result: n8n registers
    production webhooks some seconds after it starts listening, and answers other things
    (200 included) until the workflow is fully active."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    expected = {"step": length - 1, "seed": "probe", "acc": length - 1}
    good = 0
    async with httpx.AsyncClient(timeout=10) as client:
        while loop.time() < deadline:
            if process.returncode is not None:
                raise RuntimeError(f"n8n exited with code {process.returncode}")
            with contextlib.suppress(httpx.HTTPError, ValueError):
                answer = await client.post(url, json={"seed": "probe", "n": 0})
                good = good + 1 if answer.status_code == 200 and answer.json() == expected else 0
                if good == 3:
                    return
            await asyncio.sleep(0.5)
    raise TimeoutError(f"n8n did not serve {url} within {limit_s} s")
