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


def _payment(identity: dict | None) -> dict:
    return {
        "feed": "benefit_payments",
        "delivery": "20261028-440100-001",
        "file": "api",
        "row": 17,
        "values": {"payment_id": "P1", "amount": "300.00"},
        "identity": identity,
    }


def test_describe_evidence_says_how_a_record_was_tied_to_the_person():
    evidence = {
        "payments": [
            _payment(
                {
                    "role": "payee",
                    "method": "probabilistic",
                    "probability": 0.9981,
                    "detail": "身份证号与已知号码仅差一位；姓名一致",
                }
            ),
            _payment({"role": "payee", "method": "id_exact", "probability": 1.0, "detail": None}),
            _payment({"role": "payee", "method": "new_person", "probability": None}),
        ]
    }
    probable, exact, new = describe_evidence(json.dumps(evidence, ensure_ascii=False)).splitlines()
    assert probable.startswith("【民政资金发放明细】交付 20261028-440100-001 文件 api 第17行：")
    assert "发放流水号=P1" in probable
    assert probable.endswith("；身份匹配：概率匹配（0.9981）：身份证号与已知号码仅差一位；姓名一致")
    assert exact.endswith("金额=300.00；身份匹配：身份证号一致")  # certainty by ID: no number
    assert new.endswith("；身份匹配：未匹配到已知人员（新建人员）")


def test_describe_evidence_names_the_guardian_tie_and_masks_ids_in_the_detail():
    record = {
        "feed": "child_welfare",
        "delivery": "20261004-440106-001",
        "file": "x.xlsx",
        "row": 3,
        "values": {"guardian_key": "G1"},
        "identity": {"role": "child", "method": "id_normalized", "probability": 1.0},
        "guardian_identity": {
            "role": "guardian",
            "method": "probabilistic",
            "probability": 0.97,
            "detail": "与 440106197005011234 仅差一位",
        },
    }
    [line] = describe_evidence({"rows": [record]}).splitlines()
    assert "；身份匹配：身份证号规范化后一致；" in line
    assert line.endswith("监护人身份匹配：概率匹配（0.97）：与 440106********1234 仅差一位")
    assert "197005011234" not in line


def test_describe_evidence_record_without_identity_is_unchanged():
    [line] = describe_evidence({"rows": [_payment(None)]}).splitlines()
    assert line.endswith("第17行：发放流水号=P1，金额=300.00")


def test_a_delivered_formula_or_link_stays_text_in_the_worklist(tmp_path):
    from openpyxl import load_workbook

    from civlake.verify.worklists import _write_book

    # GIVEN a finding whose delivered name is a formula and whose history holds a link
    finding = {
        "finding_id": "F-1", "rule_code": "DEATH_PAID", "rule_title": "死亡后仍发放",
        "severity": "high", "person_key": "pk", "person_name": '=HYPERLINK("http://x.test","点")',
        "id_number": "440106195001011234", "program_code": "dibao", "feed_id": None,
        "amount_at_risk": 100, "first_detected_at": None, "evidence": None,
        "recommended_action": "+cmd|' /C calc'!A0", "history": "http://x.test/看这里",
        "district_code": "440106000000",
    }  # fmt: skip
    path = tmp_path / "book.xlsx"
    # WHEN its district's worklist is written
    _write_book(path, "天河区", {"DEATH_PAID": [finding]})
    # THEN every delivered value is a plain string cell, and the book has no hyperlink
    sheet = load_workbook(path)["死亡后仍发放"]
    header = [c.value for c in sheet[1]]
    row = sheet[2]
    for column, text in (("姓名/组织", finding["person_name"]),
                         ("建议处理", finding["recommended_action"]),
                         ("历史", finding["history"])):  # fmt: skip
        cell = row[header.index(column)]
        assert (cell.data_type, cell.value) == ("s", text)
    assert not sheet._hyperlinks
