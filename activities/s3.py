"""The activities of s3.put_object, s3.get_object, s3.list_objects and s3.presign_url.

A PUT replaces the object whole, so a retry after a lost answer stores the same bytes
again: every S3 node is safe to retry (on a versioned bucket a retry may add a version).
"""

from temporalio import activity

from activities.credentials import CredentialStore
from activities.support import ActivityRegistry, connector_errors, heartbeating, validate_params
from connectors.s3 import S3Account, S3Client, encode_body
from core.config import Settings
from workflows.contract import NodeInput, NodeResult
from workflows.nodes.s3 import (
    S3GetObjectParams,
    S3ListObjectsParams,
    S3PresignUrlParams,
    S3PutObjectParams,
)


class S3Activities:
    """S3 nodes sharing one client; each call uses its node's `s3` credential."""

    def __init__(self, settings: Settings, credentials: CredentialStore) -> None:
        self._credentials = credentials
        self._s3 = S3Client(
            allowed_hosts=settings.http_allowed_hosts,
            timeout=settings.connector_timeout_seconds,
        )
        self._max_get_bytes = settings.http_max_response_bytes

    def activities(self) -> ActivityRegistry:
        """Node type → activity."""
        return {
            "s3.put_object": self.put_object,
            "s3.get_object": self.get_object,
            "s3.list_objects": self.list_objects,
            "s3.presign_url": self.presign_url,
        }

    async def aclose(self) -> None:
        """Release connections."""
        await self._s3.aclose()

    @activity.defn(name="s3.put_object")
    async def put_object(self, node: NodeInput) -> NodeResult:
        """Store the body; output `{bucket, key, etag, version_id, size}`."""
        params = validate_params(S3PutObjectParams, node.params)
        account = await self._account(node)
        async with heartbeating():
            with connector_errors():
                stored = await self._s3.put_object(
                    account,
                    params.bucket,
                    params.key,
                    params.data(),
                    content_type=params.effective_content_type(),
                    metadata=params.metadata,
                )
        return NodeResult(output=stored.as_output(), attempt=activity.info().attempt)

    @activity.defn(name="s3.get_object")
    async def get_object(self, node: NodeInput) -> NodeResult:
        """Read the object; output `{body, content_type, metadata, size, etag, last_modified}`."""
        params = validate_params(S3GetObjectParams, node.params)
        account = await self._account(node)
        async with heartbeating():
            with connector_errors():
                fetched = await self._s3.get_object(
                    account,
                    params.bucket,
                    params.key,
                    max_bytes=params.max_bytes or self._max_get_bytes,
                )
                body = encode_body(
                    fetched.body, params.as_, f"object '{params.key}' in bucket '{params.bucket}'"
                )
        output = {
            "body": body,
            "content_type": fetched.content_type,
            "metadata": fetched.metadata,
            "size": fetched.size,
            "etag": fetched.etag,
            "last_modified": fetched.last_modified,
        }
        return NodeResult(output=output, attempt=activity.info().attempt)

    @activity.defn(name="s3.list_objects")
    async def list_objects(self, node: NodeInput) -> NodeResult:
        """List the keys; output `{objects, prefixes, truncated}`."""
        params = validate_params(S3ListObjectsParams, node.params)
        account = await self._account(node)
        async with heartbeating():
            with connector_errors():
                listing = await self._s3.list_objects(
                    account,
                    params.bucket,
                    prefix=params.prefix,
                    delimiter=params.delimiter,
                    max_keys=params.max_keys,
                )
        output = {
            "objects": listing.objects,
            "prefixes": listing.prefixes,
            "truncated": listing.truncated,
        }
        return NodeResult(output=output, attempt=activity.info().attempt)

    @activity.defn(name="s3.presign_url")
    async def presign_url(self, node: NodeInput) -> NodeResult:
        """Sign a URL for the object; output `{url, expires_at}`."""
        params = validate_params(S3PresignUrlParams, node.params)
        account = await self._account(node)
        with connector_errors():
            url, expires_at = await self._s3.presign_url(
                account,
                params.bucket,
                params.key,
                method=params.method,
                expires_seconds=params.expires_seconds(),
            )
        output = {"url": url, "expires_at": expires_at.isoformat().replace("+00:00", "Z")}
        return NodeResult(output=output, attempt=activity.info().attempt)

    async def _account(self, node: NodeInput) -> S3Account:
        resolved = await self._credentials.resolve_for(node)
        with connector_errors():
            return S3Account.from_credential(resolved.data)
