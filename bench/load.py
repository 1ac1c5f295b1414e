"""Load benchmark: runs of a 10-node workflow kept in flight under mixed API traffic.

Run by `make bench-load` as `.venv/bin/python bench/load.py` (`--quick` for a short smoke
run; `--duration`, `--concurrency`). Everything runs on this machine over loopback, started
by `bench/api.py`'s `stack()` as a user deploys it: the Temporal dev server with Flowpilot's
tuning (state in a SQLite file), one worker (`python -m worker`), the API (`python -m cli
api`, one process per core) on PostgreSQL (database `flowpilot_bench_load`, recreated) and
Redis (db 6, flushed) for the rate limits, which are raised so the load does not throttle
itself (a 429 would still be counted and fail the run). Besides them: a small HTTP endpoint
(uvicorn, this file with `--endpoint`) that every node calls, and a worker for the raw
Temporal baseline (this file with `--baseline-worker`): `bench/engine.py`'s `ChainBaseline`,
a hand-written workflow calling the same `http.request` activity ten times, with the
interpreter worker's settings.

1. Seed: an editor creates the 10-node chain (manual and webhook trigger) and starts a few
   runs, which warm every process up.
2. Baseline phase: `--concurrency` ChainBaseline runs kept in flight (each one that ends is
   replaced) through Temporal's own client, under the read traffic below.
3. Flowpilot phase: the same number of runs kept in flight through the API
   (`POST /api/workflows/{id}/runs`, every tenth through the webhook), under the same read
   traffic plus server-sent event streams of live runs.
4. Drain, then check the database: every run started is there, succeeded, ten nodes each.

Each phase has a warm-up (not measured) and then `--duration` measured seconds; runs in
flight at the end are waited for. Every answer of every phase, warm-up included, is counted
by status. The report (Markdown, stdout; `--output` writes it to a file too) ends with the
bars: no 5xx (nor other unexpected answer or transport error), no lost run, p95 of every
read route under 300 ms. The exit code is 1 when one is missed.
"""

import argparse
import asyncio
import contextlib
import gc
import json
import os
import random
import signal
import statistics
import sys
import time
import uuid
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from temporalio.client import Client, WorkflowFailureError
from temporalio.service import RPCError

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.api import (  # noqa: E402
    CPU_COMPONENTS,
    RAISED_LIMIT,
    Stack,
    Watched,
    bench_dsn,
    cpu_cores,
    cpu_snapshot,
    create_workflow,
    free_port,
    keepalive_client,
    log,
    machine,
    open_loop,
    percentile,
    port_open,
    sign_up,
    stack,
    versions_of_services,
    wait_for,
    wait_until_finished,
)
from bench.engine import ChainBaseline, baseline_worker  # noqa: E402
from core.config import Settings  # noqa: E402
from core.runtime import freeze_startup_objects  # noqa: E402
from core.temporal import connect, exit_process  # noqa: E402
from workflows.dag import DagWorkflow  # noqa: E402

DATABASE = "flowpilot_bench_load"
REDIS_URL = "redis://127.0.0.1:6379/6"
NODES = 10
WEBHOOK_EVERY = 10
"""Every tenth run (the first of each ten) is started through the workflow's webhook."""
READ_P95_BAR_MS = 300.0
CONNECTIONS_PER_ROUTE = 8
SSE_WATCHERS = 4
SSE_FOLLOW_S = 5.0
"""How long a watcher follows one run's events before it moves on to a newer run."""
DRAIN_LIMIT_S = 300.0
LAG_TICK_S = 0.01
BASELINE_QUEUE_VARIABLE = "BENCH_BASELINE_TASK_QUEUE"
BASELINE_READY = "baseline worker polling"
ENDPOINT_BODY = b'{"ok":true}'
FINISHED = {"succeeded", "failed", "cancelled"}


@dataclass
class Options:
    duration_s: float
    concurrency: int
    baseline_duration_s: float
    warmup_s: float
    seed_runs: int
    api_workers: int
    workers: int
    quick: bool = False
    output: Path | None = None
    database: str = DATABASE
    """Dropped and created again at start."""
    redis_url: str = REDIS_URL
    """Flushed at start."""


def parse_options(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run (10 s, 50 runs)")
    parser.add_argument("--duration", type=float, metavar="SECONDS", help="measured (60)")
    parser.add_argument("--concurrency", type=int, metavar="N", help="runs in flight (200)")
    parser.add_argument(
        "--baseline-duration",
        type=float,
        metavar="SECONDS",
        help="measured seconds of the raw-Temporal baseline (half of --duration, at least 10)",
    )
    parser.add_argument(
        "--warmup", type=float, metavar="SECONDS", help="unmeasured start of each phase (10)"
    )
    parser.add_argument(
        "--api-workers",
        type=int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="API processes (API_WORKERS; default one per core)",
    )
    parser.add_argument("--workers", type=int, default=1, metavar="N", help="worker processes")
    parser.add_argument("--output", type=Path, metavar="FILE", help="also write the report here")
    args = parser.parse_args(argv)
    duration = args.duration or (10.0 if args.quick else 60.0)
    return Options(
        duration_s=duration,
        concurrency=args.concurrency or (50 if args.quick else 200),
        baseline_duration_s=args.baseline_duration or max(10.0, duration / 2),
        warmup_s=args.warmup if args.warmup is not None else (2.0 if args.quick else 10.0),
        seed_runs=10 if args.quick else 50,
        api_workers=args.api_workers,
        workers=args.workers,
        quick=args.quick,
        output=args.output,
    )


# -- the HTTP endpoint every node calls (a process of its own) -------------------------------

_served = 0


async def endpoint_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers every request at once with a small JSON body; `GET /hits` counts them."""
    global _served
    if scope["type"] != "http":
        return
    if scope["path"] == "/hits":
        body = str(_served).encode()
    else:
        _served += 1
        body = ENDPOINT_BODY
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def serve_endpoint(port: int) -> None:
    import uvicorn

    uvicorn.run(endpoint_app, host="127.0.0.1", port=port, access_log=False, log_level="warning")


# -- the raw-Temporal baseline's worker (a process of its own) -------------------------------


async def serve_baseline_worker() -> None:
    """`ChainBaseline` and the real `http.request` activity, with the settings the
    interpreter's worker reads from the same environment; until SIGTERM."""
    from activities.http import HttpActivities

    settings = Settings()
    client = await connect(settings)
    http = HttpActivities(settings.http_allowed_hosts, settings.http_max_response_bytes)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    queue = os.environ[BASELINE_QUEUE_VARIABLE]
    try:
        async with baseline_worker(client, settings, queue, [http.request]):
            freeze_startup_objects()
            print(f"{BASELINE_READY} {queue}", flush=True)
            await stop.wait()
    finally:
        await http.aclose()


# -- counting answers --------------------------------------------------------------------------


def status_class(code: int) -> str:
    if code == 429:
        return "429"
    return f"{code // 100}xx"


@dataclass
class Route:
    """The answers to one route (or kind of call) over a phase."""

    name: str
    rate: float | None = None
    """Requests a second for open-loop traffic; None for closed loops."""
    read: bool = False
    """Counts for the read-latency bar."""
    statuses: Counter[str] = field(default_factory=Counter)
    ms: list[float] = field(default_factory=list)
    """Latencies of good answers in the measured window."""

    def p(self, q: float) -> float:
        return percentile(self.ms, q)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    def unexpected(self) -> int:
        """Answers other than 2xx (transport errors included)."""
        return sum(count for name, count in self.statuses.items() if name != "2xx")


@dataclass
class Targets:
    """What the read traffic asks for."""

    workflow_ids: list[str]
    recent_runs: deque[str]
    definition: dict[str, Any]


ReadRequest = Callable[[httpx.AsyncClient, Targets], Awaitable[httpx.Response]]


@dataclass(frozen=True)
class ReadKind:
    name: str
    rate: float
    read: bool
    request: ReadRequest


def read_kinds() -> list[ReadKind]:
    """The mixed API traffic: what the web app asks while people look at their runs."""

    async def list_runs(client: httpx.AsyncClient, _targets: Targets) -> httpx.Response:
        return await client.get("/api/runs")

    async def get_run(client: httpx.AsyncClient, targets: Targets) -> httpx.Response:
        return await client.get(f"/api/runs/{random.choice(targets.recent_runs)}")

    async def list_workflows(client: httpx.AsyncClient, _targets: Targets) -> httpx.Response:
        return await client.get("/api/workflows")

    async def get_workflow(client: httpx.AsyncClient, targets: Targets) -> httpx.Response:
        return await client.get(f"/api/workflows/{random.choice(targets.workflow_ids)}")

    async def node_types(client: httpx.AsyncClient, _targets: Targets) -> httpx.Response:
        return await client.get("/api/node-types")

    async def validate(client: httpx.AsyncClient, targets: Targets) -> httpx.Response:
        return await client.post("/api/workflows/validate", json={"definition": targets.definition})

    return [
        ReadKind("GET /api/runs", 10, True, list_runs),
        ReadKind("GET /api/runs/{id}", 10, True, get_run),
        ReadKind("GET /api/workflows", 5, True, list_workflows),
        ReadKind("GET /api/workflows/{id}", 5, True, get_workflow),
        ReadKind("GET /api/node-types", 5, True, node_types),
        ReadKind("POST /api/workflows/validate", 5, False, validate),
    ]


async def read_traffic(
    kind: ReadKind,
    route: Route,
    targets: Targets,
    base_url: str,
    headers: dict[str, str],
    warmup_s: float,
    seconds: float,
) -> None:
    """Open-loop requests at the kind's rate: a warm-up, then the measured window."""

    async def call(client: httpx.AsyncClient, _index: int) -> bool:
        try:
            response = await kind.request(client, targets)
        except httpx.HTTPError:
            route.statuses["transport error"] += 1
            return False
        route.statuses[status_class(response.status_code)] += 1
        return response.status_code == 200

    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(keepalive_client(base_url, headers))
            for _ in range(CONNECTIONS_PER_ROUTE)
        ]
        await open_loop(clients, call, kind.rate, warmup_s)
        route.ms, _errors, _wall = await open_loop(clients, call, kind.rate, seconds)


# -- keeping runs in flight -------------------------------------------------------------------


@dataclass
class Finished:
    run_id: str
    started: float
    ended: float
    ok: bool


@dataclass
class Runs:
    """The runs of one phase."""

    started: list[str] = field(default_factory=list)
    finished: list[Finished] = field(default_factory=list)
    in_flight: int = 0
    in_flight_samples: list[int] = field(default_factory=list)
    unfinished: int = 0
    """Runs still in flight when the bench stopped waiting for them."""

    def ok_between(self, start: float, end: float) -> list[Finished]:
        return [run for run in self.finished if run.ok and start <= run.ended < end]

    @property
    def failed(self) -> int:
        return len(self.failed_ids)

    @property
    def failed_ids(self) -> list[str]:
        return [run.run_id for run in self.finished if not run.ok]


StartOne = Callable[[int], Awaitable[None]]


async def keep_in_flight(
    concurrency: int, until: float, start_one: StartOne, ramp_s: float = 0.0
) -> None:
    """`concurrency` callers, each starting a run and waiting for it, again and again,
    until `until` (loop time); returns once the last run has ended.

    The callers' first starts are spread over `ramp_s`, so that the runs do not move in
    lockstep, all starting and ending at once."""
    loop = asyncio.get_running_loop()
    counter = iter(range(10**9))

    async def caller(number: int) -> None:
        await asyncio.sleep(ramp_s * number / concurrency)
        while loop.time() < until:
            await start_one(next(counter))

    await asyncio.gather(*(caller(number) for number in range(concurrency)))


async def wait_for_run(client: Client, run_id: str, runs: Runs, started: float) -> None:
    """Wait (long poll on Temporal) for a Flowpilot run and note how it ended."""
    loop = asyncio.get_running_loop()
    handle = client.get_workflow_handle_for(DagWorkflow.run, temporal_id(run_id))
    try:
        ok = (await handle.result()).status == "succeeded"
    except (WorkflowFailureError, RPCError):
        ok = False
    runs.finished.append(Finished(run_id, started, loop.time(), ok))


# -- one phase ----------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    runs: Runs
    routes: dict[str, Route]
    measured_s: float
    nodes_served: int
    """Requests the endpoint served in the measured window: one per node run."""
    cores: dict[str, float]
    """CPU cores of each component over the measured window."""
    window: tuple[float, float]
    sse_endings: Counter[str] = field(default_factory=Counter)
    loop_lag_ms: list[float] = field(default_factory=list)
    """How late the load generator's event loop woke up for a 10 ms sleep, in the window."""

    @property
    def ended_in_window(self) -> int:
        return len(self.runs.ok_between(*self.window))

    @property
    def nodes_per_s(self) -> float:
        return self.nodes_served / self.measured_s

    @property
    def runs_per_s(self) -> float:
        return self.nodes_per_s / NODES

    @property
    def ms_per_node(self) -> float:
        return 1000 / self.nodes_per_s if self.nodes_per_s else float("nan")

    def cpu_ms_per_node(self, component: str) -> float:
        if not self.nodes_per_s:
            return float("nan")
        return self.cores.get(component, 0.0) * 1000 / self.nodes_per_s

    def run_seconds(self, q: float) -> float:
        return percentile(
            [run.ended - run.started for run in self.runs.ok_between(*self.window)], q
        )

    @property
    def mean_run_s(self) -> float:
        """The mean time a run takes, by Little's law: steady even when the window is
        shorter than a few run lifetimes, which the ended runs' own times are not."""
        return self.mean_in_flight / self.runs_per_s if self.runs_per_s else float("nan")

    @property
    def mean_in_flight(self) -> float:
        samples = self.runs.in_flight_samples
        return statistics.mean(samples) if samples else 0.0


SERVER_COMPONENTS = ["api", "worker", "baseline-worker", "temporal", "postgres", "redis"]
TOOL_COMPONENTS = ["endpoint", "load generator"]


def phase_cores(
    before: dict[str, dict[int, float]], after: dict[str, dict[int, float]], wall_s: float
) -> dict[str, float]:
    """`cpu_cores`, with this bench's extra components kept out of `other`."""
    cores = cpu_cores(before, after, wall_s)
    extras = [name for name in after if name not in {*CPU_COMPONENTS, "machine"}]
    cores["other"] = max(0.0, cores["other"] - sum(cores[name] for name in extras))
    return cores


@dataclass
class PhasePlan:
    name: str
    concurrency: int
    warmup_s: float
    measured_s: float
    start_one: Callable[[Runs, Route, int], Awaitable[None]]
    start_route: str
    sse: bool
    extra_routes: list[Route] = field(default_factory=list)
    """Routes the starter counts on its own (the webhook's)."""


@dataclass
class Setup:
    """The stack under load and what the load needs of it."""

    running: Stack
    targets: Targets
    headers: dict[str, str]
    components: dict[str, Watched]
    """What the CPU accounting watches."""
    endpoint_url: str


async def run_phase(plan: PhasePlan, setup: Setup) -> Phase:
    """Keep `plan.concurrency` runs in flight under the read traffic for the warm-up and the
    measured window, then wait for the runs still in flight."""
    loop = asyncio.get_running_loop()
    targets, components, endpoint_url = setup.targets, setup.components, setup.endpoint_url
    runs = Runs()
    routes = {plan.start_route: Route(plan.start_route)}
    routes |= {route.name: route for route in plan.extra_routes}
    kinds = read_kinds()
    for kind in kinds:
        routes[kind.name] = Route(kind.name, kind.rate, kind.read)
    sse_route = Route("GET /api/runs/{id}/events (SSE)", read=True)
    if plan.sse:
        routes[sse_route.name] = sse_route
    sse_endings: Counter[str] = Counter()
    start = loop.time()
    measured_from = start + plan.warmup_s
    until = measured_from + plan.measured_s

    async def start_one(index: int) -> None:
        await plan.start_one(runs, routes[plan.start_route], index)

    async def sample_in_flight() -> None:
        await asyncio.sleep(max(0.0, measured_from - loop.time()))
        while loop.time() < until:
            runs.in_flight_samples.append(runs.in_flight)
            await asyncio.sleep(0.5)

    cpu: dict[str, float] = {}
    measured: list[float] = []

    async def meter() -> None:
        await asyncio.sleep(max(0.0, measured_from - loop.time()))
        before = cpu_snapshot(components)
        hits_before = await endpoint_hits(endpoint_url)
        began = loop.time()
        await asyncio.sleep(max(0.0, until - loop.time()))
        after = cpu_snapshot(components)
        hits_after = await endpoint_hits(endpoint_url)
        ended = loop.time()
        cpu.update(phase_cores(before, after, ended - began))
        measured.extend([ended - began, hits_after - hits_before])

    lags: list[float] = []

    async def watch_loop_lag() -> None:
        """The load generator's own delays, which the latencies it measures include."""
        await asyncio.sleep(max(0.0, measured_from - loop.time()))
        while loop.time() < until:
            before = loop.time()
            await asyncio.sleep(LAG_TICK_S)
            lags.append((loop.time() - before - LAG_TICK_S) * 1000)

    async def watch_events(client: httpx.AsyncClient) -> None:
        while loop.time() < until:
            run_id = targets.recent_runs[-1]
            await watch_one(client, run_id, sse_route, sse_endings, (measured_from, until))

    runs_task = asyncio.create_task(
        keep_in_flight(plan.concurrency, until, start_one, ramp_s=plan.warmup_s)
    )
    helpers = [
        *(
            read_traffic(
                kind,
                routes[kind.name],
                targets,
                setup.running.api_url,
                setup.headers,
                plan.warmup_s,
                plan.measured_s,
            )
            for kind in kinds
        ),
        sample_in_flight(),
        meter(),
        watch_loop_lag(),
    ]
    async with contextlib.AsyncExitStack() as stack:
        if plan.sse:
            for _ in range(SSE_WATCHERS):
                client = await stack.enter_async_context(
                    keepalive_client(setup.running.api_url, setup.headers)
                )
                helpers.append(watch_events(client))
        await asyncio.gather(*helpers)
    log(f"  measured window over; draining {runs.in_flight} runs in flight")
    await asyncio.wait([runs_task], timeout=DRAIN_LIMIT_S)
    if not runs_task.done():
        runs.unfinished = runs.in_flight
        log(f"  {runs.unfinished} runs still in flight after {DRAIN_LIMIT_S:.0f} s")
        runs_task.cancel()
        await asyncio.gather(runs_task, return_exceptions=True)
    wall_s, served = measured
    window = (measured_from, until)
    return Phase(plan.name, runs, routes, wall_s, int(served), cpu, window, sse_endings, lags)


async def watch_one(
    client: httpx.AsyncClient,
    run_id: str,
    route: Route,
    endings: Counter[str],
    window: tuple[float, float],
) -> None:
    """Follow one run's event stream, as its page in the web app does, until the run ends
    or `SSE_FOLLOW_S` pass; note how it ended. The latency is the time to the first event."""
    loop = asyncio.get_running_loop()
    sent = loop.time()
    ending = "stream ended without a final status"
    try:
        async with client.stream("GET", f"/api/runs/{run_id}/events") as response:
            route.statuses[status_class(response.status_code)] += 1
            if response.status_code != 200:
                endings[f"answered {response.status_code}"] += 1
                await asyncio.sleep(0.1)
                return
            event = ""
            try:
                async with asyncio.timeout(SSE_FOLLOW_S):
                    async for line in response.aiter_lines():
                        if line.startswith("event:"):
                            if not event and window[0] <= sent < window[1]:
                                route.ms.append((loop.time() - sent) * 1000)
                            event = line.removeprefix("event:").strip()
                        elif line.startswith("data:") and event == "run":
                            status = json.loads(line.removeprefix("data:"))["status"]
                            if status in FINISHED:
                                ending = f"run {status}"
            except TimeoutError:
                ending = f"left after {SSE_FOLLOW_S:.0f} s, run still going"
    except httpx.HTTPError:
        route.statuses["transport error"] += 1
        ending = "transport error"
        await asyncio.sleep(0.1)
    endings[ending] += 1


# -- the two ways of starting a run -------------------------------------------------------------


@dataclass
class Seeded:
    headers: dict[str, str]
    workflow_id: str
    hook_id: str
    hook_path: str
    definition: dict[str, Any]


def chain_definition(url: str, webhook: bool = False) -> dict[str, Any]:
    """`NODES` http.request nodes one after the other, each calling `url`, as ChainBaseline."""
    nodes = [
        {
            "id": f"n{index}",
            "type": "http.request",
            "params": {"url": url},
            **({"needs": [f"n{index - 1}"]} if index else {}),
        }
        for index in range(NODES)
    ]
    definition: dict[str, Any] = {
        "schema": "flowpilot/v1",
        "name": f"Load chain{' (webhook)' if webhook else ''}",
        "nodes": nodes,
    }
    if webhook:
        definition["trigger"] = {"type": "webhook"}
    return definition


def temporal_id(run_id: str) -> str:
    """The workflow id the API gives a run it starts (`api/launch.py`)."""
    return f"run-{run_id}"


class FlowpilotStarter:
    """Starts runs through the API, every `WEBHOOK_EVERY`th through the webhook, and waits
    for each on Temporal."""

    def __init__(
        self, client: Client, seeded: Seeded, api_url: str, clients: int, targets: Targets
    ) -> None:
        self.client = client
        self.seeded = seeded
        self.targets = targets
        self.all_started: list[str] = []
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        self._http = httpx.AsyncClient(
            base_url=api_url, headers=seeded.headers, limits=limits, timeout=60
        )
        self._hook_route: Route | None = None

    async def aclose(self) -> None:
        await self._http.aclose()

    def for_phase(self, hook_route: Route | None) -> None:
        self._hook_route = hook_route

    async def start(self, runs: Runs, route: Route, index: int) -> None:
        loop = asyncio.get_running_loop()
        via_hook = self._hook_route is not None and index % WEBHOOK_EVERY == 0
        route = self._hook_route if via_hook and self._hook_route else route
        runs.in_flight += 1
        sent = loop.time()
        try:
            try:
                if via_hook:
                    response = await self._http.post(self.seeded.hook_path, json={"n": index})
                else:
                    path = f"/api/workflows/{self.seeded.workflow_id}/runs"
                    response = await self._http.post(path, json={"inputs": {}})
            except httpx.HTTPError:
                route.statuses["transport error"] += 1
                await asyncio.sleep(0.1)
                return
            route.statuses[status_class(response.status_code)] += 1
            if response.status_code not in (201, 202):
                await asyncio.sleep(0.1)
                return
            route.ms.append((loop.time() - sent) * 1000)
            body = response.json()
            run_id = body["run_id"] if via_hook else body["id"]
            runs.started.append(run_id)
            self.all_started.append(run_id)
            self.targets.recent_runs.append(run_id)
            await wait_for_run(self.client, run_id, runs, sent)
        finally:
            runs.in_flight -= 1


class BaselineStarter:
    """Starts ChainBaseline runs with Temporal's own client and waits for each."""

    def __init__(self, client: Client, task_queue: str, url: str) -> None:
        self.client = client
        self.task_queue = task_queue
        self.url = url

    async def start(self, runs: Runs, route: Route, index: int) -> None:
        loop = asyncio.get_running_loop()
        runs.in_flight += 1
        sent = loop.time()
        try:
            try:
                handle = await self.client.start_workflow(
                    ChainBaseline.run,
                    args=[NODES, self.url],
                    id=f"load-baseline-{uuid.uuid4()}",
                    task_queue=self.task_queue,
                )
            except RPCError:
                route.statuses["transport error"] += 1
                await asyncio.sleep(0.1)
                return
            route.statuses["2xx"] += 1
            route.ms.append((loop.time() - sent) * 1000)
            runs.started.append(handle.id)
            try:
                await handle.result()
                ok = True
            except (WorkflowFailureError, RPCError):
                ok = False
            runs.finished.append(Finished(handle.id, sent, loop.time(), ok))
        finally:
            runs.in_flight -= 1


# -- the database's account -----------------------------------------------------------------


@dataclass
class Account:
    """What the database holds for the runs the API accepted."""

    started: int
    stored: int
    succeeded: int
    complete: int
    """Succeeded with `NODES` succeeded nodes."""
    missing: int
    extra: int
    temporal_failures: int
    lost: int
    """Accepted runs not complete in the database, or not succeeded on Temporal."""


async def account(
    connection: asyncpg.Connection, started: list[str], failed_on_temporal: list[str]
) -> Account:
    rows = await connection.fetch("SELECT id::text AS id, status FROM runs")
    stored = {row["id"]: row["status"] for row in rows}
    nodes = await connection.fetch(
        "SELECT run_id::text AS id, count(*) AS n FROM tasks WHERE status = 'succeeded' "
        "GROUP BY run_id"
    )
    succeeded_nodes = {row["id"]: row["n"] for row in nodes}
    wanted = set(started)
    succeeded = {run for run in wanted if stored.get(run) == "succeeded"}
    complete = {run for run in succeeded if succeeded_nodes.get(run) == NODES}
    return Account(
        started=len(started),
        stored=len(stored),
        succeeded=len(succeeded),
        complete=len(complete),
        missing=len(wanted - stored.keys()),
        extra=len(stored.keys() - wanted),
        temporal_failures=len(failed_on_temporal),
        lost=len((wanted - complete) | set(failed_on_temporal)),
    )


# -- the bench --------------------------------------------------------------------------------


@dataclass
class Results:
    options: Options
    baseline: Phase
    flowpilot: Phase
    account: Account
    endpoint_hits: int
    nodes_run: int
    services: list[str]
    seconds: float


@contextlib.asynccontextmanager
async def extras(running: Stack) -> AsyncIterator[tuple[str, str]]:
    """The endpoint and the baseline worker; yields (the endpoint's URL, the baseline queue)."""
    port = free_port()
    endpoint = running.start("endpoint", [sys.executable, str(SCRIPT), "--endpoint", str(port)])
    queue = f"load-baseline-{uuid.uuid4().hex[:8]}"
    running.env[BASELINE_QUEUE_VARIABLE] = queue
    worker = running.start("baseline-worker", [sys.executable, str(SCRIPT), "--baseline-worker"])

    async def polling() -> bool:
        return BASELINE_READY in worker.log_path.read_text(errors="replace")

    await wait_for("the endpoint", lambda: port_open("127.0.0.1", port), [endpoint], 60)
    await wait_for("the baseline worker", polling, [worker], 60)
    yield f"http://127.0.0.1:{port}/node", queue


async def seed(running: Stack, url: str) -> Seeded:
    async with httpx.AsyncClient(base_url=running.api_url, timeout=60) as client:
        await sign_up(client, "admin@load.example.com")
        headers = await sign_up(client, "editor@load.example.com")
        definition = chain_definition(url)
        manual = await create_workflow(client, headers, definition)
        hook = await create_workflow(client, headers, chain_definition(url, webhook=True))
    path = hook["webhook_url"].removeprefix(running.api_url)
    return Seeded(headers, manual["id"], hook["id"], path, definition)


async def endpoint_hits(url: str) -> int:
    async with httpx.AsyncClient() as client:
        return int((await client.get(url.replace("/node", "/hits"))).text)


async def warm_up(flowpilot: "FlowpilotStarter", baseline: "BaselineStarter", count: int) -> Runs:
    """`count` runs of each engine at once: every process warm, run ids to read."""
    warm = Runs()
    seed_route, seed_hooks = Route("seed"), Route("seed hooks")
    flowpilot.for_phase(seed_hooks)
    await asyncio.gather(
        *(flowpilot.start(warm, seed_route, index) for index in range(count)),
        *(baseline.start(warm, seed_route, index) for index in range(count)),
    )
    if seed_route.unexpected() or seed_hooks.unexpected() or warm.failed:
        raise RuntimeError(
            f"seeding failed: {seed_route.statuses} {seed_hooks.statuses}, "
            f"{warm.failed} runs failed"
        )
    return warm


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The load generator's garbage collector off: its pauses would count as latency."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


async def measure(
    options: Options, setup: Setup, flowpilot: "FlowpilotStarter", baseline: "BaselineStarter"
) -> tuple[Phase, Phase]:
    """The baseline phase, then the Flowpilot phase; returns both."""
    log(
        f"baseline: {options.concurrency} ChainBaseline runs in flight for "
        f"{options.warmup_s:.0f} + {options.baseline_duration_s:.0f} s"
    )
    baseline_plan = PhasePlan(
        "raw Temporal",
        options.concurrency,
        options.warmup_s,
        options.baseline_duration_s,
        baseline.start,
        "client.start_workflow(ChainBaseline)",
        sse=False,
    )
    baseline_phase = await run_phase(baseline_plan, setup)
    log(summary(baseline_phase))
    log(
        f"Flowpilot: {options.concurrency} runs in flight through the API for "
        f"{options.warmup_s:.0f} + {options.duration_s:.0f} s"
    )
    hook_route = Route("POST /api/hooks/{token}")
    flowpilot.for_phase(hook_route)
    flowpilot_plan = PhasePlan(
        "Flowpilot",
        options.concurrency,
        options.warmup_s,
        options.duration_s,
        flowpilot.start,
        "POST /api/workflows/{id}/runs",
        sse=True,
        extra_routes=[hook_route],
    )
    flowpilot_phase = await run_phase(flowpilot_plan, setup)
    log(summary(flowpilot_phase))
    return baseline_phase, flowpilot_phase


async def bench(options: Options) -> Results:
    began = time.perf_counter()
    settings = {"HTTP_ALLOWED_HOSTS": json.dumps(["127.0.0.1"])}
    async with (
        stack(
            options.workers,
            options.api_workers,
            database=options.database,
            redis_url=options.redis_url,
            settings=settings,
        ) as running,
        extras(running) as (url, baseline_queue),
    ):
        client = await connect(Settings(temporal_address=running.temporal_address))
        connection = await asyncpg.connect(bench_dsn(options.database))
        try:
            services = await versions_of_services(connection)
            seeded = await seed(running, url)
            targets = Targets(
                [seeded.workflow_id, seeded.hook_id], deque(maxlen=500), seeded.definition
            )
            components: dict[str, Watched] = {**running.pids(), "load generator": os.getpid()}
            setup = Setup(running, targets, seeded.headers, components, url)
            flowpilot = FlowpilotStarter(
                client, seeded, running.api_url, options.concurrency, targets
            )
            baseline = BaselineStarter(client, baseline_queue, url)
            try:
                log(f"seeding: {options.seed_runs} runs of each engine")
                warm = await warm_up(flowpilot, baseline, options.seed_runs)
                with collector_paused():
                    baseline_phase, flowpilot_phase = await measure(
                        options, setup, flowpilot, baseline
                    )
            finally:
                await flowpilot.aclose()
            with contextlib.suppress(RuntimeError):  # what is unfinished counts as lost
                await wait_until_finished(connection, 120)
            failures = warm.failed_ids + flowpilot_phase.runs.failed_ids
            result = await account(connection, flowpilot.all_started, failures)
            hits = await endpoint_hits(url)
            for service in running.services.values():
                service.check_alive()
        finally:
            await connection.close()
    finished = [*warm.finished, *baseline_phase.runs.finished, *flowpilot_phase.runs.finished]
    return Results(
        options,
        baseline_phase,
        flowpilot_phase,
        result,
        hits,
        NODES * len(finished),
        services,
        time.perf_counter() - began,
    )


def summary(phase: Phase) -> str:
    return (
        f"  {phase.name}: {phase.runs_per_s:.1f} runs/s, {phase.nodes_per_s:.0f} nodes/s, "
        f"{phase.mean_in_flight:.0f} in flight, run p50 {phase.run_seconds(50):.2f} s; "
        f"{len(phase.runs.started)} started, {phase.runs.failed} failed"
    )


# -- report -------------------------------------------------------------------------------------


def fmt(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


@dataclass
class Bar:
    name: str
    goal: str
    measured: str
    ok: bool


def read_routes(phase: Phase) -> list[Route]:
    return [route for route in phase.routes.values() if route.read]


def slowest(routes: list[Route]) -> Route:
    """The route with the highest p95; one without a measured answer counts as slowest."""
    return max(routes, key=lambda route: route.p(95) if route.ms else float("inf"))


def bars(results: Results) -> list[Bar]:
    everything = [
        route for phase in (results.baseline, results.flowpilot) for route in phase.routes.values()
    ]
    server_errors = sum(route.statuses["5xx"] for route in everything)
    other = sum(route.unexpected() - route.statuses["5xx"] for route in everything)
    worst = slowest(read_routes(results.flowpilot))
    account = results.account
    unfinished = results.flowpilot.runs.unfinished + results.baseline.runs.unfinished
    return [
        Bar(
            "5xx answers (both phases, warm-ups included)",
            "0",
            str(server_errors),
            not server_errors,
        ),
        Bar(
            "other unexpected answers (4xx, 429, transport errors)",
            "0",
            str(other),
            not other,
        ),
        Bar(
            "lost runs: every run the API accepted is in the database as succeeded with "
            f"{NODES} succeeded nodes, and Temporal returned it succeeded",
            "0",
            f"{account.lost} (accepted {account.started:,}, stored {account.stored:,}, "
            f"complete {account.complete:,}, missing {account.missing}, extra {account.extra}, "
            f"failed on Temporal {account.temporal_failures}, not waited for {unfinished})",
            account.lost == 0 and account.extra == 0 and unfinished == 0,
        ),
        Bar(
            "p95 of every read route during the Flowpilot phase",
            f"< {READ_P95_BAR_MS:.0f} ms",
            f"worst: {worst.name} {fmt(worst.p(95))} ms",
            all(
                route.ms and route.p(95) < READ_P95_BAR_MS
                for route in read_routes(results.flowpilot)
            ),
        ),
        Bar(
            "raw-Temporal baseline runs all succeeded (else the comparison is void)",
            "0 failed",
            f"{results.baseline.runs.failed} failed",
            results.baseline.runs.failed == 0,
        ),
    ]


def server_cpu_ms_per_node(phase: Phase) -> float:
    return sum(phase.cpu_ms_per_node(component) for component in SERVER_COMPONENTS)


def signed(value: float, digits: int = 2) -> str:
    return f"{'+' if value >= 0 else ''}{fmt(value, digits)}"


def versus(flowpilot: float, baseline: float, unit: str = "ms") -> str:
    """Flowpilot's value, with its difference to and ratio over the baseline's."""
    return (
        f"{fmt(flowpilot, 2)} {unit} ({signed(flowpilot - baseline)} {unit}, "
        f"{fmt(flowpilot / baseline, 2)} x)"
    )


def readme_table(results: Results) -> list[str]:
    """The summary for the README: Flowpilot's full path against raw Temporal."""
    fp, base = results.flowpilot, results.baseline
    worst, worst_base = slowest(read_routes(fp)), slowest(read_routes(base))
    server_errors = sum(route.statuses["5xx"] for route in fp.routes.values())
    return [
        f"| {results.options.concurrency} runs in flight, {NODES} chained `http.request` nodes "
        "each | Flowpilot (API → DagWorkflow → PostgreSQL) | raw Temporal (hand-written "
        "workflow, same activity) |",
        "|---|--:|--:|",
        f"| measured | {fmt(fp.measured_s, 0)} s | {fmt(base.measured_s, 0)} s |",
        f"| runs/s | {fmt(fp.runs_per_s)} | {fmt(base.runs_per_s)} |",
        f"| nodes/s | {fmt(fp.nodes_per_s, 0)} | {fmt(base.nodes_per_s, 0)} |",
        f"| machine time per node (1 / nodes/s) | {versus(fp.ms_per_node, base.ms_per_node)} | "
        f"{fmt(base.ms_per_node, 2)} ms |",
        "| server CPU per node (API, worker, Temporal, PostgreSQL, Redis) | "
        f"{versus(server_cpu_ms_per_node(fp), server_cpu_ms_per_node(base))} | "
        f"{fmt(server_cpu_ms_per_node(base), 2)} ms |",
        "| of which the worker (interpreter and recording / hand-written workflow) | "
        f"{versus(fp.cpu_ms_per_node('worker'), base.cpu_ms_per_node('baseline-worker'))} | "
        f"{fmt(base.cpu_ms_per_node('baseline-worker'), 2)} ms |",
        "| mean run duration (runs in flight / runs/s) | "
        f"{fmt(fp.mean_run_s)} s | {fmt(base.mean_run_s)} s |",
        f"| API reads at {fmt(total_read_rate(), 0)} req/s: p95 of the slowest route | "
        f"{fmt(worst.p(95))} ms ({worst.name}) | {fmt(worst_base.p(95))} ms ({worst_base.name}) |",
        f"| 5xx / lost runs | {server_errors} / {results.account.lost} | "
        f"{sum(route.statuses['5xx'] for route in base.routes.values())} / "
        f"{base.runs.failed} |",
    ]


def total_read_rate() -> float:
    return sum(kind.rate for kind in read_kinds())


def route_rows(phase: Phase) -> list[str]:
    rows = []
    for route in phase.routes.values():
        statuses = route.statuses
        rate = f"{fmt(route.rate, 0)}/s open loop" if route.rate else "closed loop"
        rows.append(
            f"| {phase.name} | {route.name}{' (read)' if route.read else ''} | {rate} | "
            f"{route.requests:,} | {statuses['2xx']:,} | {statuses['4xx']} | {statuses['429']} | "
            f"{statuses['5xx']} | {statuses['transport error']} | {len(route.ms):,} | "
            f"{fmt(route.p(50))} | {fmt(route.p(95))} | {fmt(route.p(99))} | "
            f"{fmt(max(route.ms) if route.ms else float('nan'))} |"
        )
    return rows


CPU_COLUMNS = [*SERVER_COMPONENTS, *TOOL_COMPONENTS]


def cpu_row(phase: Phase) -> str:
    cells = " | ".join(fmt(phase.cpu_ms_per_node(name), 2) for name in CPU_COLUMNS)
    rest = phase.cores.get("other", 0.0) + phase.cores.get("steal", 0.0)
    return f"| {phase.name} | {cells} | {fmt(server_cpu_ms_per_node(phase), 2)} | {fmt(rest, 2)} |"


def cores_row(phase: Phase) -> str:
    cells = " | ".join(fmt(phase.cores.get(name, 0.0), 2) for name in CPU_COLUMNS)
    server = sum(phase.cores.get(name, 0.0) for name in SERVER_COMPONENTS)
    rest = phase.cores.get("other", 0.0) + phase.cores.get("steal", 0.0)
    return f"| {phase.name} | {cells} | {fmt(server, 2)} | {fmt(rest, 2)} |"


def method(options: Options) -> list[str]:
    kinds = ", ".join(f"{kind.name} {kind.rate:.0f}/s" for kind in read_kinds())
    return [
        "- Processes, all on this machine over loopback, started by the bench as a user deploys "
        "them (`bench/api.py`'s `stack()`): the Temporal dev server (`temporal server "
        "start-dev` with `flowpilot dev`'s flags: SQLite state file, latency tuning), "
        f"{options.workers} worker process{'es' if options.workers > 1 else ''} "
        f"(`python -m worker`), the API (`python -m cli api`, {options.api_workers} uvicorn "
        f"process{'es' if options.api_workers > 1 else ''}), PostgreSQL database "
        f"`{options.database}` (recreated), Redis `{options.redis_url}` (flushed) for the rate "
        "limits. Settings changed "
        'from the defaults: `HTTP_ALLOWED_HOSTS=["127.0.0.1"]` (the nodes call a loopback '
        f"endpoint), `RATE_LIMIT_API_PER_MINUTE` and `RATE_LIMIT_WEBHOOK_PER_MINUTE` = "
        f"{RAISED_LIMIT:,} so the load does not throttle itself, `ENVIRONMENT=production`.",
        f"- Workload: a chain of {NODES} `http.request` nodes, each a real activity making a "
        "GET to a uvicorn endpoint on loopback that answers a 11-byte JSON body at once. The "
        f"baseline is `bench/engine.py`'s `ChainBaseline` ({NODES} `execute_activity` calls "
        "of the very same `http.request` activity, same timeouts and retry policy as the "
        "interpreter) on a worker process of its own with the interpreter worker's settings "
        "(workflow runner, concurrency), on the same dev server.",
        f"- Each phase keeps {options.concurrency} runs in flight: as one ends another starts "
        "(the first starts spread over the warm-up, so the runs do not move in lockstep). "
        "Flowpilot: `POST /api/workflows/{id}/runs` (every tenth run through the workflow's "
        "webhook, `POST /api/hooks/{token}`), then a long poll on Temporal for the run's end; "
        "baseline: `client.start_workflow`, then the same long poll. Warm-up "
        f"{options.warmup_s:.0f} s, then {options.baseline_duration_s:.0f} s measured for the "
        f"baseline and {options.duration_s:.0f} s for Flowpilot (baseline first, so Flowpilot "
        "runs on the fuller Temporal and PostgreSQL); the runs in flight at the end are waited "
        "for and checked, not counted in the throughput.",
        f"- Mixed API traffic in both phases, as one editor: open loop per route, {kinds} "
        f"(each on {CONNECTIONS_PER_ROUTE} keep-alive connections; latency from each request's "
        "scheduled send time, so queueing counts). In the Flowpilot phase also "
        f"{SSE_WATCHERS} clients each following the event stream of the newest run until it "
        f"ends or {SSE_FOLLOW_S:.0f} s pass, then the next (closed loop; latency = time to the "
        "first event). `GET /api/runs/{id}` asks for one of the 500 most recently started runs.",
        "- Throughput: nodes/s = requests the endpoint served in the measured window (one per "
        f"node) / its length; runs/s = nodes/s / {NODES}. (Runs that ended inside the window "
        "are in the Runs table too; with runs lasting seconds they come in bursts, so the node "
        "count is the steadier measure.) Machine time per node = 1 / nodes/s (both cores, at "
        "this concurrency); the overhead is Flowpilot's minus the baseline's, with the same "
        "read traffic on both. CPU from /proc over the measured window, per node run in it.",
        "- The load generator is this bench's own process (httpx, Temporal's client), with its "
        "garbage collector off during the phases; its CPU is in the CPU table.",
    ]


def report(results: Results) -> list[str]:
    fp, base = results.flowpilot, results.baseline
    checks = bars(results)
    route_header = (
        "| phase | route | traffic | requests | 2xx | 4xx | 429 | 5xx | transport errors "
        "| measured | p50 ms | p95 ms | p99 ms | max ms |"
    )
    cpu_header = " | ".join(CPU_COLUMNS)
    title = "Flowpilot load benchmark" + (" (--quick)" if results.options.quick else "")
    return [
        f"# {title}",
        "",
        "## Result",
        "",
        *readme_table(results),
        "",
        busy_note(results),
        "",
        "## Bars",
        "",
        "| bar | goal | measured | result |",
        "|---|---|---|---|",
        *(
            f"| {bar.name} | {bar.goal} | {bar.measured} | {'**pass**' if bar.ok else '**MISS**'} |"
            for bar in checks
        ),
        "",
        "## Machine",
        "",
        *machine(results.services),
        "",
        "## Method",
        "",
        *method(results.options),
        "",
        "## Runs",
        "",
        "Run durations (p50 to p99) are those of the runs that ended inside the measured "
        "window; while the window spans few run lifetimes they favour the runs started first, "
        "so the README table gives the mean by Little's law instead.",
        "",
        "| phase | started | ended ok | failed | mean in flight | ended ok in window "
        "| runs/s | nodes/s | run p50 s | run p95 s | run p99 s |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        *(
            f"| {phase.name} | {len(phase.runs.started):,} | "
            f"{len(phase.runs.finished) - phase.runs.failed:,} | {phase.runs.failed} | "
            f"{fmt(phase.mean_in_flight, 0)} | {phase.ended_in_window:,} | "
            f"{fmt(phase.runs_per_s)} | "
            f"{fmt(phase.nodes_per_s, 0)} | {fmt(phase.run_seconds(50), 2)} | "
            f"{fmt(phase.run_seconds(95), 2)} | {fmt(phase.run_seconds(99), 2)} |"
            for phase in (base, fp)
        ),
        "",
        f"The endpoint served {results.endpoint_hits:,} requests for {results.nodes_run:,} "
        "nodes run (seeding included; more requests than nodes would be retried attempts). "
        f"Event streams followed in the Flowpilot phase, by how they ended: "
        f"{dict(fp.sse_endings) or 'none'}.",
        "",
        "The load generator's own delays, included in the latencies it measures: its event "
        f"loop woke late from a {LAG_TICK_S * 1000:.0f} ms sleep by "
        + "; ".join(
            f"{phase.name} p50 {fmt(percentile(phase.loop_lag_ms, 50))}, p95 "
            f"{fmt(percentile(phase.loop_lag_ms, 95))}, max "
            f"{fmt(max(phase.loop_lag_ms, default=float('nan')))} ms"
            for phase in (base, fp)
        )
        + ".",
        "",
        "## API answers",
        "",
        "All answers of each phase, warm-up included, by status. Latencies of the good answers: "
        "reads in the measured window, from each request's scheduled send time; starts over "
        "the whole phase, from the request to its answer. Temporal's own start call counts an "
        "accepted start as 2xx and an RPC error as a transport error.",
        "",
        route_header,
        "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        *route_rows(base),
        *route_rows(fp),
        "",
        "## CPU",
        "",
        "CPU milliseconds per node run in the measured window, by component (api: every API "
        "process, the read traffic included; postgres: the backends serving the bench "
        "database); rest of machine: cores used meanwhile by everything else (other work on "
        "a shared machine, hypervisor steal).",
        "",
        f"| phase | {cpu_header} | server total | rest of machine (cores) |",
        "|---|" + "--:|" * (len(CPU_COLUMNS) + 2),
        cpu_row(base),
        cpu_row(fp),
        "",
        "The same in cores (CPU seconds per wall second; 2.00 = both cores busy):",
        "",
        f"| phase | {cpu_header} | server total | rest of machine |",
        "|---|" + "--:|" * (len(CPU_COLUMNS) + 2),
        cores_row(base),
        cores_row(fp),
        "",
        f"The bench took {results.seconds:.0f} s.",
    ]


QUIET_CORES = 0.25


def busy_note(results: Results) -> str:
    """How much of the machine other work took while each phase was measured."""
    rest = {
        phase.name: phase.cores.get("other", 0.0) + phase.cores.get("steal", 0.0)
        for phase in (results.baseline, results.flowpilot)
    }
    verdict = (
        "a quiet machine"
        if max(rest.values()) < QUIET_CORES
        else "**a busy machine**: other work competed for the two cores, so throughput and "
        "latency are worse than the stack's own, and where the two phases saw different loads "
        "their CPU per node compares better than their machine time per node"
    )
    cores = ", ".join(f"{name} {fmt(value, 2)}" for name, value in rest.items())
    return (
        f"The rest of the machine (other work, hypervisor steal) used {cores} cores during "
        f"the measured windows: {verdict}."
    )


def passed(results: Results) -> bool:
    return all(bar.ok for bar in bars(results))


def main() -> int:
    options = parse_options()
    results = asyncio.run(bench(options))
    text = "\n".join(report(results)) + "\n"
    sys.stdout.write(text)
    if options.output is not None:
        options.output.write_text(text)
    ok = passed(results)
    log("all bars held" if ok else "a bar was missed: see Bars")
    return 0 if ok else 1


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if arguments[:1] == ["--endpoint"]:
        serve_endpoint(int(arguments[1]))
        sys.exit(0)
    if arguments[:1] == ["--baseline-worker"]:
        asyncio.run(serve_baseline_worker())
        exit_process(0)
    exit_process(main())
