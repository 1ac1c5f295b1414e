"""The kinds of credential and the secret fields each one holds (the `data` of a credential).

Every kind is a strict pydantic model: unknown fields are refused, secrets are `SecretStr`
so they never show in a repr or a log line. Validation errors name the field, never echo
the value.
"""

import contextlib
import json
from typing import Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)


def _text() -> Any:
    return Field(min_length=1, max_length=1000)


def _secret() -> Any:
    return Field(min_length=1, max_length=20_000)


class CredentialData(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, hide_input_in_errors=True)


class Bearer(CredentialData):
    token: SecretStr = _secret()


class Basic(CredentialData):
    username: str = _text()
    password: SecretStr = _secret()


class ApiKeyHeader(CredentialData):
    header: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
    value: SecretStr = _secret()


class Smtp(CredentialData):
    host: str = Field(min_length=1, max_length=255)
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = Field(default=None, max_length=1000)
    password: SecretStr | None = Field(default=None, max_length=20_000)
    from_: str = Field(alias="from", min_length=3, max_length=320, pattern=r"@")


class OpenAI(CredentialData):
    api_key: SecretStr = _secret()
    base_url: HttpUrl | None = None
    model: str | None = Field(default=None, min_length=1, max_length=200)


class Slack(CredentialData):
    bot_token: SecretStr | None = Field(default=None, min_length=1, max_length=20_000)
    webhook_url: SecretStr | None = Field(default=None, min_length=1, max_length=2000)

    @field_validator("webhook_url")
    @classmethod
    def _https(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("https://"):
            raise ValueError("must be an https:// URL")
        return value

    @model_validator(mode="after")
    def _one_of(self) -> "Slack":
        if self.bot_token is None and self.webhook_url is None:
            raise ValueError("give bot_token, webhook_url or both")
        return self


class Notion(CredentialData):
    token: SecretStr = _secret()


class GoogleServiceAccount(CredentialData):
    service_account_json: SecretStr = Field(min_length=2, max_length=20_000)

    @field_validator("service_account_json", mode="before")
    @classmethod
    def _accept_an_object(cls, value: Any) -> Any:
        return json.dumps(value) if isinstance(value, dict) else value

    @field_validator("service_account_json")
    @classmethod
    def _is_a_key_file(cls, value: SecretStr) -> SecretStr:
        try:
            parsed = json.loads(value.get_secret_value())
        except ValueError:
            raise ValueError("must be the JSON key file of a service account") from None
        if not isinstance(parsed, dict) or parsed.get("type") != "service_account":
            raise ValueError('must be a JSON object with "type": "service_account"')
        missing = [key for key in ("client_email", "private_key") if not parsed.get(key)]
        if missing:
            raise ValueError(f"the key file lacks {', '.join(missing)}")
        return value


class GoogleOAuthToken(CredentialData):
    access_token: SecretStr = _secret()


class S3(CredentialData):
    access_key_id: str = Field(min_length=1, max_length=200)
    secret_access_key: SecretStr = _secret()
    session_token: SecretStr | None = Field(default=None, min_length=1, max_length=20_000)
    region: str | None = Field(default=None, min_length=1, max_length=64)
    endpoint_url: HttpUrl | None = Field(
        default=None,
        description="An S3-compatible server (MinIO, R2, Ceph…); unset: AWS S3 in the region.",
    )
    addressing_style: Literal["path", "virtual"] | None = Field(
        default=None,
        description="path: endpoint/bucket/key, which MinIO and most self-hosted servers "
        "need; virtual: bucket.endpoint/key; unset: virtual where the bucket name allows it.",
    )


KINDS: dict[str, type[CredentialData]] = {
    "bearer": Bearer,
    "basic": Basic,
    "api_key_header": ApiKeyHeader,
    "smtp": Smtp,
    "openai": OpenAI,
    "slack": Slack,
    "notion": Notion,
    "google_service_account": GoogleServiceAccount,
    "google_oauth_token": GoogleOAuthToken,
    "s3": S3,
}


class CredentialDataError(ValueError):
    """Data that does not fit its kind; `issues` name fields, never values."""

    def __init__(self, issues: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{i['field']}: {i['message']}" for i in issues))
        self.issues = issues


def validate_credential(kind: str, data: Any) -> CredentialData:
    """The data checked against its kind, or CredentialDataError naming the bad fields."""
    model = KINDS.get(kind)
    if model is None:
        known = ", ".join(sorted(KINDS))
        raise CredentialDataError(
            [{"field": "kind", "message": f"unknown credential kind; known: {known}"}]
        )
    if not isinstance(data, dict):
        raise CredentialDataError([{"field": "data", "message": "must be an object"}])
    try:
        return model.model_validate(data)
    except ValidationError as error:
        issues = []
        for problem in error.errors(include_input=False, include_url=False):
            path = ".".join(str(part) for part in problem["loc"])
            issues.append({"field": f"data.{path}" if path else "data", "message": problem["msg"]})
        raise CredentialDataError(issues) from None


def plain_data(data: CredentialData) -> dict[str, Any]:
    """The fields as stored (and as the worker receives them): secrets revealed, nulls left out."""
    dumped: dict[str, Any] = data.model_dump(mode="json", by_alias=True, exclude_none=True)
    for name, info in type(data).model_fields.items():
        value = getattr(data, name)
        if isinstance(value, SecretStr):
            dumped[info.alias or name] = value.get_secret_value()
    return dumped


def secret_values(kind: str, data: dict[str, Any]) -> list[str]:
    """The secret strings in a credential's stored data: its `SecretStr` fields, and for a
    service-account key file also the private key inside it."""
    model = KINDS.get(kind)
    if model is None:
        return []
    secrets: list[str] = []
    for name, info in model.model_fields.items():
        value = data.get(info.alias or name)
        if isinstance(value, str) and _is_secret(info.annotation):
            secrets.append(value)
    if kind == "google_service_account":
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            key_file = json.loads(data["service_account_json"])
            secrets.append(str(key_file["private_key"]))
    return secrets


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or SecretStr in get_args(annotation)
