"""The `http.request` node: one guarded HTTP call."""

import base64
from collections.abc import Collection
from dataclasses import asdict

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.credentials import CredentialStore, ResolvedCredential
from activities.secret_redaction import remember_secrets
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
        credentials: CredentialStore | None = None,
    ) -> None:
        self._http = HttpClient(
            allowed_hosts=allowed_hosts, max_response_bytes=max_response_bytes, client=client
        )
        self._credentials = credentials

    async def aclose(self) -> None:
        await self._http.aclose()

    @activity.defn(name="http.request")
    async def request(self, node: NodeInput) -> NodeResult:
        """Send the request described by the node's params; output `{status, headers, body}`."""
        params = validate_params(HttpRequestParams, node.params)
        credential_headers = await self._auth_headers(node)
        headers = {**params.headers, **credential_headers}
        async with heartbeating():
            with connector_errors():
                response = await self._http.request(
                    method=params.method,
                    url=params.url,
                    headers=headers,
                    query=params.query,
                    json_body=params.json_body,
                    body=params.body,
                    expected_status=params.expected_status,
                    follow_redirects=params.follow_redirects,
                    idempotency_key=node.idempotency_key,
                    secret_headers=credential_headers.keys(),
                )
        return NodeResult(output=asdict(response), attempt=activity.info().attempt)

    async def _auth_headers(self, node: NodeInput) -> dict[str, str]:
        """The headers the node's credential adds; nothing when it names none."""
        if node.credential is None:
            return {}
        if self._credentials is None:
            raise ApplicationError(
                f"credential '{node.credential}' cannot be resolved: this worker has no "
                "credential store, and calling without it would silently drop the auth",
                type="CredentialUnavailable",
                non_retryable=True,
            )
        resolved = await self._credentials.resolve_for(node)
        headers = auth_headers(node.credential, resolved)
        remember_secrets(headers.values())  # as sent: a Basic pair is only there in base64
        return headers


def auth_headers(name: str, credential: ResolvedCredential) -> dict[str, str]:
    data = credential.data
    if credential.kind == "bearer":
        return {"Authorization": f"Bearer {data['token']}"}
    if credential.kind == "basic":
        pair = f"{data['username']}:{data['password']}".encode()
        return {"Authorization": f"Basic {base64.b64encode(pair).decode()}"}
    if credential.kind == "api_key_header":
        return {data["header"]: data["value"]}
    raise ApplicationError(
        f"credential '{name}' is of kind '{credential.kind}', which http.request cannot use "
        "(use bearer, basic or api_key_header)",
        type="CredentialUnavailable",
        non_retryable=True,
    )
