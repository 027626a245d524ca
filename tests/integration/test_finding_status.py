"""verify.finding_status (SCD2) through the lifecycle, with real dbt on DuckDB: the model is
built alone (``--select finding_status``) over findings and reviews written here by hand,
run after run, so each transition is one small step the test names.

open -> dismissed (不属实, the note as reason) -> reopened when the amount grows;
open -> resolved by 已整改, kept while the facts stay; open -> resolved by the data (no
longer detected) -> reopened when detected again; a rerun on the same inputs adds nothing.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from civlake.settings import load_settings
from civlake.transform import run_dbt

pytestmark = pytest.mark.integration
FINDINGS = """create or replace table verify.findings (finding_id varchar, rule_code varchar,
    district_code varchar, amount_at_risk decimal(18, 2), period_end varchar)"""
REVIEWS = """create or replace table verify.finding_reviews (review_id varchar,
    finding_id varchar, decision varchar, review_status varchar, note varchar,
    reviewer varchar, reviewed_on date, source_unit varchar, delivery_id varchar,
    source_file varchar, source_row bigint, produced_at varchar)"""
STATUS = {"属实": "confirmed", "不属实": "dismissed", "已整改": "resolved", "无法核实": "open"}


@pytest.fixture(scope="module")
def step(tmp_path_factory):
    settings = load_settings(env={"CIVLAKE_HOME": str(tmp_path_factory.mktemp("status"))})
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(settings.warehouse)) as con:
        con.execute("create schema if not exists verify")
        con.execute(FINDINGS)
        con.execute(REVIEWS)

    def run(findings: list[tuple], reviews: list[tuple] = ()) -> dict[str, list[dict]]:
        """Replace the inputs, build finding_status, return its spells by finding."""
        with duckdb.connect(str(settings.warehouse)) as con:
            con.execute("delete from verify.findings")
            con.execute("delete from verify.finding_reviews")
            for fid, amount, month in findings:
                con.execute(
                    "insert into verify.findings values (?, 'PAY_NO_BASIS', '440104000000', ?, ?)",
                    [fid, amount, month],
                )
            for n, (fid, decision, note) in enumerate(reviews, start=1):
                con.execute(
                    "insert into verify.finding_reviews values (?, ?, ?, ?, ?, '张三', ?, "
                    "'440104', 'd1', 'f.xlsx', ?, '2026-11-06T09:00:00+00:00')",
                    [f"d{n}/{fid}", fid, decision, STATUS[decision], note, date(2026, 11, 5), n],
                )
        run_dbt(settings, select="finding_status")
        with duckdb.connect(str(settings.warehouse), read_only=True) as con:
            cur = con.execute("select * from verify.finding_status order by valid_from")
            cols = [d[0] for d in cur.description]
            spells: dict[str, list[dict]] = {}
            for row in cur.fetchall():
                spell = dict(zip(cols, row, strict=True))
                spells.setdefault(spell["finding_id"], []).append(spell)
        return spells

    return run


def _statuses(spells: dict, fid: str) -> list[str]:
    return [s["status"] for s in spells[fid]]


def test_the_lifecycle(step):
    detected = [("A", 100, "2026-09"), ("B", 50, "2026-09"), ("C", 30, "2026-09")]
    first = step(detected)
    assert {fid: _statuses(first, fid) for fid in "ABC"} == {f: ["open"] for f in "ABC"}

    # WHEN A is dismissed and B reported fixed (已整改), the facts unchanged
    reviewed = step(detected, [("A", "不属实", "同名不同人"), ("B", "已整改", None)])
    a = reviewed["A"]
    assert [s["status"] for s in a] == ["open", "dismissed"]
    assert (a[-1]["reason"], a[-1]["reviewer"], a[-1]["changed_by"]) == (
        "同名不同人",
        "张三",
        "review",
    )
    assert a[0]["valid_to"] == a[1]["valid_from"] and not a[0]["is_current"] and a[1]["is_current"]
    assert a[1]["valid_to"] is None
    assert _statuses(reviewed, "B") == ["open", "resolved"]

    # AND a rerun on the same inputs adds no spell
    again = step(detected, [("A", "不属实", "同名不同人"), ("B", "已整改", None)])
    assert {f: len(s) for f, s in again.items()} == {f: len(s) for f, s in reviewed.items()}

    # WHEN A's amount grows, B stays as it was and C is no longer detected
    later = step([("A", 180, "2026-10"), ("B", 50, "2026-09")],
                 [("A", "不属实", "同名不同人"), ("B", "已整改", None)])  # fmt: skip
    assert _statuses(later, "A") == ["open", "dismissed", "reopened"]
    assert _statuses(later, "B") == ["open", "resolved"]
    assert _statuses(later, "C") == ["open", "resolved"]
    assert (later["C"][-1]["changed_by"], later["C"][-1]["amount_at_risk"]) == ("data", 30)

    # WHEN C comes back: resolved by the data, detected again, it is reopened
    back = step([("A", 180, "2026-10"), ("B", 50, "2026-09"), ("C", 30, "2026-09")],
                [("A", "不属实", "同名不同人"), ("B", "已整改", None)])  # fmt: skip
    assert _statuses(back, "C") == ["open", "resolved", "reopened"]
    assert sum(s["is_current"] for s in back["C"]) == 1
