"""API benchmark: the HTTP API on PostgreSQL under load, and the webhook head-to-head with n8n.

Run by `make bench-api` as `.venv/bin/python bench/api.py` (`--quick` for a shorter run).
Everything runs on this machine, on loopback, as it does in production: a Temporal dev server
(`temporal server start-dev` with the latency tuning `flowpilot dev` uses, state in a file),
one worker (`python -m worker`; `--workers N` for more) and the API (`python -m cli api`:
one uvicorn process, `--api-workers N` for more; no reload), on the PostgreSQL database
`flowpilot_bench` (dropped and created again at start) and Redis database 5 (flushed at
start). The API's per-user and per-webhook rate limits are raised so the load is not
throttled; nothing else is changed from the defaults.

The load comes from a separate process (this file with `--loadgen`, httpx over keep-alive
connections), which shares the two cores with everything else; its CPU is reported. So is
what the rest of the machine used during each phase: before each one the bench waits (up to
`--quiet-wait` seconds) for other work on the machine to calm down.

1. Seed: sign up an admin and then the editor who does everything below; start 1,000 runs of
   a one-node workflow through `POST /api/workflows/{id}/runs`; wait until the database
   records all of them as succeeded.
2. `GET /api/runs` (default page, 50 runs): open loop at a fixed arrival rate (latency counted
   from each request's scheduled send time, so a stall cannot hide queued requests), then a
   closed loop of concurrent clients for the most it serves.
3. `POST /api/workflows/{id}/runs` against Temporal's own start call: the same DagWorkflow and
   RunInput started by this process with the API's data converter, interleaved one by one;
   then a closed loop of concurrent clients starting runs.
4. n8n's shape: a webhook with `"respond": "output"` in front of 40 chained `transform` nodes,
   each reading the previous one's output; sequential calls, then concurrent clients. Every
   answer is checked against the output its own input must give, and at the end every run is
   checked in the database: succeeded, with all 40 nodes recorded.

Progress goes to stderr; the Markdown report goes to stdout.
"""

import argparse
import asyncio
import contextlib
import gc
import importlib.metadata
import importlib.util
import json
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import redis.asyncio as aioredis
from temporalio.common import WorkflowIDConflictPolicy

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core.config import Settings  # noqa: E402
from core.temporal import (  # noqa: E402
    connect,
    dev_server_tuning_args,
    exit_process,
    temporal_binary,
)
from workflows.dag import DagWorkflow, RunInput  # noqa: E402
from workflows.definition import resolve_inputs, validate_definition  # noqa: E402

POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
"""Only used to drop and create the bench database (CREATE DATABASE needs another one)."""
BENCH_DATABASE = "flowpilot_bench"
FORBIDDEN_DATABASES = {"test", "postgres", "template0", "template1"}
REDIS_URL = "redis://127.0.0.1:6379/5"
RESERVED_PORTS = {7233, 8000, 8233}
"""`make dev`'s ports: a developer may be running it."""
RAISED_LIMIT = 1_000_000
"""Per minute, for the API and webhook rate limits (defaults 600 and 120)."""

STORED_RUNS = 1000
SEED_CONCURRENCY = 10
READ_RATE = 200.0
READ_RATE_LOW = 100.0
"""A second open-loop rate, for the latency below the target's rate (no target)."""
READ_WARMUP_S = 3.0
CLOSED_CLIENTS = 8
OPEN_CONNECTIONS = 32
"""Connections the open-loop generator may use at once (requests queue when all are busy)."""
HOOK_CHAIN = 40
HOOK_CLIENTS = 20
N8N_MEDIAN_MS = 38.0
N8N_RUNS_PER_S = (26.0, 33.0)

TARGET_READ_P99_MS = 50.0
TARGET_START_OVERHEAD_MS = 20.0
TARGET_HOOK_MEDIAN_MS = 1.5 * N8N_MEDIAN_MS
TARGET_HOOK_RUNS_PER_S = N8N_RUNS_PER_S[1]


@dataclass
class Options:
    read_seconds: float
    closed_seconds: float
    start_pairs: int
    start_gap_s: float
    hook_sequential: int
    hook_concurrent_calls: int
    quick: bool
    quiet_wait_s: float
    workers: int
    api_workers: int = 1
    n8n: bool = False


def parse_options(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter phases, fewer samples")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=300,
        metavar="SECONDS",
        help="before each phase, wait up to this long for other work on the machine to calm "
        "down (default 300)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="worker processes (default 1, as `flowpilot dev` runs)",
    )
    parser.add_argument(
        "--api-workers",
        type=int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="API processes (API_WORKERS; default one per core, as a production API runs; "
        "`flowpilot dev` runs one)",
    )
    parser.add_argument(
        "--n8n",
        action="store_true",
        help="also run the webhook phases against n8n (install it with `make bench-n8n-install`)",
    )
    parser.add_argument("--loadgen", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        return Options(
            read_seconds=8,
            closed_seconds=5,
            start_pairs=50,
            start_gap_s=0.05,
            hook_sequential=50,
            hook_concurrent_calls=200,
            quick=True,
            quiet_wait_s=args.quiet_wait,
            workers=args.workers,
            api_workers=args.api_workers,
            n8n=args.n8n,
        )
    return Options(
        read_seconds=20,
        closed_seconds=10,
        start_pairs=200,
        start_gap_s=0.05,
        hook_sequential=50,
        hook_concurrent_calls=400,
        quick=False,
        quiet_wait_s=args.quiet_wait,
        workers=args.workers,
        api_workers=args.api_workers,
        n8n=args.n8n,
    )


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- statistics -------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0 to 100), linear between the closest ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Latencies:
    """Milliseconds of the successful requests of one phase, and how it went."""

    ms: list[float]
    errors: int
    seconds: float
    """Wall time of the measured phase."""
    cpu: dict[str, float] = field(default_factory=dict)
    """CPU seconds per wall second (cores) of each component during the phase."""

    @property
    def rate(self) -> float:
        return len(self.ms) / self.seconds if self.seconds else 0.0

    def p(self, q: float) -> float:
        return percentile(self.ms, q)

    @property
    def max(self) -> float:
        return max(self.ms) if self.ms else float("nan")

    def to_json(self) -> dict[str, Any]:
        return {"ms": self.ms, "errors": self.errors, "seconds": self.seconds, "cpu": self.cpu}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Latencies":
        return cls(data["ms"], data["errors"], data["seconds"], data.get("cpu", {}))


# -- CPU accounting from /proc ----------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
Watched = int | list[int] | dict[str, str]
"""A component: a pid, pids, or {"name": process name, "command": text its command line
contains ("" for any)}."""
CPU_COMPONENTS = ["api", "worker", "temporal", "postgres", "redis", "load generator"]


def _stat(pid: int) -> tuple[str, float] | None:
    """(command name, CPU seconds) of a process, None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    return name, (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _children(parent: int) -> list[int]:
    """The processes `parent` started (the API's worker processes with API_WORKERS > 1)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(fields[1]) == parent:
            found.append(int(entry.name))
    return found


def _pids_matching(name: str, command_contains: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        if stat is None or stat[0] != name:
            continue
        try:
            command = (entry / "cmdline").read_bytes().decode(errors="replace")
        except (FileNotFoundError, ProcessLookupError):
            continue
        if command_contains in command:
            found.append(int(entry.name))
    return found


def machine_busy() -> tuple[float, float]:
    """(busy CPU seconds of the whole machine, of which stolen by the hypervisor)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS, steal / CLOCK_TICKS


def cpu_snapshot(components: dict[str, Watched]) -> dict[str, dict[int, float]]:
    """CPU seconds per pid of each component, and the machine's under `machine`."""
    snapshot: dict[str, dict[int, float]] = {}
    for component, what in components.items():
        if isinstance(what, int):
            pids = [what]
        elif isinstance(what, list):
            pids = what
        else:
            pids = _pids_matching(what["name"], what["command"])
        seconds = {}
        for pid in pids:
            stat = _stat(pid)
            if stat is not None:
                seconds[pid] = stat[1]
        snapshot[component] = seconds
    busy, steal = machine_busy()
    snapshot["machine"] = {0: busy, 1: steal}
    return snapshot


def cpu_cores(
    before: dict[str, dict[int, float]], after: dict[str, dict[int, float]], wall_s: float
) -> dict[str, float]:
    """Cores used by each component between two snapshots (processes alive at both).

    `other` is what the rest of the machine used meanwhile (other people's work included),
    `steal` what the hypervisor took.
    """
    used: dict[str, float] = {}
    for component, end in after.items():
        if component == "machine":
            continue
        start = before.get(component, {})
        spent = sum(end[pid] - start[pid] for pid in end if pid in start)
        used[component] = spent / wall_s if wall_s else 0.0
    busy = (after["machine"][0] - before["machine"][0]) / wall_s if wall_s else 0.0
    used["steal"] = (after["machine"][1] - before["machine"][1]) / wall_s if wall_s else 0.0
    used["other"] = max(
        0.0, busy - used["steal"] - sum(used[c] for c in CPU_COMPONENTS if c in used)
    )
    return used


async def other_load(components: dict[str, Watched], seconds: float = 2.0) -> float:
    """Cores used by everything but the bench's own processes over the next `seconds`."""
    before = cpu_snapshot(components)
    await asyncio.sleep(seconds)
    cores = cpu_cores(before, cpu_snapshot(components), seconds)
    return cores["other"] + cores["steal"]


# -- the load generator (a separate process) ---------------------------------------------------


def keepalive_client(base_url: str, headers: dict[str, str]) -> httpx.AsyncClient:
    """One keep-alive connection: each simulated client has its own, as a browser tab would."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    return httpx.AsyncClient(
        base_url=base_url, headers=headers, limits=limits, timeout=httpx.Timeout(60.0)
    )


def _page_ok(response: httpx.Response, expected_items: int) -> bool:
    if response.status_code != 200:
        return False
    return len(response.json()["items"]) == expected_items


Call = Callable[[httpx.AsyncClient, int], Awaitable[bool]]


async def open_loop(
    clients: list[httpx.AsyncClient], call: Call, rate: float, seconds: float
) -> tuple[list[float], int, float]:
    """Requests at a fixed `rate` a second for `seconds`, whatever the answers' pace.

    Each request is due at its scheduled time and goes out on the first idle connection;
    its latency runs from that scheduled time, so time spent queued behind a slow answer
    counts (no coordinated omission). Returns (latencies of good answers in ms, errors, wall
    seconds from the first scheduled send to the last answer).
    """
    loop = asyncio.get_running_loop()
    count = round(rate * seconds)
    start = loop.time() + 0.05
    due: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
    latencies: list[float] = []
    errors = 0
    last_answer = start

    async def connection(client: httpx.AsyncClient) -> None:
        nonlocal errors, last_answer
        while (item := await due.get()) is not None:
            index, scheduled = item
            try:
                ok = await call(client, index)
            except httpx.HTTPError:
                ok = False
            answered = loop.time()
            last_answer = max(last_answer, answered)
            if ok:
                latencies.append((answered - scheduled) * 1000)
            else:
                errors += 1

    workers = [asyncio.create_task(connection(client)) for client in clients]
    for index in range(count):
        scheduled = start + index / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        due.put_nowait((index, scheduled))
    for _ in workers:
        due.put_nowait(None)
    await asyncio.gather(*workers)
    return latencies, errors, last_answer - start


async def closed_loop(
    clients: list[httpx.AsyncClient], seconds: float | None, calls: int | None, call: Call
) -> tuple[list[float], int, float]:
    """One caller per client, each calling again as soon as answered, for `seconds` or `calls`.

    Returns (latencies of good answers in ms, errors, wall seconds).
    """
    loop = asyncio.get_running_loop()
    start = loop.time()
    deadline = start + seconds if seconds is not None else None
    issued = 0
    latencies: list[float] = []
    errors = 0

    async def caller(client: httpx.AsyncClient) -> None:
        nonlocal issued, errors
        while True:
            if deadline is not None and loop.time() >= deadline:
                return
            if calls is not None and issued >= calls:
                return
            index = issued
            issued += 1
            sent = loop.time()
            try:
                ok = await call(client, index)
            except httpx.HTTPError:
                ok = False
            if ok:
                latencies.append((loop.time() - sent) * 1000)
            else:
                errors += 1

    await asyncio.gather(*(caller(client) for client in clients))
    return latencies, errors, loop.time() - start


def hook_payload(index: int, tag: str) -> dict[str, Any]:
    return {"seed": f"{tag}-{index}-{uuid.uuid4().hex[:8]}", "n": index}


def hook_expected(payload: dict[str, Any]) -> dict[str, Any]:
    """What the chain of `HOOK_CHAIN` transforms must answer for `payload`."""
    return {"step": HOOK_CHAIN - 1, "seed": payload["seed"], "acc": payload["n"] + HOOK_CHAIN - 1}


async def loadgen_main(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one load phase described by `spec`; answer with its latencies and CPU use."""
    components: dict[str, Watched] = {"load generator": os.getpid(), **spec["components"]}
    mode, path = spec["mode"], spec["path"]
    run_ids: list[str] = []

    async def get_page(client: httpx.AsyncClient, _index: int) -> bool:
        return _page_ok(await client.get(path), spec["expected_items"])

    async def start_run(client: httpx.AsyncClient, index: int) -> bool:
        answer = await client.post(path, json={"inputs": {"who": f"closed-{index}"}})
        return answer.status_code == 201

    async def call_hook(client: httpx.AsyncClient, index: int) -> bool:
        payload = hook_payload(index, spec["tag"])
        answer = await client.post(path, json=payload)
        if answer.status_code != 200:
            return False
        body = answer.json()
        ok = body.get("status") == "succeeded" and body.get("new") is True
        ok = ok and body.get("output") == hook_expected(payload)
        if ok:
            run_ids.append(body["run_id"])
        return ok

    async def call_n8n(client: httpx.AsyncClient, index: int) -> bool:
        payload = hook_payload(index, spec["tag"])
        answer = await client.post(path, json=payload)
        return answer.status_code == 200 and answer.json() == hook_expected(payload)

    calls = {"get": get_page, "post": start_run, "hooks": call_hook, "n8n": call_n8n}
    call = calls[spec["call"]]
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(keepalive_client(spec["base_url"], spec["headers"]))
            for _ in range(spec["clients"])
        ]
        # Warm-up: connections opened, the server's caches and pools filled.
        if mode == "open":
            await open_loop(clients, call, spec["rate"], spec["warmup_seconds"])
        elif spec.get("warmup_calls"):
            warmup = spec["warmup_calls"]
            await closed_loop(clients[:warmup], None, warmup, call)
        before = cpu_snapshot(components)
        if mode == "open":
            latencies, errors, wall = await open_loop(clients, call, spec["rate"], spec["seconds"])
        else:
            latencies, errors, wall = await closed_loop(
                clients, spec.get("seconds"), spec.get("calls"), call
            )
        after = cpu_snapshot(components)
    result = Latencies(latencies, errors, wall, cpu_cores(before, after, wall)).to_json()
    result["run_ids"] = run_ids  # of the warm-up calls too: every run this phase made
    return result


def loadgen_entry() -> None:
    spec = json.loads(sys.stdin.read())
    # The load generator's own collector pauses would count as server latency (latency is
    # taken from scheduled send times); it lives for one phase, so it does without them.
    gc.freeze()
    gc.disable()
    result = asyncio.run(loadgen_main(spec))
    sys.stdout.write(json.dumps(result))
    sys.stdout.flush()


async def run_loadgen(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one phase in a new load-generator process and return its result."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPT),
        "--loadgen",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    stdout, _ = await process.communicate(json.dumps(spec).encode())
    if process.returncode != 0:
        raise RuntimeError(f"the load generator failed with exit code {process.returncode}")
    result: dict[str, Any] = json.loads(stdout)
    return result


# -- the services under test ------------------------------------------------------------------


def free_port() -> int:
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port not in RESERVED_PORTS:
            return port


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(
                f"{self.name} exited with {self.process.returncode}; last lines of "
                f"{self.log_path}:\n{self.log_tail()}"
            )


@dataclass
class Stack:
    """The processes under test, their addresses and the settings they share."""

    workdir: Path
    env: dict[str, str]
    api_url: str
    temporal_address: str
    task_queue: str
    services: dict[str, Service] = field(default_factory=dict)
    database: str = BENCH_DATABASE

    def start(self, name: str, command: list[str]) -> Service:
        log_path = self.workdir / f"{name}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=log_file, stderr=subprocess.STDOUT
            )
        service = Service(name, process, log_path)
        self.services[name] = service
        return service

    def pids(self) -> dict[str, Watched]:
        """What the CPU accounting watches: our processes (every worker as one), the
        PostgreSQL backends serving the bench database, and Redis."""
        watched: dict[str, Watched] = {}
        for name, service in self.services.items():
            component = "worker" if name.startswith("worker") else name
            pids = watched.setdefault(component, [])
            assert isinstance(pids, list)
            pids += [service.process.pid, *_children(service.process.pid)]
        return {
            **watched,
            "postgres": {"name": "postgres", "command": self.database},
            "redis": {"name": "redis-server", "command": ""},
        }

    def stop(self) -> None:
        for service in reversed(list(self.services.values())):
            if service.process.poll() is None:
                service.process.send_signal(signal.SIGTERM)
        for service in reversed(list(self.services.values())):
            try:
                service.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                service.process.kill()
                service.process.wait()


async def reset_database(database: str = BENCH_DATABASE) -> str:
    """Drop and create `database`; returns its SQLAlchemy URL."""
    if database in FORBIDDEN_DATABASES:
        raise RuntimeError(f"refusing to use the database {database!r}")
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}"


def bench_dsn(database: str = BENCH_DATABASE) -> str:
    return f"postgresql://postgres@127.0.0.1:5432/{database}"


async def reset_redis(url: str = REDIS_URL) -> None:
    client = aioredis.Redis.from_url(url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


async def wait_for(
    what: str, check: Callable[[], Awaitable[bool]], services: list[Service], limit_s: float
) -> None:
    deadline = time.monotonic() + limit_s
    while True:
        for service in services:
            service.check_alive()
        try:
            if await check():
                return
        except (OSError, httpx.HTTPError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not ready after {limit_s:.0f} s")
        await asyncio.sleep(0.2)


async def port_open(host: str, port: int) -> bool:
    _, writer = await asyncio.open_connection(host, port)
    writer.close()
    await writer.wait_closed()
    return True


@contextlib.asynccontextmanager
async def stack(
    workers: int = 1,
    api_workers: int = 1,
    *,
    database: str = BENCH_DATABASE,
    redis_url: str = REDIS_URL,
    settings: dict[str, str] | None = None,
) -> AsyncIterator[Stack]:
    """Temporal dev server, worker(s) and API as subprocesses on fresh ports and databases;
    `settings` adds environment variables to the bench's own (or overrides them)."""
    database_url = await reset_database(database)
    await reset_redis(redis_url)
    with tempfile.TemporaryDirectory(prefix="flowpilot-bench-api-") as tmp:
        workdir = Path(tmp)
        temporal_port, ui_port, api_port = free_port(), free_port(), free_port()
        temporal_address = f"127.0.0.1:{temporal_port}"
        api_url = f"http://127.0.0.1:{api_port}"
        task_queue = f"bench-api-{uuid.uuid4().hex[:8]}"
        env = {
            **os.environ,
            "ENVIRONMENT": "production",
            "FLOWPILOT_SECRET_KEY": secrets.token_urlsafe(48),
            "DATA_DIR": str(workdir / "data"),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "API_HOST": "127.0.0.1",
            "API_PORT": str(api_port),
            "PUBLIC_URL": api_url,
            "TEMPORAL_ADDRESS": temporal_address,
            "TEMPORAL_UI_URL": f"http://127.0.0.1:{ui_port}",
            "TEMPORAL_TASK_QUEUE": task_queue,
            "TEMPORAL_DB_FILE": str(workdir / "temporal.db"),
            "RATE_LIMIT_API_PER_MINUTE": str(RAISED_LIMIT),
            "RATE_LIMIT_WEBHOOK_PER_MINUTE": str(RAISED_LIMIT),
            "API_WORKERS": str(api_workers),
            **(settings or {}),
        }
        running = Stack(workdir, env, api_url, temporal_address, task_queue, database=database)
        try:
            # The same command line as `flowpilot dev` (cli.py `_dev`), on other ports.
            server = running.start(
                "temporal",
                [
                    temporal_binary(),
                    "server",
                    "start-dev",
                    "--ip",
                    "127.0.0.1",
                    "--port",
                    str(temporal_port),
                    "--ui-port",
                    str(ui_port),
                    "--db-filename",
                    env["TEMPORAL_DB_FILE"],
                    "--log-level",
                    "error",
                    *dev_server_tuning_args(),
                ],
            )
            await wait_for(
                "the Temporal dev server",
                lambda: port_open("127.0.0.1", temporal_port),
                [server],
                60,
            )
            pool = []
            for number in range(1, workers + 1):
                # Each worker serves its Prometheus endpoint on a port of its own.
                running.env["WORKER_METRICS_PORT"] = str(free_port())
                name = "worker" if number == 1 else f"worker-{number}"
                pool.append(running.start(name, [sys.executable, "-m", "worker"]))
            api = running.start("api", [sys.executable, "-m", "cli", "api"])

            async def polling() -> bool:
                return all(
                    "worker polling task queue" in worker.log_path.read_text(errors="replace")
                    for worker in pool
                )

            async def ready() -> bool:
                async with httpx.AsyncClient(base_url=api_url) as client:
                    return (await client.get("/readyz")).status_code == 200

            await wait_for("the worker", polling, [server, *pool], 60)
            await wait_for("the API", ready, [server, *pool, api], 60)
            log(f"stack up: API {api_url}, Temporal {temporal_address}, logs in {workdir}")
            yield running
            for service in running.services.values():
                service.check_alive()
        finally:
            running.stop()


# -- workflows and seeding --------------------------------------------------------------------


def small_definition() -> dict[str, Any]:
    return {
        "schema": "flowpilot/v1",
        "name": "Greeting",
        "inputs": {"who": {"type": "string", "default": "world"}},
        "nodes": [{"id": "greet", "type": "transform", "params": {"value": "hi {{ inputs.who }}"}}],
        "output": "{{ nodes.greet.output }}",
    }


def hook_definition() -> dict[str, Any]:
    """A webhook answering with the output of 40 chained transforms, like n8n Set nodes."""
    body = "inputs.webhook.body"
    nodes: list[dict[str, Any]] = [
        {
            "id": "n0",
            "type": "transform",
            "params": {
                "value": {"step": 0, "seed": f"{{{{ {body}.seed }}}}", "acc": f"{{{{ {body}.n }}}}"}
            },
        }
    ]
    for index in range(1, HOOK_CHAIN):
        previous = f"nodes.n{index - 1}.output"
        value = {
            "step": index,
            "seed": f"{{{{ {previous}.seed }}}}",
            "acc": f"{{{{ {previous}.acc + 1 }}}}",
        }
        nodes.append(
            {
                "id": f"n{index}",
                "type": "transform",
                "needs": [f"n{index - 1}"],
                "params": {"value": value},
            }
        )
    return {
        "schema": "flowpilot/v1",
        "name": "Webhook chain",
        "trigger": {"type": "webhook", "respond": "output", "timeout": "30s"},
        "nodes": nodes,
        "output": f"{{{{ nodes.n{HOOK_CHAIN - 1}.output }}}}",
    }


@dataclass
class Seeded:
    headers: dict[str, str]
    user_id: str
    small_id: str
    hook_id: str
    hook_path: str


async def sign_up(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    password = "bench password " + secrets.token_hex(4)
    registered = await client.post(
        "/api/auth/register", json={"email": email, "password": password}
    )
    registered.raise_for_status()
    login = await client.post("/api/auth/login", json={"email": email, "password": password})
    login.raise_for_status()
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


async def create_workflow(
    client: httpx.AsyncClient, headers: dict[str, str], definition: dict[str, Any]
) -> dict[str, Any]:
    created = await client.post("/api/workflows", json={"definition": definition}, headers=headers)
    if created.status_code != 201:
        raise RuntimeError(f"creating a workflow failed: {created.status_code} {created.text}")
    body: dict[str, Any] = created.json()
    return body


async def run_counts(
    connection: asyncpg.Connection, workflow_id: str | None = None
) -> dict[str, int]:
    rows = await connection.fetch(
        "SELECT status, count(*) AS n FROM runs "
        "WHERE $1::uuid IS NULL OR workflow_id = $1::uuid GROUP BY status",
        workflow_id,
    )
    return {row["status"]: row["n"] for row in rows}


async def wait_until_finished(connection: asyncpg.Connection, limit_s: float) -> dict[str, int]:
    """Wait until no run in the database is pending, running or waiting."""
    deadline = time.monotonic() + limit_s
    while True:
        counts = await run_counts(connection)
        if not any(counts.get(status) for status in ("pending", "running", "waiting")):
            return counts
        if time.monotonic() > deadline:
            raise RuntimeError(f"runs still unfinished after {limit_s:.0f} s: {counts}")
        await asyncio.sleep(0.25)


async def seed(running: Stack, connection: asyncpg.Connection) -> Seeded:
    async with httpx.AsyncClient(base_url=running.api_url, timeout=60) as client:
        await sign_up(client, "admin@bench.example.com")
        headers = await sign_up(client, "editor@bench.example.com")
        user_id = (await client.get("/api/auth/me", headers=headers)).json()["id"]
        small = await create_workflow(client, headers, small_definition())
        hook = await create_workflow(client, headers, hook_definition())
        log(f"seeding: {STORED_RUNS} runs through POST /api/workflows/{{id}}/runs")
        started = time.perf_counter()
        pending = iter(range(STORED_RUNS))

        async def starter() -> None:
            for index in pending:
                answer = await client.post(
                    f"/api/workflows/{small['id']}/runs",
                    json={"inputs": {"who": f"seed-{index}"}},
                    headers=headers,
                )
                if answer.status_code != 201:
                    raise RuntimeError(f"seeding run {index}: {answer.status_code} {answer.text}")

        await asyncio.gather(*(starter() for _ in range(SEED_CONCURRENCY)))
        counts = await wait_until_finished(connection, 300)
        if counts != {"succeeded": STORED_RUNS}:
            raise RuntimeError(f"seeded runs ended as {counts}")
        log(f"seeded {STORED_RUNS} succeeded runs in {time.perf_counter() - started:.1f} s")
    # What a database in service looks like: statistics current, the seeding's dead rows
    # gone; otherwise autovacuum starts on the new tables in the middle of a phase.
    await connection.execute("VACUUM ANALYZE")
    path = hook["webhook_url"].removeprefix(running.api_url)
    return Seeded(headers, user_id, small["id"], hook["id"], path)


# -- phases -----------------------------------------------------------------------------------

QUIET_CORES = 0.25
"""Before each phase, wait until the rest of the machine uses less than this many cores."""


async def wait_until_quiet(running: Stack, limit_s: float) -> float:
    """Wait (up to `limit_s`) for other work on the machine to calm down; returns its load."""
    deadline = time.monotonic() + limit_s
    load = await other_load(running.pids())
    if load >= QUIET_CORES:
        log(f"  the rest of the machine uses {load:.2f} cores; waiting up to {limit_s:.0f} s")
    while load >= QUIET_CORES and time.monotonic() < deadline:
        load = await other_load(running.pids())
    return load


async def phase(
    running: Stack, seeded: Seeded, options: Options, call: str, path: str, **fields: Any
) -> dict[str, Any]:
    """One load phase in a fresh load-generator process, once the machine is quiet."""
    await wait_until_quiet(running, options.quiet_wait_s)
    mode = "open" if "rate" in fields else "closed"
    spec = {
        "mode": mode,
        "call": call,
        "base_url": running.api_url,
        "headers": seeded.headers,
        "path": path,
        "components": running.pids(),
        **fields,
    }
    return await run_loadgen(spec)


@dataclass
class StartComparison:
    api: list[float]
    direct: list[float]
    api_errors: int
    cpu: dict[str, float]


async def compare_starts(
    running: Stack, seeded: Seeded, pairs: int, gap_s: float
) -> StartComparison:
    """POST /api/workflows/{id}/runs against client.start_workflow, interleaved one by one.

    Both start the same DagWorkflow with the same RunInput on the same server and task queue,
    from this process; the API call is timed over HTTP, Temporal's over gRPC. Each call waits
    `gap_s` after the previous one, so the run it started mostly finishes in between.
    """
    settings = Settings(temporal_address=running.temporal_address)
    client = await connect(settings)
    definition = validate_definition(small_definition())
    api_ms: list[float] = []
    direct_ms: list[float] = []
    errors = 0
    handles = []
    components: dict[str, Watched] = {**running.pids(), "load generator": os.getpid()}
    before = cpu_snapshot(components)
    phase_started = time.perf_counter()
    async with httpx.AsyncClient(
        base_url=running.api_url, headers=seeded.headers, timeout=60
    ) as http:

        async def via_api(index: int) -> float | None:
            started = time.perf_counter()
            answer = await http.post(
                f"/api/workflows/{seeded.small_id}/runs",
                json={"inputs": {"who": f"api-{index}"}},
            )
            elapsed = (time.perf_counter() - started) * 1000
            return elapsed if answer.status_code == 201 else None

        async def direct(index: int) -> float:
            # What launch_run builds: the definition, resolved inputs, the owner, recording.
            run_input = RunInput(
                definition=definition,
                inputs=resolve_inputs(definition, {"who": f"direct-{index}"}),
                record=True,
                owner_id=seeded.user_id,
                reused_outputs={},
                end_records_last_step=True,
            )
            started = time.perf_counter()
            handle = await client.start_workflow(
                DagWorkflow.run,
                run_input,
                id=f"bench-direct-{uuid.uuid4()}",
                task_queue=running.task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
            elapsed = (time.perf_counter() - started) * 1000
            handles.append(handle)
            return elapsed

        warmup = 10
        for index in range(warmup + pairs):
            api_first = index % 2 == 0
            if api_first:
                api_elapsed = await via_api(index)
                await asyncio.sleep(gap_s)
            direct_elapsed = await direct(index)
            await asyncio.sleep(gap_s)
            if not api_first:
                api_elapsed = await via_api(index)
                await asyncio.sleep(gap_s)
            if index < warmup:
                continue
            direct_ms.append(direct_elapsed)
            if api_elapsed is None:
                errors += 1
            else:
                api_ms.append(api_elapsed)
    wall = time.perf_counter() - phase_started
    cpu = cpu_cores(before, cpu_snapshot(components), wall)
    await asyncio.gather(*(handle.result() for handle in handles))
    return StartComparison(api_ms, direct_ms, errors, cpu)


@dataclass
class Durability:
    calls: int
    runs: dict[str, int]
    nodes_succeeded: int
    outputs_match: int
    ids_match: bool

    @property
    def ok(self) -> bool:
        return (
            self.ids_match
            and self.runs == {"succeeded": self.calls}
            and self.nodes_succeeded == self.calls * HOOK_CHAIN
            and self.outputs_match == self.calls
        )


async def check_hook_runs(
    connection: asyncpg.Connection, hook_id: str, run_ids: list[str]
) -> Durability:
    """What the database holds for the webhook's runs, against the answers the calls got."""
    runs = await run_counts(connection, hook_id)
    nodes = await connection.fetchval(
        "SELECT count(*) FROM tasks t JOIN runs r ON r.id = t.run_id "
        "WHERE r.workflow_id = $1::uuid AND t.status = 'succeeded'",
        hook_id,
    )
    outputs = await connection.fetchval(
        "SELECT count(*) FROM runs WHERE workflow_id = $1::uuid AND status = 'succeeded' "
        "AND output->>'seed' = inputs->'webhook'->'body'->>'seed' "
        "AND (output->>'acc')::int = (inputs->'webhook'->'body'->>'n')::int + $2",
        hook_id,
        HOOK_CHAIN - 1,
    )
    stored = await connection.fetch("SELECT id FROM runs WHERE workflow_id = $1::uuid", hook_id)
    ids_match = {str(row["id"]) for row in stored} == set(run_ids) and len(run_ids) == len(
        set(run_ids)
    )
    return Durability(len(run_ids), runs, nodes, outputs, ids_match)


@dataclass
class Results:
    read_open: Latencies
    read_open_low: Latencies
    read_closed: Latencies
    starts: StartComparison
    start_closed: Latencies
    hook_sequential: Latencies
    hook_concurrent: Latencies
    durability: Durability
    stored_runs_at_read: int
    seconds: float = 0.0
    n8n_sequential: Latencies | None = None
    n8n_concurrent: Latencies | None = None


async def bench(options: Options) -> tuple[Results, list[str]]:
    started = time.perf_counter()
    async with stack(options.workers, options.api_workers) as running:
        connection = await asyncpg.connect(bench_dsn())
        try:
            seeded = await seed(running, connection)
            stored = sum((await run_counts(connection)).values())
            versions = await versions_of_services(connection)
            runs_path = f"/api/workflows/{seeded.small_id}/runs"

            log(f"GET /api/runs: open loop at {READ_RATE:.0f}/s for {options.read_seconds:.0f} s")
            read_open = Latencies.from_json(
                await phase(
                    running,
                    seeded,
                    options,
                    "get",
                    "/api/runs",
                    clients=OPEN_CONNECTIONS,
                    rate=READ_RATE,
                    warmup_seconds=READ_WARMUP_S,
                    seconds=options.read_seconds,
                    expected_items=50,
                )
            )
            log(f"  {read_open.rate:.0f}/s p50 {read_open.p(50):.1f} ms p99 {read_open.p(99):.1f}")

            log(f"GET /api/runs: open loop at {READ_RATE_LOW:.0f}/s")
            read_open_low = Latencies.from_json(
                await phase(
                    running,
                    seeded,
                    options,
                    "get",
                    "/api/runs",
                    clients=OPEN_CONNECTIONS,
                    rate=READ_RATE_LOW,
                    warmup_seconds=READ_WARMUP_S,
                    seconds=options.read_seconds / 2,
                    expected_items=50,
                )
            )
            log(f"  p50 {read_open_low.p(50):.1f} ms p99 {read_open_low.p(99):.1f}")

            log(f"GET /api/runs: closed loop, {CLOSED_CLIENTS} clients")
            read_closed = Latencies.from_json(
                await phase(
                    running,
                    seeded,
                    options,
                    "get",
                    "/api/runs",
                    clients=CLOSED_CLIENTS,
                    seconds=options.closed_seconds,
                    warmup_calls=CLOSED_CLIENTS * 10,
                    expected_items=50,
                )
            )
            log(f"  {read_closed.rate:.0f}/s p50 {read_closed.p(50):.1f} ms")

            log(f"start overhead: {options.start_pairs} API starts and direct starts, interleaved")
            await wait_until_quiet(running, options.quiet_wait_s)
            starts = await compare_starts(running, seeded, options.start_pairs, options.start_gap_s)
            await wait_until_finished(connection, 120)
            api_median = percentile(starts.api, 50)
            log(f"  API {api_median:.1f} ms, direct {percentile(starts.direct, 50):.1f} ms")

            log(f"POST /api/workflows/{{id}}/runs: closed loop, {CLOSED_CLIENTS} clients")
            start_closed = Latencies.from_json(
                await phase(
                    running,
                    seeded,
                    options,
                    "post",
                    runs_path,
                    clients=CLOSED_CLIENTS,
                    seconds=options.closed_seconds,
                    warmup_calls=CLOSED_CLIENTS * 2,
                )
            )
            log(f"  {start_closed.rate:.0f}/s p50 {start_closed.p(50):.1f} ms; draining")
            await wait_until_finished(connection, 300)

            log(f"webhook, {HOOK_CHAIN} transforms: {options.hook_sequential} sequential calls")
            sequential = await phase(
                running,
                seeded,
                options,
                "hooks",
                seeded.hook_path,
                clients=1,
                calls=options.hook_sequential,
                warmup_calls=5,
                tag="seq",
            )
            hook_sequential = Latencies.from_json(sequential)
            log(f"  median {hook_sequential.p(50):.1f} ms")

            log(f"webhook: {HOOK_CLIENTS} clients, {options.hook_concurrent_calls} calls")
            concurrent = await phase(
                running,
                seeded,
                options,
                "hooks",
                seeded.hook_path,
                clients=HOOK_CLIENTS,
                calls=options.hook_concurrent_calls,
                warmup_calls=HOOK_CLIENTS,
                tag="conc",
            )
            hook_concurrent = Latencies.from_json(concurrent)
            log(f"  {hook_concurrent.rate:.1f} runs/s p50 {hook_concurrent.p(50):.1f} ms")

            await wait_until_finished(connection, 120)
            durability = await check_hook_runs(
                connection, seeded.hook_id, sequential["run_ids"] + concurrent["run_ids"]
            )
        finally:
            await connection.close()
    n8n = await bench_n8n(options) if options.n8n else None
    results = Results(
        read_open,
        read_open_low,
        read_closed,
        starts,
        start_closed,
        hook_sequential,
        hook_concurrent,
        durability,
        stored,
        time.perf_counter() - started,
        *(n8n or (None, None)),
    )
    return results, versions


async def bench_n8n(options: Options) -> tuple[Latencies, Latencies]:
    """The same two webhook phases against n8n, once Flowpilot's stack is down."""
    from bench.n8n_shape import running_n8n

    log(f"n8n: webhook + {HOOK_CHAIN} Set nodes")
    async with running_n8n(free_port(), free_port(), HOOK_CHAIN) as (url, pid):
        base_url, path = url.rsplit("/webhook/", 1)
        spec: dict[str, Any] = {
            "mode": "closed",
            "call": "n8n",
            "base_url": base_url,
            "headers": {},
            "path": f"/webhook/{path}",
            "components": {"n8n": pid},
        }
        sequential = Latencies.from_json(
            await run_loadgen(
                {
                    **spec,
                    "clients": 1,
                    "calls": options.hook_sequential,
                    "warmup_calls": 5,
                    "tag": "seq",
                }
            )
        )
        log(f"  n8n median {sequential.p(50):.1f} ms")
        concurrent = Latencies.from_json(
            await run_loadgen(
                {
                    **spec,
                    "clients": HOOK_CLIENTS,
                    "calls": options.hook_concurrent_calls,
                    "warmup_calls": HOOK_CLIENTS,
                    "tag": "conc",
                }
            )
        )
        log(f"  n8n {concurrent.rate:.1f} runs/s")
    return sequential, concurrent


# -- report -----------------------------------------------------------------------------------


async def versions_of_services(connection: asyncpg.Connection) -> list[str]:
    postgres = await connection.fetchval("SHOW server_version")
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        redis_version = (await client.info("server"))["redis_version"]
    finally:
        await client.aclose()
    return [f"PostgreSQL {postgres}", f"Redis {redis_version}"]


def machine(services: list[str]) -> list[str]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    cli = subprocess.run(
        [temporal_binary(), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    packages = ["temporalio", "fastapi", "starlette", "uvicorn", "sqlalchemy", "asyncpg", "httpx"]
    versions = ", ".join(f"{name} {importlib.metadata.version(name)}" for name in packages)
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio (uvloop not installed)"
    parser = "httptools" if importlib.util.find_spec("httptools") else "h11 (no httptools)"
    return [
        f"- nproc: {len(os.sched_getaffinity(0))}; CPU: {cpu}; "
        f"memory: {os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30:.0f} GiB",
        f"- Python {platform.python_version()}; {versions}",
        f"- Temporal CLI: {cli}",
        f"- {', '.join(services)}",
        f"- uvicorn event loop: {loop}; HTTP parser: {parser}",
    ]


def method(options: Options) -> list[str]:
    return [
        "- Processes, all on this machine over loopback, started by the bench: the Temporal dev "
        "server (`temporal server start-dev`, the same flags as `flowpilot dev`: state in a "
        "SQLite file, latency tuning), "
        + ("one worker" if options.workers == 1 else f"{options.workers} workers")
        + " (`python -m worker`), the API (`python -m cli "
        "api`: "
        + (
            "one uvicorn process"
            if options.api_workers == 1
            else f"{options.api_workers} uvicorn processes (`API_WORKERS`)"
        )
        + ", no reload, access log on; uvloop and httptools), PostgreSQL "
        f"database `{BENCH_DATABASE}` (recreated; `VACUUM ANALYZE` after seeding), Redis db 5 "
        "(flushed) for the rate limits.",
        f"- Settings changed from the defaults: `RATE_LIMIT_API_PER_MINUTE` and "
        f"`RATE_LIMIT_WEBHOOK_PER_MINUTE` = {RAISED_LIMIT:,} (defaults 600 and 120) so the load "
        "is not throttled; `ENVIRONMENT=production` with a random `FLOWPILOT_SECRET_KEY`.",
        "- Load: a separate Python process (httpx; each simulated client has its own keep-alive "
        f"connection; the open loop sends on the first idle one of {OPEN_CONNECTIONS}) on the "
        "same 2 cores as everything else; its CPU is in the CPU table. All requests as one "
        "editor user (an admin exists too). Before each phase the bench waits (up to "
        f"{options.quiet_wait_s:.0f} s) until the rest of the machine uses under "
        f"{QUIET_CORES} cores; what it used during each phase is in the CPU table. The load "
        "generator runs with its garbage collector off, so its own pauses are not counted as "
        "server latency.",
        f"- GET /api/runs with {STORED_RUNS:,} runs stored, default page (50 runs with inputs "
        f"and outputs): open loop at {READ_RATE:.0f} req/s, {READ_WARMUP_S:.0f} s warm-up at the "
        f"same rate then {options.read_seconds:.0f} s measured; latency from each request's "
        f"scheduled send time (no coordinated omission); the same at {READ_RATE_LOW:.0f} req/s "
        f"for {options.read_seconds / 2:.0f} s. Then a closed loop of "
        f"{CLOSED_CLIENTS} clients for {options.closed_seconds:.0f} s.",
        f"- Start overhead: {options.start_pairs} `POST /api/workflows/{{id}}/runs` interleaved "
        f"with {options.start_pairs} `client.start_workflow(DagWorkflow.run, RunInput(...))` "
        "(the same definition, resolved inputs, owner and `record=True` as `launch_run`, the "
        "API's data converter, same server and task queue), one at a time from the bench "
        f"process, {options.start_gap_s * 1000:.0f} ms apart, after 10 warm-up pairs; the runs "
        "(one transform node) finish in the background. Then a closed loop of "
        f"{CLOSED_CLIENTS} clients starting runs for {options.closed_seconds:.0f} s.",
        f'- Webhook: `POST /api/hooks/{{token}}` on a workflow with `"respond": "output"` '
        f"and {HOOK_CHAIN} chained `transform` nodes, each reading the previous node's output "
        "(n8n: webhook + 40 Set nodes). No Idempotency-Key: every call is a new run. "
        f"{options.hook_sequential} sequential calls after 5 warm-up calls, then "
        f"{HOOK_CLIENTS} concurrent clients for {options.hook_concurrent_calls} calls after "
        f"{HOOK_CLIENTS} warm-up calls. Each answer must be 200, `succeeded`, `new`, with the "
        "output its own input gives; at the end every run of the webhook must be in the "
        f"database as succeeded with {HOOK_CHAIN} succeeded nodes and the right output.",
    ]


def fmt(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


def rest_of_machine(cpu: dict[str, float]) -> float:
    return cpu.get("other", 0.0) + cpu.get("steal", 0.0)


def latency_rows(name: str, result: Latencies) -> list[str]:
    return [
        f"| {name} | {len(result.ms):,} | {result.errors} | {fmt(result.rate)} | "
        f"{fmt(result.p(50))} | {fmt(result.p(90))} | {fmt(result.p(99))} | {fmt(result.max)} | "
        f"{fmt(rest_of_machine(result.cpu), 2)} |"
    ]


def cpu_rows(name: str, result: Latencies) -> str:
    cells = " | ".join(fmt(result.cpu.get(component, 0.0), 2) for component in CPU_COMPONENTS)
    total = sum(result.cpu.get(component, 0.0) for component in CPU_COMPONENTS)
    return f"| {name} | {cells} | {fmt(total, 2)} | {fmt(rest_of_machine(result.cpu), 2)} |"


def n8n_rows(results: Results, hook_median: float, hook_rate: float) -> list[str]:
    """Flowpilot against n8n measured in this same run (with `--n8n`)."""
    sequential, concurrent = results.n8n_sequential, results.n8n_concurrent
    if sequential is None or concurrent is None:
        return []
    latency_ok = hook_median <= 1.5 * sequential.p(50)
    return [
        f"| same, against n8n 2.8.4 measured in this run (median {fmt(sequential.p(50))} ms, "
        f"{sequential.errors} errors) | ≤ 1.5 x n8n's median | {fmt(hook_median)} ms = "
        f"{fmt(hook_median / sequential.p(50), 2)} x | {verdict(latency_ok)} |",
        f"| same, against n8n 2.8.4 measured in this run ({fmt(concurrent.rate)} runs/s with "
        f"{HOOK_CLIENTS} clients, {concurrent.errors} errors) | ≥ n8n's runs/s | "
        f"{fmt(hook_rate)} runs/s | {verdict(hook_rate >= concurrent.rate)} |",
    ]


def verdict(ok: bool) -> str:
    return "**pass**" if ok else "**MISS**"


def report(results: Results, options: Options, services: list[str]) -> list[str]:
    starts = results.starts
    api_median = percentile(starts.api, 50)
    direct_median = percentile(starts.direct, 50)
    overhead = api_median - direct_median
    hook_median = results.hook_sequential.p(50)
    hook_rate = results.hook_concurrent.rate
    durable = results.durability
    read = results.read_open
    read_ok = read.p(99) < TARGET_READ_P99_MS and read.errors == 0
    read_ok = read_ok and read.rate >= 0.95 * READ_RATE
    lines = [
        "## Machine",
        "",
        *machine(services),
        "",
        "## Method",
        "",
        *method(options),
        "",
        "## Latency and throughput",
        "",
        "Rest of machine: cores used meanwhile by everything that is not the bench (other "
        "people's work on this shared machine, hypervisor steal); above "
        f"{QUIET_CORES} the phase ran on a busy machine.",
        "",
        "| phase | requests | errors | req/s | p50 ms | p90 ms | p99 ms | max ms "
        "| rest of machine |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
        *latency_rows(
            f"GET /api/runs, open loop {READ_RATE:.0f}/s ({results.stored_runs_at_read:,} runs "
            "stored)",
            read,
        ),
        *latency_rows(
            f"GET /api/runs, open loop {READ_RATE_LOW:.0f}/s (not a target)", results.read_open_low
        ),
        *latency_rows(f"GET /api/runs, closed loop {CLOSED_CLIENTS} clients", results.read_closed),
        *latency_rows(
            f"POST /api/workflows/{{id}}/runs, closed loop {CLOSED_CLIENTS} clients",
            results.start_closed,
        ),
        *latency_rows(
            f"POST /api/hooks/{{token}}, {HOOK_CHAIN} transforms, sequential",
            results.hook_sequential,
        ),
        *latency_rows(
            f"POST /api/hooks/{{token}}, {HOOK_CHAIN} transforms, {HOOK_CLIENTS} clients",
            results.hook_concurrent,
        ),
        "",
        "Start overhead, one call at a time:",
        "",
        "| start | calls | errors | p50 ms | p90 ms | p99 ms | rest of machine |",
        "|---|--:|--:|--:|--:|--:|--:|",
        f"| `POST /api/workflows/{{id}}/runs` (HTTP, through the API) | {len(starts.api)} | "
        f"{starts.api_errors} | {fmt(api_median)} | {fmt(percentile(starts.api, 90))} | "
        f"{fmt(percentile(starts.api, 99))} | {fmt(rest_of_machine(starts.cpu), 2)} |",
        f"| `client.start_workflow` (Temporal's own start call) | {len(starts.direct)} | 0 | "
        f"{fmt(direct_median)} | {fmt(percentile(starts.direct, 90))} | "
        f"{fmt(percentile(starts.direct, 99))} | {fmt(rest_of_machine(starts.cpu), 2)} |",
        "",
        "CPU during each measured phase, in cores (CPU seconds per wall second; 2.00 = both "
        "cores busy). postgres: the backends serving the bench database; redis: the Redis "
        "server; rest of machine: everything else on the machine (other people's work, "
        "PostgreSQL's background processes) plus hypervisor steal:",
        "",
        "| phase | api | worker | temporal | postgres | redis | load generator | bench total "
        "| rest of machine |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
        cpu_rows(f"GET /api/runs open loop {READ_RATE:.0f}/s", read),
        cpu_rows(f"GET /api/runs open loop {READ_RATE_LOW:.0f}/s", results.read_open_low),
        cpu_rows("GET /api/runs closed loop", results.read_closed),
        cpu_rows(
            "start overhead (load generator: the bench process)",
            Latencies([], 0, 0, results.starts.cpu),
        ),
        cpu_rows("POST runs closed loop", results.start_closed),
        cpu_rows("webhook sequential", results.hook_sequential),
        cpu_rows("webhook 20 clients", results.hook_concurrent),
        *(
            [
                cpu_rows(
                    f"n8n webhook sequential (n8n: {fmt(results.n8n_sequential.cpu['n8n'], 2)})",
                    results.n8n_sequential,
                ),
                cpu_rows(
                    f"n8n webhook 20 clients (n8n: {fmt(results.n8n_concurrent.cpu['n8n'], 2)})",
                    results.n8n_concurrent,
                ),
            ]
            if results.n8n_sequential and results.n8n_concurrent
            else []
        ),
        "",
        "## Targets",
        "",
        "| target | goal | measured | result |",
        "|---|---|---|---|",
        f"| GET /api/runs p99 at {READ_RATE:.0f} req/s | < {TARGET_READ_P99_MS:.0f} ms, no "
        f"errors, rate held | p99 {fmt(read.p(99))} ms at {fmt(read.rate)} req/s, "
        f"{read.errors} errors | {verdict(read_ok)} |",
        f"| starting a run over Temporal's own start call (difference of medians) | "
        f"< {TARGET_START_OVERHEAD_MS:.0f} ms | {fmt(api_median)} - {fmt(direct_median)} = "
        f"{fmt(overhead)} ms | "
        f"{verdict(overhead < TARGET_START_OVERHEAD_MS and starts.api_errors == 0)} |",
        f"| webhook + {HOOK_CHAIN} transforms, median of {len(results.hook_sequential.ms)} "
        f"sequential calls | ≤ {fmt(TARGET_HOOK_MEDIAN_MS)} ms (1.5 x n8n's "
        f"{N8N_MEDIAN_MS:.0f} ms) | {fmt(hook_median)} ms | "
        f"{verdict(hook_median <= TARGET_HOOK_MEDIAN_MS and results.hook_sequential.errors == 0)}"
        " |",
        f"| webhook + {HOOK_CHAIN} transforms, runs/s with {HOOK_CLIENTS} clients | "
        f"≥ {TARGET_HOOK_RUNS_PER_S:.0f} runs/s (n8n: {N8N_RUNS_PER_S[0]:.0f} to "
        f"{N8N_RUNS_PER_S[1]:.0f}) | {fmt(hook_rate)} runs/s | "
        f"{verdict(hook_rate >= TARGET_HOOK_RUNS_PER_S and results.hook_concurrent.errors == 0)}"
        " |",
        *n8n_rows(results, hook_median, hook_rate),
        f"| every webhook run durable | all {durable.calls} runs in the database as succeeded, "
        f"{HOOK_CHAIN} nodes each, right output | runs {durable.runs}, "
        f"{durable.nodes_succeeded:,} succeeded nodes, {durable.outputs_match} right outputs, "
        f"ids {'match' if durable.ids_match else 'DIFFER'} | {verdict(durable.ok)} |",
        "",
        f"The bench took {results.seconds:.0f} s.",
    ]
    return lines


def main() -> None:
    options = parse_options()
    results, services = asyncio.run(bench(options))
    title = "Flowpilot API benchmark" + (" (--quick)" if options.quick else "")
    print(f"# {title}\n")
    print("\n".join(report(results, options, services)))


if __name__ == "__main__":
    if "--loadgen" in sys.argv[1:]:
        loadgen_entry()
        sys.exit(0)
    main()
    exit_process(0)
