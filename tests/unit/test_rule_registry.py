"""The verify_rules seed is the rule registry: every row names a model that exists, a
grain of findings columns, and a severity the findings model accepts."""

from __future__ import annotations

import pytest

from civlake.settings import REPO_ROOT
from civlake.transform.rules import RULES_SEED, dbt_vars, load_rules, rule_codes, rule_models

VERIFY_MODELS = REPO_ROOT / "dbt" / "models" / "verify"
# verify.findings columns a grain may name (dbt/models/verify/_verify__models.yml)
FINDINGS_KEYS = {
    "id_number", "org_uscc", "program_code", "feed_id", "attribute", "registration_no",
    "period_start",
}  # fmt: skip


def test_each_rule_names_an_existing_model_and_a_grain():
    rules = load_rules()
    assert len(rule_codes()) == len(set(rule_codes())) == len(rules)
    for rule in rules:
        assert (VERIFY_MODELS / f"{rule.model}.sql").is_file(), rule
        assert rule.severity in ("high", "medium", "low"), rule
        assert rule.grain and set(rule.grain) <= FINDINGS_KEYS, rule
        assert rule.title and rule.action, rule


def test_dbt_gets_each_model_once_in_seed_order():
    models = rule_models()
    assert len(models) == len(set(models))
    assert list(models) == list(dict.fromkeys(r.model for r in load_rules()))
    assert dbt_vars() == {"verify_rule_models": list(models)}


def test_a_row_without_a_model_is_refused(tmp_path):
    # GIVEN the seed with one row's model_name blanked
    lines = RULES_SEED.read_text(encoding="utf-8").splitlines()
    header, first, *rest = lines
    code, severity, title, action, _model, grain = first.split(",")
    seed = tmp_path / "verify_rules.csv"
    seed.write_text("\n".join([header, f"{code},{severity},{title},{action},,{grain}", *rest]))
    # WHEN it is read THEN the rule is named
    with pytest.raises(ValueError, match=code):
        load_rules(seed)
