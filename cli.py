"""The `flowpilot` command: dev, worker, validate, run, schema."""

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.service import RPCError

from core.config import Settings, get_settings
from core.temporal import (
    connect,
    dev_server_tuning_args,
    exit_process,
    run_url,
    temporal_binary,
)
from workflows.dag import DagWorkflow, RunInput, RunState

if TYPE_CHECKING:
    from fastapi import FastAPI
from workflows.definition import (
    Definition,
    DefinitionError,
    Issue,
    json_schema,
    resolve_inputs,
    validate_definition,
)

_POLL_SECONDS = 0.25


def main(argv: list[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    exit_process(args.handler(args, get_settings()))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flowpilot", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    dev = commands.add_parser("dev", help="start Temporal's dev server, the worker and the API")
    dev.set_defaults(handler=_dev)

    worker = commands.add_parser("worker", help="run a worker against TEMPORAL_ADDRESS")
    worker.set_defaults(handler=_worker)

    api = commands.add_parser("api", help="serve the HTTP API (migrates the database first)")
    api.set_defaults(handler=_api)

    migrate = commands.add_parser("migrate", help="apply database migrations")
    migrate.add_argument("revision", nargs="?", default="head")
    migrate.add_argument("--down", action="store_true", help="downgrade to REVISION instead")
    migrate.set_defaults(handler=_migrate)

    validate = commands.add_parser("validate", help="check a definition file")
    validate.add_argument("file", type=Path)
    validate.set_defaults(handler=_validate)

    run = commands.add_parser("run", help="run a definition file on Temporal and follow it")
    run.add_argument("file", type=Path)
    run.add_argument(
        "--input",
        "-i",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a run input; VALUE is JSON unless the input is declared as a string",
    )
    run.add_argument("--task-queue", help="override TEMPORAL_TASK_QUEUE")
    run.set_defaults(handler=_run)

    generate = commands.add_parser(
        "generate", help="describe a workflow in plain English, get its definition (OPENAI_API_KEY)"
    )
    generate.add_argument("prompt", help="what the workflow should do, or the change to make")
    generate.add_argument("--edit", type=Path, metavar="FILE", help="change this definition")
    generate.add_argument("--output", "-o", type=Path, metavar="FILE", help="write it here")
    generate.set_defaults(handler=_generate)

    schema = commands.add_parser("schema", help="print the definition format's JSON Schema")
    schema.set_defaults(handler=lambda args, settings: _print_json(json_schema()) or 0)

    openapi = commands.add_parser("openapi", help="print the HTTP API's OpenAPI document")
    openapi.set_defaults(handler=_openapi)
    return parser


def _openapi(_args: argparse.Namespace, settings: Settings) -> int:
    from api.main import create_app

    _print_json(create_app(settings).openapi())
    return 0


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


# -- validate and run ----------------------------------------------------------------


def _load(path: Path) -> Definition:
    """Read and validate a definition file; DefinitionError or OSError on failure."""
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise DefinitionError([_json_issue(error)]) from None
    return validate_definition(raw)


def _json_issue(error: json.JSONDecodeError) -> Issue:
    return Issue(node=None, field="", message=f"not valid JSON: {error}")


def _report(error: DefinitionError) -> int:
    for issue in error.issues:
        print(f"  ✗ {issue}", file=sys.stderr)
    return 1


def _validate(args: argparse.Namespace, settings: Settings) -> int:
    try:
        definition = _load(args.file)
    except OSError as error:
        print(f"cannot read {args.file}: {error.strerror}", file=sys.stderr)
        return 1
    except DefinitionError as error:
        print(f"{args.file}: {len(error.issues)} problem(s)", file=sys.stderr)
        return _report(error)
    print(f"{args.file}: valid ({len(definition.nodes)} nodes)")
    return 0


def _generate(args: argparse.Namespace, settings: Settings) -> int:
    """The definition goes to stdout (or --output), the explanation to stderr."""
    from api.errors import ApiError
    from api.nl import MAX_PROMPT_CHARS, UserContext, generator_for

    if len(args.prompt) > MAX_PROMPT_CHARS:
        print(f"the description is longer than {MAX_PROMPT_CHARS} characters", file=sys.stderr)
        return 1
    try:
        base = json.loads(args.edit.read_text()) if args.edit else None
    except (OSError, json.JSONDecodeError) as error:
        print(f"cannot read {args.edit}: {error}", file=sys.stderr)
        return 1

    async def ask() -> Any:
        import httpx

        async with httpx.AsyncClient(trust_env=False) as http:
            generator = generator_for(settings, http)
            if base is None:
                return await generator.generate(args.prompt, UserContext())
            return await generator.edit(base, args.prompt, UserContext())

    try:
        answer = asyncio.run(ask())
    except ApiError as error:
        detail = error.detail
        print(json.dumps(detail, indent=2) if isinstance(detail, dict) else detail, file=sys.stderr)
        configured = settings.openai_api_key and settings.openai_api_key.get_secret_value()
        return 1 if configured else 2
    text = json.dumps(answer.definition, indent=2, ensure_ascii=False) + "\n"
    if args.output:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    print(answer.explanation, file=sys.stderr)
    if answer.summary:
        print(f"Change: {answer.summary}", file=sys.stderr)
    for need in answer.credentials:
        print(
            f"Credential for node '{need.node}': '{need.name}' ({' or '.join(need.kinds)})",
            file=sys.stderr,
        )
    return 0


def _parse_inputs(definition: Definition, pairs: list[str]) -> dict[str, Any]:
    given: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep:
            raise SystemExit(f"--input {pair!r}: expected KEY=VALUE")
        spec = definition.inputs.get(key)
        if spec is not None and spec.type == "string":
            given[key] = text
            continue
        try:
            given[key] = json.loads(text)
        except json.JSONDecodeError:
            given[key] = text
    return resolve_inputs(definition, given)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        definition = _load(args.file)
        inputs = _parse_inputs(definition, args.input)
    except OSError as error:
        print(f"cannot read {args.file}: {error.strerror}", file=sys.stderr)
        return 1
    except DefinitionError as error:
        return _report(error)
    try:
        return asyncio.run(_run_and_follow(definition, inputs, settings, args.task_queue))
    except KeyboardInterrupt:
        return 130


async def _run_and_follow(
    definition: Definition, inputs: dict[str, Any], settings: Settings, task_queue: str | None
) -> int:
    client = await connect(settings)
    run_id = f"run-{uuid.uuid4().hex[:12]}"
    handle = await client.start_workflow(
        DagWorkflow.run,
        RunInput(definition=definition, inputs=inputs),
        id=run_id,
        task_queue=task_queue or settings.temporal_task_queue,
    )
    print(f"run {run_id} started: {run_url(settings, run_id, handle.result_run_id)}")
    await _follow(handle)
    try:
        result: RunState = await handle.result()
    except WorkflowFailureError as error:
        print(f"run failed: {_innermost(error)}", file=sys.stderr)
        return 1
    _print_json(result.output)
    return 0


async def _follow(handle: WorkflowHandle[Any, Any]) -> None:
    """Print each node's status as it changes, until the run closes."""
    seen: dict[str, str] = {}
    while True:
        try:
            state = await handle.query(DagWorkflow.status)
        except RPCError:
            state = None
        if state is not None:
            for node_id, node in state.nodes.items():
                if seen.get(node_id) != node.status:
                    seen[node_id] = node.status
                    detail = f" — {node.error}" if node.error else ""
                    print(f"  {node_id:<24} {node.status}{detail}", flush=True)
        description = await handle.describe()
        if description.status is not None and description.status.name != "RUNNING":
            return
        await asyncio.sleep(_POLL_SECONDS)


def _innermost(error: BaseException) -> str:
    while error.__cause__ is not None:
        error = error.__cause__
    return str(error)


# -- processes -----------------------------------------------------------------------


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from worker import serve

    serve(settings)
    return 0


def _api(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    if settings.api_workers == 1:
        uvicorn.run(
            api_app(),
            host=settings.api_host,
            port=settings.api_port,
            timeout_graceful_shutdown=round(settings.api_shutdown_grace_seconds),
        )
        return 0
    from core.migrate import upgrade

    upgrade(settings)  # once, before the processes start
    uvicorn.run(
        "cli:api_app",
        factory=True,
        workers=settings.api_workers,
        host=settings.api_host,
        port=settings.api_port,
        timeout_graceful_shutdown=round(settings.api_shutdown_grace_seconds),
    )
    return 0


def api_app() -> "FastAPI":
    """The app of one API process."""
    from api.main import create_app

    return create_app(get_settings(), serving=True)


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from core.migrate import downgrade, upgrade

    if args.down:
        downgrade(settings, args.revision)
    else:
        upgrade(settings, args.revision)
    print(f"database at {args.revision}")
    return 0


def _dev(args: argparse.Namespace, settings: Settings) -> int:
    """Start the Temporal dev server, the worker and the API; Ctrl-C stops them all."""
    Path(settings.temporal_db_file).parent.mkdir(parents=True, exist_ok=True)
    host, _, port = settings.temporal_address.rpartition(":")
    ui_port = settings.temporal_ui_url.rstrip("/").rpartition(":")[2]
    server_command = [
        temporal_binary(),
        "server",
        "start-dev",
        "--ip",
        host or "127.0.0.1",
        "--port",
        port,
        "--ui-port",
        ui_port,
        "--db-filename",
        settings.temporal_db_file,
        "--log-level",
        "error",
        *dev_server_tuning_args(),
    ]
    processes: list[subprocess.Popen[bytes]] = []
    # A supervisor (a test harness, systemd) stops us with SIGTERM: stop the children too.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        processes.append(subprocess.Popen(server_command))
        _wait_for_port(host or "127.0.0.1", int(port), timeout=60)
        print(
            f"Temporal dev server on {settings.temporal_address}, Web UI {settings.temporal_ui_url}"
        )
        environment = os.environ.copy()
        processes.append(subprocess.Popen([sys.executable, "-m", "worker"], env=environment))
        processes.append(subprocess.Popen([sys.executable, "-m", "cli", "api"], env=environment))
        print(
            f"worker and API started; API on http://{settings.api_host}:{settings.api_port} "
            f"(docs at /docs). Ctrl-C stops everything"
        )
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        _stop(processes)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _wait_for_port(host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"Temporal did not start listening on {host}:{port}")


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in reversed(processes):
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in reversed(processes):
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


if __name__ == "__main__":
    main()
