"""What every node type declares: its params model, where it runs and what credential it takes."""

import copy
from collections.abc import Callable
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
    waits: bool = False
    """A workflow node that waits on time, a person or another run (delay, approval,
    subworkflow): a dry run simulates it like an I/O node."""
    credential_kinds: tuple[str, ...] = ()
    """The credential kinds a node of this type can name; empty: it takes none."""
    credential_required: bool = False
    output_description: str = ""
    sample_output: Any = None
    """A realistic output of the real output's shape: what a dry run gives such a node and
    what the editor offers to pin."""
    sample_from: Callable[[dict[str, Any]], Any] | None = None
    """The sample for given (rendered, valid) params, where the output follows from them
    (an email's accepted recipients); `sample_output` otherwise."""

    def params_schema(self) -> dict[str, Any]:
        return self.params_model.model_json_schema(by_alias=True)

    @property
    def simulated_in_dry_run(self) -> bool:
        return self.runs_in == "activity" or self.waits

    def sample_for(self, params: dict[str, Any]) -> Any:
        if self.sample_from is not None:
            return self.sample_from(params)
        return copy.deepcopy(self.sample_output)
