"""The activities of sheets.append_rows and sheets.read_range."""

from dataclasses import asdict
from typing import Any

from temporalio import activity

from activities.credentials import CredentialStore
from activities.support import ActivityRegistry, connector_errors, heartbeating, validate_params
from connectors.google_auth import ServiceAccountTokens
from connectors.sheets import (
    SheetsAuth,
    SheetsClient,
    auth_from_credential,
    guarded_http_client,
    header_names,
    rows_as_objects,
)
from core.config import Settings
from workflows.contract import NodeInput, NodeResult
from workflows.nodes.sheets import SheetsAppendRowsParams, SheetsReadRangeParams


class SheetsActivities:
    """Sheets activities sharing one guarded connection pool and one service-account token
    cache, which lives as long as the worker."""

    def __init__(self, settings: Settings, credentials: CredentialStore) -> None:
        self._settings = settings
        self._credentials = credentials
        self._http = guarded_http_client(
            settings.http_allowed_hosts, settings.connector_timeout_seconds
        )
        self._tokens = ServiceAccountTokens(self._http)
        self._sheets = SheetsClient(self._http, settings.google_sheets_api_url)

    def activities(self) -> ActivityRegistry:
        """Node type → activity."""
        return {
            "sheets.append_rows": self.append_rows,
            "sheets.read_range": self.read_range,
        }

    async def aclose(self) -> None:
        """Release connections."""
        await self._http.aclose()

    @activity.defn(name="sheets.append_rows")
    async def append_rows(self, node: NodeInput) -> NodeResult:
        """Append the node's rows after the table in its range.

        Google's append takes no idempotency key, so a retry after a lost response can
        append the rows twice; only failures Google reports before writing are retried.
        """
        params = validate_params(SheetsAppendRowsParams, node.params)
        auth = await self._auth(node)
        async with heartbeating():
            with connector_errors():
                result = await self._sheets.append_rows(
                    auth,
                    params.spreadsheet_id,
                    params.range,
                    params.rows,
                    value_input_option=params.value_input_option,
                    insert_data_option=params.insert_data_option,
                    ignore_unknown_columns=params.unknown_columns == "ignore",
                )
        output = {
            "spreadsheetId": result.spreadsheet_id,
            "tableRange": result.table_range,
            "updatedRange": result.updated_range,
            "updatedRows": result.updated_rows,
            "updatedColumns": result.updated_columns,
            "updatedCells": result.updated_cells,
        }
        return NodeResult(output=output, attempt=activity.info().attempt)

    @activity.defn(name="sheets.read_range")
    async def read_range(self, node: NodeInput) -> NodeResult:
        """Read the node's range; with header_row, its rows also as objects."""
        params = validate_params(SheetsReadRangeParams, node.params)
        auth = await self._auth(node)
        async with heartbeating():
            with connector_errors():
                read = await self._sheets.read_range(
                    auth,
                    params.spreadsheet_id,
                    params.range,
                    value_render_option=params.value_render_option,
                    major_dimension=params.major_dimension,
                )
        output: dict[str, Any] = asdict(read)
        output["majorDimension"] = output.pop("major_dimension")
        if params.header_row:
            headers = header_names(read.values[0]) if read.values else []
            output["headers"] = headers
            output["rows"] = rows_as_objects(headers, read.values[1:])
        return NodeResult(output=output, attempt=activity.info().attempt)

    async def _auth(self, node: NodeInput) -> SheetsAuth:
        resolved = await self._credentials.resolve_for(node)
        with connector_errors():
            return auth_from_credential(
                resolved.kind, resolved.data, self._tokens, self._settings.google_token_url
            )
