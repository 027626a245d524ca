"""The model side of resolution in bounded memory (issue 17): ``known.DuckKnown`` keeps
the known profiles in DuckDB and gives pandas only the candidates a left profile can
meet, a capped training sample and the name frequencies of the names in play.

The oracle is ``known.FrameKnown``, every known profile in pandas (the whole-frame path
that ``persons._resolve_in_memory`` and the Spark engine run).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from civlake import lake, tables
from civlake.resolve import id_edits, id_link, known, linkage, persons, reference_sql
from civlake.resolve.keys import SECRET_ENV
from civlake.resolve.persons import _resolve_in_memory, _resolve_streamed
from civlake.resolve.references import REF_COLUMNS
from civlake.settings import load_settings
from tests.support.silver_city import build_silver
from tests.support.synthetic import build

pytestmark = pytest.mark.integration
NOW = datetime(2026, 12, 1, tzinfo=UTC)
OUTPUTS = (tables.PERSON_SOURCE_XREF, tables.PERSONS)


def _settings(home: Path):
    return load_settings(env={"CIVLAKE_HOME": str(home), SECRET_ENV: "known-test"})


def _written(s) -> dict[str, pa.Table]:
    return {name: lake.read_arrow(tables.path(s.lake, name)) for name in OUTPUTS}


def _spy(monkeypatch) -> dict[str, list]:
    """Records the right side each scorer gets and the known profiles training reads."""
    seen: dict[str, list] = {"link": [], "id_link": [], "train": [], "persons": []}
    real_link, real_edit, real_train = linkage.link, id_link.link_by_id_edit, linkage.train

    def link(left, right, *args, **kwargs):
        seen["link"].append(len(right))
        seen["persons"].append(kwargs.get("persons"))
        return real_link(left, right, *args, **kwargs)

    def link_by_id_edit(left, right, *args, **kwargs):
        seen["id_link"].append(len(right))
        return real_edit(left, right, *args, **kwargs)

    def train(training, *args, known=None, **kwargs):
        seen["train"].append(known)
        return real_train(training, *args, known=known, **kwargs)

    monkeypatch.setattr(linkage, "link", link)
    monkeypatch.setattr(id_link, "link_by_id_edit", link_by_id_edit)
    monkeypatch.setattr(linkage, "train", train)
    return seen


@pytest.mark.parametrize("city", ["silver_city", "generator"])
def test_candidates_resolve_as_every_known_profile_does(tmp_path, monkeypatch, city):
    # GIVEN a city where a few references lack a usable ID: 8,000 persons of
    # silver_city (volunteers with typo'd and missing IDs; ~9,700 references), or the
    # generator's dirt (birth dates, divisions, namesakes: every blocking rule)
    s = _settings(tmp_path)
    if city == "silver_city":
        build_silver(s.lake, persons=8_000, seed=3, volunteers=True)
    else:
        build(s.lake, persons=400, months=2, seed=9)
    config = linkage.LinkageConfig.from_settings(s)
    # WHEN the whole-frame path resolves (every known profile in pandas) ...
    expected_stats = _resolve_in_memory(s, now=NOW, config=config)
    expected = _written(s)
    # ... and the streamed one, with DuckDB choosing the candidates of a few left
    # entities at a time
    seen = _spy(monkeypatch)
    part = 50 if city == "silver_city" else 5
    stats = _resolve_streamed(s, now=NOW, config=replace(config, score_entities=part))
    # THEN both write the same tables row for row, through the model
    assert stats == expected_stats
    methods = stats["match_methods"]
    assert methods.get("probabilistic", 0) > 0 and methods.get("new_person", 0) > 0
    got = _written(s)
    for name in OUTPUTS:
        assert got[name].equals(expected[name]), name
    xref = got[tables.PERSON_SOURCE_XREF].to_pandas()
    assert xref["match_detail"].str.contains("仅差一位", na=False).any(), "no one-edit link"
    # AND the scorers saw only candidates, far fewer than the known persons, part by
    # part, with the whole city's count as the prior
    city_persons = xref.loc[xref["match_method"].str.startswith("id_"), "person_key"].nunique()
    assert len(seen["persons"]) > 1 and set(seen["persons"]) == {city_persons}
    assert max(seen["link"] + seen["id_link"]) < city_persons / 4
    # AND training read every known profile (the city is under the cap): the model is
    # the one the whole-frame path trains
    assert len(seen["train"]) == 1 and seen["train"][0]["person_ref"].nunique() == city_persons


def _known_con(tmp_path: Path, persons: int) -> tuple[duckdb.DuckDBPyConnection, pd.DataFrame]:
    """A DuckDB connection holding ``refs`` of a silver_city, and its unresolved refs."""
    s = _settings(tmp_path)
    build_silver(s.lake, persons=persons, seed=5, volunteers=True)
    con = duckdb.connect()
    assert reference_sql.load(con, s.lake, s.schemas_dir)
    unresolved = con.execute(
        f"select {', '.join(REF_COLUMNS)} from refs "
        f"where id_status not in ({reference_sql.RESOLVABLE_SQL}) order by ord"
    ).df()
    return con, unresolved


def test_training_sample_is_capped_whole_persons_and_deterministic(tmp_path):
    # GIVEN the known profiles of 3,000 persons in DuckDB
    con, _ = _known_con(tmp_path, 3_000)
    duck = known.DuckKnown(con)
    every = duck._profiles("true")
    # WHEN the cap is at least the profiles THEN training reads every one, in order
    whole = duck.training(linkage.LinkageConfig(train_known_max=duck.rows))
    pd.testing.assert_frame_equal(whole, every)
    # WHEN it is smaller THEN at most that many profiles, of whole persons, the same
    # ones on every call
    cap = duck.rows // 3
    sample = duck.training(linkage.LinkageConfig(train_known_max=cap))
    assert cap * 0.8 < len(sample) <= cap
    per_person = every["person_ref"].value_counts()
    got = sample["person_ref"].value_counts()
    assert got.to_dict() == per_person[got.index].to_dict()
    again = known.DuckKnown(con).training(linkage.LinkageConfig(train_known_max=cap))
    pd.testing.assert_frame_equal(again, sample)
    # AND the persons are those with the smallest hashes (not the first delivered)
    assert sample["person_ref"].nunique() < per_person.size
    assert set(sample["person_ref"]) != set(every["person_ref"].drop_duplicates()[: len(sample)])


def test_candidates_and_frequencies_equal_what_the_whole_frame_gives(tmp_path):
    # GIVEN 5,000 persons in DuckDB and the profiles of the references without an ID
    con, unresolved = _known_con(tmp_path, 5_000)
    duck = known.DuckKnown(con)
    every = duck._profiles("true")
    left = linkage.profiles(unresolved, "new:" + linkage.entity_refs(unresolved))
    # WHEN DuckDB picks the candidates
    picked = duck.candidates(left)
    # THEN they are exactly the profiles some rule pairs with a left one (keys as
    # linkage.profiles computes them), plus every profile of an ID one edit away
    keep = pd.Series(False, index=every.index)
    for columns in known.rule_columns():
        pairs = left[columns].dropna().drop_duplicates()
        hit = every[columns].merge(pairs, how="left", on=columns, indicator=True)["_merge"]
        keep |= (hit == "both").to_numpy()
    edits = id_edits.candidates(id_link.typed_ids(left), every["id_number"])
    assert len(edits) > 0
    keep |= every["id_number"].isin(edits["candidate_id"])
    cols = [c for c in every.columns if c != "unique_id"]
    expected = every.loc[keep, cols].reset_index(drop=True)
    pd.testing.assert_frame_equal(picked[cols], expected)
    assert 0 < len(picked) < len(every) / 10
    # AND the name frequencies are the whole city's, for every name in play
    full = linkage.name_frequencies(pd.concat([every, left], ignore_index=True))
    tf = duck.name_frequencies(left, picked)
    names = set(left["name_norm"].dropna()) | set(picked["name_norm"].dropna())
    assert set(tf["name_norm"]) == names
    want = full.set_index("name_norm")["tf_name_norm"]
    assert (tf.set_index("name_norm")["tf_name_norm"] == want[list(tf["name_norm"])]).all()


AWKWARD = [
    ("440104198001011234", "张伟", date(1980, 1, 1), "440104001001"),
    ("4401041980", "", date(999, 12, 31), ""),
    ("", None, None, None),
    ("44010419800101123", "阿依古丽•买买提", date(2026, 2, 28), "4401"),
    ("𠀀𠀁440104198001011234", "𠀀伟", date(1900, 1, 1), "𠀀𠀁4401040"),
]


def _awkward_known() -> tuple[duckdb.DuckDBPyConnection, known.DuckKnown, pd.DataFrame]:
    """Known references with short, empty, astral-plane and missing values, and rows
    that differ only in what ``linkage.profiles`` drops (an empty string against no
    value, sex '0' or '9' against none): (connection, DuckKnown, the ``known`` rows in
    first-reference order)."""
    con = duckdb.connect()
    rows = pd.DataFrame(
        [*AWKWARD, AWKWARD[0], AWKWARD[2], AWKWARD[0]],
        columns=["id_number", "name_norm", "birth_date", "division"],
    )
    rows["name"], rows["name_pinyin"] = None, rows["name_norm"]
    rows["stable_key"] = ["k", "", None, "k2", "𠀀", "k", None, "k"]
    rows["sex"] = ["1", "2", "0", None, "9", "9", "0", "0"]
    rows["phone"] = [None, "", "13800000000", None, None, "", None, None]
    rows["id_status"] = "valid"
    rows["ord"] = [8, 1, 2, 3, 4, 5, 6, 7]
    con.register("frame", pa.Table.from_pandas(rows, preserve_index=False))
    con.execute("create table refs as select * from frame")
    duck = known.DuckKnown(con)
    frame = (
        con.execute(f"select person_ref, {', '.join(known.SOURCE)} from known k order by first")
        .to_arrow_table()
        .to_pandas(date_as_object=True)
    )  # as the Python version was given them
    return con, duck, frame


def test_sql_profiles_are_the_python_ones():
    # GIVEN known references with awkward values and rows that only differ in what a
    # profile drops
    _, duck, frame = _awkward_known()
    # WHEN DuckDB makes the profiles THEN they are linkage.profiles' of the same rows:
    # the same distinct profiles, in the same order, with the same blocking keys
    python = linkage.profiles(frame, frame["person_ref"])
    sql = duck._profiles("true")
    pd.testing.assert_frame_equal(sql, python)
    assert len(sql) < len(frame)  # some rows collapsed, as drop_duplicates does


def test_sql_blocking_keys_are_the_python_ones():
    # GIVEN known references with short, empty, astral-plane and missing values
    con, _, frame = _awkward_known()
    # WHEN the keys are computed in SQL THEN each known row's equal linkage.profiles' of
    # that row in Python
    for column, sql in known._KEY_SQL.items():
        got = [r[0] for r in con.execute(f"select {sql} from known k order by first").fetchall()]
        want = [
            linkage.profiles(frame.iloc[[i]], frame["person_ref"].iloc[[i]])[column].iloc[0]
            for i in range(len(frame))
        ]
        assert got == [None if pd.isna(v) else v for v in want], column


def test_link_unresolved_gets_a_bounded_right_side(tmp_path, monkeypatch):
    # GIVEN 30,000 persons of whom a few hundred references lack a usable ID
    s = _settings(tmp_path)
    build_silver(s.lake, persons=30_000, seed=8, volunteers=True)
    seen = _spy(monkeypatch)
    sizes = []
    real = persons.link_unresolved

    def spy(unresolved, side, *args):
        sizes.append((len(unresolved), side.persons))
        return real(unresolved, side, *args)

    monkeypatch.setattr(persons, "link_unresolved", spy)
    # WHEN resolution streams, with training capped well below the city
    config = linkage.LinkageConfig(train_known_max=5_000)
    _resolve_streamed(s, now=NOW, config=config)
    # THEN the frames pandas holds are a few hundred rows, or the cap, not 30,000
    ((unresolved, known_persons),) = sizes
    assert known_persons > 29_000 and unresolved < 600
    assert max(seen["link"] + seen["id_link"]) < 600
    assert 4_000 < len(seen["train"][0]) <= 5_000
