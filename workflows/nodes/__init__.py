"""The connectors' node types, one module per service (their clients live in `connectors/`)."""

from workflows.node_type import NodeType
from workflows.nodes import email, llm, notion, s3, sheets, slack

CONNECTOR_NODE_TYPES: list[NodeType] = [
    *email.NODE_TYPES,
    *llm.NODE_TYPES,
    *slack.NODE_TYPES,
    *notion.NODE_TYPES,
    *sheets.NODE_TYPES,
    *s3.NODE_TYPES,
]
