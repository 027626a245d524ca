"""Canonicalising distinct values once (``clean.distinct``) gives what canonicalising
every row gives: the gate's by-value path against the row-by-row reference; and names
the Arrow filter keeps away from OpenCC are names OpenCC leaves alone."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from civlake.clean import canon, distinct, frame
from civlake.clean.frame import clean_delivery
from civlake.clean.plan import plan
from civlake.contracts import get_contract
from civlake.hanzi import _converter, simplified, t2s_pattern
from tests.support.bronze import bronze_rows, id18, uscc18

NOW = datetime(2026, 11, 2, tzinfo=UTC)
DIVMAP = pa.table(
    {
        "code": ["440106000000", "440102000000", "440106001000"],
        "current": ["440106000000", "440104000000", "440106001000"],
    }
)
ID = id18("440106", "19500101", "123")
ORG = uscc18("51440100MJ0000001")
# Dirty spellings of every kind a register repeats (SOURCE_FEEDS.md section 2), plus
# blanks, spreadsheet error values and values that are no value of the field at all.
COMMON = ["", " ", None, "#N/A", "＃ｎ/ａ", "?", "一千", "'"]
POOL = {
    "citizen_id": [ID, ID.lower(), f" {ID[:6]} {ID[6:]}", "'" + ID, ID[:6] + ID[8:17],
                   "".join(chr(ord(c) + 0xFEE0) for c in ID), "4.40106195001011e+17",
                   ID[:17] + ("0" if ID[17] != "0" else "1"), id18("440106", "20261231", "001")],
    "disability_cert_no": [ID + "42", ID.lower() + "11 ", ID[:6] + ID[8:17] + "23", ID[:10]],
    "name": ["张伟", "張偉", "李 娜", "王芳（已故）", "阿依古丽•买买提", "欧阳锋（重复）（已故）"],
    "date": ["2026-01-05", "20260105", "2026/1/5", "2026年1月5日", "46027", "2026-02-30"],
    "timestamp": ["2026-10-15 10:00:00", "2026-10-31T20:00:00+08:00", "20261031", "25:00"],
    "month": ["202610", "2026-10", "2026/10", "2026-13"],
    "amount": ["1,120.00", "1120元", "￥1120", "１１２０", "12.345", "-5"],
    "integer": ["3", " 4 ", "３", "2.5"],
    "division": ["440106", "440106001", "440102", "440199", "44010600100"],
    "code12": ["440106", "440106001000", "4401"],
    "division_self": ["440106", "440106001000", "4401"],
    "uscc": [ORG, ORG.lower(), ORG[:-1] + ("0" if ORG[-1] != "0" else "1"), "bad"],
    "sex": ["男", "女", "1", "2", "F", "未知"],
    "phone": ["+86 138 0013 8000", "020-12345678", "02012345678", "12345"],
    "bool": ["是", "否", "true", "Y"],
    "enum": ["低保", "低保（城市）", "正常", "已死亡", "有效", "结婚", "孤儿", "二级", "Ⅱ级"],
    "string": ["F001", "  F001 ", "广州市助老协会"],
}  # fmt: skip


def _value(kind: str) -> st.SearchStrategy[str | None]:
    pool = st.sampled_from(POOL.get(kind, POOL["string"]))
    return st.one_of(pool, pool, pool, st.sampled_from(COMMON))  # mostly usable: some silver


def _rows(feed: str) -> st.SearchStrategy[list[dict]]:
    contract = get_contract(feed)
    row = st.fixed_dictionaries({c.name: _value(c.kind) for c in contract.columns})
    malformed = st.just({"_malformed": "a,b,c"})
    return st.lists(st.one_of(row, row, row, malformed), min_size=0, max_size=30)


FEEDS = ["hukou_population", "assistance_recipients", "disability_certs",
         "marriage_registrations", "social_organizations", "volunteer_service",
         "benefit_payments", "charity_donations"]  # fmt: skip


@settings(deadline=None, max_examples=40)
@given(st.sampled_from(FEEDS), st.data())
def test_by_distinct_value_equals_row_by_row(feed, data):
    # GIVEN a delivery drawn from small pools (so values repeat), in two produced_at
    # parts (an ID born in 1950 is valid in one, not yet born in the other)
    rows = data.draw(_rows(feed))
    cut = data.draw(st.integers(0, len(rows)))
    bronze = pa.concat_tables([
        bronze_rows(feed, rows[:cut], delivery_id="d1"),
        bronze_rows(feed, rows[cut:], delivery_id="d2", produced_at="1949-06-01T00:00:00+08:00"),
    ])  # fmt: skip
    contract = get_contract(feed)
    # WHEN it is cleaned both ways, THEN every column of every row is the same (also the
    # values only quarantine would show, such as an ID status beside another field's fault)
    p, ready = plan(contract), frame._prepare(contract, bronze)
    stages = {
        flag: frame._run_stages(
            contract, p, ready, divmap=DIVMAP, today=NOW.date(), by_value=flag, threads=1
        )
        for flag in (True, False)
    }
    for got, want in zip(stages[True], stages[False], strict=True):  # values, bad, details
        assert got.equals(want)
    by_value = clean_delivery(contract, bronze, divmap=DIVMAP, now=NOW)
    by_row = clean_delivery(contract, bronze, divmap=DIVMAP, now=NOW, by_value=False)
    assert by_value.silver.schema == by_row.silver.schema
    assert by_value.silver.equals(by_row.silver)
    assert by_value.quarantine.equals(by_row.quarantine)
    assert len(by_value.silver) + len(by_value.quarantine) == len(rows)


def test_more_threads_clean_every_row_the_same() -> None:
    # GIVEN a delivery of 300,000 rows in many Arrow chunks (DuckDB splits such a scan
    # across its threads), drawn from the dirty pools so every macro and check has work
    contract = get_contract("hukou_population")
    rng = random.Random(7)

    def value(kind: str) -> str | None:
        pool = POOL.get(kind, POOL["string"])
        return rng.choice(pool[:2] if rng.random() < 0.9 else pool + COMMON)

    rows = [{c.name: value(c.kind) for c in contract.columns} for _ in range(3_000)]
    for i, row in enumerate(rows):  # IDs of many persons, most of them valid
        row["id_number"] = id18("440106", f"19{50 + i % 40}0101", f"{i % 1000:03d}")
    chunk = bronze_rows("hukou_population", rows, delivery_id="d1")
    bronze = pa.concat_tables([chunk] * 100)
    # WHEN it is cleaned on one DuckDB thread and on four, THEN the outputs are identical
    # (the gate appends each query's columns to the rows by position: order must hold)
    one = clean_delivery(contract, bronze, divmap=DIVMAP, now=NOW, threads=1)
    four = clean_delivery(contract, bronze, divmap=DIVMAP, now=NOW, threads=4)
    assert len(one.silver) + len(one.quarantine) == len(bronze)
    assert len(one.silver) > 0 and len(one.quarantine) > 0
    assert four.silver.equals(one.silver)
    assert four.quarantine.equals(one.quarantine)


def test_a_group_whose_values_hardly_repeat_is_evaluated_on_the_rows(monkeypatch) -> None:
    # GIVEN a snapshot larger than the sample whose IDs and phones are each a person's
    # own (dirty spellings among them), beside names and enumerations that repeat
    contract = get_contract("hukou_population")
    rng = random.Random(11)
    rows = []
    for i in range(distinct.SAMPLE_ROWS + 5_000):
        born = date(1940, 1, 1) + timedelta(days=i % 20_000)
        pools = {c.name: POOL.get(c.kind, POOL["string"]) for c in contract.columns}
        row = {n: rng.choice(v[:2] if rng.random() < 0.95 else v) for n, v in pools.items()}
        row["id_number"] = id18("440106", born.strftime("%Y%m%d"), f"{i // 20_000:03d}")
        row["phone"] = f"138{i:08d}"
        row["person_status"] = rng.choice(["正常", "正常", "已死亡", "低保"])
        if i % 50 == 0:  # dirty spellings, each still one person's
            row["id_number"] = f" {row['id_number'][:6]} {row['id_number'][6:].lower()}"
            row["phone"] = f"+86 {row['phone']}"
        rows.append(row)
    bronze = bronze_rows("hukou_population", rows, delivery_id="d1")
    encoded = []
    real_encode = distinct.encode
    monkeypatch.setattr(
        distinct,
        "encode",
        lambda table, names: encoded.append(names[0]) or real_encode(table, names),
    )
    # WHEN it is cleaned by value and row by row
    by_value = clean_delivery(contract, bronze, divmap=DIVMAP, now=NOW)
    # THEN the IDs and phones were not de-duplicated, the repeating columns were
    assert "id_number" not in encoded and "phone" not in encoded
    assert {"name", "sex", "birth_date"} <= set(encoded)
    # AND the outputs are those of cleaning every row
    by_row = clean_delivery(contract, bronze, divmap=DIVMAP, now=NOW, by_value=False)
    assert by_value.silver.equals(by_row.silver)
    assert by_value.quarantine.equals(by_row.quarantine)
    assert len(by_value.silver) > distinct.SAMPLE_ROWS // 2 and len(by_value.quarantine)


def test_most_stages_are_evaluated_per_distinct_value() -> None:
    contract = get_contract("assistance_recipients")
    p = plan(contract)
    cols = [*contract.names, "_malformed", "__maxd"]
    parts = distinct.split(p.stages, cols)
    # the ID's status reads the delivery's latest birth date beside the ID itself
    assert parts.inputs["head_id_number"] == ["head_id_number", "__maxd"]
    assert parts.inputs["monthly_amount"] == ["monthly_amount"]
    # identification flags combine ID, name and family number: they stay per row
    per_row = {n for s in parts.rows for n in s}
    assert per_row == {"u_head", "u_member"}


def test_reads_skips_string_literals_and_knows_quoted_names() -> None:
    expr = """cl_date(regexp_extract("Birth Date", 'o_x|status', 1)) || O_X"""
    assert distinct.reads(expr, ["birth date", "o_x", "status", "cl_date"]) == {
        "birth date", "o_x", "cl_date",
    }  # fmt: skip


@given(st.lists(st.tuples(st.sampled_from(["a", "b", None]), st.sampled_from([1, 2, None]))))
def test_encode_takes_back_every_row(pairs):
    table = pa.table({"s": [p[0] for p in pairs], "n": pa.array([p[1] for p in pairs], pa.int64())})
    idx, values = distinct.encode(table, ["s", "n"])
    assert len(set(zip(*values.to_pydict().values(), strict=True))) == len(values)
    assert values.take(idx).to_pylist() == table.to_pylist()


@given(st.data())
def test_scannable_cuts_every_column_at_the_same_rows(data):
    # GIVEN two columns of one table chunked at different rows (an appended column has
    # its own chunks)
    rows = data.draw(st.integers(0, 12))

    def chunked(offset: int) -> pa.ChunkedArray:
        edges = [0, *sorted(data.draw(st.lists(st.integers(0, rows), max_size=4))), rows]
        parts = [range(lo + offset, hi + offset) for lo, hi in pairwise(edges)]
        return pa.chunked_array([pa.array(p, pa.int64()) for p in parts], pa.int64())

    table = pa.table({"a": chunked(0), "b": chunked(1000)})
    # WHEN it is cut for DuckDB's scan in batches of at most two rows
    cut = distinct.scannable(table, rows=2)
    # THEN the rows are the same, in order, and DuckDB reads each row's values together
    assert all(len(batch) <= 2 for batch in cut.to_batches())
    assert cut.to_pylist() == table.to_pylist()
    con = duckdb.connect()
    con.register("cur", cut)
    both = con.execute("select count(*), count(*) filter (b <> a + 1000) from cur").fetchone()
    assert both == (rows, 0)


# Traditional characters, simplified ones, the parts of the phrases OpenCC rewrites
# without a traditional character in them (沈默 -> 沉默), separators and ASCII.
HANZI = "張偉劉國華陳興發後乾著沈默船有序张伟刘国华李娜王芳阿依古丽买买提 ·•（）-,Ab1"


@settings(deadline=None, max_examples=200)
@given(st.lists(st.one_of(st.none(), st.text(alphabet=HANZI, max_size=8)), max_size=20))
def test_names_skipped_by_the_opencc_filter_are_the_ones_it_leaves_alone(names):
    # GIVEN names, repeated or not; WHEN canon.to_simplified filters them in Arrow before
    # OpenCC, THEN each comes out as OpenCC converts it on its own
    out = canon.to_simplified(pa.array(names, pa.string())).to_pylist()
    assert out == [None if n is None else simplified(n) for n in names]


def test_the_opencc_filter_matches_every_dictionary_key() -> None:
    keys = [k for group in _converter("t2s")._dict_chain_data for *_, d in group for k in d]
    assert len(keys) > 4000
    found = pc.match_substring_regex(pa.array(keys, pa.string()), t2s_pattern())
    assert pc.all(found).as_py()
