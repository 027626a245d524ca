"""Suite generation from the real contracts and the hand-written extras (no GX import)."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from civlake.contracts import get_contract, load_contracts, load_enums
from civlake.expectations import export_suites, silver_specs
from civlake.expectations.batches import add_ages
from civlake.expectations.extras import DIVISIONS_ALL, AgeRule, ExtrasError, load_extras
from civlake.expectations.outcome import GateFailed, GateResult, Outcome
from civlake.expectations.results import check_run_id
from civlake.settings import REPO_ROOT

FEEDS = sorted(load_contracts())


def _find(specs, type_, column, severity="critical"):
    return [s for s in specs if s.type == type_ and s.column == column and s.severity == severity]


@pytest.mark.parametrize("feed_id", FEEDS)
def test_required_columns_are_critical_not_null(feed_id):
    specs = silver_specs(feed_id)
    for name in get_contract(feed_id).required:
        assert _find(specs, "expect_column_values_to_not_be_null", name), name


@pytest.mark.parametrize("feed_id", FEEDS)
def test_enum_columns_allow_exactly_the_canonical_values(feed_id):
    enums, specs = load_enums(), silver_specs(feed_id)
    for col in get_contract(feed_id).of_kind("enum"):
        (spec,) = _find(specs, "expect_column_values_to_be_in_set", col.name)
        assert spec.kwargs["value_set"] == sorted(enums[col.enum])
        # A synonym is never canonical: the clean gate must have mapped it.
        synonyms = {s for syns in enums[col.enum].values() for s in syns}
        assert not synonyms & set(spec.kwargs["value_set"])


@pytest.mark.parametrize("feed_id", FEEDS)
def test_id_and_division_columns(feed_id):
    contract, specs = get_contract(feed_id), silver_specs(feed_id)
    for id_col in contract.id_columns:
        (status,) = _find(specs, "expect_column_values_to_be_in_set", f"{id_col}_status")
        assert set(status.kwargs["value_set"]) == {
            "valid", "normalized", "upgraded_15", "invalid", "missing",
        }  # fmt: skip
        shares = _find(
            specs, "expect_column_values_to_not_be_in_set", f"{id_col}_status", "warning"
        )
        assert shares and shares[0].kwargs["mostly"] < 1
    for col in contract.of_kind("division"):
        for name in (col.name, f"{col.name}_delivered"):
            (regex,) = _find(specs, "expect_column_values_to_match_regex", name)
            assert regex.kwargs["regex"] == r"^\d{12}$"
        refs = _find(specs, "expect_column_values_to_be_in_set", col.name)
        assert refs[0].kwargs["value_set"] == DIVISIONS_ALL


def test_labels_are_unique_within_each_suite_and_batch():
    for feed_id in FEEDS:
        seen = set()
        for s in silver_specs(feed_id):
            key = (s.severity, s.batch, s.label, s.description)
            assert key not in seen, key
            seen.add(key)


def test_quarantine_rate_runs_on_the_audit_batch_with_yaml_thresholds():
    extras = load_extras()
    specs = [s for s in silver_specs("hukou_population") if s.batch == "audit"]
    limits = {s.severity: s.kwargs["max_value"] for s in specs}
    expected = {
        sev: extras["quarantine_rate"][f"{sev}_max"]
        for sev in ("warning", "critical")
        if extras["quarantine_rate"][f"{sev}_max"] is not None  # null: no check at that level
    }
    assert limits == expected and "warning" in limits


def test_committed_generated_suites_are_current(tmp_path):
    # expectations/generated/ is reviewed in pull requests; it must match the contracts.
    fresh = export_suites(tmp_path)
    committed = REPO_ROOT / "expectations" / "generated"
    assert sorted(p.name for p in fresh) == sorted(p.name for p in committed.glob("*.json"))
    for path in fresh:
        assert json.loads(path.read_text("utf-8")) == json.loads(
            (committed / path.name).read_text("utf-8")
        ), f"{path.name} is stale: run `python -m civlake.expectations.export`"


def test_bad_extras_file_names_the_entry(tmp_path):
    bad = tmp_path / "extras.yaml"
    bad.write_text(
        "id_invalid_share: {}\nquarantine_rate: {}\nreferential: {}\nages: []\n"
        "ranges:\n  - {feed: x, column: y, min: 0, max: 1, severity: fatal}\n",
        "utf-8",
    )
    with pytest.raises(ExtrasError, match="severity must be critical"):
        load_extras(bad)


def test_ages_are_whole_years_at_the_reference_date():
    df = pd.DataFrame(
        {
            "birth_date": [dt.date(1946, 11, 2), dt.date(1946, 11, 3), dt.date(2000, 2, 29), None],
            "_produced_at": ["2026-11-02T08:00:00+08:00"] * 3 + ["2026-11-02T08:00:00+08:00"],
        }
    )
    out = add_ages(df, [AgeRule("f", "birth_date", "_produced_at", 0, 120, "warning")])
    assert list(out["_age__birth_date"]) == [80, 79, 26, None]


def test_run_id_must_be_safe_for_a_delta_predicate():
    assert check_run_id("manual__2026-11-01T02:00:00+00:00")
    with pytest.raises(ValueError, match="not allowed"):
        check_run_id("x' or '1'='1")


def test_gate_failed_names_feed_expectation_and_rows():
    at = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
    bad = Outcome(
        run_id="r", suite="silver.elderly_allowance.critical", feed_id="elderly_allowance",
        expectation="expect_column_values_to_be_in_set(tier)",
        expectation_type="expect_column_values_to_be_in_set", column="tier",
        severity="critical", origin="contract", description="档次 holds only canonical values",
        success=False, element_count=10, unexpected_count=1,
        examples=[{"tier": "80至89岁", "_delivery_id": "d1", "_source_row": 7}],
        observed=None, error=None, at=at,
    )  # fmt: skip
    msg = str(GateFailed(GateResult(run_id="r", outcomes=[bad], feeds_checked=["x"])))
    assert "[elderly_allowance]" in msg
    assert "expect_column_values_to_be_in_set(tier)" in msg
    assert "1 of 10 rows" in msg and "_source_row=7" in msg and "80至89岁" in msg
