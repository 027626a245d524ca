"""Link references with a corrupted ID to the known person the ID was typed from.

``id_edits.candidates`` lists, per unresolved entity, the known valid IDs one keystroke
from its ID. An ID one keystroke from someone's is weak evidence on its own: in a city of
10 million, roughly one typo'd ID in ten lies one keystroke from *some other* resident's
valid ID (each has ~16 neighbours with a right check character, 5-10 of them plausible,
and ~2% of plausible Guangzhou IDs belong to a resident; ADR 0005). So a candidate counts only when the record's name
agrees with the person's (same simplified name, or same pinyin: a homophone typo), and
its birth date, when the record has one, is the one the candidate's ID carries.

* exactly one such candidate person: linked (``probabilistic``; the probability is the
  trained Splink model's score of that pair, the detail names the keystroke, in Chinese
  for the caseworkers' worklists);
* two or more (namesakes whose valid IDs are both one keystroke away): not guessed. The
  entity becomes a new person and the detail says why, for a reviewer to settle;
* none: left to the general Splink linkage (``linkage.link``).
"""

from __future__ import annotations

import logging

import pandas as pd

from civlake.identifiers import birth_from_id
from civlake.resolve import id_edits, linkage
from civlake.resolve.splink_backend import backend

log = logging.getLogger(__name__)

COLUMNS = ["person_ref", "match", "match_probability", "match_detail"]
# How the detail of a reference that fits several namesakes begins: the verify rules read
# it (int_entitlement__persons.identity_unsure; tests/unit/test_verify_identity_unsure.py).
AMBIGUOUS_DETAIL = "存疑未合并"


def _agreeing(pairs: pd.DataFrame, left: pd.DataFrame, right: pd.DataFrame) -> pd.Series:
    """Per (entity, candidate) pair: a name agrees (same simplified name, or same
    pinyin) and no birth date contradicts (the entity has none, or one of its birth dates
    is the one the candidate's ID carries). As joins: at 1 M persons a per-person set
    of names took seconds."""
    keys = pairs[["person_ref", "match"]].assign(pair=range(len(pairs)))
    agree = pd.Series(False, index=range(len(pairs)))
    for column in ("name_norm", "name_pinyin"):
        mine = left[["person_ref", column]].dropna().drop_duplicates()
        theirs = right[["person_ref", column]].dropna().drop_duplicates()
        hits = keys.merge(mine, on="person_ref").merge(
            theirs.rename(columns={"person_ref": "match"}), on=["match", column]
        )
        agree[hits["pair"].unique()] = True
    births = left[["person_ref", "birth_date"]].dropna()
    births = pd.DataFrame(
        {"person_ref": births["person_ref"], "birth_date": [str(b) for b in births["birth_date"]]},
        dtype=object,
    ).drop_duplicates()
    dated = keys["person_ref"].isin(births["person_ref"]).to_numpy()
    born = [birth_from_id(i) for i in pairs["candidate_id"]]
    claimed = keys.assign(birth_date=pd.Series([None if b is None else str(b) for b in born],
                                               index=keys.index, dtype=object))  # fmt: skip
    same = claimed.dropna(subset=["birth_date"]).merge(births, on=["person_ref", "birth_date"])
    birth = ~dated
    birth[same["pair"].unique()] = True
    return pd.Series(agree.to_numpy() & birth, index=pairs.index, dtype=bool)


def _scores(
    pairs: pd.DataFrame,
    left: pd.DataFrame,
    right: pd.DataFrame,
    trained: dict,
    tf: pd.DataFrame | None,
    persons: int,
    spark=None,
) -> pd.Series:
    """The trained model's match probability of each (entity, candidate) pair, best
    profile pair each; the entity's ID compared in its comparison form."""
    from splink import block_on

    mine = left.merge(
        pairs[["person_ref", "match", "id_comparable"]], on="person_ref", how="inner"
    ).assign(id_number=lambda f: f["id_comparable"], pair_key=lambda f: f["match"])
    mine = mine.drop(columns=["match", "id_comparable"])
    mine["unique_id"] = range(len(mine))
    theirs = right[right["person_ref"].isin(pairs["match"])].assign(
        pair_key=lambda f: f["person_ref"]
    )
    theirs["unique_id"] = range(len(mine), len(mine) + len(theirs))
    spec = dict(trained, link_type="link_only", probability_two_random_records_match=1 / persons)
    with backend(spark) as db:
        linker = linkage._linker([mine, theirs], spec, tf, db=db, blocking=[block_on("pair_key")])
        scored = linker.inference.predict().as_pandas_dataframe()
    if scored.empty:
        return pd.Series(0.0, index=pairs.index)
    left_ids = set(mine["unique_id"])
    flip = ~scored["unique_id_l"].isin(left_ids)
    entity = scored["person_ref_l"].where(~flip, scored["person_ref_r"])
    person = scored["person_ref_r"].where(~flip, scored["person_ref_l"])
    best = (
        pd.DataFrame({"person_ref": entity, "match": person, "p": scored["match_probability"]})
        .groupby(["person_ref", "match"])["p"]
        .max()
    )
    keys = pd.MultiIndex.from_frame(pairs[["person_ref", "match"]])
    return pd.Series(best.reindex(keys).fillna(0.0).astype(float).values, index=pairs.index)


def typed_ids(left: pd.DataFrame) -> pd.DataFrame:
    """``ref`` and ``id_number`` of each left entity's distinct IDs: what
    ``id_edits.candidates`` looks up."""
    with_id = left.dropna(subset=["id_number"]).drop_duplicates(["person_ref", "id_number"])
    return with_id.rename(columns={"person_ref": "ref"})[["ref", "id_number"]]


def link_by_id_edit(
    left: pd.DataFrame,
    right: pd.DataFrame,
    trained: dict,
    tf: pd.DataFrame | None = None,
    *,
    persons: int | None = None,
    spark=None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(links, ambiguous), both with columns ``COLUMNS``: entities of ``left`` (profiles
    of unresolved references) tied to a known person of ``right`` by a one-keystroke ID,
    and entities left unlinked because several persons fit equally.

    ``right`` needs only every profile of the persons whose ID is one edit from a left
    ID (``known.DuckKnown`` selects those); ``persons``, the known persons of the whole
    city (the prior), defaults to those in ``right``. ``spark``: score on the Spark
    engine's session (else DuckDB)."""
    empty = pd.DataFrame(columns=COLUMNS)
    known = right[right["person_ref"].str.startswith("id:")]
    found = id_edits.candidates(typed_ids(left), known["person_ref"].str[3:])
    if found.empty:
        return empty, empty
    pairs = found.rename(columns={"ref": "person_ref"}).assign(
        match=lambda f: "id:" + f["candidate_id"]
    )
    pairs = pairs[_agreeing(pairs, left, known)].reset_index(drop=True)
    if pairs.empty:
        return empty, empty
    persons = right["person_ref"].nunique() if persons is None else persons
    pairs["match_probability"] = _scores(pairs, left, known, trained, tf, persons, spark)
    fits = pairs.groupby("person_ref")["match"].transform("nunique")
    one = pairs[fits == 1].sort_values(["person_ref", "match_probability"], ascending=[True, False])
    one = one.drop_duplicates("person_ref")
    one = one.assign(match_detail="身份证号与已知有效号码仅差一位（" + one["edit"] + "）；姓名一致")
    several = pairs[fits > 1]
    ambiguous = (
        several.groupby("person_ref")
        .agg(n=("match", "nunique"), match_probability=("match_probability", "max"))
        .reset_index()
    )
    ambiguous["match"] = None
    ambiguous["match_detail"] = (
        AMBIGUOUS_DETAIL
        + "："
        + ambiguous["n"].astype(str)
        + "名同名人员的有效身份证号均与此号仅差一位，待人工复核"
    )
    if len(ambiguous):
        log.info("%d references with a typo'd ID fit several namesakes; left unlinked",
                 len(ambiguous))  # fmt: skip
    return one[COLUMNS].reset_index(drop=True), ambiguous[COLUMNS]
