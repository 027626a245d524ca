"""Probabilistic linkage of unresolved references to known persons (Splink).

Unresolved references (ID invalid or missing) are first collapsed into *entities* by
exact evidence that they are the same person (the same invalid ID and name, or the same
name with the same birth date or source stable key), so a typo repeated in twelve
monthly deliveries is one decision, not twelve. Entities are then linked against the
profiles of known persons; the best candidate at or above the threshold wins.

Splink runs embedded (DuckDB) for training, and on the stage's engine for scoring: given
the Spark engine's session (``spark=``) that is Spark (``splink_backend`` says why and how).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from civlake.resolve import model
from civlake.resolve.references import LINEAGE
from civlake.resolve.splink_backend import Backend, backend
from civlake.settings import RESOLVE_THRESHOLD, Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class LinkageConfig:
    threshold: float = RESOLVE_THRESHOLD  # settings.py says why
    prior: float = 1e-4
    # EM cost grows with blocked pairs (25 iterations each); 2.5e5 hash-sampled pairs hold
    # thousands of true matches at any city size, so training time stays flat.
    em_max_pairs: float = 2.5e5
    em_sample_above: int = 50_000  # profiles
    # Known profiles training reads (u sampling draws u_max_pairs pairs, EM at most
    # em_max_pairs, so more profiles add memory and time, not information). Above it the
    # embedded engine trains on the persons with the smallest md5(person_ref), every
    # profile of each, up to this many profiles (known.DuckKnown.training): deterministic,
    # and the same persons on every run. At or below it, every known profile. 200,000
    # profiles still give EM more blocked pairs than em_max_pairs (a century has ~36,500
    # birth dates: ~5 profiles a date, ~500,000 pairs; names repeat more). At 1 M
    # persons, against 1,000,000: resolve 27.4 -> 20.8 s, the same pairwise precision and
    # a higher recall on the references without a usable ID (docs/benchmarks.md,
    # "Training on 200,000 known profiles").
    train_known_max: int = 200_000
    # Left entities scored at a time on the embedded engine (known.DuckKnown.parts): a
    # part's candidates are about its entities times the persons sharing a blocking key
    # (id_head: ~60 at 1 M persons, ~800 at 10 M): at 1 M, 2,000 entities met ~21,600
    # profiles (2 s to select, 5 s to score); at 10 M at most ~1.6 M. Each part costs
    # one scan of the known profiles and two Splink linkers.
    score_entities: int = 2_000
    # 3e5 pairs, one chunk: u of the common levels settles well before; the rare levels
    # keep their priors (model.py). 1e6 pairs in 10 chunks cost ~25 s on 2 shared cores.
    u_max_pairs: float = 3e5
    seed: int = 20261101
    retrain: bool = True
    # 5 bits: the best candidate must be 32 times likelier than the runner-up.
    ambiguity_bits: float = 5.0

    @classmethod
    def from_settings(cls, settings: Settings) -> LinkageConfig:
        """Operators tune the threshold without code: ``CIVLAKE_RESOLVE_THRESHOLD``."""
        return cls(threshold=settings.resolve_threshold)


def _text(value) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
        return None
    text = str(value)
    return text or None


def _cut(values: pd.Series, part) -> list[str | None]:
    return [part(v) if isinstance(v, str) else None for v in values]


def profiles(refs: pd.DataFrame, person_ref: pd.Series) -> pd.DataFrame:
    """Distinct identifying-attribute combinations, one row each, with ``person_ref``."""
    frame = pd.DataFrame(
        {
            "person_ref": person_ref.values,
            "id_number": [_text(v) for v in refs["id_number"]],
            "name_norm": [_text(v) for v in refs["name_norm"]],
            "name_pinyin": [_text(v) for v in refs["name_pinyin"]],
            "birth_date": [_text(v) for v in refs["birth_date"]],
            # '0'/'9' say nothing about the person: treat as unknown, not as disagreement.
            "sex": [v if v in ("1", "2") else None for v in refs["sex"]],
            "division": [_text(v) for v in refs["division"]],
            "phone": [_text(v) for v in refs["phone"]],
            "stable_key": [_text(v) for v in refs["stable_key"]],
        }
    ).drop_duplicates(ignore_index=True)
    # Blocking keys: the ID minus one of three overlapping windows (chars 0-6, 6-12,
    # 12-17). Any one mistyped character or swapped adjacent pair lies inside some
    # window, so the key that drops that window still agrees with the true ID.
    ids = frame["id_number"]
    frame["id_head"] = _cut(ids, lambda v: v[:12])  # drops 12-17: area + birth year, month
    frame["id_tail"] = _cut(ids, lambda v: v[7:])  # drops 0-6
    frame["id_outer"] = _cut(ids, lambda v: v[:6] + v[13:])  # drops 6-12
    frame["div_town"] = _cut(frame["division"], lambda v: v[:9])
    frame["div_county"] = _cut(frame["division"], lambda v: v[:6])
    frame["unique_id"] = range(len(frame))
    return frame[model.PROFILE_COLUMNS]


def entity_refs(unresolved: pd.DataFrame) -> pd.Series:
    """Collapse key per unresolved reference (see module doc); also the cluster seed of
    a new person, so it must be deterministic and free of row positions where possible."""
    keys = []
    for row in unresolved.to_dict("records"):
        name = row["name_norm"] or ""
        if row["id_status"] == "invalid" and row["id_number"]:
            keys.append(f"invalid:{row['id_number']}|{name}")
        elif row["stable_key"] and name:
            keys.append(f"key:{row['stable_key']}|{name}")
        elif name and _text(row["birth_date"]):
            keys.append(f"born:{name}|{row['birth_date']}")
        else:
            lineage = "|".join(str(row[c]) for c in ("feed_id", *LINEAGE, "role"))
            keys.append(f"row:{lineage}")
    return pd.Series(keys, index=unresolved.index, dtype=object)


def name_frequencies(all_profiles: pd.DataFrame) -> pd.DataFrame:
    """Share of persons bearing each normalised name, over every profile in the run.

    Registered as Splink's term-frequency lookup so agreement on 张伟 counts for less
    than on 欧阳明 even when the table being scored is tiny (a handful of leftovers
    would otherwise make every name look common). One vote per person: someone in
    twelve monthly deliveries is not twelve times as common."""
    named = all_profiles.dropna(subset=["name_norm"]).drop_duplicates(["person_ref", "name_norm"])
    counts = named["name_norm"].value_counts()
    return pd.DataFrame(
        {"name_norm": counts.index.astype(str), "tf_name_norm": (counts / counts.sum()).values}
    )


def _linker(
    frames: list[pd.DataFrame],
    settings,
    tf: pd.DataFrame | None = None,
    *,
    db: Backend | None = None,
    blocking: list | None = None,
):
    """A Linker over ``frames`` on ``db`` (a fresh embedded DuckDB when None); a trained
    model scores the pairs of ``blocking`` instead of its own when that is given."""
    from splink import Linker

    db = db or Backend()
    if isinstance(settings, dict):  # a trained model: its SQL in this backend's dialect
        dialect = db.api.sql_dialect.sql_dialect_str
        settings = model.in_dialect(settings, dialect)
        if blocking is not None:
            settings["blocking_rules_to_generate_predictions"] = [
                rule.get_blocking_rule(dialect).as_dict() for rule in blocking
            ]
    tables = [db.register(f, f"profiles_{i}") for i, f in enumerate(frames)]
    linker = Linker(tables if len(tables) > 1 else tables[0], settings, log_level=logging.ERROR)
    if tf is not None and not tf.empty:
        lookup = db.register(tf, "tf_lookup_name_norm")
        linker.table_management.register_term_frequency_lookup(lookup, "name_norm")
    return linker


# EM on valid-ID persons learns that a true match almost never disagrees on a field
# (m ~ 1e-24 for "else" levels), which then vetoes any match with one mistyped birth
# date, and underflows to 0.0 in the next round (Splink rejects it). Floors: a source
# system mistypes a field at least once in a thousand records; u is only kept finite.
M_FLOOR = 1e-3
U_FLOOR = 1e-12


def _floored(spec: dict) -> dict:
    for comparison in spec.get("comparisons", []):
        for level in comparison.get("comparison_levels", []):
            for key, floor in (("m_probability", M_FLOOR), ("u_probability", U_FLOOR)):
                value = level.get(key)
                if isinstance(value, int | float) and value < floor:
                    level[key] = floor
    return spec


def train(
    training: pd.DataFrame,
    model_path: Path,
    config: LinkageConfig,
    tf: pd.DataFrame,
    *,
    known: pd.DataFrame | None = None,
) -> dict:
    """u from random pairs of distinct persons (one profile each: pairs of one person's
    own profiles are matches and would inflate u for every agreeing field), then EM on
    all profiles, where known persons dominate: m for 'ID one edit apart' stays near its
    prior since valid-ID rows carry no typos. Saves and returns the model.

    Always embedded, whatever the engine: the pairs it learns from are bounded
    (``u_max_pairs``, ``em_max_pairs``), and Splink's random samplers draw different
    pairs on DuckDB and on Spark, so training on each engine would give each its own
    model and, near the threshold, its own clusters."""
    # Unresolved entities are mostly typo'd copies of known persons: leave them out of u.
    base = known if known is not None and known["person_ref"].nunique() > 1 else training
    one_each = base.drop_duplicates("person_ref")
    u_linker = _linker([one_each], model.settings("dedupe_only", prior=config.prior), tf)
    try:
        u_linker.training.estimate_u_using_random_sampling(
            max_pairs=config.u_max_pairs, seed=config.seed, min_count_per_level=None, num_chunks=1
        )
    except Exception as exc:
        # A lake with one or two persons has no pairs to sample: the prior u values stand.
        log.warning("u estimation skipped (%s); prior u values kept", exc)
    current = _floored(u_linker.misc.save_model_to_json())
    # Small cities: every blocked pair. Large ones: Splink estimates the blocked-pair
    # count on a 2% record probe and hash-samples down to em_max_pairs (a full-count
    # probe alone cost ~20 s at 100k persons).
    small = len(training) < config.em_sample_above
    sampling = {} if small else {"max_pairs": config.em_max_pairs, "record_sample_proportion": 0.02}
    for rule in model.EM_BLOCKING:
        # A fresh linker per round: a failed round leaves Splink's settings half
        # rewritten (comparisons dropped), so only a completed round's model is kept.
        linker = _linker([training], current, tf)
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(rule, **sampling)
        except Exception as exc:
            # e.g. an m value converging to 0.0, which Splink refuses, on a tiny city
            sql = rule.get_blocking_rule("duckdb").blocking_rule_sql
            log.warning("EM round blocked on %s skipped (%s); previous m values kept", sql, exc)
            continue
        current = _floored(linker.misc.save_model_to_json())
    model_path.parent.mkdir(parents=True, exist_ok=True)
    model_path.write_text(json.dumps(current, ensure_ascii=False, indent=2), encoding="utf-8")
    return current


def must_train(model_path: Path, config: LinkageConfig) -> bool:
    return config.retrain or not model_path.exists()


def load_or_train(
    training: pd.DataFrame,
    model_path: Path,
    config: LinkageConfig,
    tf: pd.DataFrame,
    *,
    known: pd.DataFrame | None = None,
) -> dict:
    if not must_train(model_path, config):
        return json.loads(model_path.read_text(encoding="utf-8"))
    return train(training, model_path, config, tf, known=known)


def link(
    left: pd.DataFrame,
    right: pd.DataFrame,
    trained: dict,
    config: LinkageConfig,
    tf: pd.DataFrame | None = None,
    *,
    persons: int | None = None,
    spark=None,
) -> pd.DataFrame:
    """Best known person per left ``person_ref``: columns person_ref, match (the right
    person_ref) and match_probability; only matches at or above the threshold.

    ``right`` needs only the profiles that meet a left one under ``model.
    prediction_blocking`` (``known.DuckKnown`` selects those): Splink scores no other
    pair. ``persons``, the known persons of the whole city, defaults to those in
    ``right``. ``spark``: the Spark engine's session (Splink scores there), else DuckDB."""
    empty = pd.DataFrame(columns=["person_ref", "match", "match_probability"])
    if left.empty or right.empty:
        return empty
    # Each unresolved entity is at most one of the known persons, so the prior that a
    # random left-right pair matches is 1 / known persons (not the training prior).
    persons = right["person_ref"].nunique() if persons is None else persons
    spec = dict(trained, link_type="link_only", probability_two_random_records_match=1 / persons)
    right = right.assign(unique_id=right["unique_id"] + len(left))
    with backend(spark) as db:
        linker = _linker([left, right], spec, tf, db=db)
        pairs = linker.inference.predict(threshold_match_probability=config.threshold)
        scored = pairs.as_pandas_dataframe()
    if scored.empty:
        return empty
    # Link-only pairs may come out either way round: orient them left -> right.
    left_ids = set(left["unique_id"])
    flip = ~scored["unique_id_l"].isin(left_ids)
    scored["left_ref"] = scored["person_ref_l"].where(~flip, scored["person_ref_r"])
    scored["right_ref"] = scored["person_ref_r"].where(~flip, scored["person_ref_l"])
    # Best profile per (entity, person), then the best person per entity. When the
    # runner-up person is nearly as likely (within ambiguity_bits of match weight: same
    # name and birth date, no usable ID) the entity is ambiguous: linking either could
    # put one person's benefits on the other, so neither is chosen and the entity
    # becomes a new person, which review can merge.
    scored = scored.sort_values(
        ["left_ref", "match_weight", "right_ref"], ascending=[True, False, True]
    ).drop_duplicates(["left_ref", "right_ref"])
    runner_up = scored.groupby("left_ref")["match_weight"].transform(
        lambda w: w.iloc[1] if len(w) > 1 else float("-inf")
    )
    best = scored.drop_duplicates("left_ref")
    runner_up = runner_up.loc[best.index]
    ambiguous = best["match_weight"] - runner_up < config.ambiguity_bits
    if ambiguous.any():
        log.info("%d unresolved entities match several persons about equally; left unlinked",
                 int(ambiguous.sum()))  # fmt: skip
    scored = best[~ambiguous]
    return pd.DataFrame(
        {
            "person_ref": scored["left_ref"].values,
            "match": scored["right_ref"].values,
            "match_probability": scored["match_probability"].astype(float).values,
        }
    )


def cluster_unmatched(
    unmatched: pd.DataFrame,
    trained: dict,
    config: LinkageConfig,
    tf: pd.DataFrame | None = None,
    *,
    spark=None,
) -> dict:
    """Entities no known person claimed, deduplicated among themselves (a person outside
    every valid-ID source whose ID was mistyped differently in two feeds). Returns
    entity person_ref -> representative person_ref (the smallest in its cluster)."""
    if unmatched["person_ref"].nunique() < 2:
        return {}
    spec = dict(trained, link_type="dedupe_only")
    with backend(spark) as db:
        pairs = _linker([unmatched], spec, tf, db=db).inference.predict(
            threshold_match_probability=config.threshold
        )
        scored = pairs.as_pandas_dataframe()
    parent: dict[str, str] = {}

    def root(ref: str) -> str:
        while parent.get(ref, ref) != ref:
            ref = parent[ref]
        return ref

    for a, b in zip(scored["person_ref_l"], scored["person_ref_r"], strict=True):
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {ref: root(ref) for ref in parent}
