"""The compare gate's rule registry: the dbt seed ``dbt/seeds/verify_rules.csv``.

One row per rule code: severity, Chinese title and action, ``model_name``, the dbt model
that emits the code (one model may emit several, e.g. the three *_UNCLAIMED), and
``grain``, the verify.findings columns that with the code identify one finding
(OUTPUTS.md section 3: person x programme is ``id_number program_code``).
Everything that needs the rule list reads it from here: ``run_dbt`` passes the models to
dbt as the ``verify_rule_models`` var (``findings.sql`` unions them), the generator's
oracle refuses a code the seed lacks, and the tests compare against ``rule_codes()``.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from civlake.settings import REPO_ROOT

RULES_SEED = REPO_ROOT / "dbt" / "seeds" / "verify_rules.csv"


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    severity: str
    title: str
    action: str
    model: str
    grain: tuple[str, ...]


@cache
def load_rules(path: Path = RULES_SEED) -> tuple[Rule, ...]:
    """The seed's rows in file order; a row without a model is refused."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    rules = tuple(
        Rule(
            code=r["rule_code"], severity=r["severity"], title=r["rule_title"],
            action=r["recommended_action"], model=(r.get("model_name") or "").strip(),
            grain=tuple((r.get("grain") or "").split()),
        )
        for r in rows
    )  # fmt: skip
    if missing := [r.code for r in rules if not (r.model and r.grain)]:
        raise ValueError(f"{path.name}: no model_name or grain for {', '.join(missing)}")
    return rules


@cache
def rule_codes() -> tuple[str, ...]:
    """Every rule code, in seed order."""
    return tuple(r.code for r in load_rules())


def rule_models() -> tuple[str, ...]:
    """The dbt models that emit the rules, each once, in seed order."""
    return tuple(dict.fromkeys(r.model for r in load_rules()))


def dbt_vars() -> dict[str, list[str]]:
    """The vars dbt needs from the registry (``verify_rule_models``, read by findings.sql)."""
    return {"verify_rule_models": list(rule_models())}


if __name__ == "__main__":  # by hand: dbt build --vars "$(python -m civlake.transform.rules)"
    print(json.dumps(dbt_vars()))
