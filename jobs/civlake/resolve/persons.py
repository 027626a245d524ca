"""resolve_persons: every person reference in silver -> person_key, plus golden records.

Order of evidence: a canonical ID (valid, normalised or upgraded from 15 digits) is the
person (id_exact / id_normalized / id_upgraded). References whose ID is invalid or
missing go through the Splink model against the known persons' profiles
(probabilistic); what stays unmatched becomes a new person (new_person), keyed by its
collapse key so reruns give it the same person_key.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import time
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa

from civlake import lake, tables
from civlake.engine import duck
from civlake.engine.runtime import EMBEDDED, Engine
from civlake.resolve import golden, id_link, incremental, known, linkage, reference_sql
from civlake.resolve.golden import build_persons
from civlake.resolve.keys import hmac_pads, load_secret, person_key, person_key_sql
from civlake.resolve.references import REF_COLUMNS, RESOLVABLE, read_references

if TYPE_CHECKING:
    from civlake.resolve.spark_known import SparkKnown

log = logging.getLogger(__name__)

METHOD_BY_STATUS = {
    "valid": "id_exact",
    "normalized": "id_normalized",
    "upgraded_15": "id_upgraded",
}
XREF_SCHEMA = tables.schema(tables.PERSON_SOURCE_XREF)
SPLINK_DETAIL = "模型综合比对身份证号、姓名、出生日期、性别、区划、电话、来源编号"


def assign(
    refs: pd.DataFrame, settings, config: linkage.LinkageConfig, *, spark=None
) -> pd.DataFrame:
    """Adds person_ref, canon_id, match_method, match_probability to the references
    (``spark``: Splink scores on the Spark engine's session, else DuckDB)."""
    refs = refs.copy()
    usable = refs["id_status"].isin(RESOLVABLE)
    refs["person_ref"] = None
    refs.loc[usable, "person_ref"] = "id:" + refs.loc[usable, "id_number"]
    refs["match_method"] = refs["id_status"].map(METHOD_BY_STATUS)
    refs["match_probability"] = usable.astype(float).where(usable, None)
    refs["match_detail"] = None
    unresolved = refs[~usable]
    if not unresolved.empty:
        right = linkage.profiles(refs[usable], refs.loc[usable, "person_ref"])
        linked = link_unresolved(unresolved, known.FrameKnown(right), settings, config, spark=spark)
        for column in LINKED:
            refs.loc[~usable, column] = linked[column]
    is_id = refs["person_ref"].str.startswith("id:")
    refs["canon_id"] = refs["person_ref"].str[3:].where(is_id, None)
    return refs


LINKED = ("person_ref", "match_method", "match_probability", "match_detail")


def link_unresolved(
    unresolved: pd.DataFrame,
    persons: known.FrameKnown | known.DuckKnown | SparkKnown,
    settings,
    config: linkage.LinkageConfig,
    *,
    spark=None,
) -> pd.DataFrame:
    """person_ref, match_method, match_probability and match_detail of the references
    without a usable ID (same index), against the known persons (``linkage.profiles`` of
    the references with one, person_ref ``id:<ID>``): all of them in a frame, or those
    ``persons`` selects from DuckDB (``known`` says why the results are the same)."""
    refs = pd.DataFrame(index=unresolved.index)
    refs["match_probability"] = pd.Series(float("nan"), index=unresolved.index)
    refs["match_detail"] = None
    entity = linkage.entity_refs(unresolved)
    refs["person_ref"] = "new:" + entity
    left = linkage.profiles(unresolved, "new:" + entity)
    model_path = settings.state_dir / "splink_model.json"
    sample = persons.training(config) if linkage.must_train(model_path, config) else left[:0]
    training = pd.concat([sample, left], ignore_index=True)
    training["unique_id"] = range(len(training))
    tf = persons.name_frequencies(left, training)
    trained = linkage.load_or_train(training, model_path, config, tf, known=sample)
    # The training frames and Splink's in-memory databases (held in reference cycles)
    # go before the scoring parts: at 1 M persons ~1.2 GiB RSS stayed otherwise.
    del sample, training
    gc.collect()
    matches, ambiguous = _score(left, persons, trained, config, spark)
    hit = refs["person_ref"].isin(matches.index)
    refs["match_method"] = "new_person"
    refs.loc[hit, "match_method"] = "probabilistic"
    for column in ("match_probability", "match_detail"):
        refs.loc[hit, column] = refs.loc[hit, "person_ref"].map(matches[column])
    unsure = refs["person_ref"].isin(ambiguous.index)
    for column in ("match_probability", "match_detail"):
        refs.loc[unsure, column] = refs.loc[unsure, "person_ref"].map(ambiguous[column])
    refs.loc[hit, "person_ref"] = refs.loc[hit, "person_ref"].map(matches["match"])
    new = ~hit
    leftover = left[~left["person_ref"].isin(matches.index)]
    merged = linkage.cluster_unmatched(leftover, trained, config, tf, spark=spark)
    refs.loc[new, "person_ref"] = [merged.get(r, r) for r in refs.loc[new, "person_ref"]]
    return refs[list(LINKED)]


def _score(
    left: pd.DataFrame,
    persons: known.FrameKnown | known.DuckKnown | SparkKnown,
    trained: dict,
    config: linkage.LinkageConfig,
    spark=None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(matches, ambiguous) by the left person_ref: a typo'd ID one keystroke from a
    known person's first (id_link says when that decides), then the general model on
    what is left. A part of the left entities at a time (``persons.parts``), each
    against its own candidates: an entity's decision reads only its own pairs, so the
    parts decide as the whole left would."""
    found, unsure = [], []
    for part in persons.parts(left, config):
        right = persons.candidates(part)
        tf = persons.name_frequencies(left, right)
        city = persons.persons
        by_edit, ambiguous = id_link.link_by_id_edit(
            part, right, trained, tf, persons=city, spark=spark
        )
        decided = set(by_edit["person_ref"]) | set(ambiguous["person_ref"])
        rest = part[~part["person_ref"].isin(decided)]
        scored = linkage.link(rest, right, trained, config, tf, persons=city, spark=spark)
        found += [f for f in (by_edit, scored.assign(match_detail=SPLINK_DETAIL)) if len(f)]
        unsure += [ambiguous] if len(ambiguous) else []
    empty = pd.DataFrame(columns=id_link.COLUMNS)
    matches = pd.concat(found, ignore_index=True) if found else empty
    ambiguous = pd.concat(unsure, ignore_index=True) if unsure else empty
    return matches.set_index("person_ref"), ambiguous.set_index("person_ref")


def resolve_persons(
    settings, *, now: datetime, config: linkage.LinkageConfig | None = None,
    engine: Engine = EMBEDDED,
) -> dict:  # fmt: skip
    """Resolve all silver person references; writes core/person_source_xref and
    core/persons (both restricted: they hold id_number). Returns run statistics.

    On the embedded engine the references stream through DuckDB (``_resolve_streamed``):
    memory follows DuckDB's limit, the batch size and the references without a usable
    ID, not the city. Its tables are written a batch at a time in a fixed order (xref by
    lineage, persons by person_key): nothing downstream needs an order (dbt, verify and
    serve join on keys; the engine parity test sorts), but a rerun then writes the same
    rows in the same place, and tests/integration/test_resolve_streamed.py and
    bench/compare_resolve.py compare two runs row for row.
    On the Spark ``engine`` the same steps run as Spark DataFrames on the executors
    (``spark_resolver``): only the references without a usable ID and their candidate
    known persons reach the driver. For silver the SQL paths do not read (a column the
    contracts do not type), the whole frame goes through pandas on either engine
    (``_resolve_in_memory``). All three write the same tables."""
    started = time.perf_counter()
    config = config or linkage.LinkageConfig.from_settings(settings)
    stats = None
    if engine.on_spark:
        from civlake.resolve import spark_resolver

        stats = spark_resolver.resolve(settings, now=now, config=config, engine=engine)
    else:
        stats = _resolve_streamed(settings, now=now, config=config)
    if stats is None:
        stats = _resolve_in_memory(settings, now=now, config=config, engine=engine)
    stats["seconds"] = round(time.perf_counter() - started, 3)
    log.info("resolve_persons: %s", stats)
    return stats


def _resolve_in_memory(
    settings, *, now: datetime, config: linkage.LinkageConfig, engine: Engine = EMBEDDED
) -> dict:
    refs = read_references(settings.lake, settings.schemas_dir, io=engine.lake)
    secret = load_secret(settings)
    refs = (
        assign(refs, settings, config, spark=engine.spark)
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
    # Lineage order, the provisional references last (as the streamed resolver writes them)
    xref = refs.assign(
        resolved_at=now, provisional=refs["match_method"].eq(incremental.PROVISIONAL)
    ).sort_values(["provisional", "feed_id", "_delivery_id", "_source_file", "_source_row", "role"])
    xref_table = pa.Table.from_pandas(
        xref[XREF_SCHEMA.names], schema=XREF_SCHEMA, preserve_index=False
    )
    persons = build_persons(refs, now=now)
    engine.lake.overwrite(tables.path(settings.lake, tables.PERSON_SOURCE_XREF), xref_table)
    engine.lake.overwrite(tables.path(settings.lake, tables.PERSONS), persons)
    methods = refs["match_method"].value_counts().to_dict() if len(refs) else {}
    # Every reference resolved again (the incremental figures of ``_resolve_streamed``).
    return {
        "references": len(refs),
        "persons": persons.num_rows,
        "new_references": len(refs),
        "kept": 0,
        "provisional": 0,
        "carried": 0,
        "gone": 0,
        "persons_touched": persons.num_rows,
        "match_methods": {str(k): int(v) for k, v in methods.items()},
    }


def _resolve_streamed(settings, *, now: datetime, config: linkage.LinkageConfig) -> dict | None:
    """The embedded engine's resolver: DuckDB over the silver Delta tables (spilling
    beyond ``Settings.memory_limit``); only the new references without a usable ID, the
    known profiles they can meet and a capped training sample (``known.DuckKnown``) come
    into pandas. References an earlier run resolved keep their person
    (``incremental``): the xref gets the new ones appended and the golden records of the
    persons they touch are rebuilt. The city-wide sort (xref) and group-bys (golden
    records) run a slice at a time, since they do not spill enough whole, and each table
    is written in one commit."""
    secret = load_secret(settings)
    with duck.database(settings, "resolve_persons") as con:
        with _step("reference load"):
            count = reference_sql.load(
                con, settings.lake, settings.schemas_dir, saved_names=settings.state_dir
            )
        if count is None:
            return None
        prev = incremental.previous(settings, config, secret)
        kept = gone = provisional = carried = 0
        if prev is not None:
            with _step("attach_prior"):
                kept, gone, provisional = incremental.attach_prior(con, prev.xref, count)
            with _step("carry_entities"):
                carried = incremental.carry_entities(con)
            # The saved model decides the new references as it decided the old ones.
            config = dataclasses.replace(config, retrain=False)
        else:
            incremental.no_prior(con)
        with _step("link unresolved (Splink)"):
            _link_unresolved_sql(con, settings, config)
        # One HMAC per distinct person, in DuckDB's own SHA-256 (keys.person_key_sql).
        # A kept or carried reference names its key ('key:<person_key>', or its ID, whose
        # key is the ID's HMAC as before).
        with _step("person_keys"):
            inner, outer = hmac_pads(secret)
            con.execute("create temp table pads (ipad blob, opad blob)")
            con.execute("insert into pads values ($1, $2)", [inner, outer])
            canonical = (
                "case when person_ref like 'id:%' then substr(person_ref, 4) else person_ref end"
            )
            con.execute(f"""
                create temp table person_keys as
                select person_ref, case when person_ref like 'key:%' then substr(person_ref, 5)
                    else {person_key_sql(canonical, "pads")} end as person_key
                from (select distinct person_ref from resolved) cross join pads
            """)
            con.execute("drop table pads")
        # Every reference with its key and what the xref and golden records read of it,
        # joined once (unordered, so nothing is buffered to keep an order): the slices
        # below each read their part of it by a filter. The working tables read back
        # within this run (keyed, person_keys, known, prior_all) are temporary: they spill
        # to the temp folder under the limit like the others, but are not compressed into
        # the database file (at 1 M persons keyed took 4.5 s as a table, 1.2 s as this;
        # the month's resolution 28-32 -> 22-24 s; tests/integration/test_resolve_bounded.py
        # holds it under 96 MB). ``refs_sorted`` stays a table: as a temporary one the
        # bounded run ran out of memory.
        with _step("keyed"):
            con.execute("set preserve_insertion_order = false")
            con.execute("""
                create temp table keyed as
                select r.* exclude (id_status, name, name_pinyin, phone, stable_key),
                    k.person_key, r.ord in (select ord from prior) as kept
                from resolved r join person_keys k on k.person_ref = r.person_ref
            """)
            con.execute("reset preserve_insertion_order")
        _golden_view(con)
        with _step("touched and totals"):
            touched = incremental.touched_persons(con)
            total = con.execute("select count(distinct person_key) from keyed").fetchone()[0]
        with _step("xref write"):
            _write_xref(con, settings, now, count, append=prev is not None and not gone,
                        provisional=provisional)  # fmt: skip
        # Persons merged only onto golden records built from the xref this run started
        # from, and while no provisional person has vanished (merged into another).
        merge = (
            prev is not None and not gone and prev.persons_match_xref
            and not incremental.vanished_provisional(con)
        )  # fmt: skip
        with _step("persons write"):
            _write_persons(con, settings, now, merge=merge, touched=touched, total=total)
        incremental.save(settings, config, secret)
        methods = con.execute("select match_method, count(*) from resolved group by all").fetchall()
    return {
        "references": count,
        "persons": total,
        "new_references": count - kept,
        "kept": kept,
        "provisional": provisional,
        "carried": carried,
        "gone": gone,
        "persons_touched": touched,
        "match_methods": {str(k): int(v) for k, v in methods},
    }


def _write_xref(
    con, settings, now: datetime, count: int, *, append: bool, provisional: int = 0
) -> None:
    """Appends the references not kept (in lineage order, one commit; none: nothing
    written) after deleting the provisional ones they include, or writes every
    reference (first run, or references gone from silver). A crash between the delete
    and the append leaves those references out of the xref: the next run resolves them
    as new, and rebuilds the golden records (the table moved).

    Provisional references go into files of their own (after the others), so that the
    next run's delete drops whole files and leaves every other file as it was: the
    staged xref is copied by file (stg_person_source_xref), and one provisional
    reference in a file of a million rows made the whole file new each month."""
    path = tables.path(settings.lake, tables.PERSON_SOURCE_XREF)
    if not append:
        streams = [_xref_batches(con, now, count, provisional=p) for p in (False, True)]
        lake.overwrite_ordered(path, streams, row_group_rows=BATCH_ROWS)
        return
    if provisional:
        lake.delete_where(path, f"match_method = '{incremental.PROVISIONAL}'")
    files = lake.AppendFiles(path, XREF_SCHEMA)
    for p in (False, True):
        files.next_file()
        for batch in _xref_batches(con, now, count, only_new=True, provisional=p):
            files.write(batch)
    files.commit()


def _write_persons(con, settings, now: datetime, *, merge: bool, touched: int, total: int):
    """Golden records: those of the ``touched`` persons merged in (none touched: nothing
    written), unless more than ``incremental.MERGE_SHARE`` of the persons are touched or
    ``merge`` is off; then every person, in person_key order, one commit."""
    path = tables.path(settings.lake, tables.PERSONS)
    slice_rows = duck.slice_rows(con, bytes_per_row=SLICE_BYTES_PER_REF)
    if merge and touched <= incremental.MERGE_SHARE * total:
        if touched:
            con.execute("""
                create temp view golden_touched as
                select g.* from golden_refs g semi join touched t using (person_key)
            """)
            lake.merge_upsert(
                path,
                golden.stream_persons(con, "golden_touched", now=now, batch_rows=BATCH_ROWS,
                                      slice_rows=slice_rows),
                on=["person_key"],
            )  # fmt: skip
        return
    lake.overwrite_ordered(
        path,
        golden.stream_persons(
            con, "golden_refs", now=now, batch_rows=BATCH_ROWS, slice_rows=slice_rows
        ),
        row_group_rows=BATCH_ROWS,
    )


@contextmanager
def _step(name: str):
    """Logs at INFO how long a step of ``_resolve_streamed`` took."""
    started = time.perf_counter()
    yield
    log.info("resolve_persons: %s %.1f s", name, time.perf_counter() - started)


BATCH_ROWS = 122_880  # 60 DuckDB vectors
# References per slice of the xref sort and the golden group-bys: whole-city, the sort
# ran out of 64 MB at 235,000 references and the group-bys out of 1 GB at 1.2 M (~900 B
# a reference); a slice gets about a quarter of that share of the limit.
SLICE_BYTES_PER_REF = 4_096


_LINKED_SCHEMA = pa.schema(
    [("ord", pa.int64()), ("person_ref", pa.string()), ("match_method", pa.string()),
     ("match_probability", pa.float64()), ("match_detail", pa.string())]
)  # fmt: skip
_METHOD_SQL = " ".join(f"when '{s}' then '{m}'" for s, m in METHOD_BY_STATUS.items())


def _link_unresolved_sql(con, settings, config: linkage.LinkageConfig) -> None:
    """View ``resolved``: refs with person_ref, match_method, match_probability and
    match_detail. Usable IDs are their person; a reference without one that an earlier
    run resolved (``prior_linked``) or whose entity it did (``carried``) is that
    person's ('key:<person_key>', see ``incremental``); the rest go through
    ``link_unresolved`` in pandas. One view over refs, so what reads it joins no
    city-sized table to refs."""
    unresolved = (
        con.execute(
            f"select ord, {', '.join(REF_COLUMNS)} from refs r "
            f"where id_status not in ({reference_sql.RESOLVABLE_SQL}) "
            "and not exists (select 1 from prior_linked p where p.ord = r.ord) "
            "and not exists (select 1 from carried c where c.ord = r.ord) order by ord"
        )
        .to_arrow_table()
        .to_pandas(date_as_object=True)
    )
    linked = pa.table(
        {
            c: pa.array([], t)
            for c, t in zip(_LINKED_SCHEMA.names, _LINKED_SCHEMA.types, strict=True)
        }
    )
    if len(unresolved):
        out = link_unresolved(unresolved[REF_COLUMNS], known.DuckKnown(con), settings, config)
        out.insert(0, "ord", unresolved["ord"])
        linked = pa.Table.from_pandas(out, schema=_LINKED_SCHEMA, preserve_index=False)
    con.register("linked_frame", linked)
    # A kept or carried reference without a usable ID names its person's key; one with a
    # usable ID is its ID's person as before (its key is the ID's HMAC under the same
    # secret: a new secret resolves everything again).
    con.execute("""
        create table linked as
        select * from linked_frame
        union all
        select ord, 'key:' || person_key, match_method, match_probability, match_detail
        from prior_linked
        union all
        select ord, 'key:' || person_key, match_method, match_probability, match_detail
        from carried
        order by ord
    """)
    con.unregister("linked_frame")
    con.execute(f"""
        create temp view resolved as
        select r.*,
            coalesce(l.person_ref, 'id:' || r.id_number) as person_ref,
            coalesce(l.match_method, case r.id_status {_METHOD_SQL} end) as match_method,
            case when l.ord is null then 1.0 else l.match_probability end as match_probability,
            l.match_detail
        from refs r left join linked l on l.ord = r.ord
    """)


# What golden._sql reads of a reference (the rest of ``keyed`` would only be copied).
GOLDEN_COLUMNS = ("person_key", "feed_id", "_delivery_id", "_source_row", "produced_at",
                  "name_norm", "sex", "birth_date", "division", "person_status",
                  "status_changed_on", "death_date")  # fmt: skip


def _golden_view(con) -> None:
    """View ``golden_refs``: what ``golden.build_persons`` reads, per reference."""
    lo, hi = golden.PANDAS_DATES
    dates = {"birth_date", "death_date", "status_changed_on"}
    columns = [
        f"case when {c} between date '{lo}' and date '{hi}' then {c} end as {c}"
        if c in dates else c
        for c in GOLDEN_COLUMNS
    ]  # fmt: skip
    con.execute(f"""
        create temp view golden_refs as
        select {", ".join(columns)},
            case when person_ref like 'id:%' then substr(person_ref, 4) end as canon_id
        from keyed
    """)


def _xref_batches(
    con, now: datetime, count: int, *, only_new: bool = False, provisional: bool
) -> pa.RecordBatchReader:
    """The xref rows in lineage order (``only_new``: of the references no earlier run
    resolved), the provisional ones or the others, sorted a slice of ``ord`` at a time
    (ord runs 1..count): one sort of every reference's row does not spill enough."""
    step = duck.slice_rows(con, bytes_per_row=SLICE_BYTES_PER_REF)
    which = "is not distinct from" if provisional else "is distinct from"
    new = "and not r.kept" if only_new else ""
    sql = f"""
        select r.feed_id, r._delivery_id, r._source_file, r._source_row, r.role,
            r.person_key, r.match_method, r.match_probability, r.match_detail, r.id_number
        from keyed r
        where r.ord > $lo and r.ord <= $hi
            and r.match_method {which} '{incremental.PROVISIONAL}' {new}
        order by r.ord
    """
    queries = ((sql, {"lo": lo, "hi": lo + step}) for lo in range(0, max(count, 1), step))
    return duck.sliced(con, queries, now=now, schema=XREF_SCHEMA, batch_rows=BATCH_ROWS)
