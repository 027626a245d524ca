"""The silver gate on real Delta tables: pass on good silver, stop on a critical failure."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from decimal import Decimal

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from civlake import lake
from civlake.engine.runtime import EMBEDDED, on_session
from civlake.expectations import GateFailed, run_silver_gate
from civlake.settings import load_settings

pytestmark = pytest.mark.integration

AT = dt.datetime(2026, 11, 2, 3, 0, tzinfo=dt.UTC)
TIANHE = "440106000000"
TIANHE_STREET = "440106001000"
OLD_CODE = "440106099000"  # abolished, succeeded by TIANHE_STREET


def _lineage(n: int, delivery: str, file: str) -> dict[str, list]:
    return {
        "_delivery_id": [delivery] * n,
        "_source_file": [file] * n,
        "_source_row": pa.array(range(1, n + 1), pa.int64()),
        "_source_unit": ["440106"] * n,
        "_period": ["2026-10"] * n,
        "_mode": ["full"] * n,
        "_produced_at": ["2026-11-01T02:00:00+08:00"] * n,
        "_ingested_at": pa.array([AT] * n, pa.timestamp("us", tz="UTC")),
        "_row_hash": [f"h{i}" for i in range(n)],
    }


def _divisions() -> pa.Table:
    codes = ["440100000000", TIANHE, TIANHE_STREET, OLD_CODE]
    return pa.table(
        {
            "division_code": codes,
            "name": ["广州市", "天河区", "五山街道", "旧街道"],
            "level": ["2", "3", "4", "4"],
            "parent_code": ["440000000000", "440100000000", TIANHE, TIANHE],
            "urban_rural_code": [None] * 4,
            "valid_from": pa.array([dt.date(2000, 1, 1)] * 4, pa.date32()),
            "valid_to": pa.array([None, None, None, dt.date(2020, 1, 1)], pa.date32()),
            "successor_code": [None, None, None, TIANHE_STREET],
            **_lineage(4, "20260101-440100-001", "divisions.csv"),
        }
    )


def _assistance(rows: list[dict]) -> pa.Table:
    n = len(rows)
    col = lambda k: [r.get(k) for r in rows]  # noqa: E731
    return pa.table(
        {
            "family_no": col("family_no"),
            "division_code": col("division_code"),
            "division_code_delivered": col("division_code"),
            "assistance_type": col("assistance_type"),
            "head_id_number": col("head_id"),
            "head_id_number_status": [r.get("head_status", "valid") for r in rows],
            "head_name": col("head_name"),
            "head_name_note": [None] * n,
            "member_id_number": col("member_id"),
            "member_id_number_status": [r.get("member_status", "valid") for r in rows],
            "member_name": col("member_name"),
            "member_name_note": [None] * n,
            "relation_to_head": col("relation"),
            "household_size": pa.array(col("household_size"), pa.int64()),
            "covered_persons": pa.array(col("household_size"), pa.int64()),
            "monthly_amount": pa.array(col("amount"), pa.decimal128(18, 2)),
            "approved_on": pa.array([dt.date(2024, 3, 1)] * n, pa.date32()),
            "status": col("status"),
            "stopped_on": pa.array([None] * n, pa.date32()),
            "handler": ["王芳"] * n,
            **_lineage(n, "20261101-440106-001", "天河区2026年10月救助对象名册.xlsx"),
        }
    )


def _good_rows() -> list[dict]:
    base = {
        "division_code": TIANHE_STREET,
        "assistance_type": "低保",
        "status": "在保",
        "household_size": 2,
        "amount": Decimal("2240.00"),
    }
    return [
        {**base, "family_no": "F001", "head_id": "440106195001011234", "head_name": "张伟",
         "member_id": "440106195001011234", "member_name": "张伟", "relation": "本人"},
        {**base, "family_no": "F001", "head_id": "440106195001011234", "head_name": "张伟",
         "member_id": "440106195203042345", "member_name": "李娜", "relation": "配偶"},
        {**base, "family_no": "F002", "assistance_type": "特困", "head_id": None,
         "head_status": "missing", "head_name": "陈明", "member_id": "440106194005066789",
         "member_name": "陈明", "relation": "本人", "household_size": 1,
         "amount": Decimal("1500.00")},
    ]  # fmt: skip


def _audit(rows_quarantined: int, rows_declared: int = 3) -> pa.Table:
    return pa.table(
        {
            "feed_id": ["assistance_recipients"],
            "delivery_id": ["20261101-440106-001"],
            "source_unit": ["440106"],
            "period": ["2026-10"],
            "status": ["loaded"],
            "rows_declared": pa.array([rows_declared], pa.int64()),
            "rows_quarantined": pa.array([rows_quarantined], pa.int64()),
        }
    )


@pytest.fixture
def settings(tmp_path):
    s = load_settings(env={"CIVLAKE_HOME": str(tmp_path)})
    lake.append(lake.table_path(s.lake, "silver", "divisions"), _divisions())
    return s


def test_good_silver_passes_and_results_are_written(settings):
    # GIVEN clean silver for assistance and divisions, and an audit row with 0 quarantined
    lake.append(
        lake.table_path(settings.lake, "silver", "assistance_recipients"), _assistance(_good_rows())
    )
    lake.append(lake.table_path(settings.lake, "ingest_audit"), _audit(0))

    # WHEN the gate runs on both feeds
    result = run_silver_gate(
        settings, feeds=["divisions", "assistance_recipients"], run_id="t1", at=AT
    )

    # THEN nothing critical fails, and every outcome is in the Delta results table
    assert result.ok, [o.explain() for o in result.critical_failures]
    assert result.feeds_checked == ["divisions", "assistance_recipients"]
    table = lake.read_arrow(settings.lake / "expectation_results").to_pylist()
    assert len(table) == len(result.outcomes) > 40
    assert {r["suite"] for r in table} == {
        "silver.divisions.critical", "silver.divisions.warning",
        "silver.assistance_recipients.critical", "silver.assistance_recipients.warning",
    }  # fmt: skip
    assert all(r["run_id"] == "t1" and r["at"] == AT for r in table)
    quarantine = [r for r in table if r["column"] == "quarantine_rate"]
    assert quarantine and all(r["success"] for r in quarantine)
    # Data Docs exist and reference no external URL (usable offline).
    page = (settings.home / "data_docs" / "runs" / "t1" / "index.html").read_text("utf-8")
    assert "silver.assistance_recipients.critical" in page
    assert "http://" not in page and "https://" not in page
    assert (settings.home / "data_docs" / "index.html").exists()


def test_rerun_replaces_the_runs_rows_per_feed(settings):
    # GIVEN two feeds gated one at a time under the same run id (as the ingest DAGs do)
    silver = lake.table_path(settings.lake, "silver", "assistance_recipients")
    lake.append(silver, _assistance(_good_rows()))
    first = run_silver_gate(settings, feeds=["assistance_recipients"], run_id="same", at=AT)
    other = run_silver_gate(settings, feeds=["divisions"], run_id="same", at=AT)

    # WHEN the first feed is gated again (a retried task)
    run_silver_gate(settings, feeds=["assistance_recipients"], run_id="same", at=AT)

    # THEN its rows are replaced, not doubled, and the other feed's rows stay
    table = lake.read_arrow(settings.lake / "expectation_results").to_pylist()
    per_feed = {
        f: sum(r["feed_id"] == f for r in table) for f in ("assistance_recipients", "divisions")
    }
    assert per_feed == {
        "assistance_recipients": len(first.outcomes),
        "divisions": len(other.outcomes),
    }
    page = (settings.home / "data_docs" / "runs" / "same" / "index.html").read_text("utf-8")
    assert "silver.assistance_recipients.critical" in page and "silver.divisions.critical" in page


def test_critical_failure_raises_naming_feed_expectation_and_rows(settings):
    # GIVEN silver where one row has a non-canonical enum and one a division code that
    # silver.divisions does not know (both should have been quarantined by the clean gate)
    rows = _good_rows()
    rows[1]["assistance_type"] = "最低生活保障"
    rows[2]["division_code"] = "440199001000"
    lake.append(
        lake.table_path(settings.lake, "silver", "assistance_recipients"), _assistance(rows)
    )

    # WHEN the gate runs
    with pytest.raises(GateFailed) as info:
        run_silver_gate(settings, feeds=["assistance_recipients"], run_id="bad", at=AT)

    # THEN the message names the feed, the expectation and the offending rows
    msg = str(info.value)
    assert "[assistance_recipients]" in msg
    assert "expect_column_values_to_be_in_set(assistance_type)" in msg
    assert "_source_row=2" in msg and "最低生活保障" in msg
    assert "440199001000" in msg and "_source_row=3" in msg
    failed = {o.expectation for o in info.value.result.critical_failures}
    assert failed == {
        "expect_column_values_to_be_in_set(assistance_type)",
        "expect_column_values_to_be_in_set(division_code)",
    }
    # AND the results were recorded before raising
    recorded = lake.read_arrow(settings.lake / "expectation_results").to_pylist()
    bad = [r for r in recorded if not r["success"] and r["severity"] == "critical"]
    assert {r["expectation"] for r in bad} == failed
    details = json.loads(bad[0]["details"])
    assert details["examples"][0]["_delivery_id"] == "20261101-440106-001"


def test_a_code_pattern_takes_ascii_digits_to_the_end_of_the_value(settings):
    # GIVEN silver whose division codes are twelve full-width digits and twelve digits
    # followed by a newline (Python's re would pass both: its \d takes any Unicode digit
    # and its $ matches before a final newline; GX's regex here runs in Arrow, on RE2)
    rows = _good_rows()
    rows[1]["division_code"] = "".join(chr(ord(c) + 0xFEE0) for c in TIANHE_STREET)
    rows[2]["division_code"] = TIANHE_STREET + "\n"
    lake.append(
        lake.table_path(settings.lake, "silver", "assistance_recipients"), _assistance(rows)
    )
    # WHEN the gate runs, THEN the pattern check fails on exactly those two rows
    with pytest.raises(GateFailed) as info:
        run_silver_gate(settings, feeds=["assistance_recipients"], run_id="codes", at=AT)
    (pattern,) = [
        o
        for o in info.value.result.critical_failures
        if o.expectation == "expect_column_values_to_match_regex(division_code)"
    ]
    assert pattern.unexpected_count == 2
    assert [e["_source_row"] for e in pattern.examples] == [2, 3]


def test_warnings_are_recorded_not_raised(settings):
    # GIVEN a delivery with 1 of 3 rows quarantined (33 %: above the 5 % warning, below
    # the 50 % critical limit) and an elderly-range amount slip (above 30,000 元)
    rows = _good_rows()
    rows[2]["amount"] = Decimal("150000.00")
    lake.append(
        lake.table_path(settings.lake, "silver", "assistance_recipients"), _assistance(rows)
    )
    lake.append(lake.table_path(settings.lake, "ingest_audit"), _audit(1))

    result = run_silver_gate(settings, feeds=["assistance_recipients"], run_id="w", at=AT)

    warned = {(o.expectation, o.column) for o in result.warnings}
    assert ("expect_column_values_to_be_between(quarantine_rate)", "quarantine_rate") in warned
    assert ("expect_column_values_to_be_between(monthly_amount)", "monthly_amount") in warned
    q = next(o for o in result.warnings if o.column == "quarantine_rate")
    assert q.examples[0]["delivery_id"] == "20261101-440106-001"


def test_missing_silver_table_is_skipped(settings):
    result = run_silver_gate(settings, feeds=["benefit_payments"], run_id="none", at=AT)
    assert result.feeds_checked == []
    assert "benefit_payments" in result.feeds_skipped


def test_suites_build_as_gx_objects_with_placeholders_resolved():
    from civlake.expectations.suites import silver_specs, to_gx_suite

    specs = [s for s in silver_specs("assistance_recipients") if s.severity == "critical"]
    suite = to_gx_suite(
        "silver.assistance_recipients.critical",
        specs,
        resolve={"$divisions.all": {TIANHE, TIANHE_STREET}},
    )
    assert suite.name == "silver.assistance_recipients.critical"
    assert len(suite.expectations) == len(specs)
    ref = [
        e for e in suite.expectations
        if e.expectation_type == "expect_column_values_to_be_in_set"
        and e.column == "division_code"
    ]  # fmt: skip
    assert ref[0].value_set == sorted([TIANHE, TIANHE_STREET])


def test_suites_drop_the_expectations_gx_drops():
    # GIVEN every feed's specs of each severity, plus for one feed a spec equal to another
    # but for its description (meta), and one that differs in a kwarg
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    from civlake.contracts import load_contracts
    from civlake.expectations.specs import SEVERITIES, ExpectationSpec
    from civlake.expectations.suites import silver_specs, to_gx_suite

    resolve = {"$divisions.all": {TIANHE, TIANHE_STREET}, "$divisions.current": {TIANHE}}
    spec = ExpectationSpec(
        "expect_column_values_to_not_be_in_set",
        {"column": "head_id_number_status", "value_set": ["invalid"], "mostly": 0.95},
        "critical",
        "share of invalid head IDs",
    )
    planted = [
        spec,
        ExpectationSpec(spec.type, spec.kwargs, "critical", "the same, told otherwise"),
        ExpectationSpec(spec.type, {**spec.kwargs, "mostly": 0.9}, "critical", "laxer"),
    ]
    groups = [
        [s for s in silver_specs(feed) if s.severity == severity]
        for feed in sorted(load_contracts())
        for severity in SEVERITIES
    ]
    groups.append(planted + groups[0])

    # WHEN each group becomes a suite here and through GX's own add_expectation
    def by_gx(specs):
        gx.get_context(mode="ephemeral")  # add_expectation asks the context about saving
        suite = gx.ExpectationSuite(name="reference")
        for one in specs:
            kwargs = dict(one.kwargs)
            if isinstance(kwargs.get("value_set"), str):
                kwargs["value_set"] = sorted(resolve.get(kwargs["value_set"], []))
            meta = {
                "label": one.label, "severity": one.severity, "origin": one.origin,
                "batch": one.batch, "description": one.description,
            }  # fmt: skip
            config = ExpectationConfiguration(type=one.type, kwargs=kwargs, meta=meta)
            suite.add_expectation(config.to_domain_obj())
        return suite

    # THEN both keep the same expectations in the same order
    for specs in groups:
        ours = to_gx_suite("ours", specs, resolve=resolve).expectations
        theirs = by_gx(specs).expectations
        assert [e.configuration for e in ours] == [e.configuration for e in theirs]
    kept = to_gx_suite("ours", planted, resolve=resolve).expectations
    assert [e.meta["description"] for e in kept] == ["share of invalid head IDs", "laxer"]


def test_audit_frame_rates_only_loaded_cleaned_deliveries(settings):
    from civlake.expectations.batches import audit_frame, read_ledger

    rows = pa.concat_tables(
        [
            _audit(1, 4),
            _audit(0, 0),  # empty delivery: no rate
            _audit(5, 10).set_column(4, "status", pa.array(["superseded"])),
        ]
    )
    lake.append(lake.table_path(settings.lake, "ingest_audit"), rows)
    df = audit_frame(read_ledger(settings.lake, io=lake.DELTA_RS), "assistance_recipients")
    assert list(df["quarantine_rate"]) == [0.25]


@pytest.mark.parametrize("write_order", [("1102", "1101"), ("1101", "1102")])
def test_examples_follow_lineage_order_not_file_order(settings, write_order):
    # GIVEN two deliveries written to silver in either order (file order is the writer's
    # business: delta-rs and delta-spark lay out and list files differently), every row
    # with a non-canonical enum
    path = lake.table_path(settings.lake, "silver", "assistance_recipients")
    rows = [{**r, "assistance_type": "最低生活保障"} for r in _good_rows()]
    for delivery in (f"2026{day}-440106-001" for day in write_order):
        table = _assistance(rows)
        at = table.column_names.index("_delivery_id")
        lake.append(path, table.set_column(at, "_delivery_id", pa.array([delivery] * len(rows))))

    # WHEN the gate runs
    with pytest.raises(GateFailed) as info:
        run_silver_gate(settings, feeds=["assistance_recipients"], run_id="order", at=AT)

    # THEN its examples are the first failing rows in lineage order, whichever engine
    # wrote the table, so both engines record the same examples
    failed = next(o for o in info.value.result.critical_failures if o.column == "assistance_type")
    seen = [(e["_delivery_id"], e["_source_row"]) for e in failed.examples]
    assert seen == sorted(seen)
    assert seen[0] == ("20261101-440106-001", 1) and len(seen) == 2 * len(rows)


def _delivery(rows: list[dict], delivery: str) -> pa.Table:
    table = _assistance(rows)
    at = table.column_names.index("_delivery_id")
    return table.set_column(at, "_delivery_id", pa.array([delivery] * len(rows)))


def _recorded(settings) -> list[dict]:
    return lake.read_arrow(settings.lake / "expectation_results").to_pylist()


def test_a_new_delivery_is_validated_alone(settings):
    # GIVEN a first delivery (3 rows) that passed the gate
    path = lake.table_path(settings.lake, "silver", "assistance_recipients")
    first, second = "20261101-440106-001", "20261201-440106-001"
    lake.append(path, _delivery(_good_rows(), first))
    run_silver_gate(settings, feeds=["assistance_recipients"], run_id="m1", at=AT)
    before = [r for r in _recorded(settings) if r["run_id"] == "m1"]

    # WHEN a second delivery of 2 rows arrives and the gate runs again
    lake.append(path, _delivery(_good_rows()[:2], second))
    result = run_silver_gate(settings, feeds=["assistance_recipients"], run_id="m2", at=AT)

    # THEN only the second delivery's rows were validated, and the first run's rows stay
    assert result.ok and result.feeds_checked == ["assistance_recipients"]
    silver = [o for o in result.outcomes if o.column != "quarantine_rate"]
    assert {o.element_count for o in silver if o.unexpected_count is not None} == {2}
    assert all(o.deliveries == (second,) for o in result.outcomes)
    table = _recorded(settings)
    assert [r for r in table if r["run_id"] == "m1"] == before
    assert {json.loads(r["details"])["element_count"] for r in before} >= {3}
    assert {tuple(json.loads(r["details"])["deliveries"]) for r in table} == {
        (first,),
        (second,),
    }

    # AND a third run with nothing new validates nothing and writes no row
    third = run_silver_gate(settings, feeds=["assistance_recipients"], run_id="m3", at=AT)
    assert third.feeds_checked == [] and third.outcomes == []
    assert "no delivery since" in third.feeds_skipped["assistance_recipients"]
    assert len(_recorded(settings)) == len(table)


def test_a_gate_with_nothing_new_does_not_import_gx(settings):
    # GIVEN a delivery the gate passed
    path = lake.table_path(settings.lake, "silver", "assistance_recipients")
    lake.append(path, _delivery(_good_rows(), "20261101-440106-001"))
    run_silver_gate(settings, feeds=["assistance_recipients"], run_id="m1", at=AT)
    # WHEN a new process (an Airflow task) runs the gate again with nothing new
    code = (
        "import sys; from civlake.settings import load_settings; "
        "from civlake.expectations import run_silver_gate; "
        f"s = load_settings(env={{'CIVLAKE_HOME': {str(settings.home)!r}}}); "
        "r = run_silver_gate(s, feeds=['assistance_recipients'], run_id='m2'); "
        "print(sorted(r.feeds_skipped), 'great_expectations' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    # THEN it skips the feed without importing GX (~3.7 s per task)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[-2] == "['assistance_recipients'] False"


def test_a_delivery_failing_critical_stays_pending(settings):
    # GIVEN a delivery with a non-canonical enum that stopped the gate
    path = lake.table_path(settings.lake, "silver", "assistance_recipients")
    bad, good = "20261101-440106-001", "20261201-440106-001"
    rows = _good_rows()
    rows[0]["assistance_type"] = "最低生活保障"
    lake.append(path, _delivery(rows, bad))
    with pytest.raises(GateFailed):
        run_silver_gate(settings, feeds=["assistance_recipients"], run_id="r1", at=AT)

    # WHEN a good delivery arrives and the gate runs again, nothing having been fixed
    lake.append(path, _delivery(_good_rows(), good))
    with pytest.raises(GateFailed) as info:
        run_silver_gate(settings, feeds=["assistance_recipients"], run_id="r2", at=AT)

    # THEN the failed delivery was validated again, with the new one, and fails again
    failed = info.value.result.critical_failures
    assert {o.expectation for o in failed} == {"expect_column_values_to_be_in_set(assistance_type)"}
    assert failed[0].deliveries == (bad, good) and failed[0].element_count == 6
    assert failed[0].examples[0]["_delivery_id"] == bad
    # AND a retry of the same run id re-validates the same deliveries, replacing its rows
    with pytest.raises(GateFailed):
        run_silver_gate(settings, feeds=["assistance_recipients"], run_id="r2", at=AT)
    r2 = [r for r in _recorded(settings) if r["run_id"] == "r2"]
    assert len(r2) == len(info.value.result.outcomes)
    assert all(json.loads(r["details"])["deliveries"] == [bad, good] for r in r2)


def test_a_passed_delivery_whose_silver_changed_is_validated_again(settings):
    # GIVEN a delivery the clean gate put 3 rows into silver for, and the gate passed
    path = lake.table_path(settings.lake, "silver", "assistance_recipients")
    delivery = "20261101-440106-001"
    lake.append(path, _delivery(_good_rows(), delivery))
    audit = _audit(0).append_column("rows_silver", pa.array([3], pa.int64()))
    lake.append(settings.lake / "ingest_audit", audit)
    run_silver_gate(settings, feeds=["assistance_recipients"], run_id="c1", at=AT)
    # WHEN a fourth row breaking a critical expectation appears under that delivery
    row = _good_rows()[0] | {"assistance_type": "最低生活保障"}
    extra = _delivery([row], delivery)
    at = extra.column_names.index("_source_row")
    lake.append(path, extra.set_column(at, "_source_row", pa.array([9], pa.int64())))
    # THEN the next run validates the delivery again, all 4 rows, and stops
    with pytest.raises(GateFailed) as info:
        run_silver_gate(settings, feeds=["assistance_recipients"], run_id="c2", at=AT)
    failed = info.value.result.critical_failures
    assert failed and failed[0].deliveries == (delivery,) and failed[0].element_count == 4


def _planted_rows(n: int) -> list[dict]:
    """``n`` good rows, every 7th with a non-canonical enum, every 11th with an amount
    above the warning range, every 13th with an invalid head ID (a ``mostly`` share) and
    one natural key delivered twice."""
    rows = []
    for i in range(n):
        base = _good_rows()[i % 3]
        row = {**base, "family_no": f"F{i:04d}", "member_id": f"4401061950{i:08d}"}
        if i % 7 == 3:
            row["assistance_type"] = "最低生活保障"
        if i % 11 == 5:
            row["amount"] = Decimal("99999.00")
        if i % 13 == 2:
            row["head_status"] = "invalid"
        rows.append(row)
    key = ("family_no", "member_id", "member_name")
    rows[n - 1] = {**rows[n - 1], **{k: rows[4][k] for k in key}}
    return rows


def _outcomes_with_batch_rows(settings, batch_rows: int, engine=EMBEDDED) -> list[tuple]:
    from dataclasses import replace

    s = replace(settings, expectations_batch_rows=batch_rows)
    with pytest.raises(GateFailed) as info:
        run_silver_gate(
            s, feeds=["assistance_recipients"], run_id=f"b{batch_rows}", at=AT, engine=engine
        )
    return [
        (o.suite, o.expectation, o.success, o.element_count, o.unexpected_count, o.examples,
         o.observed, o.error, o.deliveries)
        for o in info.value.result.outcomes
    ]  # fmt: skip


@pytest.mark.parametrize("batch_rows", [7, 25, 60])
def test_chunked_results_equal_one_batch(settings, tmp_path, batch_rows):
    # GIVEN two deliveries of 60 and 40 rows with planted failures and a duplicated key
    from civlake.expectations.chunks import chunk_count

    path = lake.table_path(settings.lake, "silver", "assistance_recipients")
    lake.append(path, _delivery(_planted_rows(60), "20261101-440106-001"))
    lake.append(path, _delivery(_planted_rows(40), "20261101-440106-002"))
    assert chunk_count(100, batch_rows) > 1

    # WHEN the gate validates them in one batch and in chunks of at most `batch_rows`
    whole = _outcomes_with_batch_rows(settings, 1000)
    chunked = _outcomes_with_batch_rows(settings, batch_rows)

    # THEN every outcome is the same: counts, verdicts and the first failing rows
    assert chunked == whole
    by_name = {o[1]: o for o in whole}
    unique = by_name[
        "expect_compound_columns_to_be_unique(family_no,member_id_number,member_name,_delivery_id)"
    ]
    assert unique[2] is False and unique[4] == 4  # the key twice in each delivery
    enum = by_name["expect_column_values_to_be_in_set(assistance_type)"]
    assert enum[4] == len([i for i in range(60) if i % 7 == 3]) + len(
        [i for i in range(40) if i % 7 == 3]
    )
    seen = [(e["_delivery_id"], e["_source_row"]) for e in enum[5]]
    assert seen == sorted(seen) and len(seen) == 10
    share = by_name["expect_column_values_to_not_be_in_set(head_id_number_status)"]
    assert share[2] is False and share[4] == 5 + 3  # 8 of 100 invalid: above the 5 % warning


@pytest.mark.parametrize("batch_rows", [7, 1000])
def test_chunks_validated_in_worker_processes_equal_one_process(settings, batch_rows):
    # GIVEN the planted deliveries in chunks of at most 7 rows (15 chunks), or in one
    # chunk (fewer chunks than workers: each worker checks it against a share of the suite)
    from dataclasses import replace

    path = lake.table_path(settings.lake, "silver", "assistance_recipients")
    lake.append(path, _delivery(_planted_rows(60), "20261101-440106-001"))
    lake.append(path, _delivery(_planted_rows(40), "20261101-440106-002"))

    # WHEN the gate validates them in this process, then in three forked workers
    here = _outcomes_with_batch_rows(replace(settings, expectations_workers=1), batch_rows)
    forked = _outcomes_with_batch_rows(replace(settings, expectations_workers=3), batch_rows)

    # THEN every verdict, count and example is the same
    assert forked == here
    assert any(not o[2] for o in here) and any(o[5] for o in here)


def test_chunks_hold_only_the_columns_the_gate_reads(settings, monkeypatch):
    # GIVEN the planted deliveries, in chunks of at most 25 rows, validated in this
    # process (the spy below sees only the chunks of this process)
    from dataclasses import replace

    from civlake.expectations import batches, runner

    settings = replace(settings, expectations_workers=1)
    path = lake.table_path(settings.lake, "silver", "assistance_recipients")
    lake.append(path, _delivery(_planted_rows(60), "20261101-440106-001"))
    lake.append(path, _delivery(_planted_rows(40), "20261101-440106-002"))
    seen: list[list[str]] = []
    chunk_frame = batches.chunk_frame

    def spy(table, rules):
        seen.append(table.column_names)
        return chunk_frame(table, rules)

    monkeypatch.setattr(batches, "chunk_frame", spy)

    # WHEN the gate reads the columns it needs, then (the reference) every column
    pruned = _outcomes_with_batch_rows(settings, 25)
    pruned_columns, seen[:] = list(seen), []
    monkeypatch.setattr(runner, "_read_columns", lambda suites, rules: None)
    every = _outcomes_with_batch_rows(settings, 25)

    # THEN the outcomes are the same, and the pruned chunks lacked the columns no spec
    # names (the lineage, which orders rows and examples, stays)
    assert pruned == every
    assert len(pruned_columns) > 1 and all(c == pruned_columns[0] for c in pruned_columns)
    all_columns = lake.open_table(path).to_pyarrow_dataset().schema.names
    assert seen[0] == all_columns
    dropped = set(all_columns) - set(pruned_columns[0])
    assert {"_ingested_at", "_row_hash", "_mode", "_period"} <= dropped
    assert {"_delivery_id", "_source_file", "_source_row"} <= set(pruned_columns[0])
    assert pruned_columns[0] == [c for c in all_columns if c in pruned_columns[0]]


def test_chunks_read_from_the_parquet_files_equal_the_arrow_dataset_scan(settings, monkeypatch):
    # GIVEN the planted deliveries, a plain Delta table (DuckDB can read its files)
    from civlake.expectations import chunks

    path = lake.table_path(settings.lake, "silver", "assistance_recipients")
    lake.append(path, _delivery(_planted_rows(60), "20261101-440106-001"))
    lake.append(path, _delivery(_planted_rows(40), "20261101-440106-002"))
    lake.append(path, _delivery(_planted_rows(30), "20261101-440106-003"))
    assert lake.plain_parquet_files(lake.open_table(path)) is not None

    # WHEN the gate validates two of them (in chunks of 25) from the files, then from
    # delta-rs' Arrow dataset (the way for a table DuckDB cannot read as plain Parquet)
    def two():
        deliveries = ["20261101-440106-001", "20261101-440106-003"]
        original = chunks.delivery_rows
        monkeypatch.setattr(
            chunks,
            "delivery_rows",
            lambda silver, io: {
                d: n for d, n in original(silver, io=io).items() if d in deliveries
            },
        )
        return _outcomes_with_batch_rows(settings, 25)

    from_files = two()
    monkeypatch.setattr(lake, "plain_parquet_files", lambda table: None)
    from_dataset = two()

    # THEN the outcomes are the same, and cover only the pending deliveries' 90 rows
    assert from_files == from_dataset
    assert {o[8] for o in from_files} == {("20261101-440106-001", "20261101-440106-003")}
    assert max(o[3] or 0 for o in from_files) == 90


def test_gx_patches_last_only_for_the_call(settings):
    # GIVEN a chunk and its suites
    import pandas as pd
    from great_expectations.expectations import expectation, registry
    from great_expectations.expectations.core import expect_column_values_to_be_in_type_list

    from civlake.expectations import batches
    from civlake.expectations.suites import silver_specs
    from civlake.expectations.validate import GxSession

    feed = "assistance_recipients"
    frame = batches.chunk_frame(_delivery(_planted_rows(20), "20261101-440106-001"), [])
    specs = [s for s in silver_specs(feed) if s.batch == "silver"]
    session = GxSession()
    checks = session.checks(
        feed, specs, resolve=batches.division_sets(settings.lake, io=lake.DELTA_RS)
    )
    cow = pd.get_option("mode.copy_on_write")
    configuration = expectation.Expectation.__dict__["configuration"]

    # WHEN it is validated
    results = list(session.validate(frame, checks))

    # THEN GX and pandas are as they were: the patches hold only during the call
    assert len(results) == len(specs)
    assert pd.get_option("mode.copy_on_write") == cow
    assert expectation.Expectation.__dict__["configuration"] is configuration
    for module in (expectation, expect_column_values_to_be_in_type_list):
        assert module.get_metric_kwargs is registry.get_metric_kwargs


@pytest.mark.spark
def test_spark_gate_chunks_on_the_executors_with_the_embedded_results(settings, spark, monkeypatch):
    # GIVEN the planted deliveries, and the embedded engine's verdict on them in one batch
    from civlake.engine import spark_io

    path = lake.table_path(settings.lake, "silver", "assistance_recipients")
    lake.append(path, _delivery(_planted_rows(60), "20261101-440106-001"))
    lake.append(path, _delivery(_planted_rows(40), "20261101-440106-002"))
    whole = _outcomes_with_batch_rows(settings, 1000)

    # WHEN the Spark engine gates them in chunks, with the silver table's rows barred from
    # the driver (read_arrow and read_matching collect what they read)
    def barred(read):
        def guarded(session, table, *args, **kwargs):
            assert table != path, f"{table} would be collected to the Spark driver"
            return read(session, table, *args, **kwargs)

        return guarded

    monkeypatch.setattr(spark_io, "read_arrow", barred(spark_io.read_arrow))
    monkeypatch.setattr(spark_io, "read_matching", barred(spark_io.read_matching))
    chunked = _outcomes_with_batch_rows(settings, 7, engine=on_session(spark))

    # THEN Spark's chunking (another hash than DuckDB's) gives the same outcomes
    assert chunked == whole


def _per_severity_parts(frame, feed_id, specs, divisions) -> list[tuple]:
    """What the gate got before one call per chunk: a GX suite and a GX call per
    severity, on a dataframe asset of its own, with GX's own ``configuration``."""
    import great_expectations as gx

    from civlake.expectations.combine import MAX_EXAMPLES
    from civlake.expectations.specs import LINEAGE, SEVERITIES, suite_name
    from civlake.expectations.suites import to_gx_suite
    from civlake.expectations.validate import part_of

    source = gx.get_context(mode="ephemeral").data_sources.add_pandas("reference")
    out = []
    for severity in SEVERITIES:
        group = [s for s in specs if s.severity == severity]
        suite = to_gx_suite(suite_name(feed_id, severity), group, resolve=divisions)
        asset = source.add_dataframe_asset(f"{severity}_{len(frame)}")
        batch = asset.add_batch_definition_whole_dataframe("all").get_batch(
            batch_parameters={"dataframe": frame}
        )
        result = batch.validate(
            suite,
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": MAX_EXAMPLES},
        )
        by_label = {(s.label, s.description): s for s in group}
        for r in result.results:
            spec = by_label[
                (r.expectation_config.meta["label"], r.expectation_config.meta["description"])
            ]
            part = part_of(spec, r, frame=frame, index_columns=list(LINEAGE))
            out.append((spec, part))
    return out


def test_one_gx_call_per_chunk_equals_a_call_per_severity(settings):
    # GIVEN two chunks of assistance rows with planted failures (critical and warning),
    # the second without its assistance_type column (an expectation that cannot run)
    from civlake.expectations import batches
    from civlake.expectations.extras import age_rules
    from civlake.expectations.specs import LINEAGE
    from civlake.expectations.suites import silver_specs
    from civlake.expectations.validate import GxSession, part_of

    feed = "assistance_recipients"
    divisions = batches.division_sets(settings.lake, io=lake.DELTA_RS)
    specs = [s for s in silver_specs(feed) if s.batch == "silver"]
    first = _delivery(_planted_rows(60), "20261101-440106-001")
    second = _delivery(_planted_rows(40), "20261101-440106-002").drop_columns(["assistance_type"])
    frames = [batches.chunk_frame(t, age_rules(feed)) for t in (first, second)]

    # WHEN the session validates each chunk in one call against suites built once
    session = GxSession()
    checks = session.checks(feed, specs, resolve=divisions)
    one_call = [
        [(spec, part_of(spec, r, frame=f, index_columns=list(LINEAGE)))
         for spec, r in session.validate(f, checks)]
        for f in frames
    ]  # fmt: skip

    # THEN every spec gets the part a GX call per severity gave, examples included
    def key(pair):
        return (pair[0].severity, pair[0].label, pair[0].description)

    for frame, got in zip(frames, one_call, strict=True):
        expected = _per_severity_parts(frame, feed, specs, divisions)
        assert len(got) == len(specs)
        assert sorted(got, key=key) == sorted(expected, key=key)
    failing = {(s.severity, s.label) for s, p in one_call[0] if not p.success}
    assert {sev for sev, _ in failing} == {"critical", "warning"}
    assert any(p.examples for _, p in one_call[0] if not p.success)
    missing = [p for s, p in one_call[1] if s.label == "expect_column_to_exist(assistance_type)"]
    assert missing and not missing[0].success


def test_a_spec_naming_no_column_gets_the_whole_frame():
    # GIVEN a chunk and a table-level spec about its whole column set, next to a column one
    from civlake.expectations.specs import ExpectationSpec
    from civlake.expectations.validate import GxSession, part_of

    frame = _delivery(_planted_rows(5), "20261101-440106-001").to_pandas()
    specs = [
        ExpectationSpec(
            "expect_table_columns_to_match_set",
            {"column_set": list(frame.columns), "exact_match": True},
            "critical",
            "the chunk has exactly the silver columns",
        ),
        ExpectationSpec(
            "expect_column_values_to_not_be_null", {"column": "family_no"}, "warning", "named"
        ),
    ]

    # WHEN the session validates them
    session = GxSession()
    checks = session.checks("assistance_recipients", specs)
    parts = {
        s.type: part_of(s, r, frame=frame, index_columns=[])
        for s, r in session.validate(frame, checks)
    }

    # THEN GX saw every column (not only the ones a spec names), and both specs pass
    assert checks.columns is None
    assert all(p.success for p in parts.values()) and len(parts) == 2


_BIG = 2**53 + 1  # not exact in a float64: its column must reach GX as it is


@hyp_settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ages=st.lists(st.one_of(st.none(), st.integers(-3, 130)), min_size=1, max_size=40),
    big=st.lists(st.one_of(st.none(), st.sampled_from([0, 5, _BIG, -_BIG])), min_size=1),
)
def test_range_checks_on_integers_agree_with_gx_on_python_values(ages, big):
    # GIVEN a batch whose integers are Python objects (as the gate's frames hold them),
    # with nulls, values on and past the bounds, integers and a bound a float cannot hold,
    # and Decimals
    import pandas as pd

    from civlake.expectations.specs import LINEAGE, ExpectationSpec
    from civlake.expectations.validate import _numbers_for_gx, part_of

    n = len(ages)
    big = (big * n)[:n]
    frame = pd.DataFrame({
        "_delivery_id": ["20261101-440106-001"] * n, "_source_file": ["f.csv"] * n,
        "_source_row": pd.Series(range(1, n + 1), dtype=object),
        "_age__birth_date": pd.Series(ages, dtype=object),
        "big": pd.Series(big, dtype=object),
        "count": pd.Series(ages, dtype=object),
        "amount": pd.Series([Decimal("-0.01") if a == 7 else Decimal("12.50") for a in ages]),
    })  # fmt: skip
    between = "expect_column_values_to_be_between"
    specs = [
        ExpectationSpec(between, {"column": "_age__birth_date", "min_value": 0,
                                  "max_value": 17}, "warning", "age 0-17"),
        ExpectationSpec(between, {"column": "_age__birth_date", "min_value": 18},
                        "critical", "adult"),
        ExpectationSpec(between, {"column": "big", "min_value": -5, "max_value": _BIG - 1},
                        "warning", "big in range"),
        ExpectationSpec(between, {"column": "count", "min_value": -_BIG}, "warning", "count"),
        ExpectationSpec(between, {"column": "amount", "min_value": 0}, "critical", "amount"),
    ]  # fmt: skip

    # WHEN the gate's session validates it (range checks on numpy columns where exact)
    session = _session()
    checks = session.checks("child_welfare", specs)
    got = [(s, part_of(s, r, frame=frame, index_columns=list(LINEAGE)))
           for s, r in session.validate(frame, checks)]  # fmt: skip

    # THEN every verdict, count and example is what GX gives on the Python values
    def key(pair):
        return (pair[0].severity, pair[0].description)

    expected = _per_severity_parts(frame, "child_welfare", specs, None)
    assert sorted(got, key=key) == sorted(expected, key=key)
    handed = _numbers_for_gx(frame, checks.ranged)
    assert str(handed["_age__birth_date"].dtype) in ("int64", "float64")
    exact = all(v is None or abs(v) <= 2**53 for v in big)
    assert (handed["big"].dtype == object) == (not exact)
    assert handed["count"].dtype == object  # a bound a float cannot hold
    assert handed["amount"].dtype == object


_SESSION = []


def _session():
    """One GX session for the examples of a property test (GX's import is paid once)."""
    from civlake.expectations.validate import GxSession

    if not _SESSION:
        _SESSION.append(GxSession())
    return _SESSION[0]
