"""The `flowpilot` command: dev, worker, validate, run, schema; workflows and runs on a
Flowpilot server (FLOWPILOT_API_URL, FLOWPILOT_API_KEY)."""

import argparse
import asyncio
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.service import RPCError

from api.remote import (
    KeyRefused,
    RemoteApi,
    RemoteError,
    RequestFailed,
    RunEvent,
    Unreachable,
)
from api.schemas import RunPublic, RunStatus, TaskPublic, ValidationIssue, WorkflowPublic
from api.workflow_files import (
    SUFFIX,
    Action,
    FileProblem,
    NameClash,
    PlannedChange,
    dump,
    export_files,
    plan_import,
    read_folder,
)
from core.config import Settings, get_settings
from core.logs import configure_logging, logging_config
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
    _add_input_option(run)
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

    _add_remote_commands(commands)
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


def _add_input_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--input",
        "-i",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a run input; VALUE is JSON unless the input is declared as a string",
    )


def _input_pairs(pairs: list[str], string_inputs: set[str]) -> dict[str, Any]:
    """`--input KEY=VALUE` pairs: VALUE as JSON unless KEY is a string input (or not JSON).

    Raises ValueError for a pair without `=`.
    """
    given: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep:
            raise ValueError(f"--input {pair!r}: expected KEY=VALUE")
        if key in string_inputs:
            given[key] = text
            continue
        try:
            given[key] = json.loads(text)
        except json.JSONDecodeError:
            given[key] = text
    return given


def _parse_inputs(definition: Definition, pairs: list[str]) -> dict[str, Any]:
    strings = {name for name, spec in definition.inputs.items() if spec.type == "string"}
    try:
        given = _input_pairs(pairs, strings)
    except ValueError as error:
        raise SystemExit(str(error)) from None
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
        # Closed-or-not first: a state read after it is at least as new, so the nodes that
        # finished with the run are printed before the loop ends.
        description = await handle.describe()
        closed = description.status is not None and description.status.name != "RUNNING"
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
        if closed:
            return
        await asyncio.sleep(_POLL_SECONDS)


def _innermost(error: BaseException) -> str:
    while error.__cause__ is not None:
        error = error.__cause__
    return str(error)


# -- a Flowpilot server over its HTTP API: workflows list/export/import, runs list/start/logs


DEFAULT_API_URL = "http://localhost:8000"
RemoteCommand = Callable[[argparse.Namespace, RemoteApi], int]
_PREVIEW_CHARS = 300


def _add_remote_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    options = argparse.ArgumentParser(add_help=False)
    server = options.add_argument_group("server")
    server.add_argument(
        "--api-url",
        metavar="URL",
        help=f"the Flowpilot server (env FLOWPILOT_API_URL; default {DEFAULT_API_URL})",
    )
    server.add_argument(
        "--api-key",
        metavar="KEY",
        help="an fp_… API key (env FLOWPILOT_API_KEY, which is better: a command line is "
        "visible to other users of the machine)",
    )
    options.add_argument("--json", action="store_true", help="JSON output, for scripts")

    workflows = commands.add_parser(
        "workflows", help="workflows on a Flowpilot server: list, export, import (API key)"
    ).add_subparsers(required=True, metavar="ACTION")
    listing = workflows.add_parser("list", parents=[options], help="the workflows you can see")
    listing.set_defaults(handler=_remote(_workflows_list))
    export = workflows.add_parser(
        "export", parents=[options], help="write each of your workflows to DIR/<name>.json"
    )
    export.add_argument("folder", type=Path, metavar="DIR")
    export.set_defaults(handler=_remote(_workflows_export))
    load = workflows.add_parser(
        "import",
        parents=[options],
        help="validate every DIR/*.json, then create or update your workflows of those names",
    )
    load.add_argument("folder", type=Path, metavar="DIR")
    load.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    load.set_defaults(handler=_remote(_workflows_import))

    runs = commands.add_parser(
        "runs", help="runs on a Flowpilot server: list, start, logs (API key)"
    ).add_subparsers(required=True, metavar="ACTION")
    history = runs.add_parser("list", parents=[options], help="run history, newest first")
    history.add_argument("--workflow", metavar="NAME|ID", help="only this workflow's runs")
    history.add_argument("--status", choices=get_args(RunStatus))
    history.add_argument("--limit", type=_limit, default=20, metavar="N", help="1 to 200")
    history.set_defaults(handler=_remote(_runs_list))
    start = runs.add_parser("start", parents=[options], help="run a saved workflow")
    start.add_argument("workflow", metavar="WORKFLOW", help="its name or id")
    _add_input_option(start)
    start.add_argument("--wait", action="store_true", help="follow it and print its output")
    start.set_defaults(handler=_remote(_runs_start))
    logs = runs.add_parser("logs", parents=[options], help="a run node by node")
    logs.add_argument("run_id", type=_run_id, metavar="RUN_ID")
    logs.add_argument("--follow", "-f", action="store_true", help="until the run ends")
    logs.set_defaults(handler=_remote(_runs_logs))


def _limit(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 200:
        raise argparse.ArgumentTypeError(f"not a number from 1 to 200: {text!r}")
    return int(text)


def _run_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a run id: {text!r}") from None


def _remote(command: RemoteCommand) -> Callable[[argparse.Namespace, Settings], int]:
    """A handler that talks to the server; exit 2 when it cannot (no key, key refused,
    server unreachable), 1 when the server refuses a request or a run failed."""

    def handler(args: argparse.Namespace, _settings: Settings) -> int:
        key = args.api_key or os.environ.get("FLOWPILOT_API_KEY", "")
        url = args.api_url or os.environ.get("FLOWPILOT_API_URL") or DEFAULT_API_URL
        if not key:
            print(
                "no API key: set FLOWPILOT_API_KEY (or pass --api-key) to a key from the web "
                "app's Settings → API keys",
                file=sys.stderr,
            )
            return 2
        try:
            with RemoteApi(url, key) as api:
                return command(args, api)
        except (KeyRefused, Unreachable) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        except RemoteError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            return 130

    return handler


def _workflows_list(args: argparse.Namespace, api: RemoteApi) -> int:
    workflows = api.workflows()
    if args.json:
        _print_json([workflow.model_dump(mode="json") for workflow in workflows])
        return 0
    rows = [
        [
            str(w.id),
            w.name,
            f"v{w.version}",
            str(w.trigger.get("type", "manual")),
            "paused" if w.paused else "active",
            _when(w.updated_at),
        ]
        for w in workflows
    ]
    _table(["ID", "NAME", "VERSION", "TRIGGER", "STATE", "UPDATED"], rows)
    return 0


def _own_workflows(api: RemoteApi) -> list[WorkflowPublic]:
    """The key's user's own workflows: an admin's key sees everyone's, but a folder is one
    user's, so export and import never touch another user's workflows."""
    me = api.me()
    return [workflow for workflow in api.workflows() if workflow.owner_id == me.id]


def _workflows_export(args: argparse.Namespace, api: RemoteApi) -> int:
    folder: Path = args.folder
    try:
        files = export_files(_own_workflows(api))
    except NameClash as clash:
        print("refusing to export: each workflow needs a file name of its own", file=sys.stderr)
        for line in clash.clashes:
            print(f"  ✗ {line}", file=sys.stderr)
        print("rename one of each so their names differ, then export again", file=sys.stderr)
        return 1
    folder.mkdir(parents=True, exist_ok=True)
    written: list[dict[str, Any]] = []
    for name, workflow in files.items():
        path = folder / name
        text = dump(workflow.definition)
        changed = not path.is_file() or path.read_bytes() != text.encode()
        if changed:
            path.write_bytes(text.encode())
        written.append(
            {
                "file": name,
                "id": str(workflow.id),
                "name": workflow.name,
                "version": workflow.version,
                "written": changed,
            }
        )
    stale = sorted(path.name for path in folder.glob(f"*{SUFFIX}") if path.name not in files)
    if args.json:
        _print_json({"folder": str(folder), "files": written, "unmatched": stale})
        return 0
    rows = [
        [
            item["file"],
            item["name"],
            f"v{item['version']}",
            "written" if item["written"] else "unchanged",
        ]
        for item in written
    ]
    _table(["FILE", "NAME", "VERSION", ""], rows)
    print(f"{len(files)} workflow(s) in {folder}")
    if stale:
        print(f"not yours or deleted, left as they are: {', '.join(stale)}", file=sys.stderr)
    return 0


def _workflows_import(args: argparse.Namespace, api: RemoteApi) -> int:
    folder: Path = args.folder
    if not folder.is_dir():
        print(f"error: {folder} is not a folder", file=sys.stderr)
        return 1
    files, problems = read_folder(folder)
    if not files and not problems:
        print(f"error: no *{SUFFIX} files in {folder}", file=sys.stderr)
        return 1
    for file in files:
        answer = api.validate(file.definition)
        if not answer.valid:
            problems.append(FileProblem(path=file.path, issues=answer.errors))
    if problems:
        return _report_invalid_files(sorted(problems, key=lambda p: p.path), args.json)
    try:
        plan = plan_import(files, _own_workflows(api))
    except NameClash as clash:
        print("refusing to import: workflows are matched by name, and", file=sys.stderr)
        for line in clash.clashes:
            print(f"  ✗ {line}", file=sys.stderr)
        print("rename or delete one of each, then import again; nothing changed", file=sys.stderr)
        return 1
    if not args.json:
        _print_plan(plan)
    if args.dry_run:
        if args.json:
            _print_json({"applied": False, "plan": [_plan_json(change) for change in plan]})
        else:
            print("dry run: nothing changed")
        return 0
    return _apply(api, plan, args.json)


def _report_invalid_files(problems: list[FileProblem], as_json: bool) -> int:
    if as_json:
        _print_json(
            {
                "applied": False,
                "invalid": [
                    {"file": problem.path.name, "errors": [i.model_dump() for i in problem.issues]}
                    for problem in problems
                ],
            }
        )
    for problem in problems:
        print(f"{problem.path}: {len(problem.issues)} problem(s)", file=sys.stderr)
        for issue in problem.issues:
            print(f"  ✗ {_issue_text(issue)}", file=sys.stderr)
    print(f"{len(problems)} invalid file(s); nothing changed", file=sys.stderr)
    return 1


def _issue_text(issue: ValidationIssue) -> str:
    where = [f"node '{issue.node}'"] if issue.node else []
    where += [f"field '{issue.field}'"] if issue.field else []
    return f"{', '.join(where)}: {issue.message}" if where else issue.message


def _plan_json(change: PlannedChange, applied: WorkflowPublic | None = None) -> dict[str, Any]:
    workflow = applied or change.workflow
    return {
        "action": change.action,
        "file": change.file.path.name,
        "name": change.name,
        "id": str(workflow.id) if workflow else None,
        "version": workflow.version if workflow else None,
        "changes": change.changes,
    }


def _print_plan(plan: list[PlannedChange]) -> None:
    rows = []
    for change in plan:
        version = f"v{change.workflow.version}" if change.workflow else ""
        if change.action == "update":
            version += f" → v{change.workflow.version + 1}" if change.workflow else ""
        detail = ", ".join(change.changes)
        rows.append([change.action, change.file.path.name, change.name, version, detail])
    _table(["PLAN", "FILE", "NAME", "VERSION", "CHANGES"], rows)
    counts = {action: sum(c.action == action for c in plan) for action in get_args(Action)}
    print(f"{counts['create']} to create, {counts['update']} to update, ", end="")
    print(f"{counts['unchanged']} unchanged")


def _apply(api: RemoteApi, plan: list[PlannedChange], as_json: bool) -> int:
    """Create and update in the plan's order; at the first refusal (say a credential the
    definition names does not exist on this server) stop and say what was done: a second
    import after the fix picks up where this one stopped."""
    done: list[dict[str, Any]] = []
    for index, change in enumerate(plan):
        try:
            if change.action == "create":
                applied = api.create_workflow(change.file.definition)
            elif change.action == "update" and change.workflow is not None:
                applied = api.update_workflow(change.workflow.id, change.file.definition)
            else:
                applied = change.workflow
        except RequestFailed as error:
            left = [c.file.path.name for c in plan[index + 1 :] if c.action != "unchanged"]
            if as_json:
                failed = {**_plan_json(change), "error": error.detail}
                _print_json(
                    {"applied": False, "done": done, "failed": failed, "not_attempted": left}
                )
            print(f"error: {change.file.path.name}: {error}", file=sys.stderr)
            for issue in error.issues:
                print(f"  ✗ {_issue_text(issue)}", file=sys.stderr)
            applied_names = [item["file"] for item in done if item["action"] != "unchanged"]
            print(f"applied before it: {', '.join(applied_names) or 'nothing'}", file=sys.stderr)
            if left:
                print(f"not attempted: {', '.join(left)}", file=sys.stderr)
            return 1
        done.append(_plan_json(change, applied))
    if as_json:
        _print_json({"applied": True, "plan": done})
    else:
        created, updated = (sum(c.action == act for c in plan) for act in ("create", "update"))
        print(f"applied: {created} created, {updated} updated")
    return 0


def _find_workflow(api: RemoteApi, reference: str) -> WorkflowPublic:
    """A workflow by id, or by name when that name is unambiguous."""
    try:
        return api.workflow(uuid.UUID(reference))
    except ValueError:
        pass
    named = [workflow for workflow in api.workflows() if workflow.name == reference]
    if not named:
        raise RemoteError(f"no workflow named '{reference}'")
    if len(named) > 1:
        ids = ", ".join(str(workflow.id) for workflow in named)
        raise RemoteError(f"{len(named)} workflows are named '{reference}'; give its id: {ids}")
    return named[0]


def _runs_list(args: argparse.Namespace, api: RemoteApi) -> int:
    workflow_id = _find_workflow(api, args.workflow).id if args.workflow else None
    runs = api.runs(workflow_id=workflow_id, status=args.status, limit=args.limit)
    if args.json:
        _print_json([run.model_dump(mode="json") for run in runs])
        return 0
    names = {workflow.id: workflow.name for workflow in api.workflows()} if runs else {}
    rows = [
        [
            str(run.id),
            names.get(run.workflow_id, str(run.workflow_id)),
            f"v{run.version}",
            run.status,
            run.trigger,
            _when(run.started_at or run.created_at),
            _duration(run.started_at, run.finished_at),
        ]
        for run in runs
    ]
    _table(["ID", "WORKFLOW", "VERSION", "STATUS", "TRIGGER", "STARTED", "TOOK"], rows)
    return 0


def _runs_start(args: argparse.Namespace, api: RemoteApi) -> int:
    workflow = _find_workflow(api, args.workflow)
    run = api.start_run(workflow.id, _remote_inputs(workflow.definition, args.input))
    if not args.wait:
        if args.json:
            _print_json(run.model_dump(mode="json"))
        else:
            print(f"run {run.id} of '{workflow.name}' v{run.version} started: {run.temporal_url}")
        return 0
    if not args.json:
        print(f"run {run.id} of '{workflow.name}' v{run.version} started: {run.temporal_url}")
    return _follow_run(api, run.id, as_json=args.json, events_as_json=False)


def _remote_inputs(definition: dict[str, Any], pairs: list[str]) -> dict[str, Any]:
    """The run's inputs from `--input` pairs (the API checks them against the definition and
    fills in defaults)."""
    declared = definition.get("inputs") or {}
    strings = {
        name
        for name, spec in declared.items()
        if isinstance(spec, dict) and spec.get("type") == "string"
    }
    try:
        return _input_pairs(pairs, strings)
    except ValueError as error:
        raise RemoteError(str(error)) from None


def _runs_logs(args: argparse.Namespace, api: RemoteApi) -> int:
    if args.follow:
        return _follow_run(api, args.run_id, as_json=False, events_as_json=args.json)
    run = api.run(args.run_id)
    if args.json:
        _print_json(run.model_dump(mode="json"))
    else:
        _print_run(run, _in_run_order(run.nodes, _pinned_definition(api, run)))
    return _run_exit_code(run)


def _pinned_definition(api: RemoteApi, run: RunPublic) -> dict[str, Any]:
    """The definition of the version the run was pinned to."""
    workflow = api.workflow(run.workflow_id)
    if workflow.version == run.version:
        return workflow.definition
    versions = api.workflow_versions(run.workflow_id)
    return next((v.definition for v in versions if v.version == run.version), {})


def _in_run_order(nodes: list[TaskPublic], definition: dict[str, Any]) -> list[TaskPublic]:
    """Nodes by start time, and those that started together (a pure node and the node it
    unblocked start at the same workflow time) in the order of the DAG."""
    listed = [*definition.get("nodes", []), *definition.get("on_failure", [])]
    needs = {
        node["id"]: [need for need in node.get("needs", []) if isinstance(need, str)]
        for node in listed
        if isinstance(node, dict) and isinstance(node.get("id"), str)
    }
    depth = dict.fromkeys(needs, 0)
    for _ in range(len(needs)):  # longest path from a root; a valid definition has no cycle
        deeper = {
            node_id: max((depth.get(need, -1) + 1 for need in upstream), default=0)
            for node_id, upstream in needs.items()
        }
        if deeper == depth:
            break
        depth = deeper
    place = {node_id: index for index, node_id in enumerate(needs)}
    never = datetime.max.replace(tzinfo=UTC)

    def key(node: TaskPublic) -> tuple[datetime, int, int, str]:
        started = node.started_at or never
        where = place.get(node.node_id, len(place))
        return started, depth.get(node.node_id, len(place)), where, node.node_id

    return sorted(nodes, key=key)


def _follow_run(api: RemoteApi, run_id: uuid.UUID, *, as_json: bool, events_as_json: bool) -> int:
    """Print node changes as they come until the run ends, then its outcome.

    What has already happened comes first, in the order of the DAG (the event stream sends
    nodes that started together by id). `as_json`: only the finished run as JSON;
    `events_as_json`: each event as a JSON line.
    """
    if as_json:
        events: Iterable[RunEvent] = api.follow(run_id)
    else:
        so_far = api.run(run_id)
        known = _in_run_order(so_far.nodes, _pinned_definition(api, so_far))
        events = itertools.chain(known, api.follow(run_id, known=known))
    for event in events:
        kind = "node" if isinstance(event, TaskPublic) else "run"
        if events_as_json:
            print(json.dumps({"event": kind, "data": event.model_dump(mode="json")}), flush=True)
        elif not as_json and isinstance(event, TaskPublic):
            print(f"  {_node_line(event)}", flush=True)
    run = api.run(run_id)
    if as_json:
        _print_json(run.model_dump(mode="json"))
    elif not events_as_json:
        _print_outcome(run)
    return _run_exit_code(run)


def _run_exit_code(run: RunPublic) -> int:
    return 1 if run.status in ("failed", "cancelled") else 0


def _node_line(node: TaskPublic) -> str:
    line = f"{node.node_id:<24} {node.status:<10}"
    line = f"{line} attempt {node.attempts}" if node.attempts else line.rstrip()
    if node.error:
        return f"{line} — {node.error}"
    if node.status == "succeeded":
        return f"{line} → {_preview(node.output)}"
    return line


def _print_run(run: RunPublic, nodes: list[TaskPublic]) -> None:
    started = _when(run.started_at)
    print(f"run {run.id}: {run.status}, v{run.version}, {run.trigger}, started {started}")
    print(f"temporal: {run.temporal_url}")
    rows = [
        [
            node.node_id,
            node.type,
            node.status,
            str(node.attempts),
            _duration(node.started_at, node.finished_at),
        ]
        for node in nodes
    ]
    if rows:
        headers = ["NODE", "TYPE", "STATUS", "ATTEMPTS", "TOOK"]
        widths = _widths(headers, rows)
        print(f"\n{_row(headers, widths)}")
        for node, row in zip(nodes, rows, strict=True):
            print(_row(row, widths))
            if node.error:
                print(f"    error: {node.error}")
            elif node.output is not None:
                print(f"    output: {_preview(node.output)}")
    print()
    _print_outcome(run)


def _print_outcome(run: RunPublic) -> None:
    took = _duration(run.started_at, run.finished_at)
    if run.status == "succeeded":
        print(f"run succeeded in {took}; output:")
        _print_json(run.output)
    elif run.status in ("failed", "cancelled"):
        print(f"run {run.status} after {took}: {run.error or 'no error recorded'}", file=sys.stderr)
    else:
        print(f"run is {run.status}")


def _table(headers: list[str], rows: list[list[str]]) -> None:
    widths = _widths(headers, rows)
    for row in [headers, *rows]:
        print(_row(row, widths))


def _widths(headers: list[str], rows: list[list[str]]) -> list[int]:
    return [max([len(header), *(len(row[i]) for row in rows)]) for i, header in enumerate(headers)]


def _row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=False)).rstrip()


def _preview(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _PREVIEW_CHARS else text[: _PREVIEW_CHARS - 1] + "…"


def _when(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def _duration(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return "-"
    seconds = (end - start).total_seconds()
    return f"{seconds * 1000:.0f}ms" if seconds < 1 else f"{seconds:.1f}s"


# -- processes -----------------------------------------------------------------------


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from worker import serve

    serve(settings)
    return 0


def _api(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    configure_logging(settings)
    if settings.api_workers == 1:
        uvicorn.run(
            api_app(),
            host=settings.api_host,
            port=settings.api_port,
            timeout_graceful_shutdown=round(settings.api_shutdown_grace_seconds),
            log_config=logging_config(settings),
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
        log_config=logging_config(settings),  # each worker process's logging, too
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
    configure_logging(settings)
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
    codec_endpoint = f"{settings.public_url.rstrip('/')}/api/codec"
    if settings.payload_encryption:  # the Web UI shows encrypted payloads through the API
        server_command += ["--ui-codec-endpoint", codec_endpoint]
    processes: list[subprocess.Popen[bytes]] = []
    # A supervisor (a test harness, systemd) stops us with SIGTERM: stop the children too.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        processes.append(subprocess.Popen(server_command))
        _wait_for_port(host or "127.0.0.1", int(port), timeout=60)
        print(
            f"Temporal dev server on {settings.temporal_address}, Web UI {settings.temporal_ui_url}"
        )
        if settings.payload_encryption:
            # start-dev has no flag, env or file for the UI's "include credentials" (its UI
            # config is built in code); the UI's own codec settings, kept per browser, do.
            print(
                f"To read encrypted payloads in the Web UI: sign in to Flowpilot at "
                f"{settings.public_url.rstrip('/')}, then in the UI's Data Encoder settings set "
                f"the endpoint {codec_endpoint} and turn on 'Include cross-origin credentials'"
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
