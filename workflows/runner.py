"""The interpreter's engine room: `DagRunner` runs one DAG of nodes inside a workflow.

The same runner executes a run's main graph, its `on_failure` handlers and every foreach
item. It holds no workflow definition of its own: `workflows/dag.py` does, and imports this
module passed through the sandbox, so it is loaded once per worker instead of once per run.
Everything here must therefore stay deterministic: time, timers, activities and child
workflows only through `temporalio.workflow`.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any, Literal

import pydantic_core
from pydantic import BaseModel, Field, ValidationError
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError
from temporalio.exceptions import TimeoutError as TemporalTimeout

from workflows import templates
from workflows.catalog import (
    NODE_TYPES,
    ApprovalParams,
    DelayParams,
    ForeachParams,
    SubworkflowParams,
    TransformParams,
)
from workflows.contract import (
    FAILED_ON_ATTEMPT,
    LOAD_WORKFLOW,
    RECORD_PROGRESS,
    NodeInput,
    NodeProgress,
    NodeResult,
    RunOrigin,
    RunProgress,
    SavedWorkflow,
    WorkflowLookup,
)
from workflows.definition import (
    Defaults,
    Definition,
    DefinitionError,
    Node,
    RetrySpec,
    resolve_inputs,
    upstream_map,
)
from workflows.durations import parse_duration

FOREACH_BATCH_WORKFLOW = "ForeachBatchWorkflow"
MAX_SUBWORKFLOW_DEPTH = 5
MAX_PARAMS_BYTES = 64 * 1024 * 1024
"""The most a node's rendered params may take as JSON: a bound on what one node may hold in
the worker's memory. (Params over PAYLOAD_INLINE_MAX_BYTES travel outside Temporal's history,
through the payload store, so Temporal's own 2 MB payload limit never applies to them.)"""

NodeStatus = Literal["pending", "running", "waiting", "succeeded", "failed", "skipped", "cancelled"]
RunStatus = Literal["running", "waiting", "succeeded", "failed", "cancelled"]
_SETTLED: set[str] = {"succeeded", "failed", "skipped"}
_MAX_HEARTBEAT_TIMEOUT = timedelta(seconds=30)
NODE_ACTIVITY_IDS = "node-activity-ids"
"""Patch: a node's activity is scheduled with an id naming the node (see `_activity_id`)."""
PINNED_ERROR = "PinnedError"
"""The error type of a node a dry run fails on purpose (`DryRun.pinned_errors`)."""


class NodeState(BaseModel):
    status: NodeStatus = "pending"
    input: Any = None
    """The node's params as rendered for this run."""
    output: Any = None
    error: str | None = None
    error_type: str | None = None
    attempts: int = 0
    started_at: str | None = None
    finished_at: str | None = None


class DryRun(BaseModel):
    """Simulate every node that does I/O or waits: its params are rendered and checked as in
    a real run, but its output is pinned (by node id) or its type's sample, at once."""

    pinned: dict[str, Any] = Field(default_factory=dict)
    """Node id → the output to give that node."""
    pinned_errors: dict[str, str] = Field(default_factory=dict)
    """Node id → a message the node fails with, as if its activity had failed for good."""

    def simulation_of(
        self, node_id: str, node_type: str, state: "NodeState"
    ) -> Literal["pinned", "sample"] | None:
        """Where a node's result came from in this dry run; None if it was not simulated
        (a pure node, or one skipped, cancelled or failed before its stand-in was reached)."""
        entry = NODE_TYPES.get(node_type)
        if entry is None or not entry.simulated_in_dry_run:
            return None
        if state.status == "succeeded":
            return "pinned" if node_id in self.pinned else "sample"
        return "pinned" if state.error_type == PINNED_ERROR else None


class RunInput(BaseModel):
    definition: Definition
    inputs: dict[str, Any] = Field(default_factory=dict)
    record: bool = False
    """Record run and node progress in Flowpilot's database (runs started by the API)."""
    origin: RunOrigin | None = None
    """Set for runs started by a Temporal Schedule, which have no database row yet."""
    owner_id: str | None = None
    """The Flowpilot user the run belongs to: node credentials are theirs."""
    depth: int = 0
    """How many sub-workflow levels this run is nested in."""
    reused_outputs: dict[str, Any] = Field(default_factory=dict)
    """Outputs of nodes that succeeded in an earlier run: a retry takes them as they were
    instead of running those nodes again."""
    end_records_last_step: bool = False
    """When the graph is done, leave its last step to the end record instead of recording it
    separately: the end is recorded next, in the same workflow task, with every node the
    step changed, so for a graph of pure nodes this saves one of the run's two writes. Off
    for runs started before it existed, whose histories must replay as they were."""
    dry_run: DryRun | None = None
    """Set for a dry run, which simulates every node that does I/O or waits."""


class RunState(BaseModel):
    """What the `status` query answers and what a run returns when it ends."""

    status: RunStatus = "running"
    output: Any = None
    error: str | None = None
    nodes: dict[str, NodeState] = Field(default_factory=dict)

    def live_status(self) -> RunStatus:
        """`waiting` while a running run has a node waiting for a person."""
        waiting = any(node.status == "waiting" for node in self.nodes.values())
        return "waiting" if self.status == "running" and waiting else self.status


class ApprovalDecision(BaseModel):
    node_id: str
    approved: bool
    by: str = ""
    comment: str = ""


class BatchInput(BaseModel):
    """One child workflow's share of a foreach: a slice of the items and how to run them."""

    run_id: str
    foreach_id: str
    nodes: list[Node]
    defaults: Defaults
    items: list[Any]
    first_index: int
    concurrency: int
    output: Any = None
    context: dict[str, Any]
    owner_id: str | None = None
    dry_run: DryRun | None = None


class NodeFailed(Exception):
    def __init__(self, message: str, error_type: str = "NodeFailed", attempts: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type
        self.attempts = attempts


class Failure(BaseModel):
    node: str
    message: str
    type: str


class ProgressRecorder:
    """Sends what changed in a run to the database, one local activity per scheduling step.

    A chain of pure nodes that finishes in one workflow task costs one call; the last call
    carries the run's end state, so the recorded history is complete when the run ends.
    The activity retries until the database takes the write, so nothing is lost to an outage.
    """

    _TIMEOUT = timedelta(seconds=30)
    # Backoff stays under the SDK's local-retry threshold (1 min), so retries add no timers
    # to the history; 10 s apart at most, so a run's record catches up soon after an outage.
    _RETRY = RetryPolicy(maximum_interval=timedelta(seconds=10), maximum_attempts=0)

    def __init__(
        self, state: "RunState", node_types: dict[str, str], origin: RunOrigin | None = None
    ) -> None:
        self.state = state
        self.node_types = node_types
        self.origin = origin
        self.recorded: dict[str, NodeState] = {}
        self.recorded_status: str | None = None

    async def step(self) -> None:
        await self._send(finished=False)

    async def finish(self) -> None:
        await self._send(finished=True)

    async def _send(self, finished: bool) -> None:
        changed = [
            (node_id, state.model_copy())
            for node_id, state in self.state.nodes.items()
            if self.recorded.get(node_id) != state
        ]
        status = self.state.live_status()
        if not changed and status == self.recorded_status and not finished:
            return
        progress = RunProgress(
            workflow_id=workflow.info().workflow_id,
            status=status,
            nodes=[self._progress(node_id, state) for node_id, state in changed],
            output=self.state.output if finished else None,
            error=self.state.error,
            finished=finished,
            origin=self.origin,
        )
        await workflow.execute_local_activity(
            RECORD_PROGRESS,
            progress,
            start_to_close_timeout=self._TIMEOUT,
            retry_policy=self._RETRY,
        )
        self.recorded.update(changed)
        self.recorded_status = status

    def _progress(self, node_id: str, state: NodeState) -> NodeProgress:
        return NodeProgress(
            node_id=node_id,
            type=self.node_types.get(node_id, ""),
            **state.model_dump(include=set(NodeProgress.model_fields)),
        )


class DagRunner:
    """Runs one DAG of nodes to completion within a workflow.

    `context` holds `inputs`, `run` and whatever the enclosing scope provides (`item`,
    `index`, `error`, outputs of outer nodes under `nodes`). `states` is shared with the
    caller so the `status` query sees progress live.
    """

    def __init__(
        self,
        nodes: list[Node],
        defaults: Defaults,
        context: dict[str, Any],
        states: dict[str, NodeState],
        *,
        run_id: str,
        key_prefix: str,
        approvals: dict[str, ApprovalDecision],
        on_step: Callable[[], Awaitable[None]] | None = None,
        reused: dict[str, Any] | None = None,
        owner_id: str | None = None,
        depth: int = 0,
        end_records_last_step: bool = False,
        dry_run: DryRun | None = None,
    ) -> None:
        self.nodes = nodes
        self.defaults = defaults
        self.context = {**context, "nodes": dict(context.get("nodes", {}))}
        self.states = states
        self.run_id = run_id
        self.key_prefix = key_prefix
        self.approvals = approvals
        self.on_step = on_step
        self.reused = reused or {}
        self.owner_id = owner_id
        self.depth = depth
        self.end_records_last_step = end_records_last_step and on_step is not None
        self.dry_run = dry_run
        self.upstream = upstream_map(nodes)
        for node in nodes:
            states.setdefault(node.id, NodeState())

    async def run(self) -> Failure | None:
        """Run every node; return the failure that stopped the graph, if any."""
        pending = list(self.nodes)
        running: dict[asyncio.Task[NodeResult], Node] = {}
        try:
            while True:
                pending, failure = self._start_ready(pending, running)
                if failure is None and not running and self.end_records_last_step:
                    return None  # the owner's end record carries this last step
                await self._step_done()
                if failure is None and not running:
                    return None
                if failure is None:
                    failure = await self._collect_finished(running)
                    await self._step_done()
                if failure is not None:
                    await self._cancel(running)
                    self._mark(pending, "cancelled")
                    return failure
        except asyncio.CancelledError:
            await self._cancel(running)
            self._mark(pending, "cancelled")
            raise

    async def _step_done(self) -> None:
        """Let the owner record what one scheduling step changed (one call per step)."""
        if self.on_step is not None:
            await self.on_step()

    def _start_ready(
        self, pending: list[Node], running: dict[asyncio.Task[NodeResult], Node]
    ) -> tuple[list[Node], Failure | None]:
        """Skip, finish inline or start every node whose needs have settled.

        Repeats until nothing changes, since a node skipped or finished inline may make
        its dependents ready in the same workflow task.
        """
        progressed = True
        while progressed:
            progressed = False
            for node in list(pending):
                if not self._needs_settled(node):
                    continue
                runs_inline = node.type == "transform" or self._simulated(node)
                if not runs_inline and len(running) >= self.defaults.max_parallel:
                    continue
                pending.remove(node)
                progressed = True
                try:
                    if node.id in self.reused:
                        self._finish(node, "succeeded", self.reused[node.id])
                    elif self._should_skip(node):
                        self._finish(node, "skipped")
                    else:
                        self._start(node, running)
                except NodeFailed as failed:
                    failure = self._fail(node, failed)
                    if failure is not None:
                        return pending, failure
        return pending, None

    def _needs_settled(self, node: Node) -> bool:
        return all(self.states[need].status in _SETTLED for need in node.needs)

    def _should_skip(self, node: Node) -> bool:
        if node.needs:
            skipped = [self.states[need].status == "skipped" for need in node.needs]
            if all(skipped) if node.join == "any" else any(skipped):
                return True
        if node.when is None:
            return False
        try:
            return not templates.render_value(node.when, self.context)
        except templates.TemplateError as error:
            raise NodeFailed(f"when: {error}", "TemplateError") from None

    def _start(self, node: Node, running: dict[asyncio.Task[NodeResult], Node]) -> None:
        """Begin a node: `transform` and simulated nodes finish right here, every other kind
        gets a task."""
        state = self.states[node.id]
        state.status = "waiting" if node.type == "approval" else "running"
        state.started_at = workflow.now().isoformat()
        params = self._render_params(node)
        state.input = params
        if node.type == "transform" or self._simulated(node):
            state.attempts = 1  # done in this workflow task: one try, no activity retries
        if node.type == "transform":
            self._finish(node, "succeeded", TransformParams.model_validate(params).value)
        elif self._simulated(node):
            self._finish(node, "succeeded", self._simulate(node, params))
        else:
            running[asyncio.create_task(self._execute(node, params))] = node

    def _simulated(self, node: Node) -> bool:
        return self.dry_run is not None and NODE_TYPES[node.type].simulated_in_dry_run

    def _simulate(self, node: Node, params: dict[str, Any]) -> Any:
        """A dry run's stand-in for the node's work: its pinned error or output, or a sample."""
        assert self.dry_run is not None
        message = self.dry_run.pinned_errors.get(node.id)
        if message is not None:
            raise NodeFailed(message, PINNED_ERROR)
        if node.id in self.dry_run.pinned:
            return self.dry_run.pinned[node.id]
        try:
            return NODE_TYPES[node.type].sample_for(params)
        except Exception as error:
            message = f"sample output: {type(error).__name__}: {error}"
            raise NodeFailed(message, "InternalError") from None

    def _render_params(self, node: Node) -> dict[str, Any]:
        """The node's params rendered in one go, so that one template budget and size cap
        cover all of them: a node cannot multiply them by spreading templates over params."""
        held = ("nodes", "output") if node.type == "foreach" else ()
        try:
            rendered = templates.render_value(
                {name: value for name, value in node.params.items() if name not in held},
                self.context,
            )
        except templates.TemplateError as error:
            raise NodeFailed(f"param '{error.location}': {error}", "TemplateError") from None
        params = {
            name: node.params[name] if name in held else rendered[name] for name in node.params
        }
        try:
            NODE_TYPES[node.type].params_model.model_validate(params)
        except ValidationError as error:
            problems = "; ".join(
                f"params.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
            )
            raise NodeFailed(problems, "InvalidParams") from None
        size = len(pydantic_core.to_json(params))
        if size > MAX_PARAMS_BYTES:
            message = f"params take {size:,} bytes as JSON, over the {MAX_PARAMS_BYTES:,} allowed"
            raise NodeFailed(message, "ParamsTooLarge")
        return params

    async def _execute(self, node: Node, params: dict[str, Any]) -> NodeResult:
        """Run a node that waits; any error it meets becomes that node's failure.

        An exception escaping into the workflow task would make Temporal retry the task
        forever and leave the run hanging, so only nondeterminism is let through.
        """
        try:
            if node.type == "delay":
                return await self._delay(params)
            if node.type == "approval":
                return await self._approval(node, params)
            if node.type == "foreach":
                return await self._foreach(node, params)
            if node.type == "subworkflow":
                return await self._subworkflow(node, params)
            return await self._activity(node, params)
        except (NodeFailed, workflow.NondeterminismError):
            raise
        except Exception as error:
            raise NodeFailed(f"{type(error).__name__}: {error}", "InternalError") from None

    async def _collect_finished(
        self, running: dict[asyncio.Task[NodeResult], Node]
    ) -> Failure | None:
        done, _ = await workflow.wait(list(running), return_when=asyncio.FIRST_COMPLETED)
        failure = None
        for task in sorted(done, key=lambda t: self.nodes.index(running[t])):
            node = running.pop(task)
            try:
                result: NodeResult = task.result()
            except NodeFailed as failed:
                failure = failure or self._fail(node, failed)
                continue
            self.states[node.id].attempts = result.attempt
            self._finish(node, "succeeded", result.output)
        return failure

    def _fail(self, node: Node, failed: NodeFailed) -> Failure | None:
        """Record a node failure; return it unless the node lets dependents go on."""
        state = self.states[node.id]
        state.error, state.error_type = failed.message, failed.error_type
        state.attempts = max(state.attempts, failed.attempts)
        if node.on_error == "continue":
            self._finish(node, "failed", {"error": failed.message})
            return None
        self._finish(node, "failed")
        return Failure(node=node.id, message=failed.message, type=failed.error_type)

    def _finish(self, node: Node, status: NodeStatus, output: Any = None) -> None:
        state = self.states[node.id]
        state.status = status
        state.output = output
        state.finished_at = workflow.now().isoformat()
        self.context["nodes"][node.id] = {"output": output, "status": status}

    def _mark(self, nodes: list[Node], status: NodeStatus) -> None:
        for node in nodes:
            self.states[node.id].status = status

    async def _cancel(self, running: dict[asyncio.Task[NodeResult], Node]) -> None:
        for task in running:
            task.cancel()
        for task, node in running.items():
            try:
                await task
            except BaseException:
                pass
            self.states[node.id].status = "cancelled"
            self.states[node.id].finished_at = workflow.now().isoformat()
        running.clear()

    # -- node kinds ------------------------------------------------------------------

    async def _activity(self, node: Node, params: dict[str, Any]) -> NodeResult:
        node_input = NodeInput(
            run_id=self.run_id,
            node_id=node.id,
            type=node.type,
            params=params,
            credential=node.credential,
            owner_id=self.owner_id,
            idempotency_key=f"{self.key_prefix}{node.id}",
        )
        timeout = parse_duration(node.timeout or self.defaults.timeout)
        retry_policy = _retry_policy(node.retry or self.defaults.retry)
        activity_id = self._activity_id(node_input)
        try:
            if node.mode == "local":
                return await workflow.execute_local_activity(
                    node.type,
                    node_input,
                    result_type=NodeResult,
                    start_to_close_timeout=timeout,
                    retry_policy=retry_policy,
                    activity_id=activity_id,
                )
            return await workflow.execute_activity(
                node.type,
                node_input,
                result_type=NodeResult,
                start_to_close_timeout=timeout,
                heartbeat_timeout=min(timeout, _MAX_HEARTBEAT_TIMEOUT),
                retry_policy=retry_policy,
                activity_id=activity_id,
            )
        except ActivityError as error:
            raise _node_failed_from(error, retry_policy) from None

    def _activity_id(self, node_input: NodeInput) -> str | None:
        """The node's idempotency key without the run id (`fetch`, `loop[3].fetch`).

        Named ids read well in Temporal's UI, and replay then catches a change that starts
        activities of one type in another order at the first command that differs; with
        Temporal's sequence ids ("1", "2", …) it shows only if the swapped results later
        change what the run does. Runs started before the change keep the sequence ids
        (None) so that their histories still replay.
        """
        if not workflow.patched(NODE_ACTIVITY_IDS):
            return None
        return node_input.idempotency_key.removeprefix(f"{self.run_id}:")

    async def _delay(self, params: dict[str, Any]) -> NodeResult:
        duration = parse_duration(DelayParams.model_validate(params).duration)
        await workflow.sleep(duration)
        return NodeResult(output={"waited_seconds": duration.total_seconds()})

    async def _approval(self, node: Node, params: dict[str, Any]) -> NodeResult:
        spec = ApprovalParams.model_validate(params)
        timed_out = False
        try:
            await workflow.wait_condition(
                lambda: node.id in self.approvals, timeout=parse_duration(spec.timeout)
            )
            decision = self.approvals[node.id]
        except TimeoutError:
            timed_out = True
            decision = ApprovalDecision(
                node_id=node.id, approved=spec.timeout_decision == "approve", by="timeout"
            )
        self.states[node.id].status = "running"
        output = {
            "approved": decision.approved,
            "by": decision.by,
            "comment": decision.comment,
            "timed_out": timed_out,
        }
        if not decision.approved and spec.on_reject == "fail":
            reason = "no decision before the timeout" if timed_out else f"rejected by {decision.by}"
            suffix = f": {decision.comment}" if decision.comment else ""
            raise NodeFailed(f"approval {reason}{suffix}", "ApprovalRejected")
        return NodeResult(output=output)

    async def _foreach(self, node: Node, params: dict[str, Any]) -> NodeResult:
        spec = ForeachParams.model_validate(params)
        if not isinstance(spec.items, list):
            kind = type(spec.items).__name__
            raise NodeFailed(f"param 'items' must be a list, got {kind}", "InvalidParams")
        body = [Node.model_validate(raw) for raw in spec.nodes]
        batches = [
            spec.items[start : start + spec.batch_size]
            for start in range(0, len(spec.items), spec.batch_size)
        ]
        if not batches:
            return NodeResult(output=[])
        children_at_once, per_child = split_concurrency(
            len(batches), spec.batch_size, spec.concurrency
        )
        slots = asyncio.Semaphore(children_at_once)
        parent_id = workflow.info().workflow_id

        async def run_batch(number: int, items: list[Any]) -> list[Any]:
            batch = BatchInput(
                run_id=self.run_id,
                foreach_id=f"{self.key_prefix}{node.id}",
                nodes=body,
                defaults=self.defaults,
                items=items,
                first_index=number * spec.batch_size,
                concurrency=per_child,
                output=spec.output,
                context=self._outer_context(node),
                owner_id=self.owner_id,
                dry_run=self.dry_run,
            )
            async with slots:
                return await workflow.execute_child_workflow(
                    FOREACH_BATCH_WORKFLOW,
                    batch,
                    id=f"{parent_id}/{node.id}/{number}",
                    result_type=list,
                )

        tasks = [asyncio.create_task(run_batch(n, items)) for n, items in enumerate(batches)]
        try:
            results = await gather_or_cancel(tasks)
        except ChildWorkflowError as error:
            raise NodeFailed(_cause_message(error), "ForeachItemFailed") from None
        return NodeResult(output=[output for batch in results for output in batch])

    async def _subworkflow(self, node: Node, params: dict[str, Any]) -> NodeResult:
        spec = SubworkflowParams.model_validate(params)
        if self.owner_id is None:
            raise NodeFailed("subworkflow nodes need a run started through the API", "Unsupported")
        if self.depth >= MAX_SUBWORKFLOW_DEPTH:
            raise NodeFailed(
                f"sub-workflows nest deeper than {MAX_SUBWORKFLOW_DEPTH} levels", "TooDeep"
            )
        saved = await workflow.execute_local_activity(
            LOAD_WORKFLOW,
            WorkflowLookup(owner_id=self.owner_id, workflow=spec.workflow),
            result_type=SavedWorkflow,
            start_to_close_timeout=timedelta(seconds=30),
        )
        definition = Definition.model_validate(saved.definition)
        try:
            inputs = resolve_inputs(definition, spec.inputs)
        except DefinitionError as error:
            raise NodeFailed(f"inputs of '{definition.name}': {error}", "InvalidInputs") from None
        child = RunInput(
            definition=definition, inputs=inputs, owner_id=self.owner_id, depth=self.depth + 1
        )
        try:
            result = await workflow.execute_child_workflow(
                "DagWorkflow",
                child,
                id=f"{workflow.info().workflow_id}/{node.id}",
                result_type=RunState,
            )
        except ChildWorkflowError as error:
            raise NodeFailed(
                f"'{definition.name}': {_cause_message(error)}", "SubworkflowFailed"
            ) from None
        return NodeResult(output=result.output)

    def _outer_context(self, node: Node) -> dict[str, Any]:
        """What a foreach body may read: the inputs, the run, and this node's upstream."""
        own_ids = {own.id for own in self.nodes}
        visible = {
            node_id: result
            for node_id, result in self.context["nodes"].items()
            if node_id in self.upstream[node.id] or node_id not in own_ids
        }
        outer = {k: v for k, v in self.context.items() if k not in ("item", "index", "nodes")}
        return {**outer, "nodes": visible}


async def gather_or_cancel(tasks: Sequence[asyncio.Task[Any]]) -> list[Any]:
    """Like gather, but the first failure cancels the other tasks and waits for them."""
    try:
        await workflow.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for task in tasks:
            task.cancel()
        await workflow.wait(tasks)
    return [task.result() for task in tasks]


def split_concurrency(batches: int, batch_size: int, concurrency: int) -> tuple[int, int]:
    """How many children run at once, and how many items each runs at once.

    Few, busy children cost less than many idle ones: one workflow task can then carry
    several activity completions. Two children overlap where they can, so a batch's slow
    last items do not stall the whole foreach. The product never exceeds `concurrency`.
    """
    wanted = max(2, -(-concurrency // batch_size))
    children = max(1, min(batches, concurrency, wanted))
    return children, concurrency // children


def _retry_policy(spec: RetrySpec) -> RetryPolicy:
    return RetryPolicy(
        initial_interval=parse_duration(spec.initial_interval),
        backoff_coefficient=spec.backoff,
        maximum_interval=parse_duration(spec.max_interval),
        maximum_attempts=spec.max_attempts,
        non_retryable_error_types=spec.non_retryable_errors or None,
    )


def _node_failed_from(error: ActivityError, policy: RetryPolicy) -> NodeFailed:
    cause = error.cause
    error_type = "ActivityError"
    if isinstance(cause, ApplicationError) and cause.type:
        error_type = cause.type
    elif cause is not None:
        error_type = type(cause).__name__
    attempts = (
        policy.maximum_attempts
        if error.retry_state is not None and (error.retry_state.name == "MAXIMUM_ATTEMPTS_REACHED")
        else _failed_on_attempt(cause)
    )
    return NodeFailed(_cause_message(error), error_type, attempts)


def _failed_on_attempt(cause: BaseException | None) -> int:
    """The attempt a non-retryable failure names (see activities/attempts.py), else 0."""
    if isinstance(cause, ApplicationError) and cause.details:
        stamp = cause.details[-1]
        if isinstance(stamp, dict) and isinstance(stamp.get(FAILED_ON_ATTEMPT), int):
            return int(stamp[FAILED_ON_ATTEMPT])
    return 0


def _cause_message(error: BaseException) -> str:
    """The message a person needs from a Temporal error chain.

    That is the first application error (what our activities and child workflows raise)
    or timeout in the chain; the wrappers around it only say where it happened.
    """
    current: BaseException | None = error
    while current is not None:
        if isinstance(current, ApplicationError):
            return current.message
        if isinstance(current, TemporalTimeout):
            kind = current.type.name.lower().replace("_", "-") if current.type else "node"
            return f"timed out ({kind} timeout)"
        current = current.__cause__
    return str(error) or type(error).__name__


def item_output(body: list[Node], template: Any, context: dict[str, Any]) -> Any:
    """One foreach item's result: the `output` template, else the sink nodes' outputs."""
    if template is not None:
        return templates.render_value(template, context)
    needed = {need for node in body for need in node.needs}
    sinks = [node.id for node in body if node.id not in needed]
    outputs = context["nodes"]
    if len(sinks) == 1:
        return outputs[sinks[0]]["output"]
    return {sink: outputs[sink]["output"] for sink in sinks}
