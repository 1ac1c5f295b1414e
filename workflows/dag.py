"""The interpreter: one Temporal workflow that runs any Flowpilot definition.

`DagWorkflow` walks the definition's DAG with a `DagRunner` (workflows/runner.py). I/O
nodes become activities scheduled by name (the node's `type`), pure nodes (`transform`,
`delay`, `approval`) run right in the workflow, and `foreach` hands batches of items to
`ForeachBatchWorkflow` children. A dry run (`RunInput.dry_run`) stands in for every node
that does I/O or waits with a pinned or sample output.
"""

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows import templates
    from workflows.definition import Defaults, Definition, Node, find_issues
    from workflows.runner import (
        FOREACH_BATCH_WORKFLOW,
        ApprovalDecision,
        BatchInput,
        DagRunner,
        DryRun,
        Failure,
        NodeState,
        ProgressRecorder,
        RunInput,
        RunState,
        RunStatus,
        gather_or_cancel,
        item_output,
    )

__all__ = [
    "ApprovalDecision",
    "DagWorkflow",
    "DryRun",
    "ForeachBatchWorkflow",
    "NodeState",
    "RunInput",
    "RunState",
]


@workflow.defn
class DagWorkflow:
    """Runs one Flowpilot definition. Query `status` for live per-node progress."""

    def __init__(self) -> None:
        self._state = RunState()
        self._approvals: dict[str, ApprovalDecision] = {}
        self._recorder: ProgressRecorder | None = None
        self._owner_id: str | None = None
        self._depth = 0
        self._end_records_last_step = False
        self._dry_run: DryRun | None = None

    @workflow.run
    async def run(self, run_input: RunInput) -> RunState:
        definition = run_input.definition
        node_types = {node.id: node.type for node in definition.nodes + definition.on_failure}
        if run_input.record:
            self._recorder = ProgressRecorder(self._state, node_types, run_input.origin)
        issues = find_issues(definition)
        if issues:
            error = "invalid definition: " + "; ".join(map(str, issues))
            await self._end("failed", error)
            raise ApplicationError(error, type="InvalidDefinition", non_retryable=True)
        info = workflow.info()
        context = {
            "inputs": run_input.inputs,
            "run": {
                "id": info.workflow_id,
                "workflow": definition.name,
                "started_at": info.start_time.isoformat(),
            },
        }
        self._owner_id = run_input.owner_id
        self._depth = run_input.depth
        self._end_records_last_step = run_input.end_records_last_step
        self._dry_run = run_input.dry_run
        runner = self._runner(
            definition.nodes, definition.defaults, context, run_input.reused_outputs
        )
        try:
            failure = await runner.run()
        except asyncio.CancelledError:
            await self._end("cancelled")
            raise
        if failure is None:
            failure = self._render_output(definition.output, runner.context)
        if failure is not None:
            where = f"node '{failure.node}' failed" if failure.node else "the run failed"
            self._state.error = f"{where}: {failure.message}"
            await self._run_failure_handlers(definition, runner.context, failure)
            await self._end("failed", self._state.error)
            raise ApplicationError(self._state.error, type=failure.type, non_retryable=True)
        await self._end("succeeded")
        return self._state

    @workflow.query
    def status(self) -> RunState:
        return self._state.model_copy(update={"status": self._state.live_status()})

    async def _end(self, status: RunStatus, error: str | None = None) -> None:
        self._state.status = status
        self._state.error = error
        if self._recorder is not None:
            await self._recorder.finish()

    @workflow.signal
    def approve(self, decision: ApprovalDecision) -> None:
        """Approve or reject a waiting `approval` node; the first decision counts."""
        self._approvals.setdefault(decision.node_id, decision)

    def _runner(
        self,
        nodes: list[Node],
        defaults: Defaults,
        context: dict[str, Any],
        reused: dict[str, Any] | None = None,
    ) -> DagRunner:
        run_id = workflow.info().workflow_id
        return DagRunner(
            nodes,
            defaults,
            context,
            self._state.nodes,
            run_id=run_id,
            key_prefix=f"{run_id}:",
            approvals=self._approvals,
            on_step=self._recorder.step if self._recorder else None,
            reused=reused,
            owner_id=self._owner_id,
            depth=self._depth,
            end_records_last_step=self._end_records_last_step,
            dry_run=self._dry_run,
        )

    def _render_output(self, template: Any, context: dict[str, Any]) -> Failure | None:
        try:
            self._state.output = templates.render_value(template, context)
        except templates.TemplateError as error:
            return Failure(node="", message=f"output: {error}", type="TemplateError")
        return None

    async def _run_failure_handlers(
        self, definition: Definition, context: dict[str, Any], failure: Failure
    ) -> None:
        if not definition.on_failure:
            return
        error = {"node": failure.node or None, "message": failure.message, "type": failure.type}
        handlers = self._runner(
            definition.on_failure, definition.defaults, {**context, "error": error}
        )
        await handlers.run()


@workflow.defn(name=FOREACH_BATCH_WORKFLOW)
class ForeachBatchWorkflow:
    """Runs a foreach body for a slice of its items, a bounded number at a time."""

    @workflow.run
    async def run(self, batch: BatchInput) -> list[Any]:
        slots = asyncio.Semaphore(batch.concurrency)

        async def run_item(index: int, item: Any) -> Any:
            async with slots:
                context = {**batch.context, "item": item, "index": index}
                runner = DagRunner(
                    batch.nodes,
                    batch.defaults,
                    context,
                    {},
                    run_id=batch.run_id,
                    key_prefix=f"{batch.foreach_id}[{index}].",
                    approvals={},
                    owner_id=batch.owner_id,
                    dry_run=batch.dry_run,
                )
                failure = await runner.run()
                if failure is not None:
                    raise ApplicationError(
                        f"item {index}: node '{failure.node}' failed: {failure.message}",
                        type=failure.type,
                        non_retryable=True,
                    )
                try:
                    return item_output(batch.nodes, batch.output, runner.context)
                except templates.TemplateError as error:
                    raise ApplicationError(
                        f"item {index}: output: {error}", type="TemplateError", non_retryable=True
                    ) from None

        items = enumerate(batch.items, start=batch.first_index)
        return await gather_or_cancel([asyncio.create_task(run_item(i, it)) for i, it in items])
