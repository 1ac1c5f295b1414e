"""How a run records its progress: every node reaches the record, in as few writes as it can."""

import uuid
from typing import Any

import pytest
from temporalio import activity

from core.config import Settings
from tests.support.runs import definition
from worker import create_worker
from workflows.contract import RECORD_PROGRESS, RunProgress
from workflows.dag import DagWorkflow, RunInput
from workflows.definition import validate_definition


def transform_chain(length: int) -> dict[str, Any]:
    nodes: list[dict[str, Any]] = [{"id": "n0", "type": "transform", "params": {"value": 0}}]
    for index in range(1, length):
        nodes.append(
            {
                "id": f"n{index}",
                "type": "transform",
                "needs": [f"n{index - 1}"],
                "params": {"value": f"{{{{ nodes.n{index - 1}.output + 1 }}}}"},
            }
        )
    return definition(*nodes, output=f"{{{{ nodes.n{length - 1}.output }}}}")


@pytest.mark.parametrize(
    ("end_records_last_step", "writes"),
    [(False, 2), (True, 1)],
    ids=["as-runs-started-before-did", "with-the-end"],
)
async def test_a_graph_of_pure_nodes_is_recorded_with_the_end_of_the_run(
    client: Any,
    settings: Settings,
    end_records_last_step: bool,
    writes: int,
) -> None:
    recorded: list[RunProgress] = []

    @activity.defn(name=RECORD_PROGRESS)
    async def record(progress: RunProgress) -> None:
        recorded.append(progress)

    run_input = RunInput(
        definition=validate_definition(transform_chain(5)),
        record=True,
        end_records_last_step=end_records_last_step,
    )
    async with create_worker(client, settings, activities={RECORD_PROGRESS: record}):
        result = await client.execute_workflow(
            DagWorkflow.run,
            run_input,
            id=f"run-{uuid.uuid4().hex[:12]}",
            task_queue=settings.temporal_task_queue,
        )
    assert result.output == 4
    assert len(recorded) == writes
    end = recorded[-1]
    assert (end.finished, end.status, end.output) == (True, "succeeded", 4)
    nodes = {node.node_id: node.status for progress in recorded for node in progress.nodes}
    assert nodes == {f"n{index}": "succeeded" for index in range(5)}
