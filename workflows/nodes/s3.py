"""Node types of the s3 connector: s3.put_object, s3.get_object, s3.list_objects, s3.presign_url.

They work against AWS S3 or any S3-compatible server (MinIO, Cloudflare R2, Ceph…), as
the node's `s3` credential says. This module is loaded in the workflow sandbox: only the
standard library and pydantic here.
"""

import base64
import binascii
import json
import re
from typing import Any, Literal, Self

from pydantic import Field, field_validator, model_validator

from workflows.durations import Duration, parse_duration
from workflows.node_type import NodeType, Params

CREDENTIAL_KINDS = ("s3",)
MAX_PUT_BYTES = 64 * 1024 * 1024
"""One PUT; the object is held in the worker's memory while it is sent."""
MAX_LIST_KEYS = 10_000
MAX_PRESIGN_SECONDS = 7 * 24 * 3600
"""Signature Version 4 refuses presigned URLs valid for longer than 7 days."""
MAX_METADATA_BYTES = 2048
"""S3's limit on an object's user-defined metadata (names and values together)."""

_METADATA_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_CONTENT_TYPE = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*(\s*;.*)?$"
)


def _bucket() -> Any:
    return Field(
        min_length=1,
        max_length=255,
        pattern=r"^[A-Za-z0-9._-]+$",
        description="The bucket's name, e.g. 'reports'.",
    )


def _key() -> Any:
    return Field(
        min_length=1,
        max_length=1024,
        description="The object's key (its path in the bucket), e.g. 'exports/2026-11-27.csv'.",
    )


class S3PutObjectParams(Params):
    bucket: str = _bucket()
    key: str = _key()
    body: Any = Field(
        description="What to store, usually an earlier node's output: text is stored as "
        "UTF-8, any other JSON value (object, list, number…) serialized as JSON, and binary "
        "data given base64-encoded with `encoding` set to 'base64'."
    )
    encoding: Literal["text", "base64"] = Field(
        default="text",
        description="How a string `body` is written: plain text, or base64 for bytes.",
    )
    content_type: str | None = Field(
        default=None,
        max_length=255,
        description="The object's MIME type; by default 'text/plain; charset=utf-8' for "
        "text, 'application/json' for JSON and 'application/octet-stream' for base64.",
    )
    metadata: dict[str, str] = Field(
        default_factory=dict,
        description="User metadata stored with the object (sent as x-amz-meta-* headers): "
        "ASCII names and values, at most 2 KB in all.",
    )

    @field_validator("content_type")
    @classmethod
    def _mime_type(cls, value: str | None) -> str | None:
        if value is not None and (not _CONTENT_TYPE.match(value) or _has_control(value)):
            raise ValueError("must look like 'type/subtype', e.g. 'application/pdf'")
        return value

    @field_validator("metadata")
    @classmethod
    def _header_safe(cls, metadata: dict[str, str]) -> dict[str, str]:
        for name, value in metadata.items():
            if not _METADATA_NAME.match(name):
                raise ValueError(
                    f"metadata name {name[:80]!r} must be ASCII letters, digits, '-', '_' or '.'"
                )
            if not value.isascii() or _has_control(value):
                raise ValueError(f"metadata {name!r} must be printable ASCII on one line")
        total = sum(len(name) + len(value) for name, value in metadata.items())
        if total > MAX_METADATA_BYTES:
            raise ValueError(f"metadata is {total} bytes; S3 allows {MAX_METADATA_BYTES}")
        return metadata

    @model_validator(mode="after")
    def _encodable(self) -> Self:
        if self.encoding == "base64" and not isinstance(self.body, str):
            raise ValueError("with encoding 'base64', body must be a base64 string")
        size = len(self.data())
        if size > MAX_PUT_BYTES:
            raise ValueError(f"body is {size} bytes, more than the {MAX_PUT_BYTES} allowed")
        return self

    def data(self) -> bytes:
        """The object's bytes."""
        if self.encoding == "base64":
            try:
                return base64.b64decode(str(self.body), validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("body is not valid base64 (encoding is 'base64')") from None
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def effective_content_type(self) -> str:
        if self.content_type is not None:
            return self.content_type
        if self.encoding == "base64":
            return "application/octet-stream"
        if isinstance(self.body, str):
            return "text/plain; charset=utf-8"
        return "application/json"


class S3GetObjectParams(Params):
    bucket: str = _bucket()
    key: str = _key()
    as_: Literal["text", "json", "base64"] = Field(
        default="text",
        alias="as",
        description="How to output the body: 'text' (UTF-8), 'json' (parsed) or 'base64' "
        "(for binary objects).",
    )
    max_bytes: int | None = Field(
        default=None,
        ge=1,
        description="Refuse objects larger than this; by default the instance's "
        "HTTP_MAX_RESPONSE_BYTES (10 MB).",
    )


class S3ListObjectsParams(Params):
    bucket: str = _bucket()
    prefix: str = Field(
        default="", max_length=1024, description="Only keys starting with this, e.g. 'exports/'."
    )
    delimiter: str | None = Field(
        default=None,
        min_length=1,
        max_length=16,
        description="Group keys by this character (usually '/'): keys below the next one "
        "are listed once, as a prefix in `prefixes`, like folders.",
    )
    max_keys: int = Field(
        default=1000,
        ge=1,
        le=MAX_LIST_KEYS,
        description="The most entries (objects and prefixes) to return; pages of 1,000 are "
        f"read until it is reached. At most {MAX_LIST_KEYS:,}.",
    )


class S3PresignUrlParams(Params):
    bucket: str = _bucket()
    key: str = _key()
    method: Literal["get", "put"] = Field(
        default="get",
        description="'get' lets the URL's holder download the object; 'put' lets them "
        "upload it (an HTTP PUT of the body to the URL).",
    )
    expires: Duration = Field(
        default="1h",
        description="How long the URL works, e.g. '15m', '1d'; at most '7d'.",
    )

    @field_validator("expires")
    @classmethod
    def _at_most_seven_days(cls, value: str) -> str:
        seconds = parse_duration(value).total_seconds()
        if seconds < 1:
            raise ValueError("must be at least 1s")
        if seconds > MAX_PRESIGN_SECONDS:
            raise ValueError("must be at most 7d (the longest a presigned URL can last)")
        return value

    def expires_seconds(self) -> int:
        return int(parse_duration(self.expires).total_seconds())


def _has_control(text: str) -> bool:
    return any(ord(character) < 32 or ord(character) == 127 for character in text)


_ETAG = "9b2cf535f27731c974343645a3985328"
_MODIFIED = "2026-11-27T09:30:00Z"
PUT_SAMPLE: dict[str, Any] = {
    "bucket": "reports",
    "key": "exports/2026-11-27.csv",
    "etag": _ETAG,
    "version_id": None,
    "size": 1024,
}
GET_SAMPLE: dict[str, Any] = {
    "body": "id,name\n1,Ann\n",
    "content_type": "text/csv",
    "metadata": {"source": "flowpilot"},
    "size": 15,
    "etag": _ETAG,
    "last_modified": _MODIFIED,
}
LIST_SAMPLE: dict[str, Any] = {
    "objects": [
        {"key": "exports/2026-11-26.csv", "size": 980, "etag": _ETAG, "last_modified": _MODIFIED},
        {"key": "exports/2026-11-27.csv", "size": 1024, "etag": _ETAG, "last_modified": _MODIFIED},
    ],
    "prefixes": [],
    "truncated": False,
}
PRESIGN_SAMPLE: dict[str, Any] = {
    "url": "https://reports.s3.us-east-1.amazonaws.com/exports/2026-11-27.csv?"
    "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=3600&X-Amz-Signature=…",
    "expires_at": "2026-11-27T10:30:00Z",
}


def _put_sample(params: dict[str, Any]) -> dict[str, Any]:
    put = S3PutObjectParams.model_validate(params)
    return {**PUT_SAMPLE, "bucket": put.bucket, "key": put.key, "size": len(put.data())}


def _get_sample(params: dict[str, Any]) -> dict[str, Any]:
    get = S3GetObjectParams.model_validate(params)
    body: Any = {
        "text": GET_SAMPLE["body"],
        "json": {"id": 1, "name": "Ann"},
        "base64": base64.b64encode(GET_SAMPLE["body"].encode()).decode(),
    }[get.as_]
    return {**GET_SAMPLE, "body": body}


def _list_sample(params: dict[str, Any]) -> dict[str, Any]:
    listing = S3ListObjectsParams.model_validate(params)
    objects = [
        {**item, "key": listing.prefix + item["key"].rsplit("/", 1)[-1]}
        for item in LIST_SAMPLE["objects"]
    ]
    return {**LIST_SAMPLE, "objects": objects}


def _presign_sample(params: dict[str, Any]) -> dict[str, Any]:
    presign = S3PresignUrlParams.model_validate(params)
    url = (
        f"https://{presign.bucket}.s3.us-east-1.amazonaws.com/{presign.key}?X-Amz-Algorithm="
        f"AWS4-HMAC-SHA256&X-Amz-Expires={presign.expires_seconds()}&X-Amz-Signature=…"
    )
    return {**PRESIGN_SAMPLE, "url": url}


_ERRORS = (
    "A missing bucket or key and a refused credential (AccessDenied, InvalidAccessKeyId, "
    "SignatureDoesNotMatch) fail at once with a clear message; throttling, 5xx answers and "
    "network errors are retried."
)

NODE_TYPES: list[NodeType] = [
    NodeType(
        type="s3.put_object",
        title="S3: put an object",
        description="Store text, JSON or bytes (base64) as an object in an S3 bucket (AWS, "
        "MinIO, R2 or any S3-compatible server), with a content type and metadata. " + _ERRORS,
        params_model=S3PutObjectParams,
        runs_in="activity",
        credential_kinds=CREDENTIAL_KINDS,
        credential_required=True,
        output_description="{bucket, key, etag, version_id (null unless the bucket is "
        "versioned), size (bytes stored)}",
        sample_output=PUT_SAMPLE,
        sample_from=_put_sample,
    ),
    NodeType(
        type="s3.get_object",
        title="S3: get an object",
        description="Read an object from an S3 bucket as text, parsed JSON or base64, "
        "refusing objects larger than max_bytes. " + _ERRORS,
        params_model=S3GetObjectParams,
        runs_in="activity",
        credential_kinds=CREDENTIAL_KINDS,
        credential_required=True,
        output_description="{body, content_type, metadata, size, etag, last_modified "
        "(ISO 8601, UTC)}",
        sample_output=GET_SAMPLE,
        sample_from=_get_sample,
    ),
    NodeType(
        type="s3.list_objects",
        title="S3: list objects",
        description="List the objects of an S3 bucket under a prefix, optionally grouped "
        "by a delimiter, following continuation tokens up to max_keys. " + _ERRORS,
        params_model=S3ListObjectsParams,
        runs_in="activity",
        credential_kinds=CREDENTIAL_KINDS,
        credential_required=True,
        output_description="{objects: [{key, size, etag, last_modified}], prefixes (with a "
        "delimiter), truncated (more entries than max_keys exist)}",
        sample_output=LIST_SAMPLE,
        sample_from=_list_sample,
    ),
    NodeType(
        type="s3.presign_url",
        title="S3: presigned URL",
        description="Make a time-limited URL that lets anyone holding it download (get) or "
        "upload (put) one object without credentials; signed locally, nothing is sent.",
        params_model=S3PresignUrlParams,
        runs_in="activity",
        credential_kinds=CREDENTIAL_KINDS,
        credential_required=True,
        output_description="{url, expires_at (ISO 8601, UTC)}",
        sample_output=PRESIGN_SAMPLE,
        sample_from=_presign_sample,
    ),
]
