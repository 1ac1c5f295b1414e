"""Stored histories of example runs still replay against the current interpreter.

The histories in tests/histories/ come from `python -m tests.record_histories`. A failure
here means a change to `DagWorkflow` or `ForeachBatchWorkflow` would break runs in flight
(their next workflow task would replay into a nondeterminism error): guard the change with
`workflow.patched` instead of re-recording.
"""

import json
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from worker import sandbox_runner
from workflows.dag import DagWorkflow, ForeachBatchWorkflow, RunInput, RunState

TESTS = Path(__file__).resolve().parent
HISTORIES = sorted((TESTS / "histories").glob("*.json"))
EXAMPLES = sorted((TESTS.parent / "examples").glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    """A stored history, with the workflow id its start event records.

    The id matters: DagWorkflow derives idempotency keys and foreach child ids from it.
    """
    raw = json.loads(path.read_text())
    workflow_id = raw["events"][0]["workflowExecutionStartedEventAttributes"]["workflowId"]
    return WorkflowHistory.from_json(workflow_id, raw)


def test_histories_cover_every_example_and_a_foreach_child() -> None:
    recorded = {path.stem for path in HISTORIES}
    assert len(recorded) >= 6
    missing = {example.stem for example in EXAMPLES} - recorded
    assert not missing, f"record histories for {missing}: python -m tests.record_histories"
    types = {
        load(path).events[0].workflow_execution_started_event_attributes.workflow_type.name
        for path in HISTORIES
    }
    assert types == {"DagWorkflow", "ForeachBatchWorkflow"}, types


@pytest.mark.parametrize("path", HISTORIES, ids=lambda path: path.stem)
async def test_history_replays(path: Path) -> None:
    replayer = Replayer(
        workflows=[DagWorkflow, ForeachBatchWorkflow],
        data_converter=pydantic_data_converter,
        workflow_runner=sandbox_runner(),
    )
    await replayer.replay_workflow(load(path))


@workflow.defn(name="DagWorkflow")
class DagWorkflowWithATimerFirst:
    """The interpreter with one careless change: it sleeps before running the graph."""

    def __init__(self) -> None:
        self._inner = DagWorkflow()

    @workflow.run
    async def run(self, run_input: RunInput) -> RunState:
        await workflow.sleep(timedelta(seconds=1))
        return await self._inner.run(run_input)


async def test_replay_catches_a_nondeterministic_change() -> None:
    replayer = Replayer(
        workflows=[DagWorkflowWithATimerFirst],
        data_converter=pydantic_data_converter,
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    with pytest.raises(workflow.NondeterminismError):
        await replayer.replay_workflow(load(TESTS / "histories" / "diamond.json"))
