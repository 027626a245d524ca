"""The gate on silver written by the real clean gate (bronze -> clean_pending -> gate).

This is the contract between the two gates: whatever dirt the clean gate repairs or
quarantines, the silver it writes must pass every critical expectation.
"""

from __future__ import annotations

import datetime as dt

import pytest

from civlake import lake
from civlake.clean import clean_pending
from civlake.expectations import GateFailed, run_silver_gate
from civlake.settings import load_settings
from tests.support.bronze import deliver, id18, uscc18

pytestmark = pytest.mark.integration
NOW = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)
ORG = uscc18("51440100MJ0000001")


def _divisions() -> list[dict]:
    rows = [
        ("440100000000", "广州市", "2", None, None),
        ("440106000000", "天河区", "3", None, None),
        ("440104000000", "越秀区", "3", None, None),
        ("440102000000", "东山区", "3", "2005-04-28", "440104000000"),
    ]
    return [
        {"division_code": c, "name": n, "level": lv, "parent_code": "440100",
         "valid_from": "1990-01-01", "valid_to": to, "successor_code": s}
        for c, n, lv, to, s in rows
    ]  # fmt: skip


def _assistance(i: int, **over) -> dict:
    head = id18("440106", f"19{50 + i:02d}0101", f"{i:03d}")
    row = {
        "family_no": f"F{i:03d}", "division_code": "440106", "assistance_type": "低保（城市）",
        "head_id_number": f"'{head}", "head_name": "張 偉", "member_id_number": head.lower(),
        "member_name": "张伟", "relation_to_head": "本人", "household_size": "1",
        "covered_persons": "1", "monthly_amount": "￥1,120.00", "approved_on": "2026年1月5日",
        "status": "保障中",
    }  # fmt: skip
    return row | over


def _elderly(i: int, **over) -> dict:
    pid = id18("440104", f"19{30 + i:02d}0601", f"{i:03d}")
    row = {
        "id_number": pid, "name": "陈 明", "sex": "男", "birth_date": f"19{30 + i:02d}/6/1",
        "hukou_division_code": "440102", "tier": "90～99岁" if i < 6 else "80-89岁",
        "monthly_standard": "300元", "start_month": "202001", "status": "发放中",
    }  # fmt: skip
    return row | over


@pytest.fixture
def settings(tmp_path):
    s = load_settings(env={"CIVLAKE_HOME": str(tmp_path)})
    deliver(s.lake, "divisions", _divisions(), delivery_id="20260101-440100-001", period="2026")
    assistance = [_assistance(i) for i in range(1, 20)]
    assistance.append(_assistance(20, monthly_amount="一千元"))  # AMOUNT_INVALID: 1 of 20
    deliver(
        s.lake, "assistance_recipients", assistance,
        delivery_id="20261101-440106-001", source_unit="440106",
    )  # fmt: skip
    deliver(
        s.lake, "elderly_allowance", [_elderly(i) for i in range(1, 10)],
        delivery_id="20261101-440100-001",
    )  # fmt: skip
    deliver(
        s.lake, "social_organizations",
        [{"uscc": ORG.lower(), "name": "广州市助老协会", "org_type": "社会团体", "status": "正常",
          "registrar": "440100", "abnormal_list": "否", "is_charity": "true",
          "registered_capital": "30,000", "last_inspection_year": "2025"}],
        delivery_id="20261101-440100-002", period="2026-W44",
    )  # fmt: skip
    clean_pending(s, now=NOW)
    return s


def test_clean_gate_silver_passes_every_critical_expectation(settings):
    result = run_silver_gate(settings, run_id="clean_e2e", at=NOW)

    assert result.ok, "\n".join(o.explain() for o in result.critical_failures)
    assert set(result.feeds_checked) == {
        "divisions", "assistance_recipients", "elderly_allowance", "social_organizations",
    }  # fmt: skip
    # 5 % quarantined (1 of 20) is at the warning limit, not above it.
    rates = [o for o in result.outcomes if o.column == "quarantine_rate"]
    assert rates and all(o.success for o in rates)
    # The obsolete 东山区 code was replaced by its successor, which is current.
    current = [
        o for o in result.outcomes
        if o.feed_id == "elderly_allowance" and o.column == "hukou_division_code"
        and o.expectation_type == "expect_column_values_to_be_in_set"
    ]  # fmt: skip
    assert current and all(o.success for o in current)


def test_tampered_silver_is_stopped(settings):
    # GIVEN silver where someone bypassed the clean gate with a synonym and a bad status
    path = lake.table_path(settings.lake, "silver", "elderly_allowance")
    table = lake.read_arrow(path)
    tiers = table["tier"].to_pylist()
    tiers[0] = "百岁以上"
    statuses = table["id_number_status"].to_pylist()
    statuses[1] = "ok"
    table = table.set_column(table.schema.get_field_index("tier"), "tier", [tiers])
    i = table.schema.get_field_index("id_number_status")
    lake.overwrite(path, table.set_column(i, "id_number_status", [statuses]))

    with pytest.raises(GateFailed) as info:
        run_silver_gate(settings, feeds=["elderly_allowance"], run_id="tampered", at=NOW)

    failed = {o.expectation for o in info.value.result.critical_failures}
    assert failed == {
        "expect_column_values_to_be_in_set(tier)",
        "expect_column_values_to_be_in_set(id_number_status)",
    }
    assert "百岁以上" in str(info.value) and "[elderly_allowance]" in str(info.value)
