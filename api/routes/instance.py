"""What this Flowpilot instance offers, so the web app can say so before a user tries."""

from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import CurrentUser, SettingsDep
from api.nl import generation_configured

router = APIRouter(tags=["instance"])


class InstanceInfo(BaseModel):
    version: str
    nl_generation: bool = Field(
        description="Whether natural-language generation is configured (OPENAI_API_KEY)."
    )
    nl_model: str | None = Field(description="The model generation uses, when configured.")
    temporal_ui_url: str


def _package_version() -> str:
    try:
        return version("flowpilot")
    except PackageNotFoundError:
        return "unknown"


@router.get("/instance", response_model=InstanceInfo)
async def read_instance(_user: CurrentUser, settings: SettingsDep) -> InstanceInfo:
    configured = generation_configured(settings)
    return InstanceInfo(
        version=_package_version(),
        nl_generation=configured,
        nl_model=settings.openai_model if configured else None,
        temporal_ui_url=settings.temporal_ui_url,
    )
