"""Stored histories of example runs still replay against the current interpreter.

The histories in tests/histories/ come from `python -m tests.record_histories`. A failure
here means a change to `DagWorkflow` or `ForeachBatchWorkflow` would break runs in flight
(their next workflow task would replay into a nondeterminism error): guard the change with
`workflow.patched` instead of re-recording.
"""

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from worker import sandbox_runner
from workflows.dag import DagWorkflow, ForeachBatchWorkflow, RunInput, RunState
from workflows.definition import Node
from workflows.runner import NODE_ACTIVITY_IDS, DagRunner

PATCHES = [NODE_ACTIVITY_IDS]
"""Every `workflow.patched` id the interpreter checks; each needs histories from both sides."""

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


def patch_markers(path: Path) -> set[str]:
    """The patch ids whose markers a stored history carries."""
    markers = [
        event.marker_recorded_event_attributes
        for event in load(path).events
        if event.HasField("marker_recorded_event_attributes")
    ]
    return {
        json.loads(marker.details["patch-data"].payloads[0].data)["id"]
        for marker in markers
        if marker.marker_name == "core_patch"
    }


@pytest.mark.parametrize("patch", PATCHES)
def test_histories_from_before_and_after_each_patch_are_stored(patch: str) -> None:
    after = [path for path in HISTORIES if patch in patch_markers(path)]
    assert after, f"record a history after {patch}: add a recording to tests/record_histories"
    assert len(after) < len(HISTORIES), f"no history from before {patch} is left"


def replayer_of(*workflows: type) -> Replayer:
    return Replayer(
        workflows=list(workflows),
        data_converter=pydantic_data_converter,
        workflow_runner=UnsandboxedWorkflowRunner(),
    )


@pytest.mark.parametrize(
    ("history", "patched"), [("diamond", True), ("diamond-node-activity-ids", False)]
)
async def test_the_activity_id_change_without_its_patch_guard_fails_replay(
    history: str, patched: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `workflow.patched` answering one way for every run, runs from the other side of
    the change no longer replay: the guard is what keeps them working."""
    monkeypatch.setattr(workflow, "patched", lambda _patch_id: patched)
    with pytest.raises(workflow.NondeterminismError):
        await replayer_of(DagWorkflow).replay_workflow(
            load(TESTS / "histories" / f"{history}.json")
        )


@workflow.defn(name="DagWorkflow")
class DagWorkflowStartingReadyNodesInReverse(DagWorkflow):
    """The interpreter with a careless reorder: of nodes ready together, the last starts first."""

    def _runner(self, nodes: list[Node], *args: Any, **kwargs: Any) -> DagRunner:
        return super()._runner(list(reversed(nodes)), *args, **kwargs)

    @workflow.run
    async def run(self, run_input: RunInput) -> RunState:
        return await super().run(run_input)


async def test_replay_catches_an_unguarded_reorder_of_nodes() -> None:
    history = load(TESTS / "histories" / "diamond-node-activity-ids.json")
    await replayer_of(DagWorkflow).replay_workflow(history)
    with pytest.raises(workflow.NondeterminismError):
        await replayer_of(DagWorkflowStartingReadyNodesInReverse).replay_workflow(history)


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
    with pytest.raises(workflow.NondeterminismError):
        await replayer_of(DagWorkflowWithATimerFirst).replay_workflow(
            load(TESTS / "histories" / "diamond.json")
        )
