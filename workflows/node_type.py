"""What every node type declares: its params model, where it runs and what credential it takes."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class NodeType(BaseModel):
    type: str
    title: str
    description: str
    params_model: type[Params]
    runs_in: Literal["activity", "workflow"]
    """'activity' for I/O nodes, 'workflow' for pure control nodes the interpreter runs."""
    credential_kinds: tuple[str, ...] = ()
    """The credential kinds a node of this type can name; empty: it takes none."""
    credential_required: bool = False
    output_description: str = ""

    def params_schema(self) -> dict[str, Any]:
        return self.params_model.model_json_schema(by_alias=True)
