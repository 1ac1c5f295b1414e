"""Fixtures: a local server speaking Google's OAuth2 token endpoint and the Sheets v4 API.

    key_file = fake_sheets.service_account()          # a key pair made here; Google-style JSON
    fake_sheets.add_spreadsheet("abc", {"Sheet1": [["name", "age"], ["Ann", 31]]})
    ... point the client at fake_sheets.sheets_api_url ...
    assert fake_sheets.tokens_issued == 1

Token endpoint (`POST /token`): the JWT-bearer grant of service accounts. The assertion's
RS256 signature is verified with the account's public key and its `iss`, `scope`, `aud`
(this endpoint's URL), `iat` and `exp` are checked; refusals are Google's
`{"error", "error_description"}` bodies. Tokens expire after `token_lifetime` seconds.

Sheets (`/v4/spreadsheets/...`): `spreadsheets.get`, `values.get` and `values.append` on
in-memory spreadsheets. Requests need a live bearer token with a Sheets scope (401/403
otherwise), a known spreadsheet (404) shared with the caller (403). Ranges are A1 notation
(`Sheet1`, `Sheet1!A1:C10`, `'My Sheet'!A:B`, `A2:C`, `Sheet1!2:5`), decoded from the
percent-encoded path the way Google does; a sheet that does not exist is a 400 "Unable to
parse range". `values.get` trims trailing blank cells and rows and honours
`valueRenderOption` (FORMATTED_VALUE renders every cell as text) and `majorDimension`.
`values.append` finds the table in the range (the first run of non-blank rows), writes
after it from its first column, inserts rows (INSERT_ROWS) or overwrites (OVERWRITE), and
parses USER_ENTERED strings into numbers and booleans (RAW keeps them as text). Formulas
are stored as text, not evaluated. Errors are Google's `{"error": {"code", "message",
"status"}}`; `fail_next` scripts 429/5xx answers (with Retry-After) on either endpoint.
"""

import json
import re
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.threaded_http import ThreadedHttpServer

SPREADSHEETS_SCOPE = "https://www.googleapis.com/auth/spreadsheets"
READONLY_SCOPE = "https://www.googleapis.com/auth/spreadsheets.readonly"
DRIVE_SCOPE = "https://www.googleapis.com/auth/drive"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DEFAULT_ROWS, DEFAULT_COLUMNS = 1000, 26

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
_DEFAULT_MESSAGES = {
    429: "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per "
    "minute per user' of service 'sheets.googleapis.com' for consumer 'project_number:1'.",
    500: "Internal error encountered.",
    503: "The service is currently unavailable.",
}
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_CELLS = re.compile(r"^([A-Za-z]{0,3})(\d*)(?::([A-Za-z]{0,3})(\d*))?$")


class GoogleError(Exception):
    """Answered as Google's JSON error body."""

    def __init__(self, code: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        status = _STATUS_NAMES.get(self.code, "UNKNOWN")
        return {"error": {"code": self.code, "message": self.message, "status": status}}


class OAuthError(Exception):
    """Answered as an OAuth2 token-endpoint error body."""

    def __init__(self, error: str, description: str, code: int = 400) -> None:
        super().__init__(description)
        self.code = code
        self.body = {"error": error, "error_description": description}


@dataclass
class Recorded:
    method: str
    path: str
    """The raw (still percent-encoded) path."""
    query: dict[str, list[str]]
    headers: dict[str, str]
    """Lower-cased names."""
    body: bytes

    def form(self) -> dict[str, str]:
        return {key: values[0] for key, values in parse_qs(self.body.decode()).items()}

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _Account:
    email: str
    key_id: str
    public_key: Any


@dataclass
class _Token:
    identity: str
    scopes: frozenset[str]
    expires_at: float


@dataclass
class _Sheet:
    title: str
    sheet_id: int
    grid: list[list[Any]]
    rows: int = DEFAULT_ROWS
    columns: int = DEFAULT_COLUMNS

    def fit(self) -> None:
        self.rows = max(self.rows, len(self.grid))
        self.columns = max(self.columns, max((len(row) for row in self.grid), default=0))

    def cell(self, row: int, column: int) -> Any:
        if row < len(self.grid) and column < len(self.grid[row]):
            return self.grid[row][column]
        return None

    def put(self, row: int, column: int, value: Any) -> None:
        while len(self.grid) <= row:
            self.grid.append([])
        cells = self.grid[row]
        while len(cells) <= column:
            cells.append(None)
        cells[column] = value


@dataclass
class _Spreadsheet:
    spreadsheet_id: str
    title: str
    sheets: list[_Sheet]
    shared_with: frozenset[str] | None
    """Identities allowed in; None: anyone with a valid token."""


@dataclass
class _Failure:
    endpoint: Literal["sheets", "token"]
    status: int
    message: str | None
    headers: dict[str, str]
    remaining: int


@dataclass(frozen=True)
class _Bounds:
    sheet: _Sheet
    top: int
    left: int
    bottom: int | None
    """Inclusive, 0-based; None: to the sheet's end."""
    right: int | None


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    accounts: dict[str, _Account] = field(default_factory=dict)
    tokens: dict[str, _Token] = field(default_factory=dict)
    spreadsheets: dict[str, _Spreadsheet] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    assertions: list[dict[str, Any]] = field(default_factory=list)
    failures: list[_Failure] = field(default_factory=list)
    tokens_issued: int = 0
    token_lifetime: int = 3599


class FakeGoogleSheets:
    """Google's token endpoint and the Sheets v4 values API, on 127.0.0.1."""

    def __init__(self) -> None:
        self._state = _State()
        handler = type("Handler", (_Handler,), {"fake": self})
        self._http = ThreadedHttpServer(handler)
        self._private_keys: list[rsa.RSAPrivateKey] = []

    # --- lifecycle and addresses --------------------------------------------------------

    def start(self) -> "FakeGoogleSheets":
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    @property
    def base_url(self) -> str:
        return self._http.base_url

    @property
    def sheets_api_url(self) -> str:
        return f"{self.base_url}/v4"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/token"

    def reset(self) -> None:
        self._state = _State()

    # --- scripting ----------------------------------------------------------------------

    def service_account(
        self, email: str | None = None, *, registered: bool = True, token_uri: str | None = None
    ) -> dict[str, Any]:
        """A service account's JSON key file; only `registered` accounts get tokens."""
        email = email or f"robot-{secrets.token_hex(3)}@flowpilot-test.iam.gserviceaccount.com"
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key_id = secrets.token_hex(20)
        pem = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        if registered:
            with self._state.lock:
                self._state.accounts[email] = _Account(email, key_id, private_key.public_key())
        return {
            "type": "service_account",
            "project_id": "flowpilot-test",
            "private_key_id": key_id,
            "private_key": pem,
            "client_email": email,
            "client_id": str(secrets.randbelow(10**20)),
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri or self.token_url,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        }

    def oauth_token(
        self, identity: str = "someone@example.com", scopes: Sequence[str] = (SPREADSHEETS_SCOPE,)
    ) -> str:
        """A user's OAuth access token, as an OAuth consent flow would have produced."""
        with self._state.lock:
            return self._issue(identity, frozenset(scopes))

    def add_spreadsheet(
        self,
        spreadsheet_id: str,
        sheets: dict[str, list[list[Any]]],
        *,
        title: str = "Test spreadsheet",
        shared_with: Sequence[str] | None = None,
    ) -> None:
        made = [
            _Sheet(name, index, [list(row) for row in grid])
            for index, (name, grid) in enumerate(sheets.items())
        ]
        for sheet in made:
            sheet.fit()
        allowed = frozenset(shared_with) if shared_with is not None else None
        with self._state.lock:
            self._state.spreadsheets[spreadsheet_id] = _Spreadsheet(
                spreadsheet_id, title, made, allowed
            )

    def cells(self, spreadsheet_id: str, sheet: str) -> list[list[Any]]:
        """What a sheet holds (typed values), trailing blanks trimmed."""
        with self._state.lock:
            found = _sheet_named(self._state.spreadsheets[spreadsheet_id], sheet)
            return _trim([list(row) for row in found.grid])

    def fail_next(
        self,
        status: int,
        *,
        endpoint: Literal["sheets", "token"] = "sheets",
        times: int = 1,
        message: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next `times` requests to `endpoint` with `status`."""
        with self._state.lock:
            self._state.failures.append(_Failure(endpoint, status, message, headers or {}, times))

    def revoke_tokens(self) -> None:
        """Every token issued so far stops working (as after a key rotation)."""
        with self._state.lock:
            self._state.tokens.clear()

    def set_token_lifetime(self, seconds: int) -> None:
        with self._state.lock:
            self._state.token_lifetime = seconds

    @property
    def tokens_issued(self) -> int:
        with self._state.lock:
            return self._state.tokens_issued

    @property
    def assertions(self) -> list[dict[str, Any]]:
        """The verified claims of every accepted assertion."""
        with self._state.lock:
            return list(self._state.assertions)

    def requests(self, endpoint: Literal["sheets", "token"] = "sheets") -> list[Recorded]:
        with self._state.lock:
            recorded = list(self._state.requests)
        is_token = [request.path == "/token" for request in recorded]
        wanted = endpoint == "token"
        return [
            request for request, token in zip(recorded, is_token, strict=True) if token == wanted
        ]

    # --- serving (called on the server's threads) ---------------------------------------

    def handle(self, request: Recorded) -> tuple[int, Any, dict[str, str]]:
        with self._state.lock:
            self._state.requests.append(request)
            endpoint: Literal["sheets", "token"] = "token" if request.path == "/token" else "sheets"
            failure = self._scripted_failure(endpoint)
            if failure is not None:
                return failure
            try:
                if endpoint == "token":
                    return 200, self._grant(request), {}
                return 200, self._sheets(request), {}
            except OAuthError as error:
                return error.code, error.body, {}
            except GoogleError as error:
                return error.code, error.body(), error.headers

    def _scripted_failure(
        self, endpoint: Literal["sheets", "token"]
    ) -> tuple[int, Any, dict[str, str]] | None:
        for failure in self._state.failures:
            if failure.endpoint == endpoint and failure.remaining > 0:
                failure.remaining -= 1
                message = failure.message or _DEFAULT_MESSAGES.get(failure.status, "Failure.")
                if endpoint == "token":
                    return (
                        failure.status,
                        {"error": "internal_failure", "error_description": message},
                        failure.headers,
                    )
                return failure.status, GoogleError(failure.status, message).body(), failure.headers
        return None

    def _issue(self, identity: str, scopes: frozenset[str]) -> str:
        token = f"ya29.fake-{secrets.token_urlsafe(24)}"
        lifetime = self._state.token_lifetime
        self._state.tokens[token] = _Token(identity, scopes, time.time() + lifetime)
        return token

    # --- the token endpoint ---

    def _grant(self, request: Recorded) -> dict[str, Any]:
        if request.method != "POST":
            raise OAuthError("invalid_request", "Token requests must be POSTed.", 405)
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        if content_type != "application/x-www-form-urlencoded":
            raise OAuthError("invalid_request", "Content-Type must be x-www-form-urlencoded.")
        form = request.form()
        if form.get("grant_type") != JWT_BEARER:
            raise OAuthError(
                "unsupported_grant_type", f"Invalid grant_type: {form.get('grant_type', '')}"
            )
        claims = self._verified_claims(form.get("assertion", ""))
        scopes = frozenset(str(claims.get("scope", "")).split())
        if not scopes:
            raise OAuthError("invalid_scope", "Empty or missing scope not allowed.")
        self._state.assertions.append(claims)
        self._state.tokens_issued += 1
        token = self._issue(str(claims["iss"]), scopes)
        return {
            "access_token": token,
            "expires_in": self._state.token_lifetime,
            "token_type": "Bearer",
        }

    def _verified_claims(self, assertion: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(assertion)
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise OAuthError("invalid_grant", "Invalid JWT: malformed assertion.") from None
        account = self._state.accounts.get(str(unverified.get("iss")))
        if account is None:
            raise OAuthError("invalid_grant", "Invalid grant: account not found")
        if header.get("alg") != "RS256" or header.get("kid") not in (None, account.key_id):
            raise OAuthError("invalid_grant", "Invalid JWT Signature.")
        try:
            claims: dict[str, Any] = jwt.decode(
                assertion,
                account.public_key,
                algorithms=["RS256"],
                audience=self.token_url,
                options={"require": ["iss", "aud", "iat", "exp"]},
            )
        except jwt.InvalidSignatureError:
            raise OAuthError("invalid_grant", "Invalid JWT Signature.") from None
        except jwt.InvalidAudienceError:
            raise OAuthError("invalid_grant", "Invalid JWT audience.") from None
        except jwt.PyJWTError as error:
            raise OAuthError("invalid_grant", f"Invalid JWT: {error}") from None
        now = time.time()
        if not (claims["iat"] <= now + 60 and 0 < claims["exp"] - claims["iat"] <= 3600):
            raise OAuthError(
                "invalid_grant",
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
                "reasonable timeframe. Check your iat and exp values in the JWT claim.",
            )
        return claims

    # --- the Sheets API ---

    def _sheets(self, request: Recorded) -> dict[str, Any]:
        parts = request.path.split("/")
        if len(parts) < 4 or parts[:3] != ["", "v4", "spreadsheets"] or len(parts) not in (4, 6):
            raise GoogleError(
                404, f"The requested URL {request.path} was not found on this server."
            )
        token = self._caller(request)
        spreadsheet = self._spreadsheet(unquote(parts[3]), token, write=request.method == "POST")
        if len(parts) == 4 and request.method == "GET":
            return _spreadsheet_resource(spreadsheet)
        if parts[4] != "values":
            raise GoogleError(
                404, f"The requested URL {request.path} was not found on this server."
            )
        if request.method == "GET":
            return _values_get(spreadsheet, unquote(parts[5]), request.query)
        if request.method == "POST" and parts[5].endswith(":append"):
            return _values_append(spreadsheet, unquote(parts[5][: -len(":append")]), request)
        raise GoogleError(404, f"The requested URL {request.path} was not found on this server.")

    def _caller(self, request: Recorded) -> _Token:
        authorization = request.headers.get("authorization", "")
        challenge = {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'}
        if not authorization.startswith("Bearer "):
            raise GoogleError(
                401,
                "Request is missing required authentication credential. Expected OAuth 2 "
                "access token, login cookie or other valid authentication credential.",
                challenge,
            )
        token = self._state.tokens.get(authorization.removeprefix("Bearer "))
        if token is None or token.expires_at <= time.time():
            raise GoogleError(
                401,
                "Request had invalid authentication credentials. Expected OAuth 2 access "
                "token, login cookie or other valid authentication credential.",
                {
                    **challenge,
                    "WWW-Authenticate": challenge["WWW-Authenticate"] + ', error="invalid_token"',
                },
            )
        return token

    def _spreadsheet(self, spreadsheet_id: str, token: _Token, *, write: bool) -> _Spreadsheet:
        allowed = {SPREADSHEETS_SCOPE, DRIVE_SCOPE} | (set() if write else {READONLY_SCOPE})
        if not token.scopes & allowed:
            raise GoogleError(403, "Request had insufficient authentication scopes.")
        spreadsheet = self._state.spreadsheets.get(spreadsheet_id)
        if spreadsheet is None:
            raise GoogleError(404, "Requested entity was not found.")
        if spreadsheet.shared_with is not None and token.identity not in spreadsheet.shared_with:
            raise GoogleError(403, "The caller does not have permission")
        return spreadsheet


# --- Sheets semantics (pure; called under the lock) -------------------------------------


def _spreadsheet_resource(spreadsheet: _Spreadsheet) -> dict[str, Any]:
    return {
        "spreadsheetId": spreadsheet.spreadsheet_id,
        "properties": {"title": spreadsheet.title, "locale": "en_US", "timeZone": "Etc/GMT"},
        "sheets": [
            {
                "properties": {
                    "sheetId": sheet.sheet_id,
                    "title": sheet.title,
                    "index": sheet.sheet_id,
                    "sheetType": "GRID",
                    "gridProperties": {"rowCount": sheet.rows, "columnCount": sheet.columns},
                }
            }
            for sheet in spreadsheet.sheets
        ],
    }


def _values_get(
    spreadsheet: _Spreadsheet, range_: str, query: dict[str, list[str]]
) -> dict[str, Any]:
    render = _option(
        query,
        "valueRenderOption",
        "FORMATTED_VALUE",
        ("FORMATTED_VALUE", "UNFORMATTED_VALUE", "FORMULA"),
    )
    dimension = _option(query, "majorDimension", "ROWS", ("ROWS", "COLUMNS"))
    bounds = _parse_range(spreadsheet, range_)
    sheet = bounds.sheet
    bottom = bounds.bottom if bounds.bottom is not None else sheet.rows - 1
    right = bounds.right if bounds.right is not None else sheet.columns - 1
    block = [
        [_render(sheet.cell(row, column), render) for column in range(bounds.left, right + 1)]
        for row in range(bounds.top, min(bottom, len(sheet.grid) - 1) + 1)
    ]
    if dimension == "COLUMNS":
        width = max((len(row) for row in block), default=0)
        block = [[row[column] for row in block] for column in range(width)]
    answer: dict[str, Any] = {
        "range": _a1(sheet, bounds.top, bounds.left, bottom, right),
        "majorDimension": dimension,
    }
    values = _trim(block)
    if values:
        answer["values"] = values
    return answer


def _values_append(spreadsheet: _Spreadsheet, range_: str, request: Recorded) -> dict[str, Any]:
    input_option = request.query.get("valueInputOption", [None])[0]
    if input_option is None:
        raise GoogleError(400, "'valueInputOption' is required but not specified")
    if input_option not in ("RAW", "USER_ENTERED"):
        raise GoogleError(400, f"Invalid value at 'value_input_option' ({input_option})")
    insert = _option(request.query, "insertDataOption", "OVERWRITE", ("OVERWRITE", "INSERT_ROWS"))
    try:
        payload = request.json()
    except ValueError:
        raise GoogleError(400, "Invalid JSON payload received.") from None
    values = payload.get("values") if isinstance(payload, dict) else None
    if not isinstance(values, list) or not all(isinstance(row, list) for row in values):
        raise GoogleError(400, "Invalid JSON payload received. 'values' must be a list of lists.")
    if payload.get("majorDimension", "ROWS") == "COLUMNS":
        width = max((len(column) for column in values), default=0)
        values = [
            [column[i] if i < len(column) else None for column in values] for i in range(width)
        ]
    bounds = _parse_range(spreadsheet, range_)
    sheet = bounds.sheet
    table = _find_table(bounds)
    if table is None:
        start_row, start_column = bounds.top, bounds.left
    else:
        start_row, start_column = table[2] + 1, table[1]
    if insert == "INSERT_ROWS":
        sheet.grid[start_row:start_row] = [[] for _ in values]
        sheet.rows += len(values)
    for offset, row in enumerate(values):
        for column, value in enumerate(row):
            sheet.put(start_row + offset, start_column + column, _entered(value, input_option))
    sheet.fit()
    width = max((len(row) for row in values), default=0)
    updates = {
        "spreadsheetId": spreadsheet.spreadsheet_id,
        "updatedRange": _a1(
            sheet,
            start_row,
            start_column,
            start_row + len(values) - 1,
            start_column + max(width, 1) - 1,
        ),
        "updatedRows": len(values),
        "updatedColumns": width,
        "updatedCells": sum(len(row) for row in values),
    }
    answer: dict[str, Any] = {"spreadsheetId": spreadsheet.spreadsheet_id, "updates": updates}
    if table is not None:
        answer["tableRange"] = _a1(sheet, *table)
    return answer


def _find_table(bounds: _Bounds) -> tuple[int, int, int, int] | None:
    """(top, left, bottom, right) of the first run of non-blank rows inside `bounds`."""
    sheet = bounds.sheet
    last_row = (
        len(sheet.grid) - 1 if bounds.bottom is None else min(bounds.bottom, len(sheet.grid) - 1)
    )

    def filled(row: int) -> list[int]:
        right = len(sheet.grid[row]) - 1 if bounds.right is None else bounds.right
        return [c for c in range(bounds.left, right + 1) if not _blank(sheet.cell(row, c))]

    row = bounds.top
    while row <= last_row and not filled(row):
        row += 1
    if row > last_row:
        return None
    top, columns = row, []
    while row <= last_row and (cells := filled(row)):
        columns.extend(cells)
        row += 1
    return top, min(columns), row - 1, max(columns)


def _parse_range(spreadsheet: _Spreadsheet, text: str) -> _Bounds:
    unparsable = GoogleError(400, f"Unable to parse range: {text}")
    if text.startswith("'"):
        name, index = [], 1
        while index < len(text):
            if text[index] == "'":
                if text[index + 1 : index + 2] == "'":
                    name.append("'")
                    index += 2
                    continue
                break
            name.append(text[index])
            index += 1
        else:
            raise unparsable
        rest = text[index + 1 :]
        if rest and not rest.startswith("!"):
            raise unparsable
        sheet_name, cells = "".join(name), rest[1:]
    elif "!" in text:
        sheet_name, cells = text.split("!", 1)
    elif _CELLS.match(text) and any(c.isdigit() or c == ":" for c in text):
        sheet_name, cells = spreadsheet.sheets[0].title, text
    else:
        sheet_name, cells = text, ""
    try:
        sheet = _sheet_named(spreadsheet, sheet_name)
    except KeyError:
        raise unparsable from None
    match = _CELLS.match(cells)
    if match is None:
        raise unparsable
    start_col, start_row, end_col, end_row = match.groups()
    if ":" not in cells:
        end_col, end_row = start_col, start_row
    return _Bounds(
        sheet=sheet,
        top=int(start_row) - 1 if start_row else 0,
        left=_column(start_col) if start_col else 0,
        bottom=int(end_row) - 1 if end_row else None,
        right=_column(end_col) if end_col else None,
    )


def _sheet_named(spreadsheet: _Spreadsheet, name: str) -> _Sheet:
    for sheet in spreadsheet.sheets:
        if sheet.title == name:
            return sheet
    for sheet in spreadsheet.sheets:
        if sheet.title.lower() == name.lower():
            return sheet
    raise KeyError(name)


def _column(letters: str) -> int:
    index = 0
    for letter in letters.upper():
        index = index * 26 + ord(letter) - 64
    return index - 1


def _letters(column: int) -> str:
    letters = ""
    column += 1
    while column:
        column, remainder = divmod(column - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _a1(sheet: _Sheet, top: int, left: int, bottom: int, right: int) -> str:
    name = sheet.title
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or re.fullmatch(r"[A-Za-z]{1,3}\d+", name):
        name = "'" + name.replace("'", "''") + "'"
    return f"{name}!{_letters(left)}{top + 1}:{_letters(right)}{bottom + 1}"


def _option(query: dict[str, list[str]], name: str, default: str, allowed: Sequence[str]) -> str:
    value = query.get(name, [default])[0]
    if value not in allowed:
        raise GoogleError(400, f"Invalid value at '{name}' ({value})")
    return value


def _entered(value: Any, input_option: str) -> Any:
    """A cell as stored: USER_ENTERED text is parsed the way typing it in the UI would be."""
    if input_option == "RAW" or not isinstance(value, str):
        return value
    if value.startswith("'"):
        return value[1:]
    if _NUMBER.match(value):
        number = float(value)
        return int(number) if number.is_integer() and not re.search(r"[.eE]", value) else number
    if value.upper() in ("TRUE", "FALSE"):
        return value.upper() == "TRUE"
    return value


def _render(value: Any, option: str) -> Any:
    if _blank(value):
        return ""
    if option != "FORMATTED_VALUE":
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _blank(value: Any) -> bool:
    return value is None or value == ""


def _trim(rows: list[list[Any]]) -> list[list[Any]]:
    trimmed = []
    for row in rows:
        cells = list(row)
        while cells and _blank(cells[-1]):
            cells.pop()
        trimmed.append(["" if cell is None else cell for cell in cells])
    while trimmed and not trimmed[-1]:
        trimmed.pop()
    return trimmed


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeGoogleSheets

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        request = Recorded(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=self.rfile.read(length),
        )
        status, body, headers = self.fake.handle(request)
        content = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(content)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_POST = do_PUT = do_DELETE = _handle


@pytest.fixture(scope="session")
def fake_sheets_server() -> Iterator[FakeGoogleSheets]:
    server = FakeGoogleSheets().start()
    yield server
    server.stop()


@pytest.fixture
def fake_sheets(fake_sheets_server: FakeGoogleSheets) -> FakeGoogleSheets:
    """The session's fake Google, emptied: no accounts, tokens, spreadsheets or requests."""
    fake_sheets_server.reset()
    return fake_sheets_server
