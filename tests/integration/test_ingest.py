"""Landing -> bronze: every delivery accounted for, rejections leave the lake unchanged."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pytest
import xlsxwriter

from civlake import lake
from civlake.contracts import get_contract
from civlake.ingest import ingest_landing
from tests.deliveries import csv_bytes, headers, write_delivery

pytestmark = pytest.mark.integration

ELDERLY = [
    "440106193001011234",
    "张 伟",
    "男",
    "1930-01-01",
    "440106",
    "90-99岁",
    "300",
    "2020-01",
    "正常",
    "",
]


def audit_rows(settings) -> dict[str, dict]:
    table = lake.read_arrow(settings.lake / "ingest_audit")
    return {} if table is None else {r["delivery_id"]: r for r in table.to_pylist()}


def bronze(settings, feed):
    return lake.read_arrow(settings.lake / "bronze" / feed)


def lake_version(settings, feed):
    dt = lake.open_table(settings.lake / "bronze" / feed)
    return None if dt is None else dt.version()


def test_csv_delivery_loads_with_lineage(settings, now):
    rows = [ELDERLY, [*ELDERLY[:1], "李娜（已故）", *ELDERLY[2:]]]
    write_delivery(settings.landing, "elderly_allowance", "20261101-440100-001",
                   {"高龄.csv": csv_bytes(headers("elderly_allowance"), rows)})  # fmt: skip
    ingest_landing(settings, now=now)
    t = bronze(settings, "elderly_allowance").sort_by("_source_row").to_pylist()
    assert [r["_source_row"] for r in t] == [1, 2]
    assert t[1]["name"] == "李娜（已故）"  # bronze keeps values as delivered
    assert t[0]["name"] == "张 伟"
    assert {r["_source_file"] for r in t} == {"高龄.csv"}
    assert all(len(r["_row_hash"]) == 64 for r in t)
    a = audit_rows(settings)["20261101-440100-001"]
    assert (a["status"], a["rows_declared"], a["rows_bronze"]) == ("loaded", 2, 2)


def test_gb18030_and_bom_decoding(settings, now):
    h = headers("cremation_records")
    row = [
        "HH001",
        "440106195001011230",
        "欧阳䶮",
        "1",
        "2026-10-01",
        "2026-10-03",
        "银河园",
        "440106",
    ]
    write_delivery(settings.landing, "cremation_records", "20261101-440106-001",
                   {"c.csv": csv_bytes(h, [row], "gb18030")}, period="2026-11-01",
                   encoding="GB18030")  # fmt: skip
    hk = headers("hukou_population")
    write_delivery(settings.landing, "hukou_population", "20261101-440100-001",
                   {"h.csv": csv_bytes(hk, [["440106195001011230", "王芳", "2", "01", "1950-01-01",
                                             "440106", "", "", "", "", "正常", "", ""]], "utf-8-sig")},
                   encoding="UTF-8-SIG")  # fmt: skip
    ingest_landing(settings, now=now)
    assert bronze(settings, "cremation_records").column("name").to_pylist() == ["欧阳䶮"]
    assert bronze(settings, "hukou_population").column("id_number").to_pylist() == [
        "440106195001011230"
    ]


@pytest.mark.parametrize("label", ["GBK", "gb2312", "CP936"])
def test_gbk_and_gb2312_labels_decode_as_gb18030(settings, now, label):
    # The feed is GB18030; senders often label it GBK/GB2312. 𠮷 and 䶮 are GB18030-only,
    # 镕 is GBK-only: all must load.
    h = headers("cremation_records")
    row = ["HH001", "440106195001011230", "欧阳䶮𠮷镕", "1", "2026-10-01", "", "银河园", "440106"]
    write_delivery(settings.landing, "cremation_records", "20261101-440106-001",
                   {"c.csv": csv_bytes(h, [row], "gb18030")}, period="2026-11-01",
                   encoding=label)  # fmt: skip
    ingest_landing(settings, now=now)
    assert audit_rows(settings)["20261101-440106-001"]["status"] == "loaded"
    assert bronze(settings, "cremation_records").column("name").to_pylist() == ["欧阳䶮𠮷镕"]


@pytest.mark.parametrize("quoted", [False, True])
def test_csv_rows_of_only_empty_cells_are_not_data_rows(settings, now, quoted):
    # Excel's CSV export writes ",,,," for rows it once formatted; like blank XLSX rows
    # they are not data rows and do not count in the manifest's rows.
    h = headers("elderly_allowance")
    other = [ELDERLY[0][:-4] + "2345", *ELDERLY[1:-1], "含,逗号" if quoted else ""]
    body = csv_bytes(h, [ELDERLY, [""] * len(h), ["　", " "], other]) + b",,,,,,,,,\r\n,,\r\n"
    write_delivery(settings.landing, "elderly_allowance", "20261101-440100-001", {"e.csv": body},
                   rows={"e.csv": 2})  # fmt: skip
    ingest_landing(settings, now=now)
    a = audit_rows(settings)["20261101-440100-001"]
    assert (a["status"], a["rows_bronze"]) == ("loaded", 2), a["reject_detail"]
    t = bronze(settings, "elderly_allowance").sort_by("_source_row").to_pylist()
    assert [(r["_source_row"], r["id_number"], r["_malformed"]) for r in t] == [
        (1, ELDERLY[0], None),
        (2, other[0], None),
    ]


def test_a_column_delivered_twice_keeps_the_first_and_the_second_in_extra(settings, now):
    h = [*headers("elderly_allowance"), "姓名"]
    write_delivery(settings.landing, "elderly_allowance", "20261101-440100-001",
                   {"e.csv": csv_bytes(h, [[*ELDERLY, "张伟伟"]])})  # fmt: skip
    ingest_landing(settings, now=now)
    (row,) = bronze(settings, "elderly_allowance").to_pylist()
    assert row["name"] == ELDERLY[1]
    assert json.loads(row["_extra"]) == {"姓名": "张伟伟"}


def _xlsx(rows_before: list[list], header: list[str], data: list[list], after: list[list]) -> bytes:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet()
    r = 0
    for row in rows_before:
        ws.merge_range(r, 0, r, len(header) - 1, row[0])
        r += 1
    for rows in ([header], data, after):
        for row in rows:
            for c, v in enumerate(row):
                if v is None:
                    continue
                if isinstance(v, float | int):
                    ws.write_number(r, c, v)
                else:
                    ws.write_string(r, c, v)
            r += 1
    wb.close()
    return buf.getvalue()


def test_xlsx_title_total_blank_rows_serials_and_ids(settings, now):
    h = headers("child_welfare")
    data = [
        [
            "'440106201501011238",
            "小明",
            "1",
            42005,
            "孤儿",
            "机构养育",
            "",
            "",
            "",
            "440106",
            2500,
            "2020-01-01",
            "在册",
        ],
        [
            4.40106201501011e17,
            "小红",
            "2",
            "2015-01-01",
            "孤儿",
            "社会散居",
            "",
            "",
            "",
            "440106",
            1900,
            "",
            "在册",
        ],
        [None] * len(h),
        ["合计", None, None, None, None, None, None, None, None, None, 4400, None, None],
    ]
    body = _xlsx([["天河区2026年10月儿童福利对象名册"]], h, data[:2], data[2:])
    write_delivery(settings.landing, "child_welfare", "20261101-440106-001", {"儿童.xlsx": body},
                   rows={"儿童.xlsx": 2}, encoding=None)  # fmt: skip
    ingest_landing(settings, now=now)
    assert audit_rows(settings)["20261101-440106-001"]["status"] == "loaded"
    t = bronze(settings, "child_welfare").sort_by("_source_row").to_pylist()
    assert [r["_source_row"] for r in t] == [1, 2]
    assert t[0]["child_id_number"] == "'440106201501011238"
    assert t[0]["birth_date"] == "42005"  # an Excel serial, kept as delivered
    assert t[1]["child_id_number"] == "4.40106201501011e+17"  # unrecoverable, visible as such
    assert t[0]["monthly_allowance"] == "2500"


def test_xlsx_vertically_merged_cells_fill_every_row_of_the_merge(settings, now):
    # 家庭编号 merged down the rows of a household: each member row carries it.
    h = [c.header for c in get_contract("assistance_recipients").columns]
    member = ["", "440106", "低保", "", "", "", "", "", "", "", "1120", "", "在保", "", ""]
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet()
    ws.merge_range(0, 0, 0, len(h) - 1, "天河区2026年10月低保对象名册")
    ws.write_row(1, 0, h)
    for r, name in enumerate(["张伟", "李娜", "张小伟"], start=2):
        ws.write_row(r, 1, [*member[1:6], name])
    ws.merge_range(2, 0, 4, 0, "F001")
    ws.merge_range(5, 0, 5, 6, "合计")
    wb.close()
    write_delivery(settings.landing, "assistance_recipients", "20261101-440106-001",
                   {"a.xlsx": buf.getvalue()}, rows={"a.xlsx": 3}, encoding=None)  # fmt: skip
    ingest_landing(settings, now=now)
    t = bronze(settings, "assistance_recipients").sort_by("_source_row").to_pylist()
    assert [(r["family_no"], r["member_name"]) for r in t] == [
        ("F001", "张伟"),
        ("F001", "李娜"),
        ("F001", "张小伟"),
    ]


def test_jsonl_non_object_line_is_kept_as_malformed(settings, now):
    lines = [
        json.dumps({"cert_no": "D1", "id_number": "440106195001011230", "name": "王芳",
                    "death_date": "2026-10-01", "extra_field": 1}, ensure_ascii=False),
        "[1, 2, 3]",
        "{not json",
    ]  # fmt: skip
    write_delivery(settings.landing, "death_certificates", "20261101-440100-001",
                   {"d.jsonl": ("\n".join(lines) + "\n").encode()}, period="2026-11-01")  # fmt: skip
    ingest_landing(settings, now=now)
    t = bronze(settings, "death_certificates").sort_by("_source_row").to_pylist()
    assert len(t) == 3
    assert t[0]["_malformed"] is None and json.loads(t[0]["_extra"]) == {"extra_field": 1}
    assert t[1]["_malformed"] == "[1, 2, 3]" and t[2]["_malformed"] == "{not json"


def test_malformed_csv_row_counts_and_is_kept(settings, now):
    h = headers("elderly_allowance")
    body = csv_bytes(h, [ELDERLY]) + b"only,three,fields\r\n"
    write_delivery(settings.landing, "elderly_allowance", "20261101-440100-001", {"e.csv": body},
                   rows={"e.csv": 2})  # fmt: skip
    ingest_landing(settings, now=now)
    t = bronze(settings, "elderly_allowance").sort_by("_source_row").to_pylist()
    assert t[1]["_malformed"] == "only,three,fields" and t[1]["name"] is None


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("sha", "HASH_MISMATCH"),
        ("rows", "ROWCOUNT_MISMATCH"),
        ("schema", "SCHEMA_MISMATCH"),
        ("encoding", "ENCODING_ERROR"),
        ("manifest", "MANIFEST_INVALID"),
    ],
)
def test_rejections_leave_the_lake_unchanged(settings, now, kind, reason):
    h = headers("elderly_allowance")
    good = csv_bytes(h, [ELDERLY])
    write_delivery(settings.landing, "elderly_allowance", "20261101-440100-001", {"ok.csv": good})
    ingest_landing(settings, now=now)
    version = lake_version(settings, "elderly_allowance")
    before = bronze(settings, "elderly_allowance").num_rows
    did = "20261102-440100-001"
    kwargs: dict = {}
    body = csv_bytes(h, [ELDERLY, ELDERLY])
    if kind == "sha":
        kwargs["sha_override"] = {"bad.csv": "0" * 64}
    elif kind == "rows":
        kwargs["rows"] = {"bad.csv": 3}
    elif kind == "schema":
        body = csv_bytes([x for x in h if x != "档次"], [ELDERLY[:5] + ELDERLY[6:]] * 2)
    elif kind == "encoding":
        body = body.replace("张".encode(), b"\xff\xfe")
        kwargs["rows"] = {"bad.csv": 2}
    folder = write_delivery(settings.landing, "elderly_allowance", did, {"bad.csv": body},
                            produced_at="2026-11-02T02:00:00+08:00", **kwargs)  # fmt: skip
    if kind == "manifest":
        m = json.loads((folder / "manifest.json").read_text())
        m["period"] = "October"
        (folder / "manifest.json").write_text(json.dumps(m))
    summary = ingest_landing(settings, now=now)["elderly_allowance"]
    a = audit_rows(settings)[did]
    assert (a["status"], a["reject_reason"]) == ("rejected", reason)
    assert "bad.csv" in a["reject_detail"] or kind == "manifest"
    assert lake_version(settings, "elderly_allowance") == version
    assert bronze(settings, "elderly_allowance").num_rows == before
    assert any(reason in p for p in summary.problems)


def test_duplicate_resubmission_pending_and_rerun_noop(settings, now):
    h = headers("elderly_allowance")
    first = csv_bytes(h, [ELDERLY])
    write_delivery(settings.landing, "elderly_allowance", "20261101-440100-001", {"e.csv": first})
    write_delivery(settings.landing, "elderly_allowance", "20261101-440100-002", {"e.csv": first})
    write_delivery(settings.landing, "elderly_allowance", "20261103-440100-001",
                   {"e.csv": csv_bytes(h, [ELDERLY, ELDERLY])}, produced_at="2026-11-03T02:00:00+08:00")  # fmt: skip
    write_delivery(settings.landing, "elderly_allowance", "20261104-440100-001", {"e.csv": first},
                   manifest=False)  # fmt: skip
    summary = ingest_landing(settings, now=now)["elderly_allowance"]
    a = audit_rows(settings)
    assert a["20261101-440100-001"]["status"] == "superseded"
    assert a["20261101-440100-001"]["superseded_by"] == "20261103-440100-001"
    assert a["20261101-440100-002"]["status"] == "duplicate"
    assert a["20261103-440100-001"]["status"] == "loaded"
    assert "20261104-440100-001" not in a and summary.pending == 1
    # superseded rows stay in bronze for history
    assert bronze(settings, "elderly_allowance").num_rows == 3
    for r in a.values():
        if r["status"] == "loaded":
            assert r["rows_declared"] == r["rows_bronze"]
    # the summary counts the ledger as committed, supersession included, on the run that
    # wrote it and on a rerun
    counts = (1, 1, 1, 0, sum(r["rows_bronze"] or 0 for r in a.values()))
    assert counts[-1] == 3
    assert (summary.loaded, summary.superseded, summary.duplicate, summary.rejected,
            summary.rows_bronze) == counts  # fmt: skip
    version = lake_version(settings, "elderly_allowance")
    again = ingest_landing(settings, now=now)["elderly_allowance"]
    assert again.new_deliveries == []
    assert lake_version(settings, "elderly_allowance") == version
    assert (again.loaded, again.superseded, again.duplicate, again.rejected,
            again.rows_bronze) == counts  # fmt: skip


def test_late_older_resubmission_is_superseded_on_arrival(settings, now):
    h = headers("elderly_allowance")
    write_delivery(settings.landing, "elderly_allowance", "20261103-440100-001",
                   {"new.csv": csv_bytes(h, [ELDERLY])}, produced_at="2026-11-03T02:00:00+08:00")  # fmt: skip
    ingest_landing(settings, now=now)
    write_delivery(settings.landing, "elderly_allowance", "20261101-440100-001",
                   {"old.csv": csv_bytes(h, [ELDERLY, ELDERLY])})  # fmt: skip
    ingest_landing(settings, now=now)
    a = audit_rows(settings)
    assert a["20261101-440100-001"]["status"] == "superseded"
    assert a["20261103-440100-001"]["status"] == "loaded"


def test_crash_between_bronze_and_audit_is_repaired(settings, now):
    h = headers("elderly_allowance")
    write_delivery(settings.landing, "elderly_allowance", "20261101-440100-001",
                   {"e.csv": csv_bytes(h, [ELDERLY])})  # fmt: skip
    ingest_landing(settings, now=now)
    # simulate a crash after the bronze commit: drop the audit row only
    lake.delete_where(settings.lake / "ingest_audit", "delivery_id = '20261101-440100-001'")
    ingest_landing(settings, now=now)
    assert bronze(settings, "elderly_allowance").num_rows == 1
    assert audit_rows(settings)["20261101-440100-001"]["status"] == "loaded"


def test_broken_manifest_then_full_delivery_in_one_run(settings, now):
    # A rejected delivery without a readable manifest must not break the supersession
    # bookkeeping of later deliveries in the same run.
    h = headers("elderly_allowance")
    bad = write_delivery(settings.landing, "elderly_allowance", "20261101-440100-001",
                         {"e.csv": csv_bytes(h, [ELDERLY])})  # fmt: skip
    (bad / "manifest.json").write_text("{not json", encoding="utf-8")
    write_delivery(settings.landing, "elderly_allowance", "20261102-440100-001",
                   {"e.csv": csv_bytes(h, [ELDERLY])}, produced_at="2026-11-02T02:00:00+08:00")  # fmt: skip
    write_delivery(settings.landing, "elderly_allowance", "20261103-440100-001",
                   {"e.csv": csv_bytes(h, [ELDERLY, ELDERLY])}, produced_at="2026-11-03T02:00:00+08:00")  # fmt: skip
    ingest_landing(settings, now=now)
    a = audit_rows(settings)
    assert a["20261101-440100-001"]["reject_reason"] == "MANIFEST_INVALID"
    assert a["20261102-440100-001"]["status"] == "superseded"
    assert a["20261103-440100-001"]["status"] == "loaded"


@pytest.mark.parametrize(("period", "ok"), [("2026-11-02", True), ("2026-W44", True), ("2026", True),
                                            ("2026-02-30", False), ("2026-13", False)])  # fmt: skip
def test_period_formats_of_any_cadence_are_accepted_when_well_formed(settings, now, period, ok):
    hk = headers("hukou_population")
    row = [
        "440106195001011230",
        "王芳",
        "2",
        "01",
        "1950-01-01",
        "440106",
        "",
        "",
        "",
        "",
        "正常",
        "",
        "",
    ]
    write_delivery(settings.landing, "hukou_population", "20261102-440100-001",
                   {"h.csv": csv_bytes(hk, [row], "utf-8-sig")}, encoding="UTF-8-SIG",
                   period=period, mode="incremental")  # fmt: skip
    ingest_landing(settings, now=now)
    a = audit_rows(settings)["20261102-440100-001"]
    assert (a["status"] == "loaded") is ok, a["reject_detail"]


def test_fast_and_exact_csv_readers_agree(tmp_path):
    # The Arrow fast path must give exactly what the row-by-row reader gives.
    from civlake.contracts import get_contract
    from civlake.ingest.readers import _read_csv_arrow, _read_csv_rows

    contract = get_contract("elderly_allowance")
    tricky = [
        ["'440106193001011234", "欧阳 娜娜", "女", "1930/1/1", "440106", " 90～99岁 ", "300元", "2020年1月", "正常", "说明，含逗号\n和换行"],
        ["", "　", "  ", "", "", "", "", "", "", ""],
        ["44010619300101123x", "李娜（已故）", "2", "19300101", "440106001", "90-99岁", "1,300.00", "202001", "发放中", '引号"内"'],
    ]  # fmt: skip
    for encoding in ("utf-8", "utf-8-sig", "gb18030"):
        path = tmp_path / f"e-{encoding}.csv"
        path.write_bytes(csv_bytes(headers("elderly_allowance"), tricky, encoding))
        fast = list(_read_csv_arrow(path, contract, encoding, "t"))  # raises if it declines
        exact = list(_read_csv_rows(path, contract, encoding, "t"))
        assert pa.Table.from_batches(fast).to_pylist() == pa.Table.from_batches(exact).to_pylist()


def test_malformed_rows_and_blank_lines_agree_between_readers(tmp_path):
    from civlake.contracts import get_contract
    from civlake.ingest.readers import _read_csv_arrow, _read_csv_rows

    contract = get_contract("elderly_allowance")
    body = (
        csv_bytes(headers("elderly_allowance"), [ELDERLY])
        + b"\r\na,b\r\n"
        + (csv_bytes(headers("elderly_allowance"), [ELDERLY, ELDERLY]).split(b"\r\n", 1)[1])
        + b"x,y,z\r\n\r\n"
    )
    path = tmp_path / "e.csv"
    path.write_bytes(body)
    fast = list(_read_csv_arrow(path, contract, "utf-8", "t"))  # raises if it declines
    exact = pa.Table.from_batches(list(_read_csv_rows(path, contract, "utf-8", "t"))).to_pylist()
    assert pa.Table.from_batches(fast).to_pylist() == exact
    assert [r["_source_row"] for r in exact if r["_malformed"]] == [2, 5]


def test_irregular_csv_falls_back_to_the_exact_reader(tmp_path):
    from civlake.contracts import get_contract
    from civlake.ingest.readers import _NeedsExactReader, _read_csv_arrow

    contract = get_contract("elderly_allowance")
    path = tmp_path / "e.csv"
    quoted = [*ELDERLY[:-1], "含,逗号"]
    path.write_bytes(csv_bytes(headers("elderly_allowance"), [quoted]) + b"a,b\r\n")
    with pytest.raises(_NeedsExactReader):  # quotes + malformed
        list(_read_csv_arrow(path, contract, "utf-8", "t"))
    path.write_bytes(csv_bytes([*headers("elderly_allowance"), "备注"], [[*ELDERLY, "x"]]))
    with pytest.raises(_NeedsExactReader):  # unknown column -> _extra
        list(_read_csv_arrow(path, contract, "utf-8", "t"))
