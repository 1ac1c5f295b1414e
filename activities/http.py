"""The `http.request` node: one guarded HTTP call."""

from collections.abc import Collection
from dataclasses import asdict

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.support import connector_errors, heartbeating, validate_params
from connectors.http import HttpClient
from workflows.catalog import HttpRequestParams
from workflows.contract import NodeInput, NodeResult


class HttpActivities:
    """HTTP activities sharing one connection pool; the worker builds it from Settings."""

    def __init__(
        self,
        allowed_hosts: Collection[str],
        max_response_bytes: int,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._http = HttpClient(
            allowed_hosts=allowed_hosts, max_response_bytes=max_response_bytes, client=client
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    @activity.defn(name="http.request")
    async def request(self, node: NodeInput) -> NodeResult:
        """Send the request described by the node's params; output `{status, headers, body}`."""
        if node.credential is not None:
            raise ApplicationError(
                f"credential '{node.credential}' cannot be resolved: this worker has no "
                "credential store yet, and calling without it would silently drop the auth",
                type="CredentialUnavailable",
                non_retryable=True,
            )
        params = validate_params(HttpRequestParams, node.params)
        async with heartbeating():
            with connector_errors():
                response = await self._http.request(
                    method=params.method,
                    url=params.url,
                    headers=params.headers,
                    query=params.query,
                    json_body=params.json_body,
                    body=params.body,
                    expected_status=params.expected_status,
                    follow_redirects=params.follow_redirects,
                    idempotency_key=node.idempotency_key,
                )
        return NodeResult(output=asdict(response), attempt=activity.info().attempt)
