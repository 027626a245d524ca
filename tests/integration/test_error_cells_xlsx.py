"""An XLSX register with failed formulas, landing -> bronze -> silver + quarantine.

python-calamine reads an error cell as "" (a blank), so an amount of #DIV/0! used to be
REQUIRED_MISSING and a date of #VALUE! silently NULL. Each must be read as delivered."""

from __future__ import annotations

import io

import pytest
import xlsxwriter

from civlake import lake
from civlake.clean import check_invariants, clean_pending
from civlake.ingest import ingest_landing
from tests.deliveries import csv_bytes, headers, write_delivery
from tests.support.bronze import id18

pytestmark = pytest.mark.integration

FEED = "assistance_recipients"
DELIVERY = "20261101-440106-001"
MEMBER = id18("440106", "19800101", "123")
ROW = {
    "家庭编号": "F001", "区划代码": "440106", "救助类别": "低保", "户主身份证号": MEMBER,
    "户主姓名": "张伟", "成员身份证号": MEMBER, "成员姓名": "张伟", "与户主关系": "本人",
    "家庭人口数": 1, "保障人数": 1, "月保障金额(元)": 1120, "批准日期": "2026-01-05",
    "状态": "在保", "停保日期": None, "经办人": "李娜",
}  # fmt: skip
# (column, formula, the error value Excel cached for it)
FAILED = [
    ("月保障金额(元)", "=C9/0", "#DIV/0!"),       # 2 required amount
    ("批准日期", '=DATE(2026,1,"x")', "#VALUE!"),  # 3 optional date
    ("成员姓名", "=VLOOKUP(A4,X:Y,2,0)", "#N/A"),  # 4 required name
    ("经办人", "=#REF!", "#REF!"),                 # 5 optional text: NULL, kept
    ("户主姓名", "=NAMEOF(A6)", "#NAME?"),         # 6 optional name: NULL, kept
]  # fmt: skip


def _register() -> bytes:
    """GIVEN a district register: title row, header, a clean row, rows with one failed
    formula each, a 合计 row."""
    h = headers(FEED)
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet()
    ws.merge_range(0, 0, 0, len(h) - 1, "天河区2026年10月低保对象名册")
    ws.write_row(1, 0, h)
    for r, failed in enumerate([None, *FAILED], start=2):
        for c, header in enumerate(h):
            value = ROW[header]
            if failed and failed[0] == header:
                ws.write_formula(r, c, failed[1], None, failed[2])
            elif value is not None:
                ws.write(r, c, value)
    ws.write_row(2 + len(FAILED) + 1, 0, ["合计", None, None, None, None, None, None, None, None,
                                           None, 1120 * 5])  # fmt: skip
    wb.close()
    return buf.getvalue()


def test_failed_formulas_are_present_but_unreadable(settings, now) -> None:
    div_rows = [["440100000000", "广州市", "2", "", "", "1990-01-01", "", ""],
                ["440106000000", "天河区", "3", "440100000000", "", "1990-01-01", "", ""]]  # fmt: skip
    write_delivery(settings.landing, "divisions", "20260101-440100-001",
                   {"区划.csv": csv_bytes(headers("divisions"), div_rows)}, period="2026")  # fmt: skip
    write_delivery(settings.landing, FEED, DELIVERY, {"天河区低保.xlsx": _register()},
                   rows={"天河区低保.xlsx": 1 + len(FAILED)}, encoding=None)  # fmt: skip

    # WHEN the delivery is ingested and cleaned
    ingest_landing(settings, now=now)
    clean_pending(settings, now=now)

    # THEN bronze holds the error text as the cell showed it
    bronze = lake.read_arrow(settings.lake / "bronze" / FEED).sort_by("_source_row").to_pylist()
    assert bronze[1]["monthly_amount"] == "#DIV/0!"
    assert bronze[2]["approved_on"] == "#VALUE!"
    assert bronze[3]["member_name"] == "#N/A"
    assert (bronze[4]["handler"], bronze[5]["head_name"]) == ("#REF!", "#NAME?")

    # and the quarantine names the reason of the field's kind and the error value
    q = lake.read_arrow(settings.lake / "quarantine").to_pylist()
    got = {r["_source_row"]: (r["reasons"], r["detail"]) for r in q if r["feed_id"] == FEED}
    assert got == {
        2: (["AMOUNT_INVALID"],
            "monthly_amount（月保障金额(元)）: not an amount (spreadsheet error value #DIV/0!)"),
        3: (["DATE_INVALID"],
            "approved_on（批准日期）: not a real date (spreadsheet error value #VALUE!)"),
        4: (["REQUIRED_MISSING"],
            "member_name（成员姓名）: required but blank or unusable (spreadsheet error value #N/A)"),
    }  # fmt: skip

    # and an optional text field holding an error value is kept, as NULL
    silver = lake.read_arrow(settings.lake / "silver" / FEED).sort_by("_source_row").to_pylist()
    assert [r["_source_row"] for r in silver] == [1, 5, 6]
    assert (silver[0]["handler"], silver[0]["head_name"]) == ("李娜", "张伟")
    assert (silver[1]["handler"], silver[2]["head_name"]) == (None, None)

    # and every declared row is accounted for
    audit = lake.read_arrow(settings.lake / "ingest_audit").to_pylist()
    (a,) = [r for r in audit if r["delivery_id"] == DELIVERY]
    assert (a["rows_declared"], a["rows_bronze"], a["rows_silver"], a["rows_quarantined"]) == (
        6, 6, 3, 3,
    )  # fmt: skip
    assert check_invariants(settings) == []
