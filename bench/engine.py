"""Engine benchmark: the same work through `DagWorkflow` and through hand-written workflows.

Run by `make bench` as `.venv/bin/python bench/engine.py` (`--quick` for a shorter run).
Every case runs against two embedded Temporal dev servers, one started with stock settings
and one with Flowpilot's latency tuning (`dev_server_tuning_args()`). The workers run in this
process: `create_worker` for DagWorkflow and a worker with the same settings and workflow
runner (sandboxed or not, per `WORKER_WORKFLOW_SANDBOX`) for the baselines below, each on its
own task queue, both serving a no-op activity registered
under the node type `http.request`, so both engines call the very same activity. Each case
also reports CPU per node: this process (client and workers) and the dev server, read from
/proc. Last, a real worker (`python -m worker`, a subprocess) holds 200 runs waiting on an
approval and its RSS is read. Progress goes to stderr; the report goes to stdout."""

import argparse
import asyncio
import contextlib
import importlib.metadata
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio import activity, workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from temporalio.client import Client, WorkflowHandle
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment
    from temporalio.worker import Worker

    from core.config import Settings
    from core.temporal import dev_server_tuning_args, exit_process, temporal_binary
    from worker import create_worker, workflow_runner
    from workflows.contract import NodeInput, NodeResult
    from workflows.dag import DagWorkflow, RunInput
    from workflows.definition import Defaults, validate_definition
    from workflows.durations import parse_duration
    from workflows.runner import split_concurrency

URL = "http://bench.invalid/noop"
MEMORY_RUNS = 200
MEMORY_BUDGET_MB = 500
# The interpreter's defaults, so the baselines schedule activities exactly as it does.
_DEFAULTS = Defaults()
ACTIVITY_TIMEOUT = parse_duration(_DEFAULTS.timeout)
HEARTBEAT_TIMEOUT = min(ACTIVITY_TIMEOUT, timedelta(seconds=30))
RETRY = RetryPolicy(
    initial_interval=parse_duration(_DEFAULTS.retry.initial_interval),
    backoff_coefficient=_DEFAULTS.retry.backoff,
    maximum_interval=parse_duration(_DEFAULTS.retry.max_interval),
    maximum_attempts=_DEFAULTS.retry.max_attempts,
)


# -- the one activity both engines call ---------------------------------------------------


@activity.defn(name="http.request")
async def noop_request(node_input: NodeInput) -> NodeResult:
    """Stands in for `http.request`: answers at once with a small output."""
    return NodeResult(output={"status": 200, "body": {"node": node_input.node_id}})


# -- hand-written baselines -----------------------------------------------------------------


def _node_input(node_id: str, params: dict[str, Any]) -> NodeInput:
    run_id = workflow.info().workflow_id
    return NodeInput(
        run_id=run_id,
        node_id=node_id,
        type="http.request",
        params=params,
        idempotency_key=f"{run_id}:{node_id}",
    )


async def _call(node_id: str, params: dict[str, Any]) -> NodeResult:
    return await workflow.execute_activity(
        "http.request",
        _node_input(node_id, params),
        result_type=NodeResult,
        start_to_close_timeout=ACTIVITY_TIMEOUT,
        heartbeat_timeout=HEARTBEAT_TIMEOUT,
        retry_policy=RETRY,
    )


async def _call_local(node_id: str, params: dict[str, Any]) -> NodeResult:
    return await workflow.execute_local_activity(
        "http.request",
        _node_input(node_id, params),
        result_type=NodeResult,
        start_to_close_timeout=ACTIVITY_TIMEOUT,
        retry_policy=RETRY,
    )


@workflow.defn
class ChainBaseline:
    """`length` activities one after the other, each calling `url`."""

    @workflow.run
    async def run(self, length: int, url: str = URL) -> list[Any]:
        return [(await _call(f"n{i}", {"url": url})).output for i in range(length)]


@workflow.defn
class LocalChainBaseline:
    """`length` local activities one after the other."""

    @workflow.run
    async def run(self, length: int) -> list[Any]:
        return [(await _call_local(f"n{i}", {"url": URL})).output for i in range(length)]


@workflow.defn
class PureChainBaseline:
    """`length` in-workflow steps, each reading the previous one's output."""

    @workflow.run
    async def run(self, length: int) -> list[Any]:
        outputs: list[Any] = [{"step": 0}]
        for i in range(1, length):
            outputs.append({"step": i, "prev": outputs[-1]["step"]})
        return outputs


@workflow.defn
class FanoutBaseline:
    """One activity, then `width` at once (`asyncio.gather`), then one more."""

    @workflow.run
    async def run(self, width: int) -> list[Any]:
        await _call("start", {"url": URL})
        calls = [_call(f"n{i}", {"url": URL}) for i in range(width)]
        results = await asyncio.gather(*calls)
        await _call("join", {"url": URL})
        return [result.output for result in results]


@workflow.defn
class BatchBaseline:
    """A slice of a foreach: one activity per item, `concurrency` at a time."""

    @workflow.run
    async def run(self, items: list[int], concurrency: int) -> list[Any]:
        slots = asyncio.Semaphore(concurrency)

        async def one(item: int) -> Any:
            async with slots:
                result = await _call(f"item{item}", {"url": f"{URL}/items/{item}"})
                return result.output

        return await asyncio.gather(*(one(item) for item in items))


@workflow.defn
class ForeachBaseline:
    """Batches of items in child workflows, split exactly as the interpreter's foreach does."""

    @workflow.run
    async def run(self, items: list[int], concurrency: int, batch_size: int) -> list[Any]:
        batches = [items[start : start + batch_size] for start in range(0, len(items), batch_size)]
        children_at_once, per_child = split_concurrency(len(batches), batch_size, concurrency)
        slots = asyncio.Semaphore(children_at_once)
        parent_id = workflow.info().workflow_id

        async def run_batch(number: int, batch: list[int]) -> list[Any]:
            async with slots:
                return await workflow.execute_child_workflow(
                    BatchBaseline.run,
                    args=[batch, per_child],
                    id=f"{parent_id}/{number}",
                )

        results = await asyncio.gather(*(run_batch(n, b) for n, b in enumerate(batches)))
        return [output for batch in results for output in batch]


BASELINES = [
    ChainBaseline,
    LocalChainBaseline,
    PureChainBaseline,
    FanoutBaseline,
    BatchBaseline,
    ForeachBaseline,
]


# -- DagWorkflow definitions ----------------------------------------------------------------


def _definition(nodes: list[dict[str, Any]], **defaults: Any) -> RunInput:
    raw = {"schema": "flowpilot/v1", "name": "bench", "nodes": nodes, "defaults": defaults}
    return RunInput(definition=validate_definition(raw))


def chain_definition(length: int, mode: str = "activity") -> RunInput:
    nodes = [
        {
            "id": f"n{i}",
            "type": "http.request",
            "params": {"url": URL},
            "needs": [f"n{i - 1}"] if i else [],
            "mode": mode,
        }
        for i in range(length)
    ]
    return _definition(nodes)


def transform_chain_definition(length: int) -> RunInput:
    """Each transform reads the previous one's output, like PureChainBaseline."""
    nodes: list[dict[str, Any]] = [
        {"id": "n0", "type": "transform", "params": {"value": {"step": 0}}}
    ]
    for i in range(1, length):
        value = {"step": i, "prev": f"{{{{ nodes.n{i - 1}.output.step }}}}"}
        nodes.append(
            {"id": f"n{i}", "type": "transform", "params": {"value": value}, "needs": [f"n{i - 1}"]}
        )
    return _definition(nodes)


def fanout_definition(width: int) -> RunInput:
    middle = [f"n{i}" for i in range(width)]
    nodes = [
        {"id": "start", "type": "http.request", "params": {"url": URL}},
        *(
            {"id": node_id, "type": "http.request", "params": {"url": URL}, "needs": ["start"]}
            for node_id in middle
        ),
        {"id": "join", "type": "http.request", "params": {"url": URL}, "needs": middle},
    ]
    return _definition(nodes, max_parallel=width)


def foreach_definition(items: int, concurrency: int, batch_size: int) -> RunInput:
    body = {"id": "call", "type": "http.request", "params": {"url": f"{URL}/items/{{{{ item }}}}"}}
    params = {
        "items": list(range(items)),
        "nodes": [body],
        "concurrency": concurrency,
        "batch_size": batch_size,
    }
    return _definition([{"id": "each", "type": "foreach", "params": params}])


# -- cases ------------------------------------------------------------------------------------

Runner = Callable[[Client, str], Awaitable[None]]
CHAIN = 40
FANOUT = 100
FOREACH_CONCURRENCY = 100
FOREACH_BATCH = 100
LARGE_CASE = 1000
DAG, BASELINE = "DagWorkflow", "hand-written"


@dataclass
class Case:
    name: str
    nodes: int
    dag: Runner
    baseline: Runner | None


@dataclass
class Group:
    """Cases measured with one pair of workers; the first case also serves as the warm-up."""

    cases: list[Case]


@dataclass
class Options:
    warmups: int
    repeats: int
    """Timed runs per engine of a case…"""
    large_repeats: int
    """…and of a case with `LARGE_CASE` nodes or more."""
    foreach_sizes: list[int]
    foreach_baseline_max: int
    """The largest foreach also run through the hand-written baseline."""
    memory_runs: int

    def repeats_for(self, case: Case) -> int:
        return self.large_repeats if case.nodes >= LARGE_CASE else self.repeats


def _run_id(case: str) -> str:
    return f"bench-{case}-{uuid.uuid4().hex[:10]}"


def dag_runner(case: str, run_input: RunInput) -> Runner:
    async def run(client: Client, task_queue: str) -> None:
        state = await client.execute_workflow(
            DagWorkflow.run, run_input, id=_run_id(case), task_queue=task_queue
        )
        if state.status != "succeeded":
            raise RuntimeError(f"{case}: DagWorkflow ended {state.status}: {state.error}")

    return run


def baseline_runner(case: str, workflow_run: Any, *args: Any) -> Runner:
    async def run(client: Client, task_queue: str) -> None:
        await client.execute_workflow(
            workflow_run, args=list(args), id=_run_id(case), task_queue=task_queue
        )

    return run


def foreach_case(size: int, with_baseline: bool) -> Case:
    baseline = baseline_runner(
        "foreach", ForeachBaseline.run, list(range(size)), FOREACH_CONCURRENCY, FOREACH_BATCH
    )
    return Case(
        f"foreach {size:,} items",
        size,
        dag_runner("foreach", foreach_definition(size, FOREACH_CONCURRENCY, FOREACH_BATCH)),
        baseline if with_baseline else None,
    )


def build_groups(foreach_sizes: list[int], foreach_baseline_max: int) -> list[Group]:
    single_cases = [
        Case(
            f"chain {CHAIN} activities",
            CHAIN,
            dag_runner("chain", chain_definition(CHAIN)),
            baseline_runner("chain", ChainBaseline.run, CHAIN),
        ),
        Case(
            f"chain {CHAIN} local activities",
            CHAIN,
            dag_runner("local", chain_definition(CHAIN, mode="local")),
            baseline_runner("local", LocalChainBaseline.run, CHAIN),
        ),
        Case(
            f"chain {CHAIN} transforms",
            CHAIN,
            dag_runner("transform", transform_chain_definition(CHAIN)),
            baseline_runner("transform", PureChainBaseline.run, CHAIN),
        ),
        Case(
            f"fan-out {FANOUT} (+start, join)",
            FANOUT + 2,
            dag_runner("fanout", fanout_definition(FANOUT)),
            baseline_runner("fanout", FanoutBaseline.run, FANOUT),
        ),
    ]
    foreach = [foreach_case(size, size <= foreach_baseline_max) for size in foreach_sizes]
    return [*(Group([case]) for case in single_cases), Group(foreach)]


# -- CPU accounting ---------------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> tuple[str, list[str]]:
    """(command name, the fields after it) of /proc/<pid>/stat."""
    text = Path(f"/proc/{pid}/stat").read_text()
    name = text[text.index("(") + 1 : text.rindex(")")]
    return name, text[text.rindex(")") + 2 :].split()


def cpu_seconds(pid: int) -> float:
    fields = _stat_fields(pid)[1]
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def server_pids() -> list[int]:
    """The `temporal` dev servers this process started."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name, fields = _stat_fields(int(entry.name))
        except (FileNotFoundError, ProcessLookupError):
            continue
        if name == "temporal" and int(fields[1]) == os.getpid():
            pids.append(int(entry.name))
    return pids


@dataclass
class CpuMeter:
    """CPU seconds of this process (client and workers) and of the dev server."""

    server: list[int]

    def read(self) -> tuple[float, float]:
        return cpu_seconds(os.getpid()), sum(cpu_seconds(pid) for pid in self.server)


# -- running ----------------------------------------------------------------------------------


@dataclass
class Sample:
    wall_s: float
    worker_cpu_s: float
    server_cpu_s: float


@dataclass
class Row:
    server: str
    case: str
    engine: str
    nodes: int
    samples: list[Sample]
    ratio: float | None = None

    @property
    def median_s(self) -> float:
        return statistics.median(sample.wall_s for sample in self.samples)

    def per_node_ms(self, seconds: float) -> float:
        return seconds * 1000 / self.nodes

    def mean_cpu_ms_per_node(self) -> tuple[float, float]:
        worker = statistics.mean(sample.worker_cpu_s for sample in self.samples)
        server = statistics.mean(sample.server_cpu_s for sample in self.samples)
        return self.per_node_ms(worker), self.per_node_ms(server)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextlib.asynccontextmanager
async def bench_workers(client: Client) -> AsyncIterator[dict[str, str]]:
    """The interpreter's worker (`create_worker`) and one for the baselines, same settings.

    Each has its own task queue; yields the queue of each engine.
    """
    suffix = uuid.uuid4().hex[:8]
    settings = Settings(temporal_task_queue=f"bench-dag-{suffix}")
    baseline_queue = f"bench-baseline-{suffix}"
    dag_worker = create_worker(client, settings, activities={"http.request": noop_request})
    async with dag_worker, baseline_worker(client, settings, baseline_queue, [noop_request]):
        yield {DAG: settings.temporal_task_queue, BASELINE: baseline_queue}


def baseline_worker(
    client: Client, settings: Settings, task_queue: str, activities: list[Callable[..., Any]]
) -> Worker:
    """A worker for the hand-written baselines with the settings and workflow runner the
    interpreter's worker gets from `settings`."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=BASELINES,
        activities=activities,
        workflow_runner=workflow_runner(settings),
        max_concurrent_activities=settings.worker_max_concurrent_activities,
        max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
    )


async def sample(run: Runner, client: Client, task_queue: str, meter: CpuMeter) -> Sample:
    worker_before, server_before = meter.read()
    started = time.perf_counter()
    await run(client, task_queue)
    wall = time.perf_counter() - started
    worker_after, server_after = meter.read()
    return Sample(wall, worker_after - worker_before, server_after - server_before)


def engines(case: Case) -> list[tuple[str, Runner]]:
    pairs = [(DAG, case.dag)]
    if case.baseline is not None:
        pairs.append((BASELINE, case.baseline))
    return pairs


async def measure_group(
    client: Client, server: str, group: Group, options: Options, meter: CpuMeter
) -> list[Row]:
    """Warm up on the first case, then time each case, alternating the engines run by run
    so that drift hits both alike."""
    rows: list[Row] = []
    async with bench_workers(client) as queues:
        for _ in range(options.warmups):
            for engine, run in engines(group.cases[0]):
                await run(client, queues[engine])
        for case in group.cases:
            by_engine = {
                engine: Row(server, case.name, engine, case.nodes, [])
                for engine, _ in engines(case)
            }
            for _ in range(options.repeats_for(case)):
                for engine, run in engines(case):
                    by_engine[engine].samples.append(
                        await sample(run, client, queues[engine], meter)
                    )
            dag = by_engine[DAG]
            if BASELINE in by_engine:
                dag.ratio = dag.median_s / by_engine[BASELINE].median_s
            summary = "  ".join(f"{row.engine} {row.median_s:.3f}s" for row in by_engine.values())
            log(f"  {server} | {case.name} | {summary}")
            rows += by_engine.values()
    return rows


@contextlib.asynccontextmanager
async def dev_server(extra_args: list[str]) -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_binary(),
        dev_server_extra_args=extra_args,
        data_converter=pydantic_data_converter,
    )
    try:
        yield env
    finally:
        await env.shutdown()


# -- memory: one real worker holding runs in flight -----------------------------------------


def memory_definition() -> RunInput:
    """Three finished transforms with small outputs, then an approval that waits a day."""
    nodes = [
        {"id": "fetch", "type": "transform", "params": {"value": {"id": 1, "name": "a" * 200}}},
        {
            "id": "shape",
            "type": "transform",
            "params": {"value": {"name": "{{ nodes.fetch.output.name }}", "tags": ["x"] * 20}},
            "needs": ["fetch"],
        },
        {
            "id": "summary",
            "type": "transform",
            "params": {"value": "{{ nodes.shape.output.name | length }} chars"},
            "needs": ["shape"],
        },
        {
            "id": "review",
            "type": "approval",
            "params": {"message": "ship it?", "timeout": "24h"},
            "needs": ["summary"],
        },
        {"id": "done", "type": "transform", "params": {"value": "ok"}, "needs": ["review"]},
    ]
    return _definition(nodes)


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def worker_log_has(path: Path, text: str) -> bool:
    return text in path.read_text(errors="replace")


async def wait_until_polling(path: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while not worker_log_has(path, "worker polling task queue"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the worker did not start; its log is {path}")
        await asyncio.sleep(0.1)


def start_worker_process(target: str, task_queue: str, log_file: Any) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TEMPORAL_ADDRESS": target, "TEMPORAL_TASK_QUEUE": task_queue}
    return subprocess.Popen(
        [sys.executable, "-m", "worker"],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )


@contextlib.asynccontextmanager
async def worker_process(target: str, task_queue: str) -> AsyncIterator[int]:
    """`python -m worker` against the dev server at `target`; yields its pid once polling."""
    with tempfile.NamedTemporaryFile(prefix="bench-worker-", suffix=".log") as log_file:
        process = start_worker_process(target, task_queue, log_file)
        try:
            await wait_until_polling(Path(log_file.name), process)
            yield process.pid
        finally:
            process.terminate()
            try:
                await asyncio.to_thread(process.wait, 30)
            except subprocess.TimeoutExpired:
                process.kill()


async def is_waiting(handle: WorkflowHandle[Any, Any]) -> bool:
    """Whether the run has started its approval's timer (read from history, not the worker)."""
    async for event in handle.fetch_history_events():
        if event.HasField("timer_started_event_attributes"):
            return True
    return False


async def start_waiting_runs(
    client: Client, task_queue: str, count: int
) -> list[WorkflowHandle[Any, Any]]:
    """Start `count` runs and return once every one waits on its approval."""
    run_input = memory_definition()
    handles = await asyncio.gather(
        *(
            client.start_workflow(
                DagWorkflow.run, run_input, id=_run_id("memory"), task_queue=task_queue
            )
            for _ in range(count)
        )
    )
    pending = list(handles)
    deadline = time.monotonic() + 180
    while pending:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(pending)} memory runs never reached their approval")
        await asyncio.sleep(0.25)
        waiting = [await is_waiting(handle) for handle in pending]
        pending = [handle for handle, done in zip(pending, waiting, strict=True) if not done]
    return handles


async def terminate(handles: list[WorkflowHandle[Any, Any]]) -> None:
    await asyncio.gather(
        *(handle.terminate("bench finished") for handle in handles), return_exceptions=True
    )


@dataclass
class MemoryResult:
    runs: int
    idle_kb: int
    warm_kb: int
    in_flight_kb: int
    peak_kb: int
    start_s: float

    def lines(self) -> list[str]:
        per_run = (self.in_flight_kb - self.warm_kb) / self.runs
        verdict = "within" if self.peak_kb / 1024 <= MEMORY_BUDGET_MB else "OVER"
        return [
            "memory of one worker (`python -m worker`, real activities, tuned server):",
            f"- idle, just started:                     {self.idle_kb / 1024:6.1f} MB",
            f"- after 5 warm-up runs (terminated):      {self.warm_kb / 1024:6.1f} MB",
            f"- with {self.runs} runs waiting on an approval: {self.in_flight_kb / 1024:6.1f} MB"
            f"  (+{per_run:.0f} KB per run; all {self.runs} reached it in {self.start_s:.1f} s)",
            f"- peak (VmHWM):                           {self.peak_kb / 1024:6.1f} MB"
            f"  ({verdict} the {MEMORY_BUDGET_MB} MB budget)",
        ]


async def measure_memory(client: Client, runs: int) -> MemoryResult:
    target = client.service_client.config.target_host
    task_queue = f"bench-memory-{uuid.uuid4().hex[:8]}"
    async with worker_process(target, task_queue) as pid:
        await asyncio.sleep(1)
        idle_kb = rss_kb(pid)
        await terminate(await start_waiting_runs(client, task_queue, 5))
        await asyncio.sleep(1)
        warm_kb = rss_kb(pid)
        started = time.perf_counter()
        handles = await start_waiting_runs(client, task_queue, runs)
        start_s = time.perf_counter() - started
        try:
            in_flight_kb = 0
            for _ in range(5):
                in_flight_kb = max(in_flight_kb, rss_kb(pid))
                await asyncio.sleep(0.4)
            peak_kb = rss_kb(pid, "VmHWM")
        finally:
            await terminate(handles)
    return MemoryResult(runs, idle_kb, warm_kb, in_flight_kb, peak_kb, start_s)


# -- report -----------------------------------------------------------------------------------


def machine() -> list[str]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    cli = subprocess.run(
        [temporal_binary(), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    bytecode = "off (PYTHONDONTWRITEBYTECODE)" if sys.dont_write_bytecode else "on"
    return [
        f"- nproc: {len(os.sched_getaffinity(0))}; CPU: {cpu}",
        f"- Python {platform.python_version()}; .pyc caching {bytecode}",
        f"- temporalio {importlib.metadata.version('temporalio')}",
        f"- Temporal CLI: {cli}",
    ]


TABLE_HEADER = (
    "server",
    "case",
    "engine",
    "nodes",
    "runs",
    "median s",
    "ms/node",
    "ratio",
    "worker CPU ms/node",
    "server CPU ms/node",
)


def table_cells(row: Row) -> tuple[str, ...]:
    worker_cpu, server_cpu = row.mean_cpu_ms_per_node()
    return (
        row.server,
        row.case,
        row.engine,
        f"{row.nodes:,}",
        str(len(row.samples)),
        f"{row.median_s:.3f}",
        f"{row.per_node_ms(row.median_s):.2f}",
        f"{row.ratio:.2f}" if row.ratio is not None else "",
        f"{worker_cpu:.2f}",
        f"{server_cpu:.2f}",
    )


def table(rows: list[Row]) -> list[str]:
    """A Markdown table: text columns left-aligned, numbers right-aligned."""
    lines = [TABLE_HEADER, *(table_cells(row) for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(TABLE_HEADER))]
    numeric = [i >= 3 for i in range(len(TABLE_HEADER))]

    def render(line: tuple[str, ...]) -> str:
        cells = zip(line, widths, numeric, strict=True)
        return "| " + " | ".join(c.rjust(w) if n else c.ljust(w) for c, w, n in cells) + " |"

    rule = (
        "|"
        + "|".join(
            "-" * (w + 1) + (":" if n else "-") for w, n in zip(widths, numeric, strict=True)
        )
        + "|"
    )
    return [render(lines[0]), rule, *(render(line) for line in lines[1:])]


# -- main -------------------------------------------------------------------------------------


def parse_options() -> Options:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="one timed run per engine; foreach up to 1,000 items"
    )
    if parser.parse_args().quick:
        return Options(
            warmups=1,
            repeats=1,
            large_repeats=1,
            foreach_sizes=[100, 1000],
            foreach_baseline_max=1000,
            memory_runs=MEMORY_RUNS,
        )
    return Options(
        warmups=1,
        repeats=5,
        large_repeats=3,
        foreach_sizes=[100, 1000, 3000],
        foreach_baseline_max=1000,
        memory_runs=MEMORY_RUNS,
    )


async def bench(options: Options) -> None:
    started = time.perf_counter()
    rows: list[Row] = []
    memory: MemoryResult | None = None
    groups = build_groups(options.foreach_sizes, options.foreach_baseline_max)
    for server, extra_args in [("stock", []), ("tuned", dev_server_tuning_args())]:
        log(f"dev server: {server}")
        async with dev_server(extra_args) as env:
            meter = CpuMeter(server_pids())
            if not meter.server:
                log("the dev server's process was not found: server CPU will read 0")
            for group in groups:
                rows += await measure_group(env.client, server, group, options, meter)
            if server == "tuned":
                log(f"memory: {options.memory_runs} runs in flight on one worker")
                memory = await measure_memory(env.client, options.memory_runs)
    print("machine:")
    print("\n".join(machine()))
    print(
        f"\nper case and engine: {options.warmups} warm-up, then `runs` timed runs; "
        f"median wall time. ratio = DagWorkflow / hand-written. CPU: mean per run, this process "
        f"(client + both workers) and the dev server. foreach: concurrency "
        f"{FOREACH_CONCURRENCY}, batch_size {FOREACH_BATCH}.\n"
    )
    print("\n".join(table(rows)))
    if memory is not None:
        print()
        print("\n".join(memory.lines()))
    print(f"\nthe bench took {time.perf_counter() - started:.0f} s")


def main() -> None:
    asyncio.run(bench(parse_options()))


if __name__ == "__main__":
    main()
    exit_process(0)
