"""The Splink model: Chinese-aware comparisons, trained with EM, saved as JSON.

Records compared are *profiles*: a distinct combination of a person's identifying
attributes as one feed delivered them. Comparisons: the ID itself (Damerau-Levenshtein,
so one mistyped or two transposed digits still score), normalised name and its pinyin
(traditional script is folded before, homophone typos agree on pinyin), birth date
(exact, or one digit off), sex, division hierarchy (village, township, county), phone and
the source system's stable key (家庭编号, 志愿者编号). Prior m values make an untrained
model usable; EM refines them on the city's own data.
"""

from __future__ import annotations

import json

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import SettingsCreator, block_on

PROFILE_COLUMNS = [
    "unique_id", "person_ref", "id_number", "id_head", "id_tail", "id_outer", "name_norm",
    "name_pinyin",
    "birth_date", "sex", "division", "div_town", "div_county", "phone", "stable_key",
]  # fmt: skip


def _levels(column: str, *levels, m: list[float], u: list[float]) -> list:
    """Null level, then ``levels`` and an else level with prior m and u values. Random
    sampling replaces the u values it observes; the priors stand for levels so rare
    among non-matches (an ID one edit from another person's) that it may see none."""
    out = [cll.NullLevel(column)]
    everything = [*levels, cll.ElseLevel()]
    for i, (level, m_probability) in enumerate(zip(everything, m, strict=True)):
        out.append(level.configure(m_probability=m_probability, u_probability=u[i]))
    return out


class DamerauLevenshteinWithin(cll.DamerauLevenshteinLevel):
    """Splink's Damerau-Levenshtein level (same label, same pairs in it), computed only
    where it can hold. An edit of Damerau-Levenshtein (insert, delete, substitute, swap two
    neighbours) is at most two of Levenshtein, so Levenshtein <= 2 x Damerau-Levenshtein,
    and a pair more than ``2 x distance_threshold`` Levenshtein edits apart is not within
    the threshold. Levenshtein is the cheaper function (DuckDB: 0.23 s against 0.8 s for
    320,000 pairs of IDs), and nearly every pair Splink compares is that far apart: the
    random pairs of u estimation and most blocked pairs. The condition is a CASE, which
    both engines evaluate in order (an AND may be reordered), so Damerau-Levenshtein
    runs only on the pairs the bound lets through."""

    def create_sql(self, sql_dialect) -> str:
        exact = super().create_sql(sql_dialect)
        col = self.col_expression
        lev = f"{sql_dialect.levenshtein_function_name}({col.name_l}, {col.name_r})"
        return f"(case when {lev} > {2 * self.distance_threshold} then false else {exact} end)"


def comparisons() -> list:
    return [
        cl.CustomComparison(
            output_column_name="id_number",
            comparison_levels=_levels(
                "id_number",
                cll.ExactMatchLevel("id_number"),
                DamerauLevenshteinWithin("id_number", 1),
                DamerauLevenshteinWithin("id_number", 2),
                m=[0.9, 0.06, 0.02, 0.02],
                u=[1e-7, 1e-6, 1e-5, 1.0],
            ),
        ),
        cl.CustomComparison(
            output_column_name="name",
            comparison_levels=_levels(
                "name_norm",
                # Term frequencies: agreeing on 张伟 says far less than on 欧阳明.
                cll.ExactMatchLevel("name_norm", term_frequency_adjustments=True),
                cll.ExactMatchLevel("name_pinyin"),
                cll.JaroWinklerLevel("name_pinyin", 0.88),
                m=[0.9, 0.04, 0.03, 0.03],
                u=[2e-3, 3e-3, 1e-2, 0.985],
            ),
        ),
        cl.CustomComparison(
            output_column_name="birth_date",
            comparison_levels=_levels(
                "birth_date",
                cll.ExactMatchLevel("birth_date"),
                DamerauLevenshteinWithin("birth_date", 1),
                m=[0.95, 0.03, 0.02],
                u=[5e-5, 5e-4, 1.0],
            ),
        ),
        cl.CustomComparison(
            output_column_name="sex",
            comparison_levels=_levels(
                "sex", cll.ExactMatchLevel("sex"), m=[0.97, 0.03], u=[0.5, 0.5]
            ),
        ),
        cl.CustomComparison(
            output_column_name="division",
            comparison_levels=_levels(
                "division",
                cll.ExactMatchLevel("division"),
                cll.ExactMatchLevel("div_town"),
                cll.ExactMatchLevel("div_county"),
                m=[0.8, 0.08, 0.06, 0.06],
                u=[1e-3, 1e-2, 0.1, 0.889],
            ),
        ),
        cl.CustomComparison(
            output_column_name="phone",
            comparison_levels=_levels(
                "phone", cll.ExactMatchLevel("phone"), m=[0.9, 0.1], u=[1e-5, 1.0]
            ),
        ),
        cl.CustomComparison(
            output_column_name="stable_key",
            comparison_levels=_levels(
                "stable_key", cll.ExactMatchLevel("stable_key"), m=[0.95, 0.05], u=[1e-4, 1.0]
            ),
        ),
    ]


def prediction_blocking() -> list:
    """Every way a true match can still agree. Missing-ID rows always carry a birth date
    or a stable key (the clean gate quarantines them otherwise); a mistyped ID agrees on
    one of three keys (linkage.profiles: the ID minus one of three overlapping windows).
    Names block only within a county: a name alone pairs every 张伟 with every other."""
    return [
        block_on("birth_date"),
        block_on("stable_key"),
        block_on("id_head"),
        block_on("id_tail"),
        block_on("id_outer"),
        block_on("name_norm", "div_county"),
        block_on("name_pinyin", "div_county"),
    ]


def settings(link_type: str, *, prior: float = 1e-4) -> SettingsCreator:
    return SettingsCreator(
        link_type=link_type,
        unique_id_column_name="unique_id",
        comparisons=comparisons(),
        blocking_rules_to_generate_predictions=prediction_blocking(),
        probability_two_random_records_match=prior,
        additional_columns_to_retain=["person_ref"],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


# EM runs once per blocking rule; each rule leaves the compared columns it blocks on
# untrained, so the two rules cover each other.
EM_BLOCKING = (block_on("birth_date"), block_on("name_norm"))


def in_dialect(trained: dict, dialect: str) -> dict:
    """The trained model with its SQL rewritten for another backend, values untouched.

    A saved model holds SQL in the dialect it was trained on (DuckDB quotes columns as
    ``"name_norm_l"``, which Spark reads as a string literal: every level would silently
    disagree). The SQL is regenerated from the comparisons above in ``dialect`` and the
    trained m, u and priors are kept, so both engines score with one set of parameters."""
    if trained.get("sql_dialect") == dialect:
        return trained
    fresh = settings(trained["link_type"]).create_settings_dict(dialect)
    out = json.loads(json.dumps(trained))
    out["sql_dialect"] = dialect
    rules = fresh["blocking_rules_to_generate_predictions"]
    if len(rules) != len(out["blocking_rules_to_generate_predictions"]):
        raise ValueError("saved Splink model does not match model.py: retrain it")
    out["blocking_rules_to_generate_predictions"] = rules
    for saved, new in zip(out["comparisons"], fresh["comparisons"], strict=True):
        old_levels, new_levels = saved["comparison_levels"], new["comparison_levels"]
        labels = [lv["label_for_charts"] for lv in old_levels]
        if labels != [lv["label_for_charts"] for lv in new_levels]:
            raise ValueError(
                f"saved Splink model's {saved['output_column_name']} levels {labels} do not "
                "match model.py: retrain it before scoring"
            )
        for old, level in zip(old_levels, new_levels, strict=True):
            old["sql_condition"] = level["sql_condition"]
    return out
