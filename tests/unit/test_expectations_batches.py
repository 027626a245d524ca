"""A chunk of silver rows as GX's pandas batch: the Python values GX's type checks see,
and the derived ages, computed in whole arrays and the same as row by row."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pyarrow as pa

from civlake.expectations.batches import _age, _as_date, add_ages, chunk_frame
from civlake.expectations.extras import AgeRule

UTC = dt.UTC
RULE = AgeRule("f", "birth_date", "_produced_at", 0, 120, "warning")


def test_int_bool_and_timestamp_columns_hold_the_python_values_arrow_gives():
    # GIVEN a chunk with int, bool and timestamp columns, with and without nulls
    at = dt.datetime(2026, 11, 2, 3, 0, 0, 123456, tzinfo=UTC)
    table = pa.table(
        {
            "_delivery_id": ["d1", "d1", "d1"],
            "_source_file": ["f.csv"] * 3,
            "_source_row": pa.array([3, 1, 2], pa.int64()),
            "size": pa.array([2, None, 2**40], pa.int64()),
            "small": pa.array([1, 2, 3], pa.int8()),
            "flag": pa.array([True, False, True], pa.bool_()),
            "maybe": pa.array([None, True, False], pa.bool_()),
            "paid_at": pa.array([at, at, None], pa.timestamp("us", tz="UTC")),
            "name": ["丙", "甲", None],
            "amount": pa.array([1.5, None, 2.0], pa.float64()),
        }
    )

    # WHEN it becomes a pandas batch
    frame = chunk_frame(table, [])

    # THEN the columns keep their order, rows come in lineage order, and every int, bool
    # and timestamp is the Python value to_pylist gives (None for a null), in object columns
    assert list(frame.columns) == table.column_names
    ordered = table.sort_by([("_source_row", "ascending")])
    for name in ("_source_row", "size", "small", "flag", "maybe", "paid_at"):
        got = list(frame[name])
        assert frame[name].dtype == object, name
        assert got == ordered[name].to_pylist(), name
        assert [type(v) for v in got] == [type(v) for v in ordered[name].to_pylist()], name
    # and a string column stays on Arrow, its null pandas' NA
    assert frame["name"].dtype == pd.StringDtype("pyarrow")
    assert list(frame["name"]) == ["甲", pd.NA, "丙"]
    assert math.isnan(frame["amount"][0]) and list(frame["amount"][1:]) == [2.0, 1.5]


def test_ages_in_whole_arrays_equal_the_rule_row_by_row():
    # GIVEN births and reference dates of every form a chunk holds: dates, datetimes,
    # ISO text, text that is no date, None and NaN, many repeated (birthdays on the day,
    # the day before, 29 February)
    births = [
        dt.date(1946, 11, 2), dt.date(1946, 11, 3), dt.date(2000, 2, 29), None,
        dt.datetime(1990, 1, 1, 23, 0, tzinfo=UTC), "1980-05-06", "not a date",
        float("nan"), dt.date(2026, 12, 1), dt.date(1, 1, 1),
    ]  # fmt: skip
    ats = [
        "2026-11-02T08:00:00+08:00", "2026-11-02", dt.date(2026, 2, 28), "2026-03-01",
        None, "garbage", dt.datetime(2026, 11, 2, tzinfo=UTC), float("nan"),
        pd.NA,  # a null of an Arrow-backed string column (`_produced_at`)
    ]  # fmt: skip
    pairs = [(b, a) for b in births for a in ats] * 3
    df = pd.DataFrame(
        {
            "birth_date": pd.Series([b for b, _ in pairs], dtype=object),
            "_produced_at": pd.Series([a for _, a in pairs], dtype=object),
        }
    )

    # WHEN the ages are added
    out = add_ages(df, [RULE])

    # THEN each is the one-row rule's age: a Python int, or None without both dates
    assert _as_date(pd.NA) is None
    expected = [_age(_as_date(b), _as_date(a)) for b, a in pairs]
    got = list(out[RULE.column])
    assert got == expected
    assert [type(v) for v in got] == [type(v) for v in expected]
    assert out[RULE.column].dtype == object
    assert {None, 80, 79, -1} <= set(got)  # the cases above are all there


def test_no_age_column_without_its_inputs():
    df = pd.DataFrame({"birth_date": [dt.date(2000, 1, 1)]})
    assert RULE.column not in add_ages(df, [RULE]).columns
