"""Pairwise clustering quality of the resolver against generator ground truth.

Two references form a pair when they share a cluster. Precision = true pairs found /
pairs predicted, recall = true pairs found / true pairs. The hard subset is the
references whose ID was invalid or missing (the ones Splink decides): a pair counts
there when at least one of its two references is in the subset.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa

KEYS = ["feed_id", "_delivery_id", "_source_file", "_source_row", "role"]
TRUTH_RENAME = {"delivery_id": "_delivery_id", "source_file": "_source_file",
                "source_row": "_source_row"}  # fmt: skip
HARD_METHODS = ("probabilistic", "new_person")


def _frame(data) -> pd.DataFrame:
    if isinstance(data, str | Path):
        import pyarrow.parquet as pq

        from civlake import lake

        path = Path(data)
        data = lake.read_arrow(path) if lake.exists(path) else pq.read_table(path)
    if isinstance(data, pa.Table):
        return data.to_pandas()
    return pd.DataFrame(data)


def _pairs(sizes: pd.Series) -> int:
    return int((sizes * (sizes - 1) // 2).sum())


def _pair_counts(df: pd.DataFrame, by: list[str]) -> tuple[int, int]:
    """(all pairs, pairs touching the hard subset) within groups of ``by``."""
    g = df.groupby(by, dropna=False)["hard"].agg(["size", "sum"])
    easy = g["size"] - g["sum"]
    total = _pairs(g["size"])
    return total, total - _pairs(easy)


def _scores(tp: int, predicted: int, true: int) -> dict:
    precision = tp / predicted if predicted else 1.0
    recall = tp / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1,
            "true_positive_pairs": tp, "predicted_pairs": predicted, "true_pairs": true}  # fmt: skip


def evaluate_clustering(xref, truth_records) -> dict:
    """``xref``: core.person_source_xref (table, frame or path); ``truth_records``: the
    generator's records.parquet (table, frame or path). Returns overall and hard-subset
    scores plus how many references were compared and how many could not be joined."""
    pred = _frame(xref)
    truth = _frame(truth_records).rename(columns=TRUTH_RENAME)
    truth = truth[truth["person_uid"].notna()]
    for df in (pred, truth):
        df["_source_row"] = df["_source_row"].astype("int64")
    joined = pred.merge(truth[[*KEYS, "person_uid"]], on=KEYS, how="inner")
    joined["hard"] = joined["match_method"].isin(HARD_METHODS).astype(int)
    tp_all, tp_hard = _pair_counts(joined, ["person_key", "person_uid"])
    pred_all, pred_hard = _pair_counts(joined, ["person_key"])
    true_all, true_hard = _pair_counts(joined, ["person_uid"])
    return {
        "overall": _scores(tp_all, pred_all, true_all),
        "invalid_or_missing_id": _scores(tp_hard, pred_hard, true_hard),
        "references_compared": len(joined),
        "hard_references": int(joined["hard"].sum()),
        "xref_not_in_truth": len(pred) - len(joined),
        "truth_not_in_xref": len(truth) - len(joined),
    }
