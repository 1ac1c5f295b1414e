"""The Google Sheets connector, its activities and a real run, against a local fake Google.

The fake (tests/support/fake_sheets.py) speaks Google's OAuth2 token endpoint, verifying
each JWT assertion's RS256 signature with the public half of a key pair made for the
test, and the Sheets v4 values API on in-memory spreadsheets.
"""

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlmodel import SQLModel
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.credentials import CredentialStore
from activities.sheets import SheetsActivities
from connectors import sheets as sheets_connector
from connectors.errors import ConnectorError
from connectors.google_auth import REFRESH_MARGIN_SECONDS, ServiceAccountKey, ServiceAccountTokens
from connectors.sheets import (
    ServiceAccountAuth,
    SheetsClient,
    StaticTokenAuth,
    guarded_http_client,
    parse_a1,
)
from core.config import Settings
from core.credential_kinds import plain_data, validate_credential
from core.crypto import associated_data, cipher_for
from core.db import create_engine, session_factory
from core.models import Credential, User
from tests.support.api import sign_up
from tests.support.fake_sheets import READONLY_SCOPE, FakeGoogleSheets
from tests.support.runs import eventually
from workflows.contract import NodeInput
from workflows.definition import DefinitionError, validate_definition
from workflows.nodes.sheets import SheetsReadRangeParams

SHEET_ID = "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PEOPLE = [["name", "age", "email"], ["Ann", 31, "ann@example.com"], ["Bob", 42, "bob@example.com"]]


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with guarded_http_client(["127.0.0.1"], 30.0) as client:
        yield client


@pytest.fixture
def tokens(http: httpx.AsyncClient) -> ServiceAccountTokens:
    return ServiceAccountTokens(http)


@pytest.fixture
def client(http: httpx.AsyncClient, fake_sheets: FakeGoogleSheets) -> SheetsClient:
    return SheetsClient(http, fake_sheets.sheets_api_url)


@pytest.fixture
def robot(fake_sheets: FakeGoogleSheets, tokens: ServiceAccountTokens) -> ServiceAccountAuth:
    """A registered service account with access to every spreadsheet of the fake."""
    return ServiceAccountAuth(ServiceAccountKey.parse(fake_sheets.service_account()), tokens)


@pytest.fixture
def people(fake_sheets: FakeGoogleSheets) -> None:
    fake_sheets.add_spreadsheet(SHEET_ID, {"Sheet1": [list(row) for row in PEOPLE]})


async def refusal(call: Awaitable[Any]) -> ConnectorError:
    with pytest.raises(ConnectorError) as caught:
        await call
    return caught.value


def bearer_tokens(fake: FakeGoogleSheets) -> list[str]:
    return [r.headers["authorization"].removeprefix("Bearer ") for r in fake.requests()]


# --- the service-account token exchange -------------------------------------------------


@pytest.mark.usefixtures("people")
async def test_a_service_account_signs_a_jwt_and_its_token_is_reused(
    fake_sheets: FakeGoogleSheets, client: SheetsClient, robot: ServiceAccountAuth
) -> None:
    await client.read_range(robot, SHEET_ID, "Sheet1")
    await client.read_range(robot, SHEET_ID, "Sheet1!A1:B2")

    assert fake_sheets.tokens_issued == 1
    [grant] = fake_sheets.requests("token")
    assert grant.headers["content-type"] == "application/x-www-form-urlencoded"
    assert grant.form()["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    [claims] = fake_sheets.assertions
    assert claims["iss"] == robot.identity.removeprefix("service account ")
    assert claims["scope"] == "https://www.googleapis.com/auth/spreadsheets"
    assert claims["aud"] == fake_sheets.token_url
    assert claims["exp"] - claims["iat"] == 3600
    first, second = bearer_tokens(fake_sheets)
    assert first == second and first.startswith("ya29.")


@pytest.mark.usefixtures("people")
async def test_a_token_close_to_expiry_is_replaced_before_use(
    fake_sheets: FakeGoogleSheets, http: httpx.AsyncClient, client: SheetsClient
) -> None:
    now = [1000.0]
    tokens = ServiceAccountTokens(http, clock=lambda: now[0])
    auth = ServiceAccountAuth(ServiceAccountKey.parse(fake_sheets.service_account()), tokens)
    await client.read_range(auth, SHEET_ID, "Sheet1")

    now[0] += 3599 - REFRESH_MARGIN_SECONDS - 5
    await client.read_range(auth, SHEET_ID, "Sheet1")
    assert fake_sheets.tokens_issued == 1

    now[0] += 10
    await client.read_range(auth, SHEET_ID, "Sheet1")
    assert fake_sheets.tokens_issued == 2
    tokens_used = bearer_tokens(fake_sheets)
    assert tokens_used[0] == tokens_used[1] != tokens_used[2]


@pytest.mark.usefixtures("people")
async def test_a_refused_cached_token_is_dropped_and_the_call_made_once_more(
    fake_sheets: FakeGoogleSheets, client: SheetsClient, robot: ServiceAccountAuth
) -> None:
    await client.read_range(robot, SHEET_ID, "Sheet1")
    fake_sheets.revoke_tokens()

    read = await client.read_range(robot, SHEET_ID, "Sheet1!A2:A2")

    assert read.values == [["Ann"]]
    assert fake_sheets.tokens_issued == 2
    assert len(fake_sheets.requests()) == 3
    used = bearer_tokens(fake_sheets)
    assert used[0] == used[1] != used[2]


@pytest.mark.usefixtures("people")
async def test_a_token_refused_twice_fails_without_retry(
    fake_sheets: FakeGoogleSheets, client: SheetsClient, robot: ServiceAccountAuth
) -> None:
    fake_sheets.fail_next(401, times=2, message="Request had invalid authentication credentials.")

    error = await refusal(client.read_range(robot, SHEET_ID, "Sheet1"))

    assert error.kind == "SheetsUnauthenticated" and not error.retryable
    assert "401 UNAUTHENTICATED Request had invalid authentication credentials." in error.message
    assert robot.identity in error.message
    assert len(fake_sheets.requests()) == 2
    assert fake_sheets.tokens_issued == 2


@pytest.mark.usefixtures("people")
async def test_a_key_google_cannot_verify_is_refused_without_retry(
    fake_sheets: FakeGoogleSheets, client: SheetsClient, tokens: ServiceAccountTokens
) -> None:
    genuine = fake_sheets.service_account()
    other = fake_sheets.service_account(registered=False)
    forged = {**other, "client_email": genuine["client_email"]}
    auth = ServiceAccountAuth(ServiceAccountKey.parse(forged), tokens)

    error = await refusal(client.read_range(auth, SHEET_ID, "Sheet1"))

    assert error.kind == "GoogleTokenError" and not error.retryable
    assert "invalid_grant: Invalid JWT Signature." in error.message
    assert genuine["client_email"] in error.message
    assert "PRIVATE KEY" not in error.message
    assert fake_sheets.requests() == []


async def test_an_unknown_service_account_is_refused(
    fake_sheets: FakeGoogleSheets, client: SheetsClient, tokens: ServiceAccountTokens
) -> None:
    key = ServiceAccountKey.parse(fake_sheets.service_account(registered=False))

    error = await refusal(client.read_range(ServiceAccountAuth(key, tokens), SHEET_ID, "Sheet1"))

    assert "invalid_grant: Invalid grant: account not found" in error.message
    assert not error.retryable


@pytest.mark.usefixtures("people")
async def test_credentials_claiming_the_same_account_never_share_a_cached_token(
    fake_sheets: FakeGoogleSheets, client: SheetsClient, tokens: ServiceAccountTokens
) -> None:
    genuine = fake_sheets.service_account()
    forged = {
        **fake_sheets.service_account(registered=False),
        "client_email": genuine["client_email"],
    }
    await client.read_range(
        ServiceAccountAuth(ServiceAccountKey.parse(genuine), tokens), SHEET_ID, "Sheet1"
    )

    error = await refusal(
        client.read_range(
            ServiceAccountAuth(ServiceAccountKey.parse(forged), tokens), SHEET_ID, "Sheet1"
        )
    )

    assert "Invalid JWT Signature." in error.message
    assert len(fake_sheets.requests()) == 1


@pytest.mark.usefixtures("people")
async def test_a_token_endpoint_outage_is_retryable_after_the_delay_google_asks(
    fake_sheets: FakeGoogleSheets, client: SheetsClient, robot: ServiceAccountAuth
) -> None:
    fake_sheets.fail_next(503, endpoint="token", headers={"Retry-After": "12"})

    error = await refusal(client.read_range(robot, SHEET_ID, "Sheet1"))

    assert error.kind == "GoogleTokenError" and error.retryable
    assert error.retry_after == 12.0
    assert (await client.read_range(robot, SHEET_ID, "Sheet1")).values == PEOPLE_AS_TEXT


@pytest.mark.usefixtures("people")
async def test_the_configured_token_url_overrides_the_key_files_token_uri(
    fake_sheets: FakeGoogleSheets, client: SheetsClient, tokens: ServiceAccountTokens
) -> None:
    key_file = fake_sheets.service_account(token_uri="https://oauth2.googleapis.com/token")
    auth = ServiceAccountAuth(ServiceAccountKey.parse(key_file), tokens, fake_sheets.token_url)

    await client.read_range(auth, SHEET_ID, "Sheet1")

    assert [claims["aud"] for claims in fake_sheets.assertions] == [fake_sheets.token_url]


def test_a_malformed_key_file_fails_naming_the_field_not_the_secret() -> None:
    with pytest.raises(ConnectorError) as missing:
        ServiceAccountKey.parse('{"type": "service_account", "private_key": "s3cret"}')
    assert "client_email" in missing.value.message and "s3cret" not in missing.value.message
    assert missing.value.kind == "InvalidServiceAccountKey" and not missing.value.retryable
    with pytest.raises(ConnectorError) as not_json:
        ServiceAccountKey.parse("{not json")
    assert "not valid JSON" in not_json.value.message


@pytest.mark.usefixtures("people")
async def test_a_private_key_that_is_not_pem_fails_without_echoing_it(
    fake_sheets: FakeGoogleSheets, client: SheetsClient, tokens: ServiceAccountTokens
) -> None:
    broken = {
        **fake_sheets.service_account(),
        "private_key": "-----BEGIN PRIVATE KEY-----\nzz9-canary\n",
    }
    auth = ServiceAccountAuth(ServiceAccountKey.parse(broken), tokens)

    error = await refusal(client.read_range(auth, SHEET_ID, "Sheet1"))

    assert error.kind == "InvalidServiceAccountKey" and not error.retryable
    assert "zz9-canary" not in error.message and "zz9-canary" not in repr(auth)
    assert fake_sheets.tokens_issued == 0


# --- values.get -------------------------------------------------------------------------

PEOPLE_AS_TEXT = [[str(cell) for cell in row] for row in PEOPLE]


@pytest.mark.usefixtures("people")
async def test_reading_a_whole_sheet_returns_its_cells_as_google_formats_them(
    fake_sheets: FakeGoogleSheets, client: SheetsClient, robot: ServiceAccountAuth
) -> None:
    read = await client.read_range(robot, SHEET_ID, "Sheet1")

    assert read.range == "Sheet1!A1:Z1000"
    assert read.major_dimension == "ROWS"
    assert read.values == PEOPLE_AS_TEXT
    [request] = fake_sheets.requests()
    assert request.query["valueRenderOption"] == ["FORMATTED_VALUE"]
    assert request.query["majorDimension"] == ["ROWS"]


@pytest.mark.usefixtures("people")
async def test_unformatted_values_keep_numbers_and_columns_can_lead(
    client: SheetsClient, robot: ServiceAccountAuth
) -> None:
    typed = await client.read_range(
        robot, SHEET_ID, "Sheet1!A2:B3", value_render_option="UNFORMATTED_VALUE"
    )
    by_column = await client.read_range(robot, SHEET_ID, "Sheet1!A1:B3", major_dimension="COLUMNS")

    assert typed.values == [["Ann", 31], ["Bob", 42]]
    assert by_column.major_dimension == "COLUMNS"
    assert by_column.values == [["name", "Ann", "Bob"], ["age", "31", "42"]]


async def test_a_quoted_sheet_name_with_a_column_range_reads_only_those_columns(
    fake_sheets: FakeGoogleSheets, client: SheetsClient, robot: ServiceAccountAuth
) -> None:
    fake_sheets.add_spreadsheet(SHEET_ID, {"Sheet1": [], "My Sheet": [list(r) for r in PEOPLE]})

    read = await client.read_range(robot, SHEET_ID, "'My Sheet'!A:B")

    assert read.range == "'My Sheet'!A1:B1000"
    assert read.values == [["name", "age"], ["Ann", "31"], ["Bob", "42"]]


async def test_an_empty_range_reads_as_no_values(
    fake_sheets: FakeGoogleSheets, client: SheetsClient, robot: ServiceAccountAuth
) -> None:
    fake_sheets.add_spreadsheet(SHEET_ID, {"Sheet1": [["a"], [], [], ["far below"]]})

    assert (await client.read_range(robot, SHEET_ID, "Sheet1!B1:C3")).values == []
    assert (await client.read_range(robot, SHEET_ID, "Sheet1!A1:A4")).values == [
        ["a"],
        [],
        [],
        ["far below"],
    ]


async def test_sheet_names_with_reserved_characters_are_percent_encoded(
    fake_sheets: FakeGoogleSheets, client: SheetsClient, robot: ServiceAccountAuth
) -> None:
    name = "Q1/Q2 #1? Bob's: costs"
    fake_sheets.add_spreadsheet(SHEET_ID, {name: [["item", "cost"], ["tea", 3]]})
    quoted = "'Q1/Q2 #1? Bob''s: costs'"

    read = await client.read_range(robot, SHEET_ID, f"{quoted}!A:B")
    appended = await client.append_rows(
        robot, SHEET_ID, f"{quoted}!A:B", [{"cost": 5, "item": "milk"}]
    )

    assert read.values == [["item", "cost"], ["tea", "3"]]
    assert appended.updated_range == f"{quoted}!A3:B3"
    assert fake_sheets.cells(SHEET_ID, name)[-1] == ["milk", 5]
    raw = fake_sheets.requests()[0].path
    assert raw.endswith("/values/%27Q1%2FQ2%20%231%3F%20Bob%27%27s%3A%20costs%27%21A%3AB")


# --- values.append ----------------------------------------------------------------------


@pytest.mark.usefixtures("people")
async def test_list_rows_are_appended_after_the_table_as_if_typed(
    fake_sheets: FakeGoogleSheets, client: SheetsClient, robot: ServiceAccountAuth
) -> None:
    result = await client.append_rows(
        robot, SHEET_ID, "Sheet1", [["Cy", "27", "cy@example.com"], ["Di", 35, None]]
    )

    assert result.table_range == "Sheet1!A1:C3"
    assert result.updated_range == "Sheet1!A4:C5"
    assert (result.updated_rows, result.updated_columns, result.updated_cells) == (2, 3, 6)
    assert fake_sheets.cells(SHEET_ID, "Sheet1")[3:] == [["Cy", 27, "cy@example.com"], ["Di", 35]]
    [append] = fake_sheets.requests()
    assert append.method == "POST" and append.path.endswith("/values/Sheet1:append")
    assert append.query["valueInputOption"] == ["USER_ENTERED"]
    assert append.query["insertDataOption"] == ["INSERT_ROWS"]
    assert append.json()["values"][0] == ["Cy", "27", "cy@example.com"]


@pytest.mark.usefixtures("people")
async def test_raw_input_keeps_text_that_looks_like_a_number(
    fake_sheets: FakeGoogleSheets, client: SheetsClient, robot: ServiceAccountAuth
) -> None:
    await client.append_rows(robot, SHEET_ID, "Sheet1", [["Cy", "0027"]], value_input_option="RAW")

    assert fake_sheets.cells(SHEET_ID, "Sheet1")[-1] == ["Cy", "0027"]


async def test_inserting_rows_pushes_content_below_the_table_down_and_overwrite_does_not(
    fake_sheets: FakeGoogleSheets, client: SheetsClient, robot: ServiceAccountAuth
) -> None:
    grid = [["name"], ["Ann"], [], ["notes"]]
    fake_sheets.add_spreadsheet(SHEET_ID, {"Inserted": list(grid), "Overwritten": list(grid)})

    await client.append_rows(robot, SHEET_ID, "Inserted", [["Bob"]])
    await client.append_rows(
        robot, SHEET_ID, "Overwritten", [["Bob"]], insert_data_option="OVERWRITE"
    )

    assert fake_sheets.cells(SHEET_ID, "Inserted") == [["name"], ["Ann"], ["Bob"], [], ["notes"]]
    assert fake_sheets.cells(SHEET_ID, "Overwritten") == [["name"], ["Ann"], ["Bob"], ["notes"]]


@pytest.mark.usefixtures("people")
async def test_object_rows_are_placed_by_the_header_row_read_first(
    fake_sheets: FakeGoogleSheets, client: SheetsClient, robot: ServiceAccountAuth
) -> None:
    result = await client.append_rows(
        robot,
        SHEET_ID,
        "Sheet1!A:C",
        [{"email": "cy@example.com", "name": "Cy"}, ["Di", 35, "di@example.com"], {"age": 50}],
    )

    assert result.updated_range == "Sheet1!A4:C6"
    assert fake_sheets.cells(SHEET_ID, "Sheet1")[3:] == [
        ["Cy", "", "cy@example.com"],
        ["Di", 35, "di@example.com"],
        ["", 50],
    ]
    header_read, append = fake_sheets.requests()
    assert header_read.method == "GET" and header_read.path.endswith("/values/Sheet1%211%3A1")
    assert append.json()["values"][0] == ["Cy", "", "cy@example.com"]


async def test_a_table_below_and_right_of_a1_maps_objects_from_the_ranges_first_row(
    fake_sheets: FakeGoogleSheets, client: SheetsClient, robot: ServiceAccountAuth
) -> None:
    grid = [["Report"], [], ["", "sku", "qty"], ["", "A-1", 4]]
    fake_sheets.add_spreadsheet(SHEET_ID, {"Stock 2024": grid})

    result = await client.append_rows(
        robot, SHEET_ID, "'Stock 2024'!B3:C", [{"qty": 7, "sku": "B-2"}]
    )

    assert result.table_range == "'Stock 2024'!B3:C4"
    assert result.updated_range == "'Stock 2024'!B5:C5"
    assert fake_sheets.cells(SHEET_ID, "Stock 2024")[4] == ["", "B-2", 7]
    assert fake_sheets.requests()[0].path.endswith("/values/%27Stock%202024%27%213%3A3")


@pytest.mark.usefixtures("people")
async def test_an_object_key_naming_no_column_fails_before_anything_is_written(
    fake_sheets: FakeGoogleSheets, client: SheetsClient, robot: ServiceAccountAuth
) -> None:
    error = await refusal(
        client.append_rows(robot, SHEET_ID, "Sheet1", [{"name": "Cy", "phone": "555"}])
    )

    assert error.kind == "UnknownColumn" and not error.retryable
    assert "'phone'" in error.message and "'name', 'age', 'email'" in error.message
    assert [request.method for request in fake_sheets.requests()] == ["GET"]
    assert fake_sheets.cells(SHEET_ID, "Sheet1") == PEOPLE


@pytest.mark.usefixtures("people")
async def test_unknown_object_keys_can_be_ignored(
    fake_sheets: FakeGoogleSheets, client: SheetsClient, robot: ServiceAccountAuth
) -> None:
    await client.append_rows(
        robot, SHEET_ID, "Sheet1", [{"name": "Cy", "phone": "555"}], ignore_unknown_columns=True
    )

    assert fake_sheets.cells(SHEET_ID, "Sheet1")[-1] == ["Cy"]


async def test_object_rows_need_a_header_row(
    fake_sheets: FakeGoogleSheets, client: SheetsClient, robot: ServiceAccountAuth
) -> None:
    fake_sheets.add_spreadsheet(SHEET_ID, {"Sheet1": []})

    error = await refusal(client.append_rows(robot, SHEET_ID, "Sheet1", [{"name": "Cy"}]))

    assert error.kind == "NoHeaderRow" and not error.retryable
    assert "'Sheet1!1:1'" in error.message


def test_a1_ranges_are_parsed_for_header_mapping() -> None:
    assert parse_a1("Sheet1").first_row_range == "Sheet1!1:1"
    assert parse_a1("'It''s'!C5:F").first_row_range == "'It''s'!5:5"
    assert parse_a1("B2:D9") == parse_a1("B2:D9")
    assert (parse_a1("B2:D9").first_column, parse_a1("B2:D9").last_column) == (1, 3)
    assert parse_a1("AA1").first_column == 26
    assert parse_a1("A:B").first_row_range == "1:1"
    with pytest.raises(ConnectorError, match="not closed"):
        parse_a1("'Broken!A1")


# --- errors from the Sheets API ---------------------------------------------------------


async def test_a_missing_spreadsheet_is_not_found_and_not_retried(
    fake_sheets: FakeGoogleSheets, client: SheetsClient, robot: ServiceAccountAuth
) -> None:
    error = await refusal(client.read_range(robot, "nope", "Sheet1"))

    assert error.kind == "SheetsNotFound" and not error.retryable
    assert "404 NOT_FOUND Requested entity was not found." in error.message
    assert f"shared with {robot.identity}" in error.message


async def test_a_spreadsheet_not_shared_with_the_account_is_permission_denied(
    fake_sheets: FakeGoogleSheets, client: SheetsClient, robot: ServiceAccountAuth
) -> None:
    fake_sheets.add_spreadsheet(SHEET_ID, {"Sheet1": PEOPLE}, shared_with=["someone@example.com"])

    error = await refusal(client.read_range(robot, SHEET_ID, "Sheet1"))

    assert error.kind == "SheetsPermissionDenied" and not error.retryable
    assert "403 PERMISSION_DENIED The caller does not have permission" in error.message


@pytest.mark.usefixtures("people")
async def test_a_range_naming_no_sheet_is_a_bad_request(
    client: SheetsClient, robot: ServiceAccountAuth
) -> None:
    error = await refusal(client.read_range(robot, SHEET_ID, "Nope!A1:B2"))

    assert error.kind == "SheetsBadRequest" and not error.retryable
    assert "Unable to parse range: Nope!A1:B2" in error.message


@pytest.mark.usefixtures("people")
async def test_quota_exhaustion_is_retryable_after_googles_delay(
    fake_sheets: FakeGoogleSheets, client: SheetsClient, robot: ServiceAccountAuth
) -> None:
    fake_sheets.fail_next(429, headers={"Retry-After": "7"})

    error = await refusal(client.append_rows(robot, SHEET_ID, "Sheet1", [["Cy"]]))

    assert error.kind == "SheetsRateLimited" and error.retryable
    assert error.retry_after == 7.0
    assert "429 RESOURCE_EXHAUSTED Quota exceeded" in error.message
    assert fake_sheets.cells(SHEET_ID, "Sheet1") == PEOPLE


@pytest.mark.usefixtures("people")
async def test_a_google_outage_is_retryable(
    fake_sheets: FakeGoogleSheets, client: SheetsClient, robot: ServiceAccountAuth
) -> None:
    fake_sheets.fail_next(503)

    error = await refusal(client.read_range(robot, SHEET_ID, "Sheet1"))

    assert error.kind == "SheetsUnavailable" and error.retryable
    assert error.retry_after is None
    assert "503 UNAVAILABLE The service is currently unavailable." in error.message


async def test_an_unreachable_service_is_a_retryable_network_error(
    http: httpx.AsyncClient, fake_sheets: FakeGoogleSheets
) -> None:
    unreachable = SheetsClient(http, "http://127.0.0.1:9/v4")

    error = await refusal(unreachable.read_range(StaticTokenAuth("t"), SHEET_ID, "Sheet1"))

    assert error.kind == "SheetsNetworkError" and error.retryable


async def test_private_addresses_are_refused_unless_allowlisted(
    fake_sheets: FakeGoogleSheets,
) -> None:
    token = fake_sheets.oauth_token()
    async with guarded_http_client([], 10.0) as unguarded_for_loopback:
        client = SheetsClient(unguarded_for_loopback, fake_sheets.sheets_api_url)
        error = await refusal(client.read_range(StaticTokenAuth(token), SHEET_ID, "Sheet1"))

    assert error.kind == "TargetRefused" and not error.retryable
    assert fake_sheets.requests() == []


# --- plain OAuth access tokens ----------------------------------------------------------


@pytest.mark.usefixtures("people")
async def test_an_oauth_token_is_sent_as_is_and_a_refusal_is_final(
    fake_sheets: FakeGoogleSheets, client: SheetsClient
) -> None:
    token = fake_sheets.oauth_token()
    auth = StaticTokenAuth(token)
    await client.read_range(auth, SHEET_ID, "Sheet1")
    fake_sheets.revoke_tokens()

    error = await refusal(client.read_range(auth, SHEET_ID, "Sheet1"))

    assert bearer_tokens(fake_sheets) == [token, token]
    assert error.kind == "SheetsUnauthenticated" and not error.retryable
    assert fake_sheets.tokens_issued == 0
    assert token not in error.message and token not in repr(auth)


@pytest.mark.usefixtures("people")
async def test_a_read_only_token_cannot_append(
    fake_sheets: FakeGoogleSheets, client: SheetsClient
) -> None:
    auth = StaticTokenAuth(fake_sheets.oauth_token(scopes=[READONLY_SCOPE]))

    assert (await client.read_range(auth, SHEET_ID, "Sheet1!A1")).values == [["name"]]
    error = await refusal(client.append_rows(auth, SHEET_ID, "Sheet1", [["Cy"]]))

    assert error.kind == "SheetsPermissionDenied"
    assert "insufficient authentication scopes" in error.message


# --- test connection --------------------------------------------------------------------


async def test_connection_of_a_service_account_obtains_a_token(
    fake_sheets: FakeGoogleSheets,
) -> None:
    key_file = fake_sheets.service_account()

    message = await sheets_connector.test_connection(
        "google_service_account",
        {"service_account_json": key_file},
        sheets_api_url=fake_sheets.sheets_api_url,
        allowed_hosts=["127.0.0.1"],
    )

    assert message == f"token obtained for service account {key_file['client_email']}"
    assert fake_sheets.tokens_issued == 1


@pytest.mark.usefixtures("people")
async def test_connection_with_a_spreadsheet_id_also_opens_it(
    fake_sheets: FakeGoogleSheets, http: httpx.AsyncClient
) -> None:
    message = await sheets_connector.test_connection(
        "google_oauth_token",
        {"access_token": fake_sheets.oauth_token()},
        sheets_api_url=fake_sheets.sheets_api_url,
        spreadsheet_id=SHEET_ID,
        http=http,
    )

    assert message == (
        "Google Sheets accepted the access token; spreadsheet 'Test spreadsheet' is readable"
    )


async def test_connection_of_an_oauth_token_shows_it_to_the_sheets_api(
    fake_sheets: FakeGoogleSheets, http: httpx.AsyncClient
) -> None:
    def check(token: str) -> Awaitable[str]:
        return sheets_connector.test_connection(
            "google_oauth_token",
            {"access_token": token},
            sheets_api_url=fake_sheets.sheets_api_url,
            http=http,
        )

    assert await check(fake_sheets.oauth_token()) == "Google Sheets accepted the access token"
    error = await refusal(check("ya29.revoked"))
    assert error.kind == "SheetsUnauthenticated" and not error.retryable


async def test_connection_refuses_a_credential_of_another_kind(http: httpx.AsyncClient) -> None:
    error = await refusal(
        sheets_connector.test_connection("slack", {"bot_token": "xoxb-1"}, http=http)
    )

    assert error.kind == "CredentialUnavailable" and not error.retryable
    assert "xoxb-1" not in error.message


# --- the activities, with a real credential store ---------------------------------------

StoreCredential = Callable[[str, dict[str, Any]], Awaitable[tuple[str, str]]]


@pytest.fixture
def sheets_settings(tmp_path: Path, fake_sheets: FakeGoogleSheets) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'flowpilot.db'}",
        http_allowed_hosts=["127.0.0.1"],
        google_sheets_api_url=fake_sheets.sheets_api_url,
    )


@pytest.fixture
async def credential_store(
    sheets_settings: Settings,
) -> AsyncIterator[tuple[CredentialStore, StoreCredential]]:
    """The worker's real store on a SQLite database, and a way to save a credential in it."""
    engine = create_engine(sheets_settings)
    async with engine.begin() as connection:
        await connection.run_sync(SQLModel.metadata.create_all)
    sessions = session_factory(engine)
    cipher = cipher_for(sheets_settings)

    async def store(kind: str, data: dict[str, Any]) -> tuple[str, str]:
        async with sessions() as session:
            user = User(email=f"{uuid.uuid4().hex[:8]}@example.com", password_hash="-")
            session.add(user)
            await session.flush()
            credential = Credential(owner_id=user.id, name="google", kind=kind, ciphertext=b"")
            plain = plain_data(validate_credential(kind, data))
            credential.ciphertext = cipher.encrypt(plain, associated_data(user.id, credential.id))
            session.add(credential)
            await session.commit()
            return str(user.id), credential.name

    yield CredentialStore(sessions, cipher), store
    await engine.dispose()


@pytest.fixture
async def sheets_activities(
    sheets_settings: Settings, credential_store: tuple[CredentialStore, StoreCredential]
) -> AsyncIterator[SheetsActivities]:
    activities = SheetsActivities(sheets_settings, credential_store[0])
    yield activities
    await activities.aclose()


def node_input(
    node_type: str, owner: str | None, credential: str | None, **params: Any
) -> NodeInput:
    return NodeInput(
        run_id="run-1",
        node_id="sheet",
        type=node_type,
        params=params,
        credential=credential,
        owner_id=owner,
        idempotency_key="run-1:sheet",
    )


@pytest.mark.usefixtures("people")
async def test_read_range_activity_keys_rows_by_the_header(
    fake_sheets: FakeGoogleSheets,
    sheets_activities: SheetsActivities,
    credential_store: tuple[CredentialStore, StoreCredential],
) -> None:
    fake_sheets.add_spreadsheet(
        "ragged", {"Sheet1": [["name", "", "name", "age"], ["Ann", "x"], ["Bob", "", "B", 42]]}
    )
    owner, name = await credential_store[1](
        "google_service_account", {"service_account_json": fake_sheets.service_account()}
    )

    result = await ActivityEnvironment().run(
        sheets_activities.read_range,
        node_input("sheets.read_range", owner, name, spreadsheet_id="ragged", range="Sheet1"),
    )

    assert result.output["headers"] == ["name", "column_2", "name_2", "age"]
    assert result.output["rows"] == [
        {"name": "Ann", "column_2": "x", "name_2": "", "age": ""},
        {"name": "Bob", "column_2": "", "name_2": "B", "age": "42"},
    ]
    assert result.output["values"][0] == ["name", "", "name", "age"]
    assert result.output["majorDimension"] == "ROWS"
    assert result.output["range"] == "Sheet1!A1:Z1000"


async def test_append_rows_activity_reports_what_google_updated(
    fake_sheets: FakeGoogleSheets,
    sheets_activities: SheetsActivities,
    credential_store: tuple[CredentialStore, StoreCredential],
) -> None:
    fake_sheets.add_spreadsheet(SHEET_ID, {"Sheet1": [list(row) for row in PEOPLE]})
    owner, name = await credential_store[1](
        "google_oauth_token", {"access_token": fake_sheets.oauth_token()}
    )

    result = await ActivityEnvironment().run(
        sheets_activities.append_rows,
        node_input(
            "sheets.append_rows",
            owner,
            name,
            spreadsheet_id=SHEET_ID,
            range="Sheet1",
            rows=[{"name": "Cy", "age": 27}],
        ),
    )

    assert result.output == {
        "spreadsheetId": SHEET_ID,
        "tableRange": "Sheet1!A1:C3",
        "updatedRange": "Sheet1!A4:B4",
        "updatedRows": 1,
        "updatedColumns": 2,
        "updatedCells": 2,
    }


async def test_a_credential_of_the_wrong_kind_fails_the_node_at_once(
    sheets_activities: SheetsActivities,
    credential_store: tuple[CredentialStore, StoreCredential],
) -> None:
    owner, name = await credential_store[1]("bearer", {"token": "canary-bearer-0042"})

    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(
            sheets_activities.read_range,
            node_input("sheets.read_range", owner, name, spreadsheet_id=SHEET_ID, range="A1"),
        )

    assert caught.value.type == "CredentialUnavailable" and caught.value.non_retryable
    assert "kind 'bearer'" in str(caught.value) and "canary-bearer-0042" not in str(caught.value)


async def test_a_google_error_reaches_temporal_with_its_retry_verdict(
    fake_sheets: FakeGoogleSheets,
    sheets_activities: SheetsActivities,
    credential_store: tuple[CredentialStore, StoreCredential],
) -> None:
    fake_sheets.add_spreadsheet(SHEET_ID, {"Sheet1": PEOPLE})
    fake_sheets.fail_next(429, headers={"Retry-After": "3"})
    owner, name = await credential_store[1](
        "google_oauth_token", {"access_token": fake_sheets.oauth_token()}
    )
    read = node_input("sheets.read_range", owner, name, spreadsheet_id=SHEET_ID, range="Sheet1")

    with pytest.raises(ApplicationError) as rate_limited:
        await ActivityEnvironment().run(sheets_activities.read_range, read)
    with pytest.raises(ApplicationError) as missing:
        await ActivityEnvironment().run(
            sheets_activities.read_range,
            read.model_copy(update={"params": {**read.params, "spreadsheet_id": "gone"}}),
        )

    assert rate_limited.value.type == "SheetsRateLimited" and not rate_limited.value.non_retryable
    assert rate_limited.value.next_retry_delay is not None
    assert rate_limited.value.next_retry_delay.total_seconds() == 3
    assert missing.value.type == "SheetsNotFound" and missing.value.non_retryable


async def test_invalid_params_name_the_field(sheets_activities: SheetsActivities) -> None:
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(
            sheets_activities.append_rows,
            node_input(
                "sheets.append_rows",
                None,
                "google",
                spreadsheet_id="bad id!",
                range="Sheet1",
                rows=[[{"nested": 1}]],
            ),
        )

    assert caught.value.type == "InvalidParams" and caught.value.non_retryable
    assert "spreadsheet_id" in str(caught.value) and "rows.0" in str(caught.value)


def test_definitions_are_checked_against_the_sheets_params_schema() -> None:
    node = {
        "id": "read",
        "type": "sheets.read_range",
        "credential": "google",
        "params": {"spreadsheet_id": SHEET_ID, "range": "A1", "major_dimension": "DIAGONAL"},
    }
    with pytest.raises(DefinitionError) as caught:
        validate_definition({"schema": "flowpilot/v1", "name": "x", "nodes": [node]})
    assert [issue.field for issue in caught.value.issues] == ["params.major_dimension"]

    without_credential = {**node, "params": {"spreadsheet_id": SHEET_ID, "range": "A1"}}
    del without_credential["credential"]
    with pytest.raises(DefinitionError) as missing:
        validate_definition({"schema": "flowpilot/v1", "name": "x", "nodes": [without_credential]})
    assert [issue.field for issue in missing.value.issues] == ["credential"]


def test_header_row_objects_come_only_with_rows_first() -> None:
    base = {"spreadsheet_id": SHEET_ID, "range": "Sheet1", "major_dimension": "COLUMNS"}

    assert SheetsReadRangeParams.model_validate(base).header_row is False
    with pytest.raises(ValidationError, match="header_row needs major_dimension ROWS"):
        SheetsReadRangeParams.model_validate({**base, "header_row": True})


# --- a real run through the API, the worker and Temporal --------------------------------


async def run_to_the_end(
    api: httpx.AsyncClient, headers: dict[str, str], definition: dict[str, Any], **inputs: Any
) -> tuple[str, str, dict[str, Any]]:
    """Save the workflow, run it and wait for the run to finish: (workflow id, run id, run)."""
    created = await api.post("/api/workflows", json={"definition": definition}, headers=headers)
    assert created.status_code == 201, created.text
    workflow_id = created.json()["id"]
    started = await api.post(
        f"/api/workflows/{workflow_id}/runs", json={"inputs": inputs}, headers=headers
    )
    assert started.status_code == 201, started.text
    run_id = started.json()["id"]

    async def read() -> dict[str, Any]:
        body: dict[str, Any] = (await api.get(f"/api/runs/{run_id}", headers=headers)).json()
        return body

    run = await eventually(read, lambda run: run["status"] in ("succeeded", "failed"), within=60)
    return workflow_id, run_id, run


@pytest.fixture
def api_settings(api_settings: Settings, fake_sheets: FakeGoogleSheets) -> Settings:
    """The API tests' settings, with the worker's Sheets connector pointed at the fake."""
    return api_settings.model_copy(update={"google_sheets_api_url": fake_sheets.sheets_api_url})


async def test_a_run_appends_and_reads_back_with_a_stored_service_account(
    live_api: httpx.AsyncClient,
    fake_sheets: FakeGoogleSheets,
    temporal_env: WorkflowEnvironment,
) -> None:
    fake_sheets.add_spreadsheet(SHEET_ID, {"Signups": [["name", "email", "plan"]]})
    key_file = fake_sheets.service_account()
    secret = key_file["private_key"].splitlines()[5]
    headers = await sign_up(live_api)
    stored = await live_api.post(
        "/api/credentials",
        json={
            "name": "sheets-robot",
            "kind": "google_service_account",
            "data": {"service_account_json": key_file},
        },
        headers=headers,
    )
    assert stored.status_code == 201, stored.text
    definition = {
        "name": "Record a signup",
        "inputs": {"name": {"type": "string"}, "email": {"type": "string"}},
        "nodes": [
            {
                "id": "record",
                "type": "sheets.append_rows",
                "credential": "sheets-robot",
                "params": {
                    "spreadsheet_id": SHEET_ID,
                    "range": "Signups",
                    "rows": [
                        {"name": "{{ inputs.name }}", "email": "{{ inputs.email }}", "plan": "free"}
                    ],
                },
            },
            {
                "id": "everyone",
                "type": "sheets.read_range",
                "needs": ["record"],
                "credential": "sheets-robot",
                "params": {"spreadsheet_id": SHEET_ID, "range": "Signups!A:C"},
            },
        ],
        "output": {
            "written": "{{ nodes.record.output.updatedRange }}",
            "rows": "{{ nodes.everyone.output.rows }}",
        },
    }
    workflow_id, run_id, run = await run_to_the_end(
        live_api, headers, definition, name="Ann", email="ann@example.com"
    )

    assert run["status"] == "succeeded", run
    assert run["output"] == {
        "written": "Signups!A2:C2",
        "rows": [{"name": "Ann", "email": "ann@example.com", "plan": "free"}],
    }
    assert fake_sheets.cells(SHEET_ID, "Signups")[1] == ["Ann", "ann@example.com", "free"]
    assert fake_sheets.tokens_issued == 1, "the worker caches the token across activities"
    [access_token] = set(bearer_tokens(fake_sheets))
    responses = [
        await live_api.get(f"/api/runs/{run_id}", headers=headers),
        await live_api.get("/api/runs", headers=headers),
        await live_api.get("/api/credentials", headers=headers),
        await live_api.get(f"/api/workflows/{workflow_id}", headers=headers),
    ]
    history = (
        await temporal_env.client.get_workflow_handle(f"run-{run_id}").fetch_history()
    ).to_json()
    for text in [*(answer.text for answer in responses), history]:
        assert secret not in text
        assert access_token not in text
        assert key_file["private_key_id"] not in text


async def test_the_signup_log_example_runs_against_the_sheets_api(
    live_api: httpx.AsyncClient, fake_sheets: FakeGoogleSheets
) -> None:
    example = json.loads((EXAMPLES / "sheets-signup-log.json").read_text())
    spreadsheet_id = example["inputs"]["spreadsheet_id"]["default"]
    header = ["name", "email", "plan", "signed_up_at"]
    fake_sheets.add_spreadsheet(spreadsheet_id, {"Signups": [header, ["Ann", "a@x.io", "pro"]]})
    headers = await sign_up(live_api)
    stored = await live_api.post(
        "/api/credentials",
        json={
            "name": "sheets-robot",
            "kind": "google_service_account",
            "data": {"service_account_json": fake_sheets.service_account()},
        },
        headers=headers,
    )
    assert stored.status_code == 201, stored.text

    _, _, run = await run_to_the_end(live_api, headers, example, name="Bo", email="bo@x.io")

    assert run["status"] == "succeeded", run
    assert run["output"]["written"] == "Signups!A3:D3"
    assert run["output"]["total_signups"] == 2
    assert run["output"]["latest"]["email"] == "bo@x.io"
    assert fake_sheets.cells(spreadsheet_id, "Signups")[2][:3] == ["Bo", "bo@x.io", "free"]
