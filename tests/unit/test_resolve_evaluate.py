from __future__ import annotations

import pandas as pd
import pytest

from civlake.resolve import evaluate_clustering


def _xref(rows):
    return pd.DataFrame(
        [{"feed_id": "f", "_delivery_id": "d", "_source_file": "x.csv", "_source_row": i,
          "role": "person", "person_key": key, "match_method": method}
         for i, (key, method) in enumerate(rows, start=1)]
    )  # fmt: skip


def _truth(uids):
    return pd.DataFrame(
        [{"feed_id": "f", "delivery_id": "d", "source_file": "x.csv", "source_row": i,
          "role": "person", "person_uid": uid, "expected": None, "reasons": None, "dirt": None}
         for i, uid in enumerate(uids, start=1)]
    )  # fmt: skip


def test_perfect_clustering_scores_one():
    xref = _xref([("a", "id_exact"), ("a", "probabilistic"), ("b", "id_exact")])
    scores = evaluate_clustering(xref, _truth(["p1", "p1", "p2"]))
    assert scores["overall"]["f1"] == 1.0
    assert scores["invalid_or_missing_id"]["f1"] == 1.0
    assert scores["hard_references"] == 1


def test_missed_link_costs_recall_on_the_hard_subset_only_where_it_touches():
    # p1 has three references; the typo'd one became a new person.
    xref = _xref([("a", "id_exact"), ("a", "id_exact"), ("n", "new_person"), ("b", "id_exact")])
    scores = evaluate_clustering(xref, _truth(["p1", "p1", "p1", "p2"]))
    assert scores["overall"]["precision"] == 1.0
    assert scores["overall"]["recall"] == pytest.approx(1 / 3)
    assert scores["invalid_or_missing_id"]["recall"] == 0.0
    assert scores["invalid_or_missing_id"]["true_pairs"] == 2


def test_wrong_merge_costs_precision():
    xref = _xref([("a", "id_exact"), ("a", "probabilistic")])
    scores = evaluate_clustering(xref, _truth(["p1", "p2"]))
    assert scores["overall"]["precision"] == 0.0 and scores["overall"]["recall"] == 1.0
