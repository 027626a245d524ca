"""Canonicalise each delivered column's distinct values once, then take them back to rows.

Registers repeat themselves: a month of hukou_population repeats its division codes,
dates, sexes and statuses thousands of times, and names and even IDs recur across the
deliveries of a feed. Every stage column of the plan that reads one delivered column
(and, for IDs, the delivery's latest birth date ``__maxd``) is therefore evaluated on the
distinct values of those inputs and taken back to the rows by dictionary index, so the
macros' regex work scales with distinct values, not rows. Stage columns that combine
several delivered columns (identification flags) run over every row as before; they
are boolean comparisons of columns already computed.

A column whose values hardly repeat within a delivery (a hukou snapshot's IDs, phones and
household numbers) gains nothing from it: hashing ~1,000,000 IDs and taking the results
back cost ~0.8 s and saved nothing. So the first ``SAMPLE_ROWS`` rows decide: when more
than ``UNIQUE_SHARE`` of them are distinct, the group is evaluated on the rows directly.

Sound because every macro is a pure function of its arguments (no clock, no random):
equal inputs give equal outputs, so computing a value once or once per row is the same.
``tests/unit/test_clean_distinct.py`` checks it against the row-by-row evaluation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

# Per-row inputs that are (nearly) constant within a delivery: a column read together
# with one of them still counts as reading one delivered column.
CONTEXT = frozenset({"__maxd"})
_LITERAL = re.compile(r"'(?:[^']|'')*'")
_NAME = re.compile(r'"((?:[^"]|"")+)"|\b([A-Za-z_][A-Za-z0-9_]*)\b')

Stage = dict[str, str]


def reads(expr: str, columns: Iterable[str]) -> set[str]:
    """The names in ``columns`` that SQL expression ``expr`` mentions, quoted or not.

    String literals are skipped (a regex may contain any word); names compare without
    case, as DuckDB's do. A word that only looks like a column (a function or keyword
    named like one) makes the answer larger, never smaller, and a larger answer only
    means less de-duplication."""
    text = _LITERAL.sub("''", expr)
    found = {(q.replace('""', '"') if q else w).lower() for q, w in _NAME.findall(text)}
    return {c for c in columns if c.lower() in found}


@dataclass
class Split:
    """The plan's stages divided into per-value groups and per-row stages."""

    groups: dict[str, list[Stage]] = field(default_factory=dict)  # key column -> stages
    inputs: dict[str, list[str]] = field(default_factory=dict)  # key column -> key + context
    rows: list[Stage] = field(default_factory=list)  # the rest, same stage numbering


def split(stages: list[Stage], inputs: Iterable[str]) -> Split:
    """Assign each stage column to the delivered column it reads alone, if there is one.

    A column belongs to key ``k`` when everything it reads is ``k``, a ``CONTEXT`` column
    or a column that itself belongs to ``k``; anything else is evaluated per row."""
    known = set(inputs)
    key_of: dict[str, str] = {}
    out = Split(rows=[{} for _ in stages])
    for i, stage in enumerate(stages):
        for name, expr in stage.items():
            keys, per_row = set(), False
            for ref in reads(expr, known | set(key_of) | {n for s in stages for n in s}):
                if ref in CONTEXT:
                    continue
                if ref in known:
                    keys.add(ref)
                elif ref in key_of:
                    keys.add(key_of[ref])
                else:
                    per_row = True  # reads a per-row column
            if per_row or len(keys) != 1:
                out.rows[i][name] = expr
                continue
            key = key_of[name] = keys.pop()
            group = out.groups.setdefault(key, [{} for _ in stages])
            group[i][name] = expr
            ctx = sorted(reads(expr, CONTEXT & known))
            have = out.inputs.setdefault(key, [key])
            have += [c for c in ctx if c not in have]
    return out


def encode(table: pa.Table, names: list[str]) -> tuple[pa.Array, pa.Table]:
    """(index of each row's distinct combination, the distinct combinations of ``names``).

    NULL is a value of its own. Several columns are combined pairwise into one int64 code
    (row index x distinct count < 2^63 for any slice) and re-encoded, so the code stays
    below the row count."""
    if len(table) == 0:
        return pa.array([], pa.int64()), table.select(names)
    enc = pc.dictionary_encode(table[names[0]].combine_chunks(), null_encoding="encode")
    idx, values = enc.indices.cast(pa.int64()), {names[0]: enc.dictionary}
    for name in names[1:]:
        nxt = pc.dictionary_encode(table[name].combine_chunks(), null_encoding="encode")
        width = len(nxt.dictionary)
        both = pc.dictionary_encode(pc.add(pc.multiply(idx, width), nxt.indices.cast(pa.int64())))
        combo = both.dictionary
        left = pc.divide(combo, width)
        right = pc.subtract(combo, pc.multiply(left, width))
        values = {n: pc.take(v, left) for n, v in values.items()}
        values[name] = pc.take(nxt.dictionary, right)
        idx = both.indices.cast(pa.int64())
    return idx, pa.table(values)


# Rows per Arrow batch DuckDB scans: each of its threads takes a batch at a time, so a
# table of one large chunk (a column's distinct values) was evaluated on one core.
SCAN_ROWS = 16_384


def scannable(table: pa.Table, rows: int = SCAN_ROWS) -> pa.Table:
    """``table`` in batches of at most ``rows`` rows, every column cut at the same rows
    (zero-copy slices), for a scan on all of DuckDB's threads."""
    return pa.Table.from_batches(table.to_batches(max_chunksize=rows), schema=table.schema)


def evaluate(
    con: duckdb.DuckDBPyConnection, table: pa.Table, stages: list[Stage], *, feed: str
) -> pa.Table:
    """Append each stage's columns to ``table`` (one query per non-empty stage)."""
    for stage in stages:
        if not stage:
            continue
        con.register("cur", scannable(table))
        cols = ", ".join(f"{e} AS {n}" for n, e in stage.items())
        new = con.execute(f"SELECT {cols} FROM cur").to_arrow_table()
        if len(new) != len(table):
            raise AssertionError(f"{feed}: a clean stage changed the row count")
        for name in new.column_names:
            table = table.append_column(name, new[name])
    return table


SAMPLE_ROWS = 20_000
UNIQUE_SHARE = 0.9


def mostly_distinct(table: pa.Table, names: list[str]) -> bool:
    """Whether more than ``UNIQUE_SHARE`` of the first ``SAMPLE_ROWS`` rows' combinations
    of ``names`` are distinct (a table shorter than the sample: no)."""
    if len(table) < SAMPLE_ROWS:
        return False
    head = table.slice(0, SAMPLE_ROWS).select(names)
    return len(head.group_by(names).aggregate([])) > UNIQUE_SHARE * SAMPLE_ROWS


def by_value(
    con: duckdb.DuckDBPyConnection, table: pa.Table, split_: Split, *, feed: str
) -> pa.Table:
    """Append every per-value group's columns, computed on distinct inputs, to ``table``
    (on the rows themselves for a group whose inputs hardly repeat)."""
    for key, stages in split_.groups.items():
        names = split_.inputs[key]
        if mostly_distinct(table, names):
            idx, values = None, table.select(names)
        else:
            idx, values = encode(table, names)
        done = evaluate(con, values, stages, feed=feed)
        for name in done.column_names[len(names) :]:
            column = done[name] if idx is None else pc.take(done[name], idx)
            table = table.append_column(name, column)
    return table
