"""The node catalog the editor and the NL generator build on."""

from fastapi import APIRouter

from api.deps import CurrentUser
from api.schemas import NodeTypePublic
from workflows.catalog import NODE_TYPES

router = APIRouter(tags=["node types"])


@router.get("/node-types", response_model=list[NodeTypePublic])
async def read_node_types(_user: CurrentUser) -> list[NodeTypePublic]:
    """Every node type with the JSON Schema of its params and a sample output."""
    return [NodeTypePublic.of(entry) for entry in NODE_TYPES.values()]
