"""The verify rules recognise the dedupe gate's "fits several namesakes" references by the
detail id_link writes: one marker, checked where the SQL reads it."""

from __future__ import annotations

from pathlib import Path

from civlake.resolve.id_link import AMBIGUOUS_DETAIL

DBT = Path(__file__).resolve().parents[2] / "dbt" / "models"


def test_persons_model_reads_the_marker_id_link_writes():
    sql = (DBT / "entitlement" / "int_entitlement__persons.sql").read_text(encoding="utf-8")
    assert f"match_detail like '{AMBIGUOUS_DETAIL}%'" in sql


def test_rules_that_read_no_hukou_or_no_entitlement_skip_unsure_identities():
    verify = DBT / "verify"
    assert "not identity_unsure" in (verify / "int_verify__not_in_hukou.sql").read_text("utf-8")
    checks = (verify / "int_verify__payment_checks.sql").read_text("utf-8")
    assert "not coalesce(persons.identity_unsure, false)" in checks
