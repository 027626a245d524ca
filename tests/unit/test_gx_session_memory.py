"""The gate's GX session keeps no chunk after validating it (issue 17: memory set by the
chunk, not by the city). GX 1.x data assets registered per chunk kept every chunk's frame
alive: on a 10,000,000-person city the gate grew past 8.5 GiB, ~25 MB per 250,000-row
chunk here."""

import gc
import weakref

import numpy as np
import pandas as pd

from civlake.expectations.specs import ExpectationSpec
from civlake.expectations.validate import GxSession

SPECS = [
    ExpectationSpec(
        type="expect_column_values_to_not_be_null", kwargs={"column": "id"},
        severity="critical", description="id present",
    ),
    ExpectationSpec(
        type="expect_column_value_lengths_to_equal", kwargs={"column": "id", "value": 6},
        severity="warning", description="id has 6 characters",
    ),
]  # fmt: skip


def test_the_session_keeps_no_chunk_but_the_latest():
    session = GxSession()
    checks = session.checks("feed", SPECS)
    alive = []
    for n in range(3):
        frame = pd.DataFrame({"id": np.char.zfill(np.arange(1_000).astype(str), 6 + n % 2)})
        results = list(session.validate(frame, checks))
        assert {spec.description for spec, _ in results} == {s.description for s in SPECS}
        # the warning fails on the 7-character chunk only: the session validated each frame
        failed = {spec.description for spec, r in results if not r.success}
        assert failed == ({"id has 6 characters"} if n % 2 else set())
        alive.append(weakref.ref(frame))
        del frame, results
    gc.collect()
    # GX's batch definition may hold the latest chunk until the next replaces it: one
    # chunk, never the ones before
    assert [ref() is None for ref in alive[:-1]] == [True, True]


def test_a_suite_dealt_into_shares_gives_the_one_suites_results():
    # GIVEN five specs on two columns (both severities), as one suite and as three shares
    specs = [
        *SPECS,
        ExpectationSpec(
            type="expect_column_values_to_be_between",
            kwargs={"column": "n", "min_value": 0, "max_value": 9}, severity="warning",
            description="n is a digit",
        ),
        ExpectationSpec(
            type="expect_column_values_to_not_be_null", kwargs={"column": "n"},
            severity="critical", description="n present",
        ),
        ExpectationSpec(
            type="expect_column_values_to_be_unique", kwargs={"column": "id"},
            severity="critical", description="id unique",
        ),
    ]  # fmt: skip
    session = GxSession()
    whole = session.checks("feed", specs)
    shares = session.checks_in_shares("feed", specs, shares=3)
    # THEN every expectation is in exactly one share, each share reads only its columns
    assert len(shares) == 3
    assert sorted(len(s.suite.expectations) for s in shares) == [1, 2, 2]
    assert sorted(k for s in shares for k in s.specs) == sorted(whole.specs)
    assert {c for s in shares for c in s.columns} == set(whole.columns)
    frame = pd.DataFrame({"id": ["000001", "000002", "000002", "1234567"], "n": [1, 12, None, 3]})
    one = {spec.description: (r.success, r.result.get("unexpected_count"))
           for spec, r in session.validate(frame, whole)}  # fmt: skip
    dealt = {spec.description: (r.success, r.result.get("unexpected_count"))
             for share in shares for spec, r in session.validate(frame, share)}  # fmt: skip
    # AND validating the shares gives the one suite's results
    assert dealt == one
    assert one["n is a digit"] == (False, 1) and one["id unique"][0] is False
    # a share of more shares than expectations: one expectation each
    assert len(session.checks_in_shares("feed", specs, shares=50)) == len(whole.suite.expectations)
    assert session.checks_in_shares("feed", [], shares=2) == []
