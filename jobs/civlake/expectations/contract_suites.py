"""Expectations generated from a feed contract (``schemas/<feed>.yaml``).

Everything here follows from what the contract and CONVENTIONS.md say silver holds:
columns present, required values present, enums canonical, types as the silver layout
fixes them, ID/USCC status vocabularies, 12-digit division codes. A failure means the
clean gate let something through that it promised not to, so these are critical; the
only warning is natural-key uniqueness, which resends can legitimately break.
"""

from __future__ import annotations

from civlake.contracts import Column, FeedContract, load_enums
from civlake.expectations.specs import (
    ID_STATUSES,
    LINEAGE,
    SEX_CODES,
    USCC_STATUSES,
    ExpectationSpec,
)

_CODE12 = r"^\d{12}$"
_MONTH = r"^\d{4}-(?:0[1-9]|1[0-2])$"  # non-capturing: GX warns on groups
# Python type names as GX's per-value type check sees them on object columns (the
# batch loader turns int/bool/timestamp columns into object columns for this reason).
_TYPES = {
    "date": ["date"],
    "amount": ["Decimal"],
    "timestamp": ["datetime", "Timestamp"],
    "integer": ["int"],
    "bool": ["bool"],
}


def _spec(type_: str, severity: str = "critical", description: str = "", **kwargs):
    return ExpectationSpec(type=type_, kwargs=kwargs, severity=severity, description=description)


def _column_specs(col: Column, enums: dict) -> list[ExpectationSpec]:
    name, out = col.name, []
    out.append(_spec("expect_column_to_exist", column=name, description=f"silver has {name}"))
    if col.required:
        out.append(
            _spec(
                "expect_column_values_to_not_be_null",
                column=name,
                description=f"required field {col.header} ({name}) is never blank",
            )
        )
    if col.kind == "enum" and col.enum:
        out.append(
            _spec(
                "expect_column_values_to_be_in_set",
                column=name,
                value_set=sorted(enums[col.enum]),
                description=f"{col.header} holds only canonical {col.enum} values",
            )
        )
    if col.kind == "sex":
        out.append(
            _spec(
                "expect_column_values_to_be_in_set",
                column=name,
                value_set=list(SEX_CODES),
                description=f"{col.header} is a GB/T 2261.1 code",
            )
        )
    if col.kind in _TYPES:
        out.append(
            _spec(
                "expect_column_values_to_be_in_type_list",
                column=name,
                type_list=_TYPES[col.kind],
                description=f"{col.header} is typed as {col.kind}",
            )
        )
    if col.kind == "amount":
        out.append(
            _spec(
                "expect_column_values_to_be_between",
                column=name,
                min_value=0,
                description=f"{col.header} is not negative",
            )
        )
    if col.kind == "month":
        out.append(
            _spec(
                "expect_column_values_to_match_regex",
                column=name,
                regex=_MONTH,
                description=f"{col.header} is YYYY-MM",
            )
        )
    if col.kind in ("division", "division_self", "code12"):
        out.append(
            _spec(
                "expect_column_values_to_match_regex",
                column=name,
                regex=_CODE12,
                description=f"{col.header} is a 12-digit division code",
            )
        )
    if col.kind == "division":
        out.append(
            _spec(
                "expect_column_values_to_match_regex",
                column=f"{name}_delivered",
                regex=_CODE12,
                description=f"delivered {col.header} is kept, padded to 12 digits",
            )
        )
    if col.kind == "uscc":
        out.append(_status_spec(f"{name}_status", USCC_STATUSES, col.header))
    return out


def _status_spec(column: str, allowed: tuple[str, ...], header: str) -> ExpectationSpec:
    return _spec(
        "expect_column_values_to_be_in_set",
        column=column,
        value_set=list(allowed),
        description=f"{column} of {header} is one of {', '.join(allowed)}",
    )


def contract_specs(contract: FeedContract) -> list[ExpectationSpec]:
    """All generated expectations for one silver table, both severities."""
    enums = load_enums(contract.path.parent if contract.path else None)
    specs: list[ExpectationSpec] = []
    for col in LINEAGE:
        specs.append(
            _spec(
                "expect_column_values_to_not_be_null",
                column=col,
                description=f"lineage column {col} is set on every row",
            )
        )
    for col in contract.columns:
        specs.extend(_column_specs(col, enums))
    for id_col in contract.id_columns:
        status = f"{id_col}_status"
        specs.append(
            _spec(
                "expect_column_values_to_not_be_null",
                column=status,
                description=f"every row has an ID status for {id_col}",
            )
        )
        specs.append(_status_spec(status, ID_STATUSES, id_col))
    specs.append(
        _spec(
            "expect_compound_columns_to_be_unique",
            severity="warning",
            column_list=[*contract.natural_key, "_delivery_id"],
            description="natural key is unique within a delivery",
        )
    )
    return specs
