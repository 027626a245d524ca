"""resolve_persons: every person reference in silver -> person_key, plus golden records.

Order of evidence: a canonical ID (valid, normalised or upgraded from 15 digits) is the
person (id_exact / id_normalized / id_upgraded). References whose ID is invalid or
missing go through the Splink model against the known persons' profiles
(probabilistic); what stays unmatched becomes a new person (new_person), keyed by its
collapse key so reruns give it the same person_key.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

import pandas as pd
import pyarrow as pa

from civlake import lake, tables
from civlake.resolve import id_link, linkage
from civlake.resolve.golden import build_persons
from civlake.resolve.keys import load_secret, person_key
from civlake.resolve.references import RESOLVABLE, read_references

log = logging.getLogger(__name__)

METHOD_BY_STATUS = {
    "valid": "id_exact",
    "normalized": "id_normalized",
    "upgraded_15": "id_upgraded",
}
XREF_SCHEMA = tables.schema(tables.PERSON_SOURCE_XREF)
SPLINK_DETAIL = "模型综合比对身份证号、姓名、出生日期、性别、区划、电话、来源编号"


def assign(refs: pd.DataFrame, settings, config: linkage.LinkageConfig) -> pd.DataFrame:
    """Adds person_ref, canon_id, match_method, match_probability to the references."""
    refs = refs.copy()
    known = refs["id_status"].isin(RESOLVABLE)
    refs["person_ref"] = None
    refs.loc[known, "person_ref"] = "id:" + refs.loc[known, "id_number"]
    refs["match_method"] = refs["id_status"].map(METHOD_BY_STATUS)
    refs["match_probability"] = known.astype(float).where(known, None)
    refs["match_detail"] = None
    unresolved = refs[~known]
    if not unresolved.empty:
        entity = linkage.entity_refs(unresolved)
        refs.loc[~known, "person_ref"] = "new:" + entity
        left = linkage.profiles(unresolved, "new:" + entity)
        right = linkage.profiles(refs[known], refs.loc[known, "person_ref"])
        model_path = settings.state_dir / "splink_model.json"
        training = pd.concat([right, left], ignore_index=True)
        training["unique_id"] = range(len(training))
        tf = linkage.name_frequencies(training)
        trained = linkage.load_or_train(training, model_path, config, tf, known=right)
        # A typo'd ID one keystroke from a known person's first (id_link says when that
        # decides), then the general model on what is left.
        by_edit, ambiguous = id_link.link_by_id_edit(left, right, trained, tf)
        decided = set(by_edit["person_ref"]) | set(ambiguous["person_ref"])
        scored = linkage.link(left[~left["person_ref"].isin(decided)], right, trained, config, tf)
        scored = scored.assign(match_detail=SPLINK_DETAIL)
        found = [f for f in (by_edit, scored) if len(f)]
        matches = (pd.concat(found, ignore_index=True) if found else by_edit).set_index(
            "person_ref"
        )
        hit = refs["person_ref"].isin(matches.index) & ~known
        refs.loc[hit, "match_method"] = "probabilistic"
        for column in ("match_probability", "match_detail"):
            refs.loc[hit, column] = refs.loc[hit, "person_ref"].map(matches[column])
        open_ = ambiguous.set_index("person_ref")
        unsure = refs["person_ref"].isin(open_.index) & ~known
        for column in ("match_probability", "match_detail"):
            refs.loc[unsure, column] = refs.loc[unsure, "person_ref"].map(open_[column])
        refs.loc[hit, "person_ref"] = refs.loc[hit, "person_ref"].map(matches["match"])
        new = ~known & ~hit
        refs.loc[new, "match_method"] = "new_person"
        leftover = left[~left["person_ref"].isin(matches.index)]
        merged = linkage.cluster_unmatched(leftover, trained, config, tf)
        refs.loc[new, "person_ref"] = [merged.get(r, r) for r in refs.loc[new, "person_ref"]]
    is_id = refs["person_ref"].str.startswith("id:")
    refs["canon_id"] = refs["person_ref"].str[3:].where(is_id, None)
    return refs


def resolve_persons(
    settings, *, now: datetime, config: linkage.LinkageConfig | None = None
) -> dict:
    """Resolve all silver person references; writes core/person_source_xref and
    core/persons (both restricted: they hold id_number). Returns run statistics."""
    started = time.perf_counter()
    config = config or linkage.LinkageConfig.from_settings(settings)
    refs = read_references(settings.lake, settings.schemas_dir)
    secret = load_secret(settings)
    refs = (
        assign(refs, settings, config)
        if not refs.empty
        else refs.assign(
            person_ref=None,
            canon_id=None,
            match_method=None,
            match_probability=None,
            match_detail=None,
        )
    )
    # The HMAC input is the bare canonical ID, so a key means the same on every machine;
    # new persons hash their collapse key under a prefix that no ID can start with.
    keys = {
        ref: person_key(secret, ref[3:] if ref.startswith("id:") else ref)
        for ref in refs["person_ref"].unique()
    }
    refs["person_key"] = refs["person_ref"].map(keys)
    xref = refs.assign(resolved_at=now).sort_values(
        ["feed_id", "_delivery_id", "_source_file", "_source_row", "role"]
    )
    xref_table = pa.Table.from_pandas(
        xref[XREF_SCHEMA.names], schema=XREF_SCHEMA, preserve_index=False
    )
    persons = build_persons(refs, now=now)
    lake.overwrite(tables.path(settings.lake, tables.PERSON_SOURCE_XREF), xref_table)
    lake.overwrite(tables.path(settings.lake, tables.PERSONS), persons)
    methods = refs["match_method"].value_counts().to_dict() if len(refs) else {}
    stats = {
        "references": len(refs),
        "persons": persons.num_rows,
        "match_methods": {str(k): int(v) for k, v in methods.items()},
        "seconds": round(time.perf_counter() - started, 3),
    }
    log.info("resolve_persons: %s", stats)
    return stats
