"""Arrow schemas of the lake tables that dbt reads, per docs/CONVENTIONS.md.

dbt needs a table with the right columns even when a source is absent from a partial
run (a city without a feed, a gate that has not run yet): the delta source plugin builds
an empty table from these schemas so every model still compiles and builds, empty.
Silver schemas are derived from the feed contracts, so a new contract column reaches
dbt without a second list to keep in step.
"""

from __future__ import annotations

import pyarrow as pa

from civlake.contracts import FeedContract, get_contract

_TS = pa.timestamp("us", tz="UTC")
_KIND_TYPES: dict[str, pa.DataType] = {
    "date": pa.date32(),
    "timestamp": _TS,
    "amount": pa.decimal128(18, 2),
    "integer": pa.int64(),
    "bool": pa.bool_(),
}

LINEAGE: list[tuple[str, pa.DataType]] = [
    ("_delivery_id", pa.string()),
    ("_source_file", pa.string()),
    ("_source_row", pa.int64()),
    ("_source_unit", pa.string()),
    ("_period", pa.string()),
    ("_mode", pa.string()),
    ("_produced_at", pa.string()),
    ("_ingested_at", _TS),
    ("_row_hash", pa.string()),
]


def silver_schema(contract: FeedContract) -> pa.Schema:
    """Typed silver columns of one feed, with status/delivered/note companions."""
    fields: list[tuple[str, pa.DataType]] = []
    for col in contract.columns:
        fields.append((col.name, _KIND_TYPES.get(col.kind, pa.string())))
        if col.kind in ("citizen_id", "uscc"):
            fields.append((f"{col.name}_status", pa.string()))
        elif col.kind == "division":
            fields.append((f"{col.name}_delivered", pa.string()))
        elif col.kind == "name":
            fields.append((f"{col.name}_note", pa.string()))
        if col.derives_id:
            fields += [(col.derives_id, pa.string()), (f"{col.derives_id}_status", pa.string())]
    return pa.schema(fields + LINEAGE)


_S = pa.string()
_I = pa.int64()
_F = pa.float64()

# Tables written by the ingest, clean and dedupe stages (CONVENTIONS.md, OUTPUTS.md §1-2).
OTHER_SCHEMAS: dict[str, pa.Schema] = {
    "ingest_audit": pa.schema(
        [
            ("feed_id", _S), ("delivery_id", _S), ("source_unit", _S),
            ("source_unit_name", _S), ("period", _S), ("mode", _S), ("produced_at", _S),
            ("channel", _S), ("status", _S), ("reject_reason", _S), ("reject_detail", _S),
            ("rows_declared", _I), ("rows_bronze", _I), ("rows_silver", _I),
            ("rows_quarantined", _I), ("files", _S), ("fingerprint", _S),
            ("superseded_by", _S), ("ingested_at", _TS), ("cleaned_at", _TS),
            ("ingest_seconds", _F), ("clean_seconds", _F),
        ]
    ),
    "quarantine": pa.schema(
        [
            ("feed_id", _S), ("_delivery_id", _S), ("_source_file", _S), ("_source_row", _I),
            ("raw", _S), ("reasons", pa.list_(_S)), ("detail", _S), ("_ingested_at", _TS),
        ]
    ),
    # Written by the expectations gate (civlake.expectations.results.SCHEMA); dbt relies
    # on feed_id, delivery_id and success only.
    "expectation_results": pa.schema(
        [
            ("run_id", _S), ("suite", _S), ("feed_id", _S), ("delivery_id", _S),
            ("expectation", _S), ("expectation_type", _S), ("column", _S), ("severity", _S),
            ("success", pa.bool_()), ("unexpected_count", _I), ("element_count", _I),
            ("details", _S), ("at", _TS),
        ]
    ),
    "core/person_source_xref": pa.schema(
        [
            ("feed_id", _S), ("_delivery_id", _S), ("_source_file", _S), ("_source_row", _I),
            ("role", _S), ("person_key", _S), ("match_method", _S),
            ("match_probability", _F), ("match_detail", _S), ("id_number", _S),
        ]
    ),
    "core/persons": pa.schema(
        [
            ("person_key", _S), ("id_number", _S), ("name", _S), ("sex", _S),
            ("birth_date", pa.date32()), ("hukou_division_code", _S), ("is_alive", pa.bool_()),
            ("death_date", pa.date32()), ("death_date_source", _S),
            ("source_feeds", pa.list_(_S)), ("first_seen", _TS), ("last_seen", _TS),
            ("in_hukou", pa.bool_()), ("hukou_status", _S),
        ]
    ),
    # civlake.resolve.organizations: the registry's columns plus org_key, in_registry.
    "core/organizations": pa.schema(
        [
            ("org_key", _S), ("uscc", _S), ("name", _S), ("org_type", _S), ("status", _S),
            ("in_registry", pa.bool_()),
        ]
    ),
    "core/org_source_xref": pa.schema(
        [
            ("feed_id", _S), ("_delivery_id", _S), ("_source_file", _S), ("_source_row", _I),
            ("role", _S), ("org_key", _S), ("org_uscc", _S), ("uscc_delivered", _S),
            ("org_name", _S), ("match_method", _S),
        ]
    ),
}  # fmt: skip


def schema_for(table: str) -> pa.Schema:
    """Schema of a lake table named by its path under the lake (``silver/<feed>``...)."""
    if table.startswith("silver/"):
        return silver_schema(get_contract(table.removeprefix("silver/")))
    if table in OTHER_SCHEMAS:
        return OTHER_SCHEMAS[table]
    raise KeyError(f"no known schema for lake table {table!r}; add it to OTHER_SCHEMAS")
