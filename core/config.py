"""One settings object for every Flowpilot process, read from the environment."""

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "flowpilot"
    temporal_ui_url: str = "http://localhost:8233"
    temporal_db_file: str = ".flowpilot/temporal.db"

    worker_max_concurrent_activities: int = 100
    worker_max_concurrent_workflow_tasks: int = 100
    worker_shutdown_grace_seconds: float = 10.0

    http_allowed_hosts: list[str] = Field(
        default_factory=list,
        description=(
            "Hosts or CIDR networks that http.request may reach even though they are "
            "private, loopback or link-local (e.g. '127.0.0.1', '10.0.0.0/8')."
        ),
    )
    http_max_response_bytes: int = 10 * 1024 * 1024


@lru_cache
def get_settings() -> Settings:
    return Settings()
