"""Node types of the sheets connector: sheets.append_rows, sheets.read_range (Google Sheets v4)."""

import re
from typing import Any, Literal, Self

from pydantic import Field, model_validator

from workflows.node_type import NodeType, Params

MAX_ROWS = 10_000
MAX_CELLS_PER_ROW = 1_000
CREDENTIAL_KINDS = ("google_service_account", "google_oauth_token")

Cell = str | int | float | bool | None


def _spreadsheet_id() -> Any:
    return Field(
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The id in the spreadsheet's URL: docs.google.com/spreadsheets/d/<id>/edit.",
    )


def _range(description: str) -> Any:
    return Field(min_length=1, max_length=500, description=description)


class SheetsAppendRowsParams(Params):
    spreadsheet_id: str = _spreadsheet_id()
    range: str = _range(
        "A1 range whose table the rows are appended to, e.g. 'Sheet1', 'Sheet1!A:D' or "
        "\"'My Sheet'!A1:D\". Its first row is the header used to place object rows."
    )
    rows: list[list[Cell] | dict[str, Cell]] = Field(
        min_length=1,
        max_length=MAX_ROWS,
        description="Rows to append: lists of cells in column order, or objects keyed by "
        "column name (the header row is read first and each key lands in its column).",
    )
    value_input_option: Literal["USER_ENTERED", "RAW"] = Field(
        default="USER_ENTERED",
        description="USER_ENTERED parses values as if typed in the UI ('42' becomes a "
        "number, '=A1*2' a formula); RAW stores them as given.",
    )
    insert_data_option: Literal["INSERT_ROWS", "OVERWRITE"] = Field(
        default="INSERT_ROWS",
        description="INSERT_ROWS inserts new rows for the data; OVERWRITE writes over "
        "whatever is below the table.",
    )
    unknown_columns: Literal["error", "ignore"] = Field(
        default="error",
        description="For object rows: fail on a key that names no column, or drop it.",
    )

    @model_validator(mode="after")
    def _rows_fit(self) -> Self:
        for index, row in enumerate(self.rows):
            if len(row) > MAX_CELLS_PER_ROW:
                raise ValueError(f"rows.{index}: more than {MAX_CELLS_PER_ROW} cells")
        return self


class SheetsReadRangeParams(Params):
    spreadsheet_id: str = _spreadsheet_id()
    range: str = _range(
        "A1 range to read, e.g. 'Sheet1' (the whole sheet), 'Sheet1!A1:C10' or \"'My Sheet'!A:B\"."
    )
    header_row: bool = Field(
        default=True,
        description="Treat the first row as column names and also output the other rows "
        "as objects keyed by them (rows only, not with majorDimension COLUMNS).",
    )
    value_render_option: Literal["FORMATTED_VALUE", "UNFORMATTED_VALUE", "FORMULA"] = Field(
        default="FORMATTED_VALUE",
        description="FORMATTED_VALUE: cells as shown (text); UNFORMATTED_VALUE: numbers "
        "and booleans typed; FORMULA: formulas instead of their results.",
    )
    major_dimension: Literal["ROWS", "COLUMNS"] = Field(
        default="ROWS", description="Whether `values` is a list of rows or of columns."
    )

    @model_validator(mode="after")
    def _header_needs_rows(self) -> Self:
        if self.major_dimension == "COLUMNS" and self.header_row:
            if "header_row" in self.model_fields_set:
                raise ValueError("header_row needs major_dimension ROWS")
            self.header_row = False
        return self


_SAMPLE_VALUES = [
    ["Name", "Email", "Status"],
    ["Ann", "ann@example.com", "active"],
    ["Bob", "bob@example.com", "invited"],
]
SAMPLE_READ: dict[str, Any] = {
    "range": "Sheet1!A1:C3",
    "majorDimension": "ROWS",
    "values": _SAMPLE_VALUES,
    "headers": _SAMPLE_VALUES[0],
    "rows": [dict(zip(_SAMPLE_VALUES[0], row, strict=True)) for row in _SAMPLE_VALUES[1:]],
}
SAMPLE_APPEND: dict[str, Any] = {
    "spreadsheetId": "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms",
    "tableRange": "Sheet1!A1:C10",
    "updatedRange": "Sheet1!A11:C12",
    "updatedRows": 2,
    "updatedColumns": 3,
    "updatedCells": 6,
}
_CELLS_ONLY = re.compile(r"^[A-Za-z]{1,3}\d*(:[A-Za-z]{1,3}\d*)?$")


def _sheet_of(a1_range: str) -> str:
    """The sheet an A1 range names; 'Sheet1' (the usual first sheet) when it names none."""
    if "!" in a1_range:
        return a1_range.rsplit("!", 1)[0]
    return "Sheet1" if _CELLS_ONLY.match(a1_range) else a1_range


def column_letters(number: int) -> str:
    """The letters of the 1-based column `number`: 1 → A, 27 → AA."""
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _append_sample(params: dict[str, Any]) -> dict[str, Any]:
    """The rows appended below a ten-row table."""
    append = SheetsAppendRowsParams.model_validate(params)
    sheet, rows = _sheet_of(append.range), len(append.rows)
    columns = max(len(row) for row in append.rows) or 1
    return {
        "spreadsheetId": append.spreadsheet_id,
        "tableRange": f"{sheet}!A1:{column_letters(columns)}10",
        "updatedRange": f"{sheet}!A11:{column_letters(columns)}{10 + rows}",
        "updatedRows": rows,
        "updatedColumns": columns,
        "updatedCells": sum(len(row) for row in append.rows),
    }


def _read_sample(params: dict[str, Any]) -> dict[str, Any]:
    read = SheetsReadRangeParams.model_validate(params)
    by_column = read.major_dimension == "COLUMNS"
    lines = zip(*_SAMPLE_VALUES, strict=True) if by_column else _SAMPLE_VALUES
    output: dict[str, Any] = {
        "range": f"{_sheet_of(read.range)}!A1:C3",
        "majorDimension": read.major_dimension,
        "values": [list(line) for line in lines],
    }
    if read.header_row:
        output["headers"] = list(SAMPLE_READ["headers"])
        output["rows"] = [dict(row) for row in SAMPLE_READ["rows"]]
    return output


NODE_TYPES: list[NodeType] = [
    NodeType(
        type="sheets.append_rows",
        title="Google Sheets: append rows",
        description="Append rows after the table in a range of a Google Sheet, given as "
        "lists or as objects mapped to columns by the header row. Uses a service account "
        "(share the sheet with its email) or an OAuth access token. Quota limits (429) and "
        "Google outages are retried; bad ranges, missing access and unknown columns fail "
        "at once with Google's message.",
        params_model=SheetsAppendRowsParams,
        runs_in="activity",
        credential_kinds=CREDENTIAL_KINDS,
        credential_required=True,
        output_description="{spreadsheetId, tableRange, updatedRange, updatedRows, "
        "updatedColumns, updatedCells}: tableRange is the table found before the append "
        "(null if the range was empty), updatedRange where the rows were written.",
        sample_output=SAMPLE_APPEND,
        sample_from=_append_sample,
    ),
    NodeType(
        type="sheets.read_range",
        title="Google Sheets: read a range",
        description="Read the cells of a range of a Google Sheet; with header_row, also as "
        "objects keyed by the first row's column names.",
        params_model=SheetsReadRangeParams,
        runs_in="activity",
        credential_kinds=CREDENTIAL_KINDS,
        credential_required=True,
        output_description="{range, majorDimension, values} (values: rows of cells, "
        "trailing blanks left off by Google); with header_row also {headers, rows} where "
        "rows are objects keyed by header and blank cells are ''.",
        sample_output=SAMPLE_READ,
        sample_from=_read_sample,
    ),
]
