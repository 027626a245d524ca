"""The known persons' side of linkage: what ``persons.link_unresolved`` compares the
references without a usable ID with, and trains the model on.

* ``FrameKnown``: every known profile in one pandas frame (the whole-frame path, for
  silver the SQL paths do not read): scoring and training read all of them.
* ``DuckKnown``: the profiles stay in DuckDB (table ``known``, spilling under the
  memory limit); pandas gets the profiles a left profile can meet under the blocking
  in use, a bounded training sample, and the name frequencies of the names in play.
  So the model side's memory follows the unresolved references and the sample size,
  not the number of known persons, and scoring gives the same pairs and
  probabilities as with every profile: Splink scores only the pairs its blocking
  rules join, the one-edit pass only persons whose ID is a neighbour of a left ID,
  and the prior and the name frequencies are taken over the whole city.

``DuckKnown`` also splits the left into parts of ``LinkageConfig.score_entities``
entities, each scored against its own candidates: a blocking key shared by many persons
(``id_head``, division and birth month, ~60 persons at 1 M, ~800 at 10 M) brings every
one of them, so the candidates of the whole left would grow with the city's density.

``spark_known.SparkKnown`` is ``DuckKnown`` on the Spark engine (the same selections).
All have ``persons`` (known persons of the city), ``parts(left, config)``,
``candidates(left)``, ``training(config)`` and ``name_frequencies(left, *frames)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pandas as pd
import pyarrow as pa

from civlake.clean import sql_macros
from civlake.resolve import id_edits, id_link, linkage, model
from civlake.resolve.reference_sql import RESOLVABLE_SQL

SOURCE = ["id_number", "name_norm", "name_pinyin", "birth_date", "sex", "division",
          "phone", "stable_key"]  # fmt: skip


class FrameKnown:
    """Every known profile (``linkage.profiles`` of the references with a usable ID)."""

    def __init__(self, right: pd.DataFrame):
        self.right = right
        self.persons = right["person_ref"].nunique()

    def parts(self, left: pd.DataFrame, config: linkage.LinkageConfig) -> list[pd.DataFrame]:
        return [left]  # every part would meet the whole frame: score once

    def candidates(self, left: pd.DataFrame) -> pd.DataFrame:
        return self.right

    def training(self, config: linkage.LinkageConfig) -> pd.DataFrame:
        return self.right

    def name_frequencies(self, left: pd.DataFrame, *frames: pd.DataFrame) -> pd.DataFrame:
        return linkage.name_frequencies(pd.concat([self.right, left], ignore_index=True))


# A blocking key of a known profile in SQL, as ``linkage.profiles`` makes it in Python
# (``_text``: an empty string is no value; slices by character, as Python's).
_KEY_SQL = {
    "birth_date": "cast(k.birth_date as varchar)",
    "stable_key": "nullif(k.stable_key, '')",
    "id_head": "substr(nullif(k.id_number, ''), 1, 12)",
    "id_tail": "substr(nullif(k.id_number, ''), 8)",
    "id_outer": "substr(nullif(k.id_number, ''), 1, 6) || substr(nullif(k.id_number, ''), 14)",
    "name_norm": "nullif(k.name_norm, '')",
    "name_pinyin": "nullif(k.name_pinyin, '')",
    "div_county": "substr(nullif(k.division, ''), 1, 6)",
}


# ``linkage.profiles`` in SQL over table ``known`` (alias k): ``_text`` (no value, or an
# empty string, is None; a date its ISO text), sex only '1' or '2', the distinct
# profiles in the order of their first reference (``first`` is distinct per known row,
# so the smallest of a group is the row drop_duplicates keeps), then the blocking keys
# as ``_KEY_SQL`` makes them. tests/integration/test_resolve_known.py holds the two equal
# on awkward values.
_PROFILES_SQL = f"""
    with k as (
        select person_ref, first, nullif(id_number, '') as id_number,
            nullif(name_norm, '') as name_norm, nullif(name_pinyin, '') as name_pinyin,
            nullif(cast(birth_date as varchar), '') as birth_date,
            case when sex in ('1', '2') then sex end as sex,
            nullif(division, '') as division, nullif(phone, '') as phone,
            nullif(stable_key, '') as stable_key
        from known k where {{where}}
    ),
    profiles as (
        select person_ref, id_number, name_norm, name_pinyin, birth_date, sex, division,
            phone, stable_key, min(first) as first
        from k group by all
    )
    select person_ref, id_number, {_KEY_SQL["id_head"]} as id_head,
        {_KEY_SQL["id_tail"]} as id_tail, {_KEY_SQL["id_outer"]} as id_outer, name_norm,
        name_pinyin, birth_date, sex, division, substr(division, 1, 9) as div_town,
        {_KEY_SQL["div_county"]} as div_county, phone, stable_key
    from profiles k order by first
"""


def rule_columns() -> list[list[str]]:
    """The columns each of ``model.prediction_blocking``'s rules equates, read from the
    rules themselves so a rule added there is followed here (or refused, below)."""
    out = []
    for rule in model.prediction_blocking():
        sql = rule.get_blocking_rule("duckdb").blocking_rule_sql
        columns = re.findall(r'l\."(\w+)"', sql)
        shape = " AND ".join(f'l."{c}" = r."{c}"' for c in columns)
        if not columns or re.sub(r"[()]", "", sql) != shape:
            raise ValueError(f"blocking rule {sql!r} is not an equality on columns: "
                             "teach known.DuckKnown to select its candidates")  # fmt: skip
        missing = [c for c in columns if c not in _KEY_SQL]
        if missing:
            raise ValueError(f"blocking rule {sql!r} uses {missing}: add them to known._KEY_SQL")
        out.append(columns)
    return out


class DuckKnown:
    """The known profiles in DuckDB table ``known`` of ``con`` (which holds ``refs``):
    one row per distinct profile of a usable ID, ``first`` its first reference's ord."""

    def __init__(self, con):
        self.con = con
        con.execute(f"""
            create or replace temp table known as
            select 'id:' || id_number as person_ref, {", ".join(SOURCE)}, min(ord) as first
            from refs where id_status in ({RESOLVABLE_SQL})
            group by all
        """)
        self.rows, self.persons = con.execute(
            "select count(*), count(distinct person_ref) from known"
        ).fetchone()
        # One vote per person and name (linkage.name_frequencies), over the whole city.
        con.execute("""
            create or replace table known_names as
            select name_norm, count(*) as n
            from (select distinct person_ref, name_norm from known where name_norm <> '')
            group by name_norm
        """)
        self.named = con.execute("select coalesce(sum(n), 0) from known_names").fetchone()[0]

    def _profiles(self, where: str, params: dict | None = None) -> pd.DataFrame:
        """``linkage.profiles`` of the known rows ``where`` selects, in first-reference
        order (as ``drop_duplicates`` over the references keeps them), made by DuckDB
        (``_PROFILES_SQL``): the Python version's per-value loops over a training
        sample of 1,000,000 profiles took ~6 s of a first month's resolution."""
        frame = (
            self.con.execute(_PROFILES_SQL.format(where=where), params or {})
            .to_arrow_table()
            .to_pandas(date_as_object=True)
        )
        frame.insert(0, "unique_id", range(len(frame)))
        return frame[model.PROFILE_COLUMNS]

    def parts(self, left: pd.DataFrame, config: linkage.LinkageConfig) -> Iterator[pd.DataFrame]:
        """``left`` by ``config.score_entities`` entities (all profiles of one together),
        so the candidates in pandas at once are those of one part."""
        entities = left["person_ref"].unique()
        for start in range(0, len(entities), config.score_entities):
            yield left[left["person_ref"].isin(entities[start : start + config.score_entities])]

    def candidates(self, left: pd.DataFrame) -> pd.DataFrame:
        """The known profiles that share a blocking rule's key with a left profile, and
        every profile of each person whose ID is one edit from a left ID."""
        keys = sorted({c for columns in rule_columns() for c in columns})
        self.con.register("left_keys", pa.Table.from_pandas(left[keys], preserve_index=False))
        # One semi-join per rule, united (an OR of EXISTS took 5x as long at 1 M persons)
        hits = [
            "select k.first from known k semi join left_keys l on "
            + " and ".join(f"l.{c} = {_KEY_SQL[c]}" for c in columns)
            for columns in rule_columns()
        ]
        self._edit_candidates(left)
        hits.append(
            "select k.first from known k semi join edit_candidates e "
            "on e.candidate_id = k.id_number"
        )
        try:
            return self._profiles(f"k.first in ({' union all '.join(hits)})")
        finally:
            self.con.unregister("left_keys")

    def _edit_candidates(self, left: pd.DataFrame) -> None:
        """Table ``edit_candidates``: the known IDs ``id_edits.candidates`` finds for the
        left IDs, found here against every known ID without bringing them to pandas."""
        ids = id_link.typed_ids(left)
        self.con.execute("create or replace temp table edit_candidates (candidate_id varchar)")
        if ids.empty:
            return
        sql_macros.install(self.con)
        left_ids = pa.table(
            {
                "ref": pa.array(ids["ref"].astype(str).tolist(), pa.string()),
                "id": pa.array(ids["id_number"].tolist(), pa.string()),
            }
        )
        self.con.register("left_ids", left_ids)
        self.con.execute(
            "create or replace temp view known_ids as select id_number as id from known"
        )
        found = id_edits.neighbours_sql("left_ids", "known_ids")
        self.con.execute(
            f"insert into edit_candidates select distinct candidate_id from ({found})",
            id_edits.CHARS,
        )
        self.con.unregister("left_ids")

    def training(self, config: linkage.LinkageConfig) -> pd.DataFrame:
        """Every known profile when there are at most ``config.train_known_max``; else
        the persons with the smallest md5(person_ref) (LinkageConfig says why), each with
        every profile, as many as stay at or under that many profiles."""
        if self.rows <= config.train_known_max:
            return self._profiles("true")
        # The (max + 1)-th smallest hash: the persons strictly below it hold at most max
        # profiles, and a person's profiles share one hash, so none is cut in two.
        cutoff = self.con.execute(
            "select max(h) from (select md5_number_upper(person_ref) as h from known "
            "order by h limit $n)",
            {"n": config.train_known_max + 1},
        ).fetchone()[0]
        return self._profiles("md5_number_upper(k.person_ref) < $cutoff", {"cutoff": cutoff})

    def name_frequencies(self, left: pd.DataFrame, *frames: pd.DataFrame) -> pd.DataFrame:
        """``linkage.name_frequencies`` over every known profile and ``left``, for the
        names of ``left`` and ``frames`` (the frames Splink is given): the share of a
        name is over the whole city, and Splink looks up no other name."""
        own, wanted = names_in_play(left, *frames)
        self.con.register("wanted_names", wanted)
        city = self.con.execute(
            "select k.name_norm, k.n from known_names k semi join wanted_names using (name_norm)"
        ).df()
        self.con.unregister("wanted_names")
        return name_shares(own, city, self.named)


def names_in_play(left: pd.DataFrame, *frames: pd.DataFrame) -> tuple[pd.Series, pa.Table]:
    """(references per name among ``left``'s persons, the names of ``left`` and ``frames``
    as a one-column table ``name_norm``, sorted): what a known-person source must count."""
    own = (
        left.dropna(subset=["name_norm"])
        .drop_duplicates(["person_ref", "name_norm"])["name_norm"]
        .value_counts()
    )
    names = set(own.index)
    for frame in frames:
        names.update(frame["name_norm"].dropna())
    return own, pa.table({"name_norm": pa.array(sorted(names), pa.string())})


def name_shares(own: pd.Series, city: pd.DataFrame, named: int) -> pd.DataFrame:
    """``linkage.name_frequencies``' table from ``own`` (``names_in_play``) and ``city``
    (name_norm, n: the known persons' counts of those names; ``named`` in all)."""
    counts = pd.concat([own, city.set_index("name_norm")["n"]]).groupby(level=0).sum()
    counts = counts.sort_values(ascending=False, kind="stable")
    total = int(own.sum()) + int(named)
    return pd.DataFrame(
        {"name_norm": counts.index.astype(str), "tf_name_norm": (counts / total).values}
    )
