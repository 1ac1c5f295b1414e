"""The Flowpilot worker: runs `DagWorkflow` and every node activity on Temporal."""

import asyncio
import contextlib
import logging
import py_compile
import signal
from collections.abc import AsyncIterator
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.attempts import FailedAttemptInterceptor
from activities.concurrency import connector_concurrency
from activities.log_context import ActivityLogContext
from activities.metrics import serve_metrics
from activities.registry import worker_activities
from activities.secret_redaction import SecretRedaction
from activities.support import ActivityRegistry
from core import tracing
from core.config import Settings, get_settings
from core.logs import configure_logging
from core.runtime import freeze_startup_objects
from core.temporal import connect, exit_process
from core.temporal_runtime import temporal_runtime
from workflows import dag
from workflows.dag import DagWorkflow, ForeachBatchWorkflow

WORKFLOWS = [DagWorkflow, ForeachBatchWorkflow]
# Pure, deterministic modules the interpreter uses: loaded once and shared by every run
# instead of re-imported into each run's sandbox. jinja2 must pass whole: it imports
# submodules lazily, and a second copy's AST classes would not match the first's.
PASSTHROUGH_MODULES = (
    "jinja2",
    "markupsafe",
    "pydantic",
    "pydantic_core",
    "annotated_types",
    "workflows.catalog",
    "workflows.contract",
    "workflows.cron",
    "workflows.definition",
    "workflows.durations",
    "workflows.node_type",
    "workflows.nodes",
    "workflows.runner",
    "workflows.templates",
)
log = logging.getLogger("flowpilot.worker")


def sandbox_runner() -> SandboxedWorkflowRunner:
    """The workflow sandbox of the replay tests and of workers that turn it on."""
    restrictions = SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH_MODULES)
    return SandboxedWorkflowRunner(restrictions=restrictions)


def workflow_runner(settings: Settings) -> WorkflowRunner:
    if settings.worker_workflow_sandbox:
        return sandbox_runner()
    return UnsandboxedWorkflowRunner()


def cache_sandboxed_bytecode() -> None:
    """Write the bytecode of `workflows.dag`, which the sandbox imports afresh for every run.

    Python caches bytecode in `__pycache__` unless told not to (`PYTHONDONTWRITEBYTECODE`,
    common in containers); then every run would compile the module's source again. Writing
    it once here spares that; where the install is read-only, runs just keep compiling.
    """
    with contextlib.suppress(OSError, py_compile.PyCompileError):
        py_compile.compile(dag.__file__, doraise=True)


@contextlib.asynccontextmanager
async def create_worker(
    client: Client,
    settings: Settings,
    *,
    task_queue: str | None = None,
    activities: ActivityRegistry | None = None,
) -> AsyncIterator[Worker]:
    """A running worker; the real activities unless `activities` are given.

    On exit the worker stops (in-flight activities get the grace period) and then the
    resources of the real activities (database engine, HTTP pool) are closed.
    """
    async with contextlib.AsyncExitStack() as stack:
        if activities is None:
            activities = await stack.enter_async_context(worker_activities(settings))
        limits = await stack.enter_async_context(connector_concurrency(settings, activities))
        worker = Worker(
            client,
            task_queue=task_queue or settings.temporal_task_queue,
            workflows=WORKFLOWS,
            activities=list(activities.values()),
            workflow_runner=workflow_runner(settings),
            interceptors=[
                ActivityLogContext(),
                FailedAttemptInterceptor(),
                SecretRedaction(),
                limits,
            ],
            max_concurrent_activities=settings.worker_max_concurrent_activities,
            max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
            graceful_shutdown_timeout=timedelta(seconds=settings.worker_shutdown_grace_seconds),
        )
        async with worker:
            yield worker


async def run_worker(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM, then let in-flight activities finish within the grace period."""
    if settings.worker_workflow_sandbox:
        cache_sandboxed_bytecode()
    provider = tracing.tracer_provider(settings, "worker")
    client = await connect(
        settings,
        runtime=temporal_runtime(settings),
        interceptors=tracing.temporal_interceptors(provider),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with serve_metrics(settings), create_worker(client, settings):
        freeze_startup_objects()
        log.info(
            "worker polling task queue %r on %s",
            settings.temporal_task_queue,
            settings.temporal_address,
        )
        await stop.wait()
        log.info("worker stopping")
    if provider is not None:
        await asyncio.to_thread(provider.shutdown)  # sends the spans still batched


def serve(settings: Settings) -> None:
    configure_logging(settings)
    asyncio.run(run_worker(settings))


if __name__ == "__main__":
    serve(get_settings())
    exit_process(0)
