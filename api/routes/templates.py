"""Ready-made workflows to start from: the repository's examples/*.json, served as templates."""

import json
import logging
from functools import cache
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import CurrentUser, SettingsDep
from workflows.definition import DefinitionError, validate_definition

router = APIRouter(tags=["templates"])
log = logging.getLogger(__name__)


class TemplatePublic(BaseModel):
    id: str = Field(description="The example's file stem, stable across restarts.")
    name: str
    description: str
    trigger: Literal["manual", "schedule", "webhook"]
    node_count: int = Field(description="Main nodes, not counting `on_failure` ones.")
    node_types: list[str] = Field(description="The distinct node types it uses, sorted.")
    definition: dict[str, Any] = Field(description="The definition as written in the file.")


@router.get("/templates", response_model=list[TemplatePublic])
async def read_templates(_user: CurrentUser, settings: SettingsDep) -> list[TemplatePublic]:
    """Every valid example workflow, by name, to copy into a new workflow."""
    return list(load_templates(settings.templates_dir))


@cache
def load_templates(directory: Path) -> tuple[TemplatePublic, ...]:
    """The valid definitions in `directory`, read once; invalid or unreadable files are skipped."""
    templates: list[TemplatePublic] = []
    for path in sorted(directory.glob("*.json")):
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            definition = validate_definition(raw)
        except (OSError, ValueError, TypeError, DefinitionError) as error:
            log.warning("template %s skipped: %s", path.name, error)
            continue
        templates.append(
            TemplatePublic(
                id=path.stem,
                name=definition.name,
                description=definition.description,
                trigger=definition.trigger.type,
                node_count=len(definition.nodes),
                node_types=sorted({node.type for node in definition.nodes}),
                definition=raw,
            )
        )
    return tuple(sorted(templates, key=lambda template: template.name.lower()))
