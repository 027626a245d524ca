"""Masking and evidence wording of the worklists (pure functions)."""

from __future__ import annotations

import json

from civlake.verify import describe_evidence, mask_id


def test_mask_id_keeps_area_and_last_four():
    assert mask_id("440106199001011234") == "440106********1234"
    assert mask_id("44010690010112X") == "440106*****112X"


def test_mask_id_blank_and_short_values_reveal_nothing():
    assert mask_id(None) == ""
    assert mask_id("") == ""
    assert mask_id("1234567890") == "**********"


def test_describe_evidence_names_feed_delivery_file_row_and_values():
    evidence = {
        "death_date": "2026-09-15",
        "payments": [
            {
                "feed": "benefit_payments",
                "delivery": "20261028-440100-001",
                "file": "api",
                "row": 17,
                "values": {"payment_id": "P1", "pay_month": "2026-10", "amount": "300.00"},
            }
        ],
    }
    text = describe_evidence(json.dumps(evidence, ensure_ascii=False))
    lines = text.splitlines()
    assert lines[0] == "死亡日期=2026-09-15"
    assert lines[1].startswith("【民政资金发放明细】交付 20261028-440100-001 文件 api 第17行")
    assert "发放流水号=P1" in lines[1] and "金额=300.00" in lines[1]


def test_describe_evidence_empty():
    assert describe_evidence(None) == ""
