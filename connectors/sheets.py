"""A Google Sheets v4 client: read a range, append rows (as lists or mapped by header).

Every call carries a bearer token from a `SheetsAuth`: a fixed OAuth access token, or a
service account's token from `ServiceAccountTokens`. When the API refuses a cached
service-account token (401), the token is dropped and the call made once more with a
fresh one. Failures become `ConnectorError`s carrying Google's own message and whether a
retry can help (429, 5xx and network trouble can; 400, 401, 403 and 404 cannot).
"""

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import quote

import httpx

from connectors.errors import ConnectorError, one_line
from connectors.google_auth import AccessToken, ServiceAccountKey, ServiceAccountTokens
from connectors.http import parse_retry_after
from connectors.netguard import GuardedTransport

SHEETS_API_URL = "https://sheets.googleapis.com/v4"
SCOPES = ("https://www.googleapis.com/auth/spreadsheets",)
CREDENTIAL_KINDS = ("google_service_account", "google_oauth_token")
MAX_LISTED_NAMES = 20
_SNIPPET_CHARS = 300
_PROBE_SPREADSHEET_ID = "flowpilot-connection-test"
"""Never a real spreadsheet: Google checks the token before looking the id up, so a 404
for it proves the token is accepted without needing access to any spreadsheet."""

Cell = str | int | float | bool | None
Row = Sequence[Cell] | Mapping[str, Cell]
ValueRenderOption = Literal["FORMATTED_VALUE", "UNFORMATTED_VALUE", "FORMULA"]
MajorDimension = Literal["ROWS", "COLUMNS"]
ValueInputOption = Literal["USER_ENTERED", "RAW"]
InsertDataOption = Literal["INSERT_ROWS", "OVERWRITE"]


def guarded_http_client(allowed_hosts: Collection[str], timeout: float) -> httpx.AsyncClient:
    """The client every Google call goes through: SSRF-guarded, no proxies from the env."""
    return httpx.AsyncClient(
        transport=GuardedTransport(allowed_hosts),
        trust_env=False,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
    )


# --- authentication ---------------------------------------------------------------------


class SheetsAuth(Protocol):
    identity: str
    """Who the calls run as, for hints in error messages (never a secret)."""

    async def bearer(self) -> str: ...

    def refused(self, token: str) -> bool:
        """Note that the API refused `token`; whether asking again for one may help."""
        ...


class StaticTokenAuth:
    """A plain OAuth access token (credential kind `google_oauth_token`)."""

    identity = "this OAuth token"

    def __init__(self, access_token: str) -> None:
        self._token = access_token

    def __repr__(self) -> str:
        return "StaticTokenAuth(<hidden>)"

    async def bearer(self) -> str:
        return self._token

    def refused(self, token: str) -> bool:
        return False


class ServiceAccountAuth:
    """A service account's key (credential kind `google_service_account`)."""

    def __init__(
        self, key: ServiceAccountKey, tokens: ServiceAccountTokens, token_uri: str | None = None
    ) -> None:
        self._key = key
        self._tokens = tokens
        self._token_uri = token_uri
        self._issued: dict[str, AccessToken] = {}
        self.identity = f"service account {key.client_email}"

    def __repr__(self) -> str:
        return f"ServiceAccountAuth({self._key.client_email!r})"

    async def bearer(self) -> str:
        token = await self._tokens.token(self._key, SCOPES, self._token_uri)
        self._issued[token.value] = token
        return token.value

    def refused(self, token: str) -> bool:
        issued = self._issued.pop(token, None)
        if issued is None:
            return False
        self._tokens.invalidate(self._key, SCOPES, issued, self._token_uri)
        return True


def auth_from_credential(
    kind: str,
    data: Mapping[str, Any],
    tokens: ServiceAccountTokens,
    token_uri: str | None = None,
) -> SheetsAuth:
    """The auth of a resolved credential; `token_uri` overrides the key file's."""
    if kind == "google_oauth_token":
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            raise _credential_error("the google_oauth_token credential has no access_token")
        return StaticTokenAuth(token)
    if kind == "google_service_account":
        key_file = data.get("service_account_json")
        if not isinstance(key_file, str | Mapping):
            raise _credential_error(
                "the google_service_account credential has no service_account_json"
            )
        return ServiceAccountAuth(ServiceAccountKey.parse(key_file), tokens, token_uri)
    raise _credential_error(
        f"a credential of kind '{kind}' cannot be used with Google Sheets "
        f"(use {' or '.join(CREDENTIAL_KINDS)})"
    )


def _credential_error(message: str) -> ConnectorError:
    return ConnectorError(message, retryable=False, kind="CredentialUnavailable")


# --- A1 ranges --------------------------------------------------------------------------

_CELLS = re.compile(r"^([A-Za-z]{0,3})(\d*)(?::([A-Za-z]{0,3})(\d*))?$")


@dataclass(frozen=True)
class A1Range:
    """The parts of an A1 range that header mapping needs."""

    sheet: str | None
    """The sheet as written (quoted if it was); None: the first sheet."""
    first_column: int
    """0-based; 0 when the range does not bound its columns."""
    first_row: int
    """1-based; 1 when the range does not bound its rows."""
    last_column: int | None

    @property
    def first_row_range(self) -> str:
        """The whole row holding the range's first row, e.g. `'My Sheet'!3:3`."""
        prefix = f"{self.sheet}!" if self.sheet is not None else ""
        return f"{prefix}{self.first_row}:{self.first_row}"


def parse_a1(text: str) -> A1Range:
    """Parse `Sheet1`, `Sheet1!A2:C`, `'My Sheet'!A:B`, `A1:C10`, `Sheet1!2:5` and the like."""
    sheet, cells = _split_sheet(text.strip())
    match = _CELLS.match(cells)
    if match is None:
        raise ConnectorError(
            f"range {text!r} is not in A1 notation (like Sheet1!A1:C10 or 'My Sheet'!A:B)",
            retryable=False,
            kind="InvalidRange",
        )
    start_col, start_row, end_col, _ = match.groups()
    return A1Range(
        sheet=sheet,
        first_column=column_index(start_col) if start_col else 0,
        first_row=int(start_row) if start_row else 1,
        last_column=column_index(end_col) if end_col else None,
    )


def _split_sheet(text: str) -> tuple[str | None, str]:
    if text.startswith("'"):
        end = _closing_quote(text)
        rest = text[end + 1 :]
        if rest and not rest.startswith("!"):
            raise ConnectorError(
                f"range {text!r}: expected '!' after the quoted sheet name",
                retryable=False,
                kind="InvalidRange",
            )
        return text[: end + 1], rest[1:]
    if "!" in text:
        sheet, cells = text.split("!", 1)
        return sheet, cells
    looks_like_cells = _CELLS.match(text) is not None and any(c.isdigit() or c == ":" for c in text)
    return (None, text) if looks_like_cells else (text, "")


def _closing_quote(text: str) -> int:
    """Index of the quote closing a sheet name, where `''` stands for one quote."""
    index = 1
    while index < len(text):
        if text[index] == "'":
            if text[index + 1 : index + 2] == "'":
                index += 2
                continue
            return index
        index += 1
    raise ConnectorError(
        f"range {text!r}: the quoted sheet name is not closed", retryable=False, kind="InvalidRange"
    )


def column_index(letters: str) -> int:
    """0-based index of a column: A → 0, Z → 25, AA → 26."""
    index = 0
    for letter in letters.upper():
        index = index * 26 + (ord(letter) - ord("A") + 1)
    return index - 1


# --- header mapping ---------------------------------------------------------------------


def header_names(cells: Sequence[Any]) -> list[str]:
    """Object keys for a header row: text as shown, blanks and repeats made unique."""
    names: list[str] = []
    seen: set[str] = set()
    for position, cell in enumerate(cells, start=1):
        base = _cell_text(cell) or f"column_{position}"
        name, suffix = base, 2
        while name in seen:
            name, suffix = f"{base}_{suffix}", suffix + 1
        seen.add(name)
        names.append(name)
    return names


def rows_as_objects(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """Each row keyed by header; the cells Google leaves off a short row are empty."""
    return [
        {name: row[i] if i < len(row) else "" for i, name in enumerate(headers)} for row in rows
    ]


def _cell_text(cell: Any) -> str:
    if isinstance(cell, bool):
        return "TRUE" if cell else "FALSE"
    return "" if cell is None else str(cell).strip()


@dataclass(frozen=True)
class _Header:
    positions: dict[str, int]
    """Column name → position relative to the table's first column."""
    names: list[str]

    @classmethod
    def from_row(cls, row: Sequence[Any], a1: A1Range) -> "_Header":
        end = a1.last_column + 1 if a1.last_column is not None else len(row)
        cells = [_cell_text(cell) for cell in row[a1.first_column : end]]
        while cells and not cells[0]:
            # Appends start at the table's first column, which is the first non-blank one.
            cells.pop(0)
        positions: dict[str, int] = {}
        for position, name in enumerate(cells):
            if name:
                positions.setdefault(name, position)
        return cls(positions, [name for name in cells if name])

    def row(self, values: Mapping[str, Cell], ignore_unknown: bool) -> list[Cell]:
        unknown = [key for key in values if key not in self.positions]
        if unknown and not ignore_unknown:
            raise ConnectorError(
                f"no column named {_names(unknown)} in the header row; its columns are "
                f"{_names(self.names)} (or set unknown_columns to 'ignore')",
                retryable=False,
                kind="UnknownColumn",
            )
        width = max((self.positions[key] + 1 for key in values if key in self.positions), default=0)
        cells: list[Cell] = [""] * width
        for key, value in values.items():
            if key in self.positions:
                cells[self.positions[key]] = "" if value is None else value
        return cells


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(repr(name) for name in names[:MAX_LISTED_NAMES])
    more = len(names) - MAX_LISTED_NAMES
    return f"{shown} and {more} more" if more > 0 else shown


# --- the client -------------------------------------------------------------------------


@dataclass(frozen=True)
class ValueRange:
    range: str
    major_dimension: str
    values: list[list[Any]]


@dataclass(frozen=True)
class AppendResult:
    spreadsheet_id: str
    table_range: str | None
    """The table the rows were appended to, before the append; None when the range was empty."""
    updated_range: str
    updated_rows: int
    updated_columns: int
    updated_cells: int


class SheetsClient:
    """Calls the Sheets v4 values API at `base_url` through `http` (a guarded client)."""

    def __init__(self, http: httpx.AsyncClient, base_url: str = SHEETS_API_URL) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")

    async def read_range(
        self,
        auth: SheetsAuth,
        spreadsheet_id: str,
        range_: str,
        *,
        value_render_option: ValueRenderOption = "FORMATTED_VALUE",
        major_dimension: MajorDimension = "ROWS",
    ) -> ValueRange:
        """`values.get`: the cells of `range_`; Google leaves off trailing blank cells and rows."""
        body = await self._call(
            auth,
            "GET",
            self._values_url(spreadsheet_id, range_),
            operation=f"reading {range_!r}",
            params={"valueRenderOption": value_render_option, "majorDimension": major_dimension},
        )
        return ValueRange(
            range=str(body.get("range", range_)),
            major_dimension=str(body.get("majorDimension", major_dimension)),
            values=list(body.get("values", [])),
        )

    async def append_rows(
        self,
        auth: SheetsAuth,
        spreadsheet_id: str,
        range_: str,
        rows: Sequence[Row],
        *,
        value_input_option: ValueInputOption = "USER_ENTERED",
        insert_data_option: InsertDataOption = "INSERT_ROWS",
        ignore_unknown_columns: bool = False,
    ) -> AppendResult:
        """`values.append` after the table found in `range_`.

        Rows given as objects are placed by column name: the header is the first row of
        `range_` (read first), like n8n's "map each column by name".
        """
        values = await self._as_lists(auth, spreadsheet_id, range_, rows, ignore_unknown_columns)
        body = await self._call(
            auth,
            "POST",
            self._values_url(spreadsheet_id, range_) + ":append",
            operation=f"appending to {range_!r}",
            params={
                "valueInputOption": value_input_option,
                "insertDataOption": insert_data_option,
            },
            json={"majorDimension": "ROWS", "values": values},
        )
        updates = body.get("updates") or {}
        return AppendResult(
            spreadsheet_id=str(body.get("spreadsheetId", spreadsheet_id)),
            table_range=body.get("tableRange"),
            updated_range=str(updates.get("updatedRange", "")),
            updated_rows=int(updates.get("updatedRows", 0)),
            updated_columns=int(updates.get("updatedColumns", 0)),
            updated_cells=int(updates.get("updatedCells", 0)),
        )

    async def spreadsheet_title(self, auth: SheetsAuth, spreadsheet_id: str) -> str:
        """`spreadsheets.get` with a field mask: the cheapest call that needs access to it."""
        body = await self._call(
            auth,
            "GET",
            f"{self._base_url}/spreadsheets/{quote(spreadsheet_id, safe='')}",
            operation="opening the spreadsheet",
            params={"fields": "spreadsheetId,properties.title"},
        )
        return str((body.get("properties") or {}).get("title", spreadsheet_id))

    async def probe_token(self, auth: SheetsAuth) -> None:
        """Prove the API accepts the token, without access to any spreadsheet."""
        url = f"{self._base_url}/spreadsheets/{_PROBE_SPREADSHEET_ID}"
        try:
            await self._call(
                auth, "GET", url, operation="checking the token", params={"fields": "spreadsheetId"}
            )
        except ConnectorError as error:
            if error.kind != "SheetsNotFound":
                raise

    async def _as_lists(
        self,
        auth: SheetsAuth,
        spreadsheet_id: str,
        range_: str,
        rows: Sequence[Row],
        ignore_unknown: bool,
    ) -> list[list[Cell]]:
        if not any(isinstance(row, Mapping) for row in rows):
            return [list(row) for row in rows]  # type: ignore[arg-type]
        a1 = parse_a1(range_)
        header_row = await self.read_range(auth, spreadsheet_id, a1.first_row_range)
        header = _Header.from_row(header_row.values[0] if header_row.values else [], a1)
        if not header.names:
            raise ConnectorError(
                f"rows are given as objects but {a1.first_row_range!r}, the first row of "
                f"{range_!r}, holds no column names: write a header row there, point the "
                "range at it, or give rows as lists",
                retryable=False,
                kind="NoHeaderRow",
            )
        return [
            header.row(row, ignore_unknown) if isinstance(row, Mapping) else list(row)
            for row in rows
        ]

    def _values_url(self, spreadsheet_id: str, range_: str) -> str:
        # Encode everything: a sheet name may hold '/', '#', '?', ':' or quotes.
        return (
            f"{self._base_url}/spreadsheets/{quote(spreadsheet_id, safe='')}"
            f"/values/{quote(range_, safe='')}"
        )

    async def _call(
        self,
        auth: SheetsAuth,
        method: str,
        url: str,
        *,
        operation: str,
        params: Mapping[str, str],
        json: Any = None,
    ) -> dict[str, Any]:
        token = await auth.bearer()
        response = await self._send(method, url, token, params, json, operation)
        if response.status_code == 401 and auth.refused(token):
            token = await auth.bearer()
            response = await self._send(method, url, token, params, json, operation)
        if response.status_code >= 400:
            raise _api_error(operation, response, auth)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ConnectorError(
                f"Google Sheets, {operation}: expected a JSON object, got "
                f"{_snippet(response.text) or 'an empty body'}",
                retryable=False,
                kind="SheetsBadResponse",
            )
        return body

    async def _send(
        self,
        method: str,
        url: str,
        token: str,
        params: Mapping[str, str],
        json: Any,
        operation: str,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        try:
            return await self._http.request(method, url, params=params, json=json, headers=headers)
        except httpx.TransportError as error:
            raise ConnectorError(
                f"Google Sheets, {operation}: {type(error).__name__}: "
                f"{_snippet(str(error)) or 'no detail'}",
                retryable=True,
                kind="SheetsNetworkError",
            ) from error
        except httpx.HTTPError as error:
            raise ConnectorError(
                f"Google Sheets, {operation}: {type(error).__name__}: {_snippet(str(error))}",
                retryable=False,
                kind="SheetsRequestError",
            ) from error


_KINDS = {
    400: "SheetsBadRequest",
    401: "SheetsUnauthenticated",
    403: "SheetsPermissionDenied",
    404: "SheetsNotFound",
    429: "SheetsRateLimited",
}


def _api_error(operation: str, response: httpx.Response, auth: SheetsAuth) -> ConnectorError:
    """Google's `{"error": {"code", "message", "status"}}` as a clear `ConnectorError`."""
    status = response.status_code
    retryable = status in (408, 429) or status >= 500
    message = f"Google Sheets, {operation}: {status} {_google_error(response)}"
    if status in (403, 404):
        message += f" (is the spreadsheet shared with {auth.identity}?)"
    elif status == 401:
        message += f" ({auth.identity} was refused; check the credential)"
    return ConnectorError(
        message,
        retryable=retryable,
        retry_after=parse_retry_after(response.headers.get("retry-after")) if retryable else None,
        kind=_KINDS.get(status, "SheetsUnavailable" if status >= 500 else "SheetsRequestError"),
    )


def _google_error(response: httpx.Response) -> str:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return _snippet(response.text) or response.reason_phrase
    if isinstance(error, dict):
        status, message = error.get("status"), error.get("message")
        return " ".join(str(part) for part in (status, message) if part) or response.reason_phrase
    return _snippet(response.text) or response.reason_phrase


def _snippet(text: str) -> str:
    return one_line(text, _SNIPPET_CHARS)


# --- test connection --------------------------------------------------------------------


async def test_connection(
    kind: str,
    data: Mapping[str, Any],
    *,
    sheets_api_url: str = SHEETS_API_URL,
    token_url: str | None = None,
    allowed_hosts: Collection[str] = (),
    timeout_seconds: float = 30.0,
    spreadsheet_id: str | None = None,
    http: httpx.AsyncClient | None = None,
) -> str:
    """Prove a credential works with the cheapest real call, and say what was proven.

    A service account gets a token (the key is valid and Google knows the account); an
    OAuth token is shown to the Sheets API. With `spreadsheet_id`, also open that sheet.
    `http` is used as is when given; otherwise a guarded client is made and closed here.
    """
    client = http or guarded_http_client(allowed_hosts, timeout_seconds)
    try:
        tokens = ServiceAccountTokens(client)
        auth = auth_from_credential(kind, data, tokens, token_url)
        sheets = SheetsClient(client, sheets_api_url)
        if isinstance(auth, ServiceAccountAuth):
            await auth.bearer()
            proven = f"token obtained for {auth.identity}"
        else:
            await sheets.probe_token(auth)
            proven = "Google Sheets accepted the access token"
        if spreadsheet_id:
            title = await sheets.spreadsheet_title(auth, spreadsheet_id)
            proven += f"; spreadsheet {title!r} is readable"
        return proven
    finally:
        if http is None:
            await client.aclose()
