"""Spreadsheet error values (#N/A, #DIV/0!, ...): present but unreadable, never blank.

A failed formula leaves an error value in its cell; an export of the sheet writes it as
text. Either way the sender delivered *something* that says nothing about the field: a
typed field gets its "present but unreadable" reason, an ID is unusable, text is NULL
(and, if required, missing), and the detail names the error value."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pytest
import xlsxwriter
from hypothesis import given, settings
from hypothesis import strategies as st

from civlake.clean import canon
from civlake.clean.frame import clean_delivery
from civlake.contracts import Column, FeedContract, get_contract, load_contracts, load_enums
from civlake.ingest.readers import read_xlsx
from tests.support import scalar
from tests.support.bronze import bronze_rows, id18, uscc18

NOW = datetime(2026, 11, 2, tzinfo=UTC)
PRODUCED = date(2026, 11, 1)
DIVMAP = pa.table({"code": ["440106000000"], "current": ["440106000000"]})
ID = id18("440106", "19500101", "123")
# Written out here, not imported: the test is a second reading of the brief.
ERRORS = ["#VALUE!", "#N/A", "#REF!", "#DIV/0!", "#NUM!", "#NAME?", "#NULL!",
          "#GETTING_DATA", "#SPILL!", "#CALC!"]  # fmt: skip
SPACES = st.text(alphabet=" \t\u00a0\u3000", max_size=3)


def _full_width(text: str, mask: list[bool]) -> str:
    return (
        "".join(
            chr(ord(ch) + 0xFEE0) if flip and "!" <= ch <= "~" else ch
            for ch, flip in zip(text, mask, strict=False)
        )
        + text[len(mask) :]
    )


@st.composite
def dirty_errors(draw) -> tuple[str, str]:
    """(as delivered, the error value): surrounding spaces, some characters full-width."""
    err = draw(st.sampled_from(ERRORS))
    mask = draw(st.lists(st.booleans(), min_size=len(err), max_size=len(err)))
    return draw(SPACES) + _full_width(err, mask) + draw(SPACES), err


def _good(c: Column) -> str:
    """A clean value of the column's kind."""
    if c.kind == "enum":
        return next(iter(load_enums()[c.enum]))
    return {
        "string": "K001", "name": "张伟", "citizen_id": ID, "sex": "1", "date": "2020-01-01",
        "timestamp": "2020-01-01 10:00:00", "month": "2020-01", "amount": "100",
        "integer": "3", "division": "440106", "division_self": "440106", "code12": "440106",
        "phone": "13800138000", "uscc": uscc18("51440100MJ0000001"), "bool": "是",
        "disability_cert_no": ID + "11",
    }[c.kind]  # fmt: skip


def _base(contract: FeedContract) -> dict[str, str]:
    return {c.name: _good(c) for c in contract.columns}


CONTRACTS = load_contracts()
TYPED = {
    "amount": "AMOUNT_INVALID", "integer": "AMOUNT_INVALID", "date": "DATE_INVALID",
    "month": "DATE_INVALID", "timestamp": "DATE_INVALID", "enum": "ENUM_INVALID",
    "sex": "ENUM_INVALID", "bool": "ENUM_INVALID", "division": "DIVISION_UNKNOWN",
    "division_self": "DIVISION_UNKNOWN", "code12": "DIVISION_UNKNOWN",
}  # fmt: skip


def _clean(feed: str, rows: list[dict]):
    out = clean_delivery(
        get_contract(feed), bronze_rows(feed, rows, delivery_id="d1"), divmap=DIVMAP, now=NOW
    )
    assert len(out.silver) + len(out.quarantine) == len(rows)
    return (
        {r["_source_row"]: r for r in out.silver.to_pylist()},
        {r["_source_row"]: r for r in out.quarantine.to_pylist()},
    )


def _expected_id_reasons(contract: FeedContract, c: Column, id_name: str) -> list[str]:
    """An ID made unusable: REQUIRED_MISSING if required, ID_UNUSABLE for a subject whose
    row gives no birth date or stable key beside the name (SOURCE_FEEDS.md section 2)."""
    (role,) = [r for r in contract.persons if r.id == id_name]
    identified = bool(role.birth_date or role.stable_key)
    return [
        *(["REQUIRED_MISSING"] if c.required else []),
        *(["ID_UNUSABLE"] if role.subject and not identified else []),
    ]


def _expected(contract: FeedContract, c: Column) -> list[str]:
    """Reasons of a clean row whose column ``c`` holds an error value ([]: kept)."""
    if c.kind in TYPED:
        return [TYPED[c.kind]]
    if c.kind in ("string", "name", "phone"):
        return ["REQUIRED_MISSING"] if c.required else []
    if c.kind == "citizen_id":
        return _expected_id_reasons(contract, c, c.name)
    if c.kind == "disability_cert_no":
        return _expected_id_reasons(contract, c, c.derives_id)
    if c.kind == "uscc":
        return ["USCC_INVALID"] if c.invalid == "quarantine" else []
    raise AssertionError(f"kind {c.kind} is not covered by this test")


def _check(feed: str, cases: list[tuple[str, str, str]]) -> None:
    """Row 1 clean; row i + 1 is clean but for ``cases[i]`` = (column, delivered, error)."""
    contract = CONTRACTS[feed]
    columns = {c.name: c for c in contract.columns}
    rows = [_base(contract)] + [{**_base(contract), name: v} for name, v, _ in cases]
    silver, quarantine = _clean(feed, rows)
    assert 1 in silver  # the clean row is clean: nothing below is about the base row
    for i, (name, _, err) in enumerate(cases, start=2):
        c = columns[name]
        if expected := _expected(contract, c):
            assert i not in silver, (name, err)
            assert quarantine[i]["reasons"] == expected, (name, err)
            assert f"spreadsheet error value {err}" in quarantine[i]["detail"], (name, err)
            continue
        # kept: the error value is in silver as nothing, never as a value
        row = silver[i]
        if c.kind in ("string", "name", "phone"):
            assert row[name] is None, (name, err)
        elif c.kind == "citizen_id":
            assert (row[name], row[f"{name}_status"]) == (None, "missing")
        elif c.kind == "disability_cert_no":  # (not reached: the cert number is required)
            assert (row[name], row[f"{c.derives_id}_status"]) == (None, "missing")
        elif c.kind == "uscc":
            assert row[f"{name}_status"] == "invalid"


@pytest.mark.parametrize("feed", sorted(CONTRACTS))
def test_every_column_of_every_feed(feed: str) -> None:
    """Each column once with each error value (the gate: about 1 s per delivery)."""
    names = CONTRACTS[feed].names
    _check(feed, [(n, e, e) for i, n in enumerate(names) for e in ERRORS[i % 3 :: 3]])


@settings(max_examples=12, deadline=None)
@given(st.data())
def test_an_error_value_is_present_but_unreadable_for_every_kind(data: st.DataObject) -> None:
    feed = data.draw(st.sampled_from(sorted(CONTRACTS)))
    column = st.sampled_from(CONTRACTS[feed].names)
    cases = data.draw(st.lists(st.tuples(column, dirty_errors()), min_size=1, max_size=15))
    _check(feed, [(name, delivered, err) for name, (delivered, err) in cases])


@settings(max_examples=15, deadline=None)
@given(
    st.lists(
        st.one_of(
            dirty_errors().map(lambda v: v[0]),
            st.sampled_from(
                ["#N/A#", "N/A", "#NA", "3#楼", "#", "", " ", "李娜", "#REF", "#DIV/0"]
            ),
        ),
        max_size=25,
    )
)
def test_the_scalar_oracle_agrees_with_the_macros(values: list[str]) -> None:
    assert canon.spreadsheet_error(values).to_pylist() == [
        scalar.spreadsheet_error(v) for v in values
    ]
    assert canon.text(values).to_pylist() == [scalar.text(v) for v in values]
    names, notes = canon.name(values)
    assert list(zip(names.to_pylist(), notes.to_pylist(), strict=True)) == [
        scalar.name(v) for v in values
    ]
    assert canon.phone(values).to_pylist() == [scalar.phone(v) for v in values]
    ids, statuses = canon.citizen_id(values, produced_at=PRODUCED)
    assert list(zip(ids.to_pylist(), statuses.to_pylist(), strict=True)) == [
        scalar.citizen_id(v, PRODUCED) for v in values
    ]
    for fn in ("date_", "month", "amount", "division_code", "sex"):
        assert getattr(canon, fn)(values).to_pylist() == [getattr(scalar, fn)(v) for v in values]


# --- the XLSX reader ---------------------------------------------------------------


def _workbook(tmp_path: Path, *, retype_to_error: tuple[str, ...] = ()) -> Path:
    """An elderly_allowance sheet whose 月标准(元) cells are failed formulas.

    xlsxwriter marks only the seven classic error values as error cells (t="e"); Excel
    marks the newer ones too, and those ``retype_to_error`` are retyped so here."""
    contract = get_contract("elderly_allowance")
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet()
    ws.write_row(0, 0, [c.header for c in contract.columns])
    col = contract.names.index("monthly_standard")
    values = [*ERRORS, "300"]
    for r, value in enumerate(values, start=1):
        ws.write_row(r, 0, [_good(c) for c in contract.columns])
        if value.startswith("#"):
            ws.write_formula(r, col, "=1/0", None, value)
        else:
            ws.write_number(r, col, int(value))
    ws.write_formula(len(values) + 1, col, "=NA()")  # no cached value given: xlsxwriter writes 0
    ws.write_string(len(values) + 1, 1, "王芳")
    wb.close()
    data = buf.getvalue()
    if retype_to_error:
        src = zipfile.ZipFile(io.BytesIO(data))
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as dst:
            for info in src.infolist():
                body = src.read(info)
                if info.filename == "xl/worksheets/sheet1.xml":
                    for err in retype_to_error:
                        body = re.sub(
                            rb'(<c [^>]*)t="str"(><f>[^<]*</f><v>' + re.escape(err.encode()) + b"<)",
                            rb'\1t="e"\2', body,
                        )  # fmt: skip
                dst.writestr(info, body)
        data = out.getvalue()
    path = tmp_path / "e.xlsx"
    path.write_bytes(data)
    return path


def _amounts(path: Path) -> list[str | None]:
    batches = list(read_xlsx(path, get_contract("elderly_allowance"), "e.xlsx"))
    return pa.Table.from_batches(batches)["monthly_standard"].to_pylist()


def test_xlsx_error_cells_are_read_as_their_error_text(tmp_path: Path) -> None:
    # calamine alone reads the seven classic error cells as "" (a blank)
    assert _amounts(_workbook(tmp_path)) == [*ERRORS, "300", "0"]


def test_xlsx_newer_error_cells_do_not_reject_the_workbook(tmp_path: Path) -> None:
    # calamine alone rejects the workbook: "Unsupported cell error value '#SPILL!'"
    path = _workbook(tmp_path, retype_to_error=("#GETTING_DATA", "#SPILL!", "#CALC!"))
    assert zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml").count(b't="e"') == len(ERRORS)
    assert _amounts(path) == [*ERRORS, "300", "0"]
