"""Incremental person resolution on the embedded engine: a reference resolved once keeps
its person for good, and a new month scores only what it brought (issue 17).

What the last run left is the ``core/person_source_xref`` table: every reference it
resolved (by lineage: feed, delivery, file, row, role) with its person_key, method,
probability and detail. The next run reads it back as table ``prior`` and

* keeps every one of those references that it tied to a person by its ID or a link as it
  was (``kept``): no model decides it again, so a namesake who arrives later, a retrained
  model or a name-frequency shift can never move it to another person;
* resolves again, with the new references, those it made *new persons* (no usable ID,
  no known person claimed them; a few hundred at 1 M persons): such a person is
  provisional, since the person may become known later (a newborn whose ID the first
  delivery could not vouch for is registered with it next month) or appear again under
  another typo, and resolving everything at once would then tie them together. Their
  key changes only when that happens;
* gives a new reference without a usable ID the person of an earlier reference of the
  same entity (``linkage.entity_refs``'s collapse key: the same invalid ID, source key or
  name and birth date) without scoring it (``carried``);
* scores the rest against every known person with the saved model (no retraining), as
  the first run did.

So the next month appends its new references to the xref and rebuilds the golden records
of the persons they touch. What the run must agree with is kept beside the model, in
``<state>/resolve_persons.json``: fingerprints of the key secret, the linkage settings and
the model's specification (a change re-resolves everything: a new secret is a new key
space, a new threshold a new policy, new comparisons a retrained model) and the xref and
persons versions this run wrote (if either table moved since, a crash between their
commits or another writer, the golden records are rebuilt whole).

What stays different from resolving everything at once: the model is the one trained
when the state began, and a link made earlier is not revisited. Deleting the state file (or changing the secret or linkage settings) resolves
everything again on the next run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from civlake import lake, tables
from civlake.resolve import model
from civlake.resolve.keys import secret_fingerprint
from civlake.resolve.reference_sql import RESOLVABLE_SQL, delta_source

log = logging.getLogger(__name__)

STATE_FILE = "resolve_persons.json"
LINEAGE_KEY = ["feed_id", "_delivery_id", "_source_file", "_source_row", "role"]
# Above this share of persons touched, the golden records are rebuilt whole (one sorted
# stream) instead of merged: a monthly full snapshot touches everyone.
MERGE_SHARE = 0.25
# The method of a person made of references without a usable ID that no known person
# claimed: provisional, resolved again with each run's new references.
PROVISIONAL = "new_person"


@dataclass(frozen=True)
class Previous:
    """What the last run left that this one builds on."""

    xref: Path
    persons_match_xref: bool  # core/persons is what the last run built from that xref


def _fingerprints(secret: bytes, config) -> dict:
    """What the kept references were resolved under: the key secret, the linkage settings
    and the model's specification in this release (its comparisons and blocking rules:
    a saved model trained for other comparisons must not score new references)."""
    linkage = {
        f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.name != "retrain"
    }
    spec = json.dumps(
        model.settings("dedupe_only").create_settings_dict("duckdb"), sort_keys=True, default=str
    )
    return {
        "secret": secret_fingerprint(secret),
        "linkage": repr(sorted(linkage.items())),
        "model": hashlib.sha256(spec.encode("utf-8")).hexdigest(),
    }


def _version(path: Path) -> int | None:
    table = lake.open_table(path)
    return None if table is None else table.version()


def _paths(settings) -> tuple[Path, Path, Path]:
    return (
        settings.state_dir / STATE_FILE,
        tables.path(settings.lake, tables.PERSON_SOURCE_XREF),
        tables.path(settings.lake, tables.PERSONS),
    )


def previous(settings, config, secret: bytes) -> Previous | None:
    """The last run's xref to build on, or None: resolve everything (no state, another
    secret or linkage settings, no xref table)."""
    state_path, xref, persons = _paths(settings)
    if not state_path.is_file() or not lake.exists(xref):
        return None
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("resolution state %s unreadable (%s): resolving everything", state_path, exc)
        return None
    if state.get("fingerprints") != _fingerprints(secret, config):
        log.info("key secret, linkage settings or model specification changed: resolving "
                 "every reference again, with a model trained afresh")  # fmt: skip
        return None
    same = state.get("xref_version") == _version(xref) and state.get("persons_version") == _version(
        persons
    )
    if not same:
        log.info("core tables moved since the last resolution: golden records rebuilt whole")
    return Previous(xref=xref, persons_match_xref=same)


def save(settings, config, secret: bytes) -> None:
    """Record what this run left (after both tables are committed)."""
    state_path, xref, persons = _paths(settings)
    state = {
        "fingerprints": _fingerprints(secret, config),
        "xref_version": _version(xref),
        "persons_version": _version(persons),
    }
    state_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = state_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
    os.replace(tmp, state_path)


def forget(settings) -> None:
    """Drop the state: the next run resolves everything."""
    _paths(settings)[0].unlink(missing_ok=True)


def attach_prior(con, xref: Path, references: int) -> tuple[int, int, int]:
    """Tables ``prior`` (ord of ``refs``) of every reference the xref already tied to a
    person by its ID or a link, ``prior_linked`` (ord, person_key, match_method,
    match_probability, match_detail) of those without a usable ID, and
    ``provisional_keys`` (person_key) of the new persons an earlier run made, whose
    references are resolved again when anything changed (``references``, the count of
    ``refs``, says whether all of them are in the xref). Returns (kept, gone,
    provisional): references kept, xref rows whose reference is no longer in silver,
    references resolved again."""
    delta_source(con, "xref_prev", lake.open_table(xref))
    on = " and ".join(f"x.{c} = r.{c}" for c in LINEAGE_KEY)
    con.execute("set preserve_insertion_order = false")
    con.execute(f"""
        create or replace temp table prior_all as
        select r.ord, r.id_status in ({RESOLVABLE_SQL}) as usable, x.person_key,
            x.match_method, x.match_probability, x.match_detail
        from refs r join xref_prev x on {on}
    """)
    con.execute("reset preserve_insertion_order")
    matched = con.execute("select count(*) from prior_all").fetchone()[0]
    total = con.execute("select count(*) from xref_prev").fetchone()[0]
    con.unregister("xref_prev")
    con.execute("drop view if exists xref_prev")
    # Nothing new and nothing gone: the provisional persons would come out the same.
    again = "false" if matched == references == total else f"match_method = '{PROVISIONAL}'"
    con.execute(f"""
        create or replace table provisional_keys as
        select distinct person_key from prior_all where {again}
    """)
    con.execute(f"create or replace table prior as select ord from prior_all where not ({again})")
    con.execute(f"""
        create or replace table prior_linked as
        select * exclude (usable) from prior_all where not usable and not ({again})
    """)
    con.execute("drop table prior_all")
    kept = con.execute("select count(*) from prior").fetchone()[0]
    return kept, total - matched, matched - kept


def vanished_provisional(con) -> int:
    """Provisional persons an earlier run made that no reference has any more (merged into
    a person found since): their golden records must go."""
    return con.execute("""
        select count(*) from provisional_keys p
        where not exists (select 1 from keyed k where k.person_key = p.person_key)
    """).fetchone()[0]


def no_prior(con) -> None:
    """Empty ``prior``, ``prior_linked``, ``provisional_keys`` and ``carried``: every
    reference is resolved afresh."""
    con.execute("create or replace table prior (ord bigint)")
    con.execute("create or replace table provisional_keys (person_key varchar)")
    for name in ("prior_linked", "carried"):
        con.execute(f"""
            create or replace table {name} (ord bigint, person_key varchar,
                match_method varchar, match_probability double, match_detail varchar)
        """)


# linkage.entity_refs in SQL (tests/unit/test_resolve_entity_sql.py holds them equal);
# null where it keys by lineage, which no other reference shares.
ENTITY_SQL = """
    case
        when id_status = 'invalid' and coalesce(id_number, '') <> ''
            then 'invalid:' || id_number || '|' || coalesce(name_norm, '')
        when coalesce(stable_key, '') <> '' and coalesce(name_norm, '') <> ''
            then 'key:' || stable_key || '|' || name_norm
        when coalesce(name_norm, '') <> '' and birth_date is not null
            then 'born:' || name_norm || '|' || cast(birth_date as varchar)
    end"""


def carry_entities(con) -> int:
    """Table ``carried`` (as ``prior_linked``): the new references without a usable ID whose
    entity an earlier reference without one already had, with that reference's person
    (the earliest such reference, should they differ); returns how many."""
    con.execute(f"""
        create or replace table carried as
        with unresolved as (
            select ord, {ENTITY_SQL} as entity
            from refs where id_status not in ({RESOLVABLE_SQL})
        ),
        earlier as (
            select u.entity, arg_min(p.person_key, u.ord) as person_key,
                arg_min(p.match_method, u.ord) as match_method,
                arg_min(p.match_probability, u.ord) as match_probability,
                arg_min(p.match_detail, u.ord) as match_detail
            from unresolved u join prior_linked p on p.ord = u.ord
            where u.entity is not null
            group by u.entity
        )
        select u.ord, e.person_key, e.match_method, e.match_probability, e.match_detail
        from unresolved u join earlier e on e.entity = u.entity
        anti join prior_linked p on p.ord = u.ord
    """)
    return con.execute("select count(*) from carried").fetchone()[0]


def touched_persons(con) -> int:
    """Table ``touched`` (person_key): the persons a new reference belongs to."""
    con.execute("""
        create or replace table touched as
        select distinct person_key from keyed where not kept
    """)
    return con.execute("select count(*) from touched").fetchone()[0]
