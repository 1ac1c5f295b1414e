"""One settings object for every Flowpilot process, read from the environment."""

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import (
    BeforeValidator,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict


def _lower_or_unset(value: object) -> object:
    return (value.lower() or None) if isinstance(value, str) else value


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Path(".flowpilot")
    database_url: str = Field(
        default="",
        description="SQLAlchemy async URL; defaults to a SQLite file in the data dir.",
    )
    database_pool_size: int = Field(
        default=20,
        ge=1,
        description="PostgreSQL connections each process keeps open. Size it for the "
        "requests in flight at a burst: past it, connections are opened and closed per use.",
    )
    database_max_overflow: int = Field(
        default=10, ge=0, description="Extra PostgreSQL connections a process opens at a peak."
    )
    flowpilot_secret_key: SecretStr | None = Field(
        default=None,
        description="Encrypts credentials and signs tokens. Generated into the data dir "
        "in development; required in production.",
    )
    access_token_minutes: int = Field(default=60, ge=1, le=60 * 24 * 30)
    cors_origins: list[str] = Field(default_factory=list)
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="API processes sharing the port. More than one wants REDIS_URL: without "
        "Redis each process keeps its own rate limits.",
    )
    public_url: str = Field(
        default="http://localhost:8000", description="Where users reach the API (webhook URLs)."
    )
    frontend_dir: Path = Field(
        default=Path(__file__).resolve().parent.parent / "frontend" / "dist",
        description="The built web app the API serves at / (`npm run build` in frontend/); "
        "without a build there, the API serves only the API.",
    )
    templates_dir: Path = Field(
        default=Path(__file__).resolve().parent.parent / "examples",
        description="Example workflows (*.json) the web app offers as templates.",
    )

    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "flowpilot"
    temporal_ui_url: str = "http://localhost:8233"
    temporal_db_file: str = ".flowpilot/temporal.db"
    payload_encryption: bool = Field(
        default=False,
        description="Encrypt what runs send through Temporal (inputs, node inputs and outputs, "
        "errors) with a key derived from FLOWPILOT_SECRET_KEY, so Temporal and its Web UI "
        "store only ciphertext; the UI shows it through the codec endpoint /api/codec. Safe "
        "to turn on with runs in flight; never turn it off while encrypted histories remain.",
    )
    payload_inline_max_bytes: int = Field(
        default=128 * 1024,
        ge=1024,
        le=1024 * 1024,
        description="Payloads larger than this (a node's output or input, a run's result) are "
        "kept out of Temporal's history, in the payload store, and history holds a reference.",
    )
    payload_store: Literal["database", "s3"] = Field(
        default="database",
        description="Where large payloads go: Flowpilot's database, or an S3 bucket "
        "(PAYLOAD_S3_*).",
    )
    payload_s3_bucket: str | None = None
    payload_s3_prefix: str = "flowpilot/payloads/"
    payload_s3_endpoint_url: str | None = Field(
        default=None, description="For S3-compatible services (MinIO, R2 …); AWS when unset."
    )
    payload_s3_region: str | None = None
    payload_s3_access_key_id: str | None = Field(
        default=None, description="With the secret below; unset: the AWS default chain."
    )
    payload_s3_secret_access_key: SecretStr | None = None
    payload_s3_path_style: bool = False
    dry_run_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description="How long a dry run (POST /api/workflows/dry-run) may take before it is "
        "stopped and answered with 504.",
    )

    worker_max_concurrent_activities: int = 100
    worker_max_concurrent_workflow_tasks: int = 100
    worker_shutdown_grace_seconds: float = Field(
        default=10.0,
        ge=0,
        description="On SIGTERM the worker stops polling and gives in-flight activities this "
        "long to finish before cancelling them (Temporal retries what was cut short).",
    )
    api_max_body_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1024,
        description="Request bodies larger than this are refused with 413 before they are "
        "read (nginx.conf's client_max_body_size is the same 10 MB).",
    )
    api_shutdown_grace_seconds: float = Field(
        default=30.0,
        ge=0,
        description="On SIGTERM the API stops accepting connections and gives in-flight "
        "requests this long to finish; open event streams are closed after it.",
    )
    worker_workflow_sandbox: bool = Field(
        default=False,
        description="Run the interpreter in Temporal's Python workflow sandbox, which "
        "re-imports its module for every run and checks each call for nondeterminism "
        "(about a third of the worker's CPU on short runs). Off by default: the interpreter "
        "is Flowpilot's own code, and its tests and replay tests run inside the sandbox.",
    )
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int = Field(
        default=9464, ge=0, le=65535, description="Worker Prometheus metrics; 0 turns them off."
    )
    temporal_sdk_metrics_port: int = Field(
        default=9465,
        ge=0,
        le=65535,
        description="The worker's Temporal SDK metrics (task slots, polls, latencies) for "
        "Prometheus, on WORKER_METRICS_HOST; 0 turns them off.",
    )

    log_format: Annotated[Literal["json", "text"] | None, BeforeValidator(_lower_or_unset)] = Field(
        default=None,
        description="json: one JSON object a line; text: for people. Unset: json in "
        "production, text otherwise.",
    )
    log_level: Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR"], BeforeValidator(_upper)] = (
        "INFO"
    )
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP collector (e.g. http://otel-collector:4318) to send traces "
        "to; spans go to its /v1/traces. Unset: no tracing.",
    )
    otel_service_name: str | None = Field(
        default=None,
        description="The traces' service.name; unset: flowpilot-api or flowpilot-worker.",
    )

    http_allowed_hosts: list[str] = Field(
        default_factory=list,
        description=(
            "Hosts or CIDR networks that http.request may reach even though they are "
            "private, loopback or link-local (e.g. '127.0.0.1', '10.0.0.0/8')."
        ),
    )
    http_max_response_bytes: int = 10 * 1024 * 1024

    # Connectors. Every base URL can point at a self-hosted or test endpoint; connector
    # traffic goes through the same guard as http.request (see HTTP_ALLOWED_HOSTS).
    connector_timeout_seconds: float = Field(default=60.0, gt=0)
    connector_concurrency: dict[str, Annotated[int, Field(ge=1)]] = Field(
        default_factory=dict,
        description="At most this many calls at once, across all runs and workers, per "
        'node type or family, as JSON: {"slack.post_message": 5, "notion": 3} ("notion": '
        "all notion.* nodes together; a node type's own entry wins over its family's). "
        "Shared through REDIS_URL; without Redis each worker keeps its own count. A node "
        "waiting for a slot heartbeats, and the wait counts against its timeout.",
    )
    connector_slot_lease_seconds: float = Field(
        default=30.0,
        ge=1,
        le=3600,
        description="How long a worker's hold on a CONNECTOR_CONCURRENCY slot lasts in Redis "
        "unless renewed (it renews every third of this while the call runs): the longest a "
        "killed worker keeps a slot from others.",
    )
    slack_api_url: str = "https://slack.com/api"
    notion_api_url: str = "https://api.notion.com/v1"
    notion_version: str = Field(default="2022-06-28", description="The Notion-Version header.")
    google_sheets_api_url: str = "https://sheets.googleapis.com/v4"
    google_token_url: str | None = Field(
        default=None,
        description="Overrides the token_uri of service-account key files (tests, proxies).",
    )
    openai_base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible endpoint for llm.chat credentials that name none, "
        "and for natural-language workflow generation; unset: api.openai.com.",
    )
    openai_model: str = Field(default="gpt-4o", description="The default chat model.")
    openai_api_key: SecretStr | None = Field(
        default=None,
        description="The instance's key for natural-language workflow generation (the API "
        "only; llm.chat nodes use their own credentials). Unset: generation answers 503.",
    )
    nl_repair_rounds: int = Field(
        default=2,
        ge=0,
        le=5,
        description="How many times an invalid generated definition is sent back to the "
        "model with the validator's errors before the API gives up with 422.",
    )
    nl_timeout_seconds: float = Field(default=120.0, gt=0, description="Per model call.")
    nl_cache_seconds: int = Field(
        default=24 * 3600, ge=0, description="How long Redis keeps generated answers; 0: off."
    )

    redis_url: str | None = Field(
        default=None,
        description="Redis for rate limits shared by all API replicas; unset: in-process limits.",
    )
    rate_limit_login_per_minute: int = Field(default=10, ge=1)
    rate_limit_api_per_minute: int = Field(default=600, ge=1)
    rate_limit_webhook_per_minute: int = Field(default=120, ge=1)
    rate_limit_generate_per_minute: int = Field(
        default=10, ge=1, description="Per user: natural-language generation calls a paid model."
    )

    @field_validator("*", mode="before")
    @classmethod
    def _empty_optional_is_unset(cls, value: object, info: ValidationInfo) -> object:
        """`KEY=` (an env file's empty line, compose's `${KEY:-}`) leaves an optional setting
        unset, as if the variable were absent: no empty secret key, API key or URL."""
        optional = info.field_name is not None and cls.model_fields[info.field_name].default is None
        return None if value == "" and optional else value

    @model_validator(mode="after")
    def _defaults_and_production_rules(self) -> Self:
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{self.data_dir / 'flowpilot.db'}"
        if self.environment == "production" and self.flowpilot_secret_key is None:
            raise ValueError("FLOWPILOT_SECRET_KEY must be set in production")
        if self.payload_store == "s3" and not self.payload_s3_bucket:
            raise ValueError("PAYLOAD_STORE=s3 needs PAYLOAD_S3_BUCKET")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
