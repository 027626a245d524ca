"""Hand-written expectations, configured in ``expectations/silver_extras.yaml``.

These encode judgement the contract cannot: how many invalid IDs or quarantined rows
are tolerable, that division codes resolve against ``silver.divisions``, and plausible
ranges for amounts and ages. Thresholds live in the YAML so that policy changes are a
reviewed data change, not a code change.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from civlake.contracts import FeedContract
from civlake.expectations.specs import ExpectationSpec
from civlake.settings import REPO_ROOT

EXTRAS_FILE = REPO_ROOT / "expectations" / "silver_extras.yaml"
# Placeholders the runner fills from silver.divisions at validation time.
DIVISIONS_ALL = "$divisions.all"
DIVISIONS_CURRENT = "$divisions.current"


class ExtrasError(ValueError):
    """silver_extras.yaml is malformed; the message names the entry and the fix."""


@dataclass(frozen=True)
class AgeRule:
    feed: str
    birth: str
    at: str
    min: int
    max: int
    severity: str

    @property
    def column(self) -> str:
        return f"_age__{self.birth}"


@cache
def load_extras(path: Path = EXTRAS_FILE) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ExtrasError(f"{path}: cannot read hand-written expectations: {exc}") from exc
    for key in ("id_invalid_share", "quarantine_rate", "referential", "ranges", "ages"):
        if key not in raw:
            raise ExtrasError(f"{path}: missing top-level key {key!r}")
    for i, entry in enumerate(raw["ranges"] + raw["ages"], start=1):
        if entry.get("severity") not in ("critical", "warning"):
            raise ExtrasError(
                f"{path}: range/age entry #{i} {entry}: severity must be critical|warning"
            )
    return raw


def age_rules(feed_id: str, extras: dict[str, Any] | None = None) -> list[AgeRule]:
    extras = extras or load_extras()
    return [AgeRule(**a) for a in extras["ages"] if a["feed"] == feed_id]


def _extra(type_: str, severity: str, description: str, *, batch="silver", **kwargs):
    return ExpectationSpec(
        type=type_,
        kwargs=kwargs,
        severity=severity,
        description=description,
        batch=batch,
        origin="extra",
    )


def extra_specs(
    contract: FeedContract, extras: dict[str, Any] | None = None
) -> list[ExpectationSpec]:
    extras = extras or load_extras()
    feed, specs = contract.feed_id, []
    share = extras["id_invalid_share"]
    for id_col in contract.id_columns:
        for severity in ("warning", "critical"):
            if share.get(f"{severity}_max") is None:  # null: no check at that severity
                continue
            limit = float(share[f"{severity}_max"])
            specs.append(
                _extra(
                    "expect_column_values_to_not_be_in_set",
                    severity,
                    f"share of invalid {id_col} is at most {limit:.0%}",
                    column=f"{id_col}_status",
                    value_set=["invalid"],
                    mostly=round(1 - limit, 6),
                )
            )
    rate = extras["quarantine_rate"]
    for severity in ("warning", "critical"):
        if rate.get(f"{severity}_max") is None:
            continue
        limit = float(rate[f"{severity}_max"])
        specs.append(
            _extra(
                "expect_column_values_to_be_between",
                severity,
                f"each loaded delivery quarantines at most {limit:.0%} of its declared rows",
                batch="audit",
                column="quarantine_rate",
                min_value=0,
                max_value=limit,
            )
        )
    ref = extras["referential"]
    for col in contract.of_kind("division"):
        for key, placeholder, what in (
            ("divisions_exist", DIVISIONS_ALL, "exists in silver.divisions"),
            ("divisions_current", DIVISIONS_CURRENT, "is current in silver.divisions"),
        ):
            if ref.get(key):
                specs.append(
                    _extra(
                        "expect_column_values_to_be_in_set",
                        ref[key],
                        f"{col.header} ({col.name}) {what}",
                        column=col.name,
                        value_set=placeholder,
                    )
                )
    for r in extras["ranges"]:
        if r["feed"] == feed:
            specs.append(
                _extra(
                    "expect_column_values_to_be_between",
                    r["severity"],
                    f"{r['column']} between {r['min']} and {r['max']}",
                    column=r["column"],
                    min_value=r["min"],
                    max_value=r["max"],
                )
            )
    for a in age_rules(feed, extras):
        specs.append(
            _extra(
                "expect_column_values_to_be_between",
                a.severity,
                f"age from {a.birth} at {a.at} between {a.min} and {a.max}",
                column=a.column,
                min_value=a.min,
                max_value=a.max,
            )
        )
    return specs
