"""Clean-gate throughput: the vectorised path vs a row-by-row pandas ``.apply``.

Both variants canonicalise the same synthetic ``assistance_recipients`` delivery (every
dirt variant of SOURCE_FEEDS.md section 2 mixed in) in the same run, each in its own
process so peak RSS is its own:

* ``vectorised``: ``civlake.clean.frame.clean_delivery`` - the gate's real path (DuckDB
  macros on each field's distinct values, taken back to the rows; OpenCC on distinct
  names), which also builds reasons, details and raw JSON for quarantine;
* ``per row (DuckDB)``: the same call with ``by_value=False``, every macro on every row
  (what the gate did before issue 17): same reader, same fields, same outputs;
* ``pandas .apply``: ``DataFrame.apply(axis=1)`` calling the plain-Python reference
  canonicalisers (``tests.support.scalar``) field by field - less work, and still slower.

    .venv/bin/python bench/bench_clean.py --rows 100000
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import resource
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))  # tests.support

NOW = datetime(2026, 11, 2, tzinfo=UTC)
FEED = "assistance_recipients"


def _id(rng: random.Random) -> str:
    from tests.support.bronze import id18

    born = date(1930, 1, 1).toordinal() + rng.randrange(30000)
    return id18(
        f"4401{rng.randrange(1, 18):02d}",
        date.fromordinal(born).strftime("%Y%m%d"),
        f"{rng.randrange(1000):03d}",
    )


def _dirty_id(rng: random.Random) -> str | None:
    idn, roll = _id(rng), rng.random()
    if roll < 0.70:
        return idn
    if roll < 0.75:
        return idn.lower()
    if roll < 0.80:
        return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in idn)
    if roll < 0.84:
        return f"{idn[:6]} {idn[6:14]} {idn[14:]}"
    if roll < 0.88:
        return "'" + idn
    if roll < 0.92:
        return idn[:6] + idn[8:17]  # legacy 15-digit
    if roll < 0.95:
        return f"{int(idn[:17]) / 10:.14e}"  # Excel scientific notation
    if roll < 0.98:
        return idn[:17] + ("0" if idn[17] != "0" else "1")
    return None


def synthetic_rows(n: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    names = ["张伟", "張偉", "李 娜", "王芳（已故）", "阿依古丽•买买提", "欧阳锋", "歐陽鋒", "刘洋"]
    dates = [
        "2026-01-05",
        "20260105",
        "2026/1/5",
        "2026.1.5",
        "2026年1月5日",
        "46027",
        "",
        "2026-02-30",
    ]
    amounts = ["1,120.00", "1120元", "￥1120", "¥1120", "1120.0", "１１２０", "1120", "一千"]
    types = ["低保", "低保（城市）", "最低生活保障", "特困", "五保", "低边", "低保边缘", "医保"]
    divisions = ["440106", "440106001", "440106001001", "440102", "440103", "440199"]
    return [
        {
            "family_no": f"F{rng.randrange(n // 3 + 1):07d}",
            "division_code": rng.choice(divisions),
            "assistance_type": rng.choice(types),
            "head_id_number": _dirty_id(rng),
            "head_name": rng.choice(names),
            "member_id_number": _dirty_id(rng),
            "member_name": rng.choice(names),
            "relation_to_head": "本人",
            "household_size": str(rng.randrange(1, 6)),
            "covered_persons": str(rng.randrange(1, 6)),
            "monthly_amount": rng.choice(amounts),
            "approved_on": rng.choice(dates),
            "status": rng.choice(["在保", "保障中", "停保", "已停保"]),
            "stopped_on": rng.choice(["", "2026-10-01"]),
            "handler": "陈晓",
        }
        for _ in range(n)
    ]


def _divmap():
    import pyarrow as pa

    codes = {"440106000000": "440106000000", "440106001000": "440106001000",
             "440106001001": "440106001001", "440102000000": "440104000000",
             "440103000000": "440103000000"}  # fmt: skip
    return pa.table({"code": list(codes), "current": list(codes.values())})


def run_vectorised(n: int, *, by_value: bool = True) -> tuple[float, int]:
    from civlake.clean.frame import clean_delivery
    from civlake.contracts import get_contract
    from tests.support.bronze import bronze_rows

    bronze = bronze_rows(FEED, synthetic_rows(n), delivery_id="bench")
    contract = get_contract(FEED)
    warm = bronze.slice(0, 10)
    clean_delivery(contract, warm, divmap=_divmap(), now=NOW, by_value=by_value)  # macros
    t = time.perf_counter()
    out = clean_delivery(contract, bronze, divmap=_divmap(), now=NOW, by_value=by_value)
    elapsed = time.perf_counter() - t
    assert len(out.silver) + len(out.quarantine) == n
    return elapsed, len(out.silver)


def run_pandas(n: int) -> tuple[float, int]:
    import pandas as pd

    from civlake.contracts import get_contract, load_enums
    from tests.support import scalar

    df = pd.DataFrame(synthetic_rows(n))
    contract, enums = get_contract(FEED), load_enums()
    divmap = _divmap().to_pydict()
    current = dict(zip(divmap["code"], divmap["current"], strict=True))
    produced = date(2026, 11, 1)

    def row(r: pd.Series) -> pd.Series:
        out = {}
        for c in contract.columns:
            v = r[c.name]
            if c.kind == "citizen_id":
                out[c.name], out[f"{c.name}_status"] = scalar.citizen_id(v, produced)
            elif c.kind == "name":
                out[c.name], out[f"{c.name}_note"] = scalar.name(v)
            elif c.kind == "date":
                out[c.name] = scalar.date_(v)
            elif c.kind == "amount":
                out[c.name] = scalar.amount(v)
            elif c.kind == "enum":
                out[c.name] = scalar.enum(v, enums[c.enum])
            elif c.kind == "division":
                out[f"{c.name}_delivered"] = d = scalar.division_code(v)
                out[c.name] = current.get(d)
            elif c.kind == "integer":
                out[c.name] = int(v) if v and v.strip().isdigit() else None
            else:
                out[c.name] = v.strip() if v else None
        return pd.Series(out)

    t = time.perf_counter()
    res = df.apply(row, axis=1)
    elapsed = time.perf_counter() - t
    assert len(res) == n
    return elapsed, int(res["member_id_number_status"].ne("missing").sum())


def _child(name: str, n: int, q: mp.Queue) -> None:
    runs = {
        "vectorised": run_vectorised,
        "per row (DuckDB)": lambda n: run_vectorised(n, by_value=False),
        "pandas .apply": run_pandas,
    }
    elapsed, kept = runs[name](n)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    q.put((name, elapsed, kept, peak_mib))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=50_000)
    args = ap.parse_args()
    ctx = mp.get_context("spawn")
    results = []
    for name in ("vectorised", "per row (DuckDB)", "pandas .apply"):
        q = ctx.Queue()
        p = ctx.Process(target=_child, args=(name, args.rows, q))
        p.start()
        results.append(q.get())
        p.join()
    base = results[0][1]
    print(f"clean gate, {args.rows:,} synthetic {FEED} rows (15 columns, every dirt variant)")
    print(f"{'variant':<18}{'seconds':>10}{'rows/s':>12}{'peak RSS MiB':>14}{'time ratio':>12}")
    for name, elapsed, _, peak in results:
        print(f"{name:<18}{elapsed:>10.2f}{args.rows / elapsed:>12,.0f}{peak:>14,.0f}"
              f"{elapsed / base:>11.1f}x")  # fmt: skip


if __name__ == "__main__":
    main()
