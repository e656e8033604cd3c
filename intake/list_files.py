"""A list of recipients in a spreadsheet: read (CSV or XLSX), its columns mapped to recipient fields and
`context` keys, turned into the recipients of one trigger command."""

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

from core.errors import Problem

from .commands import RecipientSpec

# The recipient fields a column may fill; any other column fills a `context` key of its own name.
RECIPIENT_FIELDS = ("email", "phone", "external_id", "first_name", "last_name", "locale", "timezone")
CONTEXT = "context."
SKIP = ""  # a column mapped to nothing is left out

# Header spellings a spreadsheet commonly has for each field, compared without case, spaces or punctuation.
_ALIASES = {
    "email": {"email", "emailaddress", "mail", "e-mail"},
    "phone": {"phone", "phonenumber", "mobile", "mobilenumber", "cell", "msisdn", "sms", "tel", "telephone"},
    "external_id": {"externalid", "id", "customerid", "customernumber", "crmid", "userid"},
    "first_name": {"firstname", "givenname", "forename", "first"},
    "last_name": {"lastname", "surname", "familyname", "last"},
    "locale": {"locale", "language", "lang"},
    "timezone": {"timezone", "tz", "zone"},
}


class ListFileError(Exception):
    """The file cannot be read as a list at all: not CSV or XLSX, no header row, not text."""


@dataclass
class ListFile:
    headers: list[str]
    rows: list[list[str]]  # every row as many cells as there are headers, "" where empty
    numbers: list[int]  # each row's number in the file, as a spreadsheet shows it (the header is 1)


def is_xlsx(content: bytes) -> bool:
    return content[:4] == b"PK\x03\x04"  # a zip, as every XLSX is


def list_file_head(*, content: bytes) -> tuple[list[str], int | None]:
    """The header row and how many rows follow, read within a request: a CSV whole (100,000 rows take a
    second), an XLSX only as far as its header and the size its sheet declares (None if it declares none;
    blank rows counted), since openpyxl reads 100,000 rows in some twenty seconds."""
    if not is_xlsx(content):
        table = list_file_read(content=content)
        return table.headers, len(table.rows)
    book, sheet = _xlsx_open(content)
    try:
        first = next(sheet.iter_rows(max_row=1, values_only=True), None)
        headers = _headers([_cell_text(value) for value in first] if first else None)
        return headers, sheet.max_row - 1 if sheet.max_row else None
    finally:
        book.close()


def list_file_read(*, content: bytes) -> ListFile:
    """The header row and the rows of a CSV or XLSX file (by its first bytes: an XLSX is a zip)."""
    if is_xlsx(content):
        table = _xlsx_rows(content)
    elif content[:4] == b"\xd0\xcf\x11\xe0":  # the compound file of Excel before 2007
        raise ListFileError("An .xls file from before 2007: save it as .xlsx or .csv.")
    else:
        table = _csv_rows(content)
    headers = _headers(next(table, None))
    width = len(headers)
    rows, numbers = [], []
    for number, row in enumerate(table, start=2):
        if not any(cell.strip() for cell in row):
            continue  # spreadsheets end with empty rows; they are nobody
        rows.append([cell.strip() for cell in row[:width]] + [""] * (width - len(row)))
        numbers.append(number)
    return ListFile(headers=headers, rows=rows, numbers=numbers)


def list_file_csv(table: ListFile) -> bytes:
    """The list as CSV, its blank rows kept so that every row keeps its number: what a worker reads again
    instead of the slower XLSX."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table.headers)
    number = 1
    for row, row_number in zip(table.rows, table.numbers, strict=True):
        out.write("\r\n" * (row_number - number - 1))
        writer.writerow(row)
        number = row_number
    return out.getvalue().encode()


def _headers(row: list[str] | None) -> list[str]:
    if not row or not any(h.strip() for h in row):
        raise ListFileError("The file has no header row: its first row names the columns.")
    return [h.strip() for h in row]


def _csv_rows(content: bytes) -> Iterator[list[str]]:
    try:
        text = content.decode("utf-8-sig")  # Excel writes UTF-8 CSV with a byte-order mark
    except UnicodeDecodeError:
        raise ListFileError("Not a UTF-8 text file: save it as CSV UTF-8 (or as XLSX).") from None
    if "\x00" in text:
        raise ListFileError("Not a CSV file: it has NUL characters.")
    try:
        dialect = csv.Sniffer().sniff(text[:10_000], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel  # one column, or too little to tell: commas
    try:
        yield from csv.reader(io.StringIO(text, newline=""), dialect)
    except csv.Error as exc:
        raise ListFileError(f"Not a readable CSV file: {exc}.") from None


def _xlsx_open(content: bytes):
    # openpyxl is imported here: only XLSX uploads pay for loading it.
    import openpyxl

    try:
        # read_only streams the sheet's XML instead of building every cell: 100,000 rows in bounded memory.
        book = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ListFileError(f"Not a readable XLSX file: {exc}.") from None
    return book, book.worksheets[0]


def _xlsx_rows(content: bytes) -> Iterator[list[str]]:
    book, sheet = _xlsx_open(content)
    try:
        for row in sheet.iter_rows(values_only=True):
            yield [_cell_text(value) for value in row]
    finally:
        book.close()


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone number or an id typed as a number: 4915112345678, not 4.9e12
    return str(value)


def _squashed(header: str) -> str:
    return re.sub(r"[\s_\-.]", "", header.lower())


def mapping_guess(headers: list[str]) -> list[str]:
    """For each column, the recipient field its header names, else the context key of that name."""
    taken: set[str] = set()
    guessed = []
    for header in headers:
        squashed = _squashed(header)
        field = next((f for f, names in _ALIASES.items() if squashed in names and f not in taken), None)
        if header.lower().startswith(CONTEXT):
            guessed.append(CONTEXT + header[len(CONTEXT) :].strip())
        elif field:
            taken.add(field)
            guessed.append(field)
        elif header:
            guessed.append(CONTEXT + header)
        else:
            guessed.append(SKIP)
    return guessed


def mapping_problems(headers: list[str], mapping: list[str]) -> list[Problem]:
    """What is wrong with a mapping as edited: each column's target named once, each a known target."""
    problems = []
    if len(mapping) != len(headers):
        return [Problem("mapping", f"Map each of the {len(headers)} columns.")]
    seen: dict[str, str] = {}
    for header, target in zip(headers, mapping, strict=True):
        column = f"mapping[{header}]"
        if target == SKIP:
            continue
        if target not in RECIPIENT_FIELDS and not (target.startswith(CONTEXT) and target[len(CONTEXT) :]):
            problems.append(Problem(column, f"'{target}' is not a recipient field or a context key."))
        elif target in seen:
            problems.append(Problem(column, f"'{seen[target]}' is mapped to {target} already."))
        seen.setdefault(target, header)
    if not {"email", "phone", "external_id"} & set(mapping):
        problems.append(Problem("mapping", "Map a column to email, phone or external_id."))
    return problems


def recipient_specs(rows: list[list[str]], mapping: list[str]) -> list[RecipientSpec]:
    """One recipient a row, its empty cells left out (an empty email is no email, not an invalid one)."""
    fields = [(i, target) for i, target in enumerate(mapping) if target in RECIPIENT_FIELDS]
    keys = [(i, target[len(CONTEXT) :]) for i, target in enumerate(mapping) if target.startswith(CONTEXT)]
    specs = []
    for row in rows:
        spec = RecipientSpec(**{target: row[i] for i, target in fields if row[i]})
        context = {key: row[i] for i, key in keys if row[i]}
        spec.context = context or None
        specs.append(spec)
    return specs
