"""An S3 client for the `s3.*` nodes, on aiobotocore, for AWS or any S3-compatible endpoint.

Every call is made with the node's credential alone: keys, session token, region, endpoint
and addressing style are passed explicitly, the worker's own `~/.aws` files and `AWS_*`
endpoint and proxy variables are not read, and botocore never retries (Temporal does), so
each failure becomes one `ConnectorError` that says whether a retry can help.

The endpoint URL is user data, so connections are guarded like every connector's:

- before a call, the endpoint's host is vetted by `TargetGuard` (the public-address rule and
  `HTTP_ALLOWED_HOSTS`), which refuses `http://169.254.169.254` with a clear message;
- at connect time, a socket factory handed to aiohttp (which aiobotocore connects through)
  checks the address of every socket it opens, so what is connected is always vetted: a
  DNS answer that changes after the check (rebinding), a bucket's virtual-hosted name
  (`bucket.endpoint`), or a redirect to an internal address cannot reach one. Addresses an
  allowlisted *hostname* resolved to in the check are admitted too, as `TargetGuard` does.
"""

import base64
import errno
import ipaddress
import json
import os
import socket
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import botocore.exceptions
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore.exceptions import ClientError

from connectors.errors import ConnectorError, one_line
from connectors.http import parse_retry_after
from connectors.netguard import (
    Allowlist,
    IPAddress,
    TargetGuard,
    describe_address,
    is_public_address,
)

DEFAULT_REGION = "us-east-1"
DEFAULT_TIMEOUT_SECONDS = 60.0
LIST_PAGE_SIZE = 1000
"""S3's own maximum for one ListObjectsV2 request."""
MAX_PRESIGN_SECONDS = 7 * 24 * 3600
"""Signature Version 4 refuses presigned URLs valid for longer than 7 days."""
SNIPPET_CHARS = 300

AddressingStyle = Literal["auto", "virtual", "path"]
PresignMethod = Literal["get", "put"]
SocketFactory = Callable[[tuple[Any, ...]], socket.socket]

_NOT_FOUND_BUCKET = frozenset({"NoSuchBucket"})
_NOT_FOUND_KEY = frozenset({"NoSuchKey", "NoSuchVersion"})
_AUTH_HINTS = {
    "InvalidAccessKeyId": "the access key id is not known to the server",
    "SignatureDoesNotMatch": "the secret access key does not match the access key id",
    "InvalidToken": "the session token is not valid",
    "ExpiredToken": "the session token has expired: refresh the temporary credentials",
    "TokenRefreshRequired": "the session token has expired: refresh the temporary credentials",
    "InvalidSecurity": "the security credentials are not valid",
    "AccessDenied": "the credential's key is not allowed to do this (check its policy), or "
    "the key is wrong",
    "AllAccessDisabled": "all access to this resource has been disabled",
    "AccountProblem": "the account behind the key cannot be used",
}
_THROTTLING = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestThrottled",
        "TooManyRequests",
        "TooManyRequestsException",
        "RequestLimitExceeded",
    }
)
_TRANSIENT = frozenset(
    {"InternalError", "ServiceUnavailable", "RequestTimeout", "OperationAborted"}
)
_WRONG_REGION = frozenset(
    {"PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException"}
)


@dataclass(frozen=True)
class S3Account:
    """Where to call and with which keys; the secrets never show in a repr."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)
    region: str = DEFAULT_REGION
    endpoint_url: str | None = None
    addressing_style: AddressingStyle = "auto"

    @classmethod
    def from_credential(cls, data: Mapping[str, Any]) -> "S3Account":
        """From an `s3` credential's data (checked against its kind when it was stored)."""
        key_id, secret = data.get("access_key_id"), data.get("secret_access_key")
        if not isinstance(key_id, str) or not key_id or not isinstance(secret, str) or not secret:
            raise ConnectorError(
                "the credential lacks access_key_id or secret_access_key",
                retryable=False,
                kind="S3AuthError",
            )
        style = data.get("addressing_style") or "auto"
        return cls(
            access_key_id=key_id,
            secret_access_key=secret,
            session_token=data.get("session_token") or None,
            region=str(data.get("region") or DEFAULT_REGION),
            endpoint_url=str(data["endpoint_url"]) if data.get("endpoint_url") else None,
            addressing_style=style if style in ("auto", "virtual", "path") else "auto",
        )

    @property
    def where(self) -> str:
        """The service as messages name it."""
        return f"S3 at {self.endpoint_url.rstrip('/')}" if self.endpoint_url else "AWS S3"

    def secrets(self) -> list[str]:
        return [value for value in (self.secret_access_key, self.session_token) if value]


@dataclass(frozen=True)
class StoredObject:
    bucket: str
    key: str
    etag: str | None
    version_id: str | None
    size: int

    def as_output(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "key": self.key,
            "etag": self.etag,
            "version_id": self.version_id,
            "size": self.size,
        }


@dataclass(frozen=True)
class FetchedObject:
    body: bytes
    content_type: str | None
    metadata: dict[str, str]
    etag: str | None
    last_modified: str | None
    version_id: str | None

    @property
    def size(self) -> int:
        return len(self.body)


@dataclass(frozen=True)
class Listing:
    objects: list[dict[str, Any]]
    prefixes: list[str]
    truncated: bool
    requests: int
    """ListObjectsV2 calls made (pages read)."""


class S3ServiceError(ConnectorError):
    """An error answer from S3; `code` is its error code (`NoSuchKey`, `AccessDenied`…)."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        kind: str,
    ) -> None:
        super().__init__(message, retryable=retryable, retry_after=retry_after, kind=kind)
        self.code = code


class RefusedAddress(OSError):
    """A socket to an address the guard does not admit; never connected."""

    def __init__(self, address: IPAddress) -> None:
        super().__init__(
            errno.EACCES,
            f"refused to connect to {address}, {describe_address(address)}, which is not in "
            "the allowlist",
        )
        self.address = address


def guarded_socket_factory(
    allowlist: Allowlist, admitted: Iterable[IPAddress] = ()
) -> SocketFactory:
    """An aiohttp `socket_factory` that opens sockets only to public, allowlisted or
    `admitted` addresses; any other raises `RefusedAddress` before anything is sent."""
    extra = frozenset(admitted)

    def open_socket(addr_info: tuple[Any, ...]) -> socket.socket:
        family, kind, proto, _, sockaddr = addr_info
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if not (
            is_public_address(address) or allowlist.admits_address(address) or address in extra
        ):
            raise RefusedAddress(address)
        return socket.socket(family=family, type=kind, proto=proto)

    return open_socket


class S3Client:
    """S3 calls for every credential; a short-lived botocore client is made per call.

    One aiobotocore session (its service model loaded once) serves all calls; the client a
    call makes holds its keys and its guarded connection pool only for that call.
    """

    def __init__(
        self, *, allowed_hosts: Collection[str] = (), timeout: float = DEFAULT_TIMEOUT_SECONDS
    ) -> None:
        self._guard = TargetGuard(allowed_hosts)
        self._timeout = timeout
        self._session = AioSession()
        # Only the credential configures a call: not the worker's ~/.aws files.
        self._session.set_config_variable("config_file", os.devnull)
        self._session.set_config_variable("credentials_file", os.devnull)

    async def aclose(self) -> None:
        """Nothing is kept open between calls; here for symmetry with the other clients."""

    async def put_object(
        self,
        account: S3Account,
        bucket: str,
        key: str,
        body: bytes,
        *,
        content_type: str,
        metadata: Mapping[str, str] | None = None,
    ) -> StoredObject:
        """PutObject; S3 replaces an object whole, so repeating the call is harmless."""
        request: dict[str, Any] = {
            "Bucket": bucket,
            "Key": key,
            "Body": body,
            "ContentType": content_type,
            "Metadata": dict(metadata or {}),
        }
        async with self._client(account, bucket, key) as client:
            answer = await client.put_object(**request)
        return StoredObject(
            bucket=bucket,
            key=key,
            etag=_etag(answer.get("ETag")),
            version_id=answer.get("VersionId"),
            size=len(body),
        )

    async def get_object(
        self, account: S3Account, bucket: str, key: str, *, max_bytes: int
    ) -> FetchedObject:
        """GetObject, refusing an object larger than `max_bytes` before reading it."""
        async with self._client(account, bucket, key) as client:
            answer = await client.get_object(Bucket=bucket, Key=key)
            async with answer["Body"] as stream:
                declared = answer.get("ContentLength")
                if isinstance(declared, int) and declared > max_bytes:
                    raise _too_large(bucket, key, max_bytes, declared)
                body = bytearray()
                while chunk := await stream.read(64 * 1024):
                    body += chunk
                    if len(body) > max_bytes:
                        raise _too_large(bucket, key, max_bytes, None)
        return FetchedObject(
            body=bytes(body),
            content_type=answer.get("ContentType"),
            metadata=dict(answer.get("Metadata") or {}),
            etag=_etag(answer.get("ETag")),
            last_modified=_timestamp(answer.get("LastModified")),
            version_id=answer.get("VersionId"),
        )

    async def list_objects(
        self,
        account: S3Account,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str | None = None,
        max_keys: int = LIST_PAGE_SIZE,
        page_size: int = LIST_PAGE_SIZE,
    ) -> Listing:
        """ListObjectsV2, following continuation tokens until `max_keys` entries (objects
        and common prefixes, as S3 counts them) are read or the listing ends."""
        objects: list[dict[str, Any]] = []
        prefixes: list[str] = []
        token: str | None = None
        requests = 0
        truncated = False
        async with self._client(account, bucket, None) as client:
            while True:
                remaining = max_keys - len(objects) - len(prefixes)
                request: dict[str, Any] = {
                    "Bucket": bucket,
                    "Prefix": prefix,
                    "MaxKeys": min(page_size, remaining),
                }
                if delimiter:
                    request["Delimiter"] = delimiter
                if token:
                    request["ContinuationToken"] = token
                page = await client.list_objects_v2(**request)
                requests += 1
                objects += [_listed(item) for item in page.get("Contents") or []]
                prefixes += [
                    str(item["Prefix"]) for item in page.get("CommonPrefixes") or [] if item
                ]
                token = page.get("NextContinuationToken")
                truncated = bool(page.get("IsTruncated")) and token is not None
                if not truncated or len(objects) + len(prefixes) >= max_keys:
                    break
        return Listing(objects=objects, prefixes=prefixes, truncated=truncated, requests=requests)

    async def presign_url(
        self,
        account: S3Account,
        bucket: str,
        key: str,
        *,
        method: PresignMethod,
        expires_seconds: int,
    ) -> tuple[str, datetime]:
        """A Signature V4 URL that lets anyone holding it GET or PUT the object until it
        expires; and when it expires. Signed locally: nothing is sent, so nothing is vetted."""
        if not 1 <= expires_seconds <= MAX_PRESIGN_SECONDS:
            raise ConnectorError(
                f"a presigned URL lasts between 1 second and 7 days, not {expires_seconds}s",
                retryable=False,
                kind="S3InvalidRequest",
            )
        if account.session_token:
            raise ConnectorError(
                "a presigned URL made with temporary credentials carries their session token "
                "in the URL, for anyone holding it to reuse; presign with an access key that "
                "has no session token",
                retryable=False,
                kind="S3InvalidRequest",
            )
        operation = "get_object" if method == "get" else "put_object"
        issued = datetime.now(UTC)
        async with self._client(account, bucket, key, connect=False) as client:
            url = await client.generate_presigned_url(
                operation, Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_seconds
            )
        return str(url), issued + timedelta(seconds=expires_seconds)

    async def list_buckets(self, account: S3Account) -> list[str]:
        """ListBuckets: the buckets the key can see."""
        async with self._client(account, None, None) as client:
            answer = await client.list_buckets()
        return [str(bucket["Name"]) for bucket in answer.get("Buckets") or []]

    @asynccontextmanager
    async def _client(
        self, account: S3Account, bucket: str | None, key: str | None, *, connect: bool = True
    ) -> AsyncIterator[Any]:
        """A botocore S3 client for one call, its errors turned into `ConnectorError`s."""
        try:
            admitted = await self._vet(account) if connect else ()
            config = AioConfig(
                region_name=account.region,
                signature_version="s3v4",
                s3={"addressing_style": account.addressing_style},
                retries={"total_max_attempts": 1, "mode": "standard"},
                connect_timeout=min(self._timeout, 10.0),
                read_timeout=self._timeout,
                proxies={},
                ignore_configured_endpoint_urls=True,
                # Checksums only where S3 requires them: servers that predate the 2025
                # default (MinIO, R2, Ceph releases) refuse the extra headers.
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                connector_args={
                    "socket_factory": guarded_socket_factory(self._guard.allowlist, admitted)
                },
            )
            async with self._session.create_client(
                "s3",
                region_name=account.region,
                endpoint_url=account.endpoint_url,
                aws_access_key_id=account.access_key_id,
                aws_secret_access_key=account.secret_access_key,
                aws_session_token=account.session_token,
                config=config,
            ) as client:
                yield client
        except ConnectorError:
            raise
        except ClientError as error:
            raise _client_error(error, account, bucket, key) from None
        except botocore.exceptions.BotoCoreError as error:
            raise _botocore_error(error, account) from None

    async def _vet(self, account: S3Account) -> tuple[IPAddress, ...]:
        """Check the endpoint's host; the addresses of an allowlisted hostname, which the
        socket factory must admit although they are not public."""
        if account.endpoint_url is None:
            return ()
        try:
            target = await self._guard.resolve(account.endpoint_url)
        except ConnectorError as error:
            raise ConnectorError(
                f"the S3 endpoint is refused: {error.message}", retryable=False, kind=error.kind
            ) from None
        except OSError as error:
            raise ConnectorError(
                f"{account.where}: the endpoint's host does not resolve ({error})",
                retryable=True,
                kind="S3NetworkError",
            ) from None
        return target.addresses if self._guard.allowlist.admits_host(target.host) else ()


async def test_connection(
    credential: Mapping[str, Any],
    *,
    allowed_hosts: Collection[str] = (),
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
) -> str:
    """List the buckets: the cheapest call that proves the keys without naming a bucket.

    A key limited to some buckets may not list them all: S3 then answers AccessDenied,
    which it only does once the key and its signature are accepted, so the test passes.
    """
    account = S3Account.from_credential(credential)
    client = S3Client(allowed_hosts=allowed_hosts, timeout=timeout_seconds)
    try:
        buckets = await client.list_buckets(account)
    except S3ServiceError as error:
        if error.code == "AccessDenied":
            return (
                f"Connected to {account.where}: the keys are valid, but they may not list "
                "buckets (AccessDenied on ListBuckets); access to a bucket is checked on "
                "first use"
            )
        raise
    shown = ", ".join(buckets[:5]) + (", …" if len(buckets) > 5 else "")
    return f"Connected to {account.where}: {len(buckets)} bucket(s) visible" + (
        f" ({shown})" if buckets else ""
    )


def encode_body(body: bytes, as_: Literal["text", "json", "base64"], where: str) -> Any:
    """An object's bytes as a node outputs them: text, a parsed JSON value, or base64."""
    if as_ == "base64":
        return base64.b64encode(body).decode("ascii")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ConnectorError(
            f"{where} is not UTF-8 text; read it with as: 'base64'",
            retryable=False,
            kind="S3InvalidContent",
        ) from None
    if as_ == "text":
        return text
    try:
        return json.loads(text)
    except ValueError as error:
        raise ConnectorError(
            f"{where} is not valid JSON ({error}); read it with as: 'text'",
            retryable=False,
            kind="S3InvalidContent",
        ) from None


def _listed(item: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "key": item.get("Key"),
        "size": item.get("Size"),
        "etag": _etag(item.get("ETag")),
        "last_modified": _timestamp(item.get("LastModified")),
    }


def _etag(value: object) -> str | None:
    """S3 quotes ETags (`"9b2c…"`); outputs carry the bare value."""
    return value.strip('"') if isinstance(value, str) else None


def _timestamp(value: object) -> str | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return None


def _too_large(bucket: str, key: str, limit: int, declared: int | None) -> ConnectorError:
    size = f" ({declared} bytes)" if declared is not None else ""
    return ConnectorError(
        f"object '{key}' in bucket '{bucket}' is larger than the {limit} bytes allowed{size}; "
        "raise max_bytes or store less",
        retryable=False,
        kind="S3ObjectTooLarge",
    )


def _object_name(bucket: str | None, key: str | None) -> str:
    if bucket and key:
        return f"object '{key}' in bucket '{bucket}'"
    return f"bucket '{bucket}'" if bucket else "the account"


def _client_error(
    error: ClientError, account: S3Account, bucket: str | None, key: str | None
) -> "S3ServiceError":
    """What an S3 error answer means, naming the bucket and key it was about."""
    details: Mapping[str, Any] = error.response.get("Error") or {}
    meta: Mapping[str, Any] = error.response.get("ResponseMetadata") or {}
    code = str(details.get("Code") or "")
    status = int(meta.get("HTTPStatusCode") or 0)
    said = _scrub(one_line(str(details.get("Message") or ""), SNIPPET_CHARS), account)
    operation = error.operation_name
    where = account.where
    if code in _NOT_FOUND_BUCKET or (code in ("404", "NotFound") and not key):
        return S3ServiceError(
            code,
            f"{where}: bucket '{bucket}' does not exist ({operation}: NoSuchBucket)",
            retryable=False,
            kind="S3NoSuchBucket",
        )
    if code in _NOT_FOUND_KEY or code in ("404", "NotFound"):
        return S3ServiceError(
            code,
            f"{where}: no object '{key}' in bucket '{bucket}' ({operation}: {code})",
            retryable=False,
            kind="S3NoSuchKey",
        )
    if code in _AUTH_HINTS or status in (401, 403):
        hint = _AUTH_HINTS.get(code, "the credential was refused")
        return S3ServiceError(
            code,
            f"{where} refused the credential (access key id {account.access_key_id}) for "
            f"{operation} on {_object_name(bucket, key)}: {hint} ({code or status})",
            retryable=False,
            kind="S3AuthError",
        )
    headers: Mapping[str, str] = meta.get("HTTPHeaders") or {}
    retry_after = parse_retry_after(headers.get("retry-after"))
    if code in _THROTTLING or status == 429:
        return S3ServiceError(
            code,
            f"{where} is throttling requests ({operation}: {code or status})",
            retryable=True,
            retry_after=retry_after,
            kind="S3Throttled",
        )
    if code in _TRANSIENT or status >= 500:
        return S3ServiceError(
            code,
            f"{where} failed {operation} with HTTP {status} {code}: {said}".rstrip(": "),
            retryable=True,
            retry_after=retry_after,
            kind="S3Unavailable",
        )
    if code in _WRONG_REGION:
        return S3ServiceError(
            code,
            f"{where}: {_object_name(bucket, key)} is not in region '{account.region}' "
            f"({code}): set the credential's region to the bucket's ({said})",
            retryable=False,
            kind="S3WrongRegion",
        )
    return S3ServiceError(
        code,
        f"{where} refused {operation} on {_object_name(bucket, key)}: HTTP {status} {code}"
        + (f": {said}" if said else ""),
        retryable=False,
        kind="S3ApiError",
    )


def _botocore_error(error: botocore.exceptions.BotoCoreError, account: S3Account) -> ConnectorError:
    """A request that got no S3 answer: refused by the guard, network trouble, bad params."""
    detail = _scrub(one_line(str(error), SNIPPET_CHARS), account)
    refused = _refused_address(error)
    if refused is not None:
        return ConnectorError(
            f"{account.where}: {refused.strerror}", retryable=False, kind="TargetRefused"
        )
    if isinstance(error, botocore.exceptions.ParamValidationError):
        return ConnectorError(detail, retryable=False, kind="S3InvalidRequest")
    if isinstance(error, botocore.exceptions.SSLError):
        return ConnectorError(
            f"{account.where}: TLS failed: {detail}", retryable=False, kind="S3NetworkError"
        )
    network = (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)
    if isinstance(error, network):
        return ConnectorError(
            f"{account.where} could not be reached: {detail}",
            retryable=True,
            kind="S3NetworkError",
        )
    return ConnectorError(f"{account.where}: {detail}", retryable=False, kind="S3Error")


def _refused_address(error: BaseException) -> RefusedAddress | None:
    """The guard's refusal behind a connection error, however aiohttp and botocore wrapped
    it (botocore keeps the underlying error in `kwargs["error"]`)."""
    pending: list[BaseException] = [error]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, RefusedAddress):
            return current
        kwargs = getattr(current, "kwargs", None)
        wrapped = kwargs.get("error") if isinstance(kwargs, dict) else None
        for following in (wrapped, current.__cause__, current.__context__):
            if isinstance(following, BaseException):
                pending.append(following)
    return None


def _scrub(text: str, account: S3Account) -> str:
    for secret in account.secrets():
        text = text.replace(secret, "<redacted>")
    return text
