"""How a finding is compared with the generator's truth (the e2e tests, bench/check_findings.py)."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd


def finding_key(row) -> tuple:
    """Rule, subject (ID number or USCC), programme, period and amount to the fen: a
    finding of the warehouse equals a planted one when these are equal."""
    amount = row["amount_at_risk"]
    amount = (
        None
        if amount is None or pd.isna(amount)
        else Decimal(str(amount)).quantize(Decimal("0.01"))
    )
    return (row["rule_code"], row["id_number"] or row["org_uscc"], row["program_code"],
            row["period_start"], amount)  # fmt: skip
