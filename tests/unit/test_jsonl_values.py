"""A JSONL value as bronze text: what json.dumps writes for it, strings as delivered."""

from __future__ import annotations

import json
import math

import pytest

from civlake.ingest.readers import _json_value

NUMBERS = [
    0, -1, 7, 10**20, -(10**30), 300.0, 200.5, 0.1, -0.0, 1e16, 1e-7, 1.5e300,
    123456789.123456789, math.pi, float("nan"), float("inf"), float("-inf"),
]  # fmt: skip


@pytest.mark.parametrize("value", NUMBERS, ids=repr)
def test_a_number_is_written_as_json_writes_it(value):
    assert _json_value(value) == json.dumps(value, ensure_ascii=False)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, None),
        ("", None),
        ("　 ", None),
        (" 张三 ", " 张三 "),
        (True, "true"),
        (False, "false"),
        ({"区": "天河", "n": 1}, '{"区": "天河", "n": 1}'),
        ([1, "二"], '[1, "二"]'),
    ],
)
def test_other_values(value, text):
    assert _json_value(value) == text


def test_a_line_of_the_reader_keeps_numbers_as_json_text(tmp_path):
    from civlake.contracts import load_contracts
    from civlake.ingest.readers import read_jsonl

    contract = load_contracts()["benefit_payments"]
    path = tmp_path / "p.jsonl"
    path.write_text(
        "".join(
            json.dumps(
                {
                    "payment_id": p,
                    "pay_month": "2026-09",
                    "program_code": "CJHL",
                    "status": "success",
                    "amount": amount,
                    "bank_card_tail": tail,
                },
                ensure_ascii=False,
            )
            + "\n"
            for p, amount, tail in [("P1", 300.0, 8461), ("P2", "200.00", " ")]
        ),
        encoding="utf-8",
    )
    (batch,) = read_jsonl(path, contract, "utf-8", "p.jsonl")
    assert batch.column("amount").to_pylist() == ["300.0", "200.00"]
    assert batch.column("bank_card_tail").to_pylist() == ["8461", None]
