"""The node catalog: every node type, the JSON Schema of its params, and how it runs.

Params models validate *rendered* params. At save time a value that is still a template
(`"{{ inputs.n }}"` where a number is expected) is accepted and checked after rendering.
The control nodes and `http.request` are defined here; each connector's nodes are in
`workflows/nodes/`.
"""

from typing import Any, Literal

from pydantic import Field

from workflows.durations import Duration, parse_duration
from workflows.node_type import NodeType, Params
from workflows.nodes import CONNECTOR_NODE_TYPES

__all__ = ["NODE_TYPES", "NodeType", "Params"]


HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


class HttpRequestParams(Params):
    method: HttpMethod = "GET"
    url: str = Field(description="Absolute http(s) URL.")
    headers: dict[str, str] = Field(default_factory=dict)
    query: dict[str, str | int | float | bool] = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json", description="A JSON request body.")
    body: str | None = Field(default=None, description="A raw text request body.")
    expected_status: list[int] | None = Field(
        default=None,
        description="Statuses that count as success; by default any status below 400.",
    )
    follow_redirects: bool = True


class TransformParams(Params):
    value: Any = Field(description="Any JSON value; templates in it are rendered.")


class DelayParams(Params):
    duration: Duration = Field(description="How long to wait, e.g. '30s', '2h', '1d'.")


class ApprovalParams(Params):
    message: str = Field(default="", description="What the approver is asked.")
    timeout: Duration = Field(default="24h", description="How long to wait for a decision.")
    timeout_decision: Literal["approve", "reject"] = Field(
        default="reject", description="The decision taken when nobody answers in time."
    )
    on_reject: Literal["fail", "continue"] = Field(
        default="fail",
        description="'fail' fails the node when rejected; 'continue' succeeds with approved=false.",
    )


class SubworkflowParams(Params):
    workflow: str = Field(
        min_length=1, max_length=200, description="The id or the name of one of your workflows."
    )
    inputs: dict[str, Any] = Field(default_factory=dict, description="Its run inputs.")


class ForeachParams(Params):
    items: Any = Field(description="The list to iterate over, usually a template.")
    nodes: list[dict[str, Any]] = Field(
        min_length=1,
        description="The sub-workflow run for each item; `item` and `index` are in scope.",
    )
    output: Any = Field(
        default=None,
        description="Per-item result template; by default the output of the sub-workflow's "
        "last node (or a mapping of its last nodes).",
    )
    concurrency: int = Field(default=10, ge=1, le=200, description="Items running at once.")
    batch_size: int = Field(
        default=100, ge=1, le=1000, description="Items handled by one child workflow."
    )


def _delay_sample(params: dict[str, Any]) -> dict[str, float]:
    duration = parse_duration(DelayParams.model_validate(params).duration)
    return {"waited_seconds": duration.total_seconds()}


CORE_NODE_TYPES: list[NodeType] = [
    NodeType(
        type="http.request",
        title="HTTP request",
        description="Call any HTTP API. 5xx, 429 and network errors are retried.",
        params_model=HttpRequestParams,
        runs_in="activity",
        credential_kinds=("bearer", "basic", "api_key_header"),
        output_description="{status, headers, body}; JSON bodies are parsed.",
        sample_output={
            "status": 200,
            "headers": {"content-type": "application/json", "content-length": "42"},
            "body": {"id": 1, "name": "Sample item", "status": "open"},
        },
    ),
    NodeType(
        type="transform",
        title="Transform",
        description="Build a value from inputs and earlier outputs with templates.",
        params_model=TransformParams,
        runs_in="workflow",
        output_description="The rendered value.",
    ),
    NodeType(
        type="delay",
        title="Delay",
        description="Wait durably; survives worker and server restarts.",
        params_model=DelayParams,
        runs_in="workflow",
        waits=True,
        output_description="{waited_seconds}",
        sample_output={"waited_seconds": 3600.0},
        sample_from=_delay_sample,
    ),
    NodeType(
        type="approval",
        title="Approval",
        description="Wait for a person to approve or reject, with a timeout.",
        params_model=ApprovalParams,
        runs_in="workflow",
        waits=True,
        output_description="{approved, by, comment, timed_out}",
        sample_output={
            "approved": True,
            "by": "approver@example.com",
            "comment": "Looks good",
            "timed_out": False,
        },
    ),
    NodeType(
        type="foreach",
        title="For each",
        description="Run a sub-workflow for every item of a list, in batches of child "
        "workflows, with bounded concurrency.",
        params_model=ForeachParams,
        runs_in="workflow",
        output_description="The list of per-item outputs, in item order.",
    ),
    NodeType(
        type="subworkflow",
        title="Sub-workflow",
        description="Run another of your saved workflows (its current version) as a "
        "child, and wait for its output.",
        params_model=SubworkflowParams,
        runs_in="workflow",
        waits=True,
        output_description="The child run's output.",
    ),
]

NODE_TYPES: dict[str, NodeType] = {
    entry.type: entry for entry in [*CORE_NODE_TYPES, *CONNECTOR_NODE_TYPES]
}
