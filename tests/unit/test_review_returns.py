"""A returned worklist as the ingest reader and the clean gate see it: every sheet whose
header carries the feed's columns is read (not 汇总), rows numbered through the sheets;
a review of an unknown finding or of another district's is refused, an unfilled row is not."""

from __future__ import annotations

from datetime import UTC, datetime

import openpyxl
import pyarrow as pa

from civlake import tables
from civlake.clean.reviews import refuse_foreign_reviews
from civlake.contracts import get_contract
from civlake.ingest.readers import read_xlsx

HEADER = ["序号", "核查编号", "姓名/组织", "核查结论", "处理说明", "核查人", "核查日期", "区县代码"]


def test_every_rule_sheet_is_read_and_the_summary_is_not(tmp_path):
    book = openpyxl.Workbook()
    book.active.title = "汇总"
    book.active.append(["区县", "核查规则", "条数"])
    book.active.append(["越秀区", "DEATH_PAID", 2])
    for title, rows in (("死亡后仍发放", ["a" * 32, "b" * 32]), ("重复享受救助", ["c" * 32])):
        sheet = book.create_sheet(title)
        sheet.append(HEADER)
        for i, fid in enumerate(rows, start=1):
            sheet.append([i, fid, "张三", "不属实" if fid == "b" * 32 else None, None, None, None,
                          "440104000000"])  # fmt: skip
    path = tmp_path / "440104_越秀区_比对核查工作清单.xlsx"
    book.save(path)
    read = pa.Table.from_batches(list(read_xlsx(path, get_contract("finding_reviews"), "t")))
    assert read["finding_id"].to_pylist() == ["a" * 32, "b" * 32, "c" * 32]
    assert read["_source_row"].to_pylist() == [1, 2, 3]
    assert read["decision"].to_pylist() == [None, "不属实", None]
    # the worklist's other columns are kept as delivered, not lost
    assert '"姓名/组织": "张三"' in read["_extra"][0].as_py()


def _silver(rows: list[dict]) -> pa.Table:
    schema = tables.silver_schema(get_contract("finding_reviews"))
    now = datetime(2026, 11, 6, tzinfo=UTC)
    full = [
        {**dict.fromkeys(schema.names), "_delivery_id": "20261106-440104-001",
         "_source_file": "w.xlsx", "_source_row": i, "_source_unit": "440104",
         "_ingested_at": now, **row}
        for i, row in enumerate(rows, start=1)
    ]  # fmt: skip
    return pa.Table.from_pylist(full, schema=schema)


def test_reviews_of_unknown_or_other_districts_findings_are_quarantined():
    known = {"a" * 32: "440104000000", "b" * 32: "440103000000"}
    silver = _silver([
        {"finding_id": "a" * 32, "decision": "属实"},
        {"finding_id": "b" * 32, "decision": "属实"},
        {"finding_id": "z" * 32, "decision": "不属实"},
        {"finding_id": "z" * 32, "decision": None},  # not a review: passes as it is
    ])  # fmt: skip
    empty = pa.Table.from_pylist([], schema=tables.schema(tables.QUARANTINE))
    kept, quarantine = refuse_foreign_reviews(known, silver, empty)
    assert kept["_source_row"].to_pylist() == [1, 4]
    refused = {r["_source_row"]: r for r in quarantine.to_pylist()}
    assert refused[2]["reasons"] == ["FINDING_OTHER_DISTRICT"]
    assert "440103" in refused[2]["detail"]
    assert refused[3]["reasons"] == ["FINDING_UNKNOWN"]
    assert refused[3]["_delivery_id"] == "20261106-440104-001"
    assert quarantine.schema.equals(tables.schema(tables.QUARANTINE))
