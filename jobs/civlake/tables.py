"""Every lake table: its name (the path under the lake root) and its Arrow schema.

The one place a table's name and columns are written: writers build their Arrow tables
with these schemas, readers and the dbt sources name tables through these constants, and
``tests/e2e/test_main_job.py`` checks that a run writes exactly these schemas.
Feed tables (``bronze/<feed>``, ``silver/<feed>``) and ``core/organizations`` (the
registry's columns) are derived from the contracts in ``schemas/``, so a new contract
column reaches every reader without a second list to keep in step.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from civlake.contracts import FeedContract, get_contract, load_contracts

INGEST_AUDIT = "ingest_audit"  # one row per delivery (ingest writes, clean updates)
QUARANTINE = "quarantine"  # rows the clean gate refused, with reason codes
EXPECTATION_RESULTS = "expectation_results"  # one row per expectation per suite per run
PERSONS = "core/persons"  # dedupe gate: one golden row per person_key (restricted)
PERSON_SOURCE_XREF = "core/person_source_xref"  # every person reference -> person_key
ORGANIZATIONS = "core/organizations"  # one row per org_key
ORG_SOURCE_XREF = "core/org_source_xref"  # every organisation reference -> org_key
# Tables a lake may lack: dbt builds them empty (civlake.transform.delta_source).
# The feed of returned worklists (核查反馈): a lake has none until a district returns one.
REVIEWS_FEED = "finding_reviews"
OPTIONAL = (  # the expectations gate is off on some runs; reviews come when they come
    EXPECTATION_RESULTS, f"bronze/{REVIEWS_FEED}", f"silver/{REVIEWS_FEED}",
)  # fmt: skip
ORG_REGISTRY = "social_organizations"  # the feed core/organizations is built from


def bronze(feed_id: str) -> str:
    return f"bronze/{feed_id}"


def silver(feed_id: str) -> str:
    return f"silver/{feed_id}"


def path(lake_root: Path, table: str) -> Path:
    """Where ``table`` (one of the names above, or ``bronze(f)``/``silver(f)``) lives."""
    return lake_root.joinpath(*table.split("/"))


_S = pa.string()
_I = pa.int64()
_F = pa.float64()
_TS = pa.timestamp("us", tz="UTC")
# Contract kind -> silver type; every other kind is a canonical string.
KIND_TYPES: dict[str, pa.DataType] = {
    "date": pa.date32(),
    "timestamp": _TS,
    "amount": pa.decimal128(18, 2),
    "integer": _I,
    "bool": pa.bool_(),
}
_LINEAGE: list[tuple[str, pa.DataType]] = [
    ("_delivery_id", _S), ("_source_file", _S), ("_source_row", _I), ("_source_unit", _S),
    ("_period", _S), ("_mode", _S), ("_produced_at", _S), ("_format", _S),
    ("_ingested_at", _TS), ("_row_hash", _S),
]  # fmt: skip
BRONZE_LINEAGE = [name for name, _ in _LINEAGE]
# Silver keeps the bronze lineage but the file format.
SILVER_LINEAGE = [name for name in BRONZE_LINEAGE if name != "_format"]


def bronze_schema(contract: FeedContract) -> pa.Schema:
    """Delivered values as strings, the unknown/unsplittable remainder, lineage."""
    fields = [(n, _S) for n in [*contract.names, "_extra", "_malformed"]]
    return pa.schema(fields + _LINEAGE)


def silver_schema(contract: FeedContract) -> pa.Schema:
    """Typed silver columns of one feed, with status/delivered/note companions."""
    fields: list[tuple[str, pa.DataType]] = []
    for col in contract.columns:
        fields.append((col.name, KIND_TYPES.get(col.kind, _S)))
        if col.kind in ("citizen_id", "uscc"):
            fields.append((f"{col.name}_status", _S))
        elif col.kind == "division":
            fields.append((f"{col.name}_delivered", _S))
        elif col.kind == "name":
            fields.append((f"{col.name}_note", _S))
        if col.derives_id:
            fields += [(col.derives_id, _S), (f"{col.derives_id}_status", _S)]
    return pa.schema(fields + [f for f in _LINEAGE if f[0] in SILVER_LINEAGE])


# The source row a quarantine or cross-reference row stands for.
_SOURCE_ROW = [("feed_id", _S), ("_delivery_id", _S), ("_source_file", _S), ("_source_row", _I)]
_FIXED: dict[str, pa.Schema] = {
    INGEST_AUDIT: pa.schema(
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
    QUARANTINE: pa.schema(
        [*_SOURCE_ROW, ("raw", _S), ("reasons", pa.list_(_S)), ("detail", _S),
         ("_ingested_at", _TS)]
    ),
    EXPECTATION_RESULTS: pa.schema(
        [
            ("run_id", _S), ("suite", _S), ("feed_id", _S),
            # Null: the gate validates whole silver tables, so an outcome belongs to no
            # single delivery (failing deliveries are in details.examples). Kept for the
            # dbt staging model, which reads feed_id, delivery_id and success.
            ("delivery_id", _S),
            ("expectation", _S), ("expectation_type", _S), ("column", _S), ("severity", _S),
            ("success", pa.bool_()), ("unexpected_count", _I), ("element_count", _I),
            ("details", _S), ("at", _TS),
        ]
    ),
    PERSON_SOURCE_XREF: pa.schema(
        [
            *_SOURCE_ROW, ("role", _S), ("person_key", _S), ("match_method", _S),
            ("match_probability", _F),
            # Why a record without a usable ID was (or was not) tied to a person, for
            # review (Chinese, it reaches the worklists); None for IDs that match as they are.
            ("match_detail", _S),
            ("id_number", _S),  # restricted: the ID as silver holds it
            ("resolved_at", _TS),
        ]
    ),
    PERSONS: pa.schema(
        [
            ("person_key", _S), ("id_number", _S), ("name", _S), ("sex", _S),  # id: restricted
            ("birth_date", pa.date32()), ("hukou_division_code", _S), ("is_alive", pa.bool_()),
            ("death_date", pa.date32()), ("death_date_source", _S),
            ("source_feeds", pa.list_(_S)), ("first_seen", pa.date32()),
            ("last_seen", pa.date32()), ("in_hukou", pa.bool_()), ("hukou_status", _S),
            ("resolved_at", _TS),
        ]
    ),
    ORG_SOURCE_XREF: pa.schema(
        [
            *_SOURCE_ROW, ("role", _S), ("org_key", _S), ("org_uscc", _S),
            ("uscc_delivered", _S), ("org_name", _S), ("match_method", _S),
        ]
    ),
}  # fmt: skip


def organizations_schema(registry: FeedContract) -> pa.Schema:
    """The registry's silver columns (lineage dropped), then org_key and in_registry."""
    kept = [f for f in silver_schema(registry) if not f.name.startswith("_")]
    return pa.schema([*kept, pa.field("org_key", _S), pa.field("in_registry", pa.bool_())])


def schema(table: str, *, schemas_dir: Path | None = None) -> pa.Schema:
    """The registered schema of ``table`` (a name above, ``bronze(f)`` or ``silver(f)``)."""
    layer, _, feed = table.partition("/")
    if layer == "silver" and feed:
        return silver_schema(get_contract(feed, schemas_dir))
    if layer == "bronze" and feed:
        return bronze_schema(get_contract(feed, schemas_dir))
    if table == ORGANIZATIONS:
        return organizations_schema(get_contract(ORG_REGISTRY, schemas_dir))
    if table in _FIXED:
        return _FIXED[table]
    raise KeyError(f"{table!r} is not a registered lake table (civlake.tables)")


def all_tables(schemas_dir: Path | None = None) -> list[str]:
    """Every table of a lake fed by the contracts in ``schemas_dir``."""
    feeds = list(load_contracts(schemas_dir))
    return [
        *map(bronze, feeds), *map(silver, feeds), INGEST_AUDIT, QUARANTINE,
        EXPECTATION_RESULTS, PERSON_SOURCE_XREF, PERSONS, ORGANIZATIONS, ORG_SOURCE_XREF,
    ]  # fmt: skip
