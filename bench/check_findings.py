"""A benchmark city's findings against the generator's truth, and its delivery ledger.

    .venv/bin/python bench/check_findings.py <home> <landing_truth>

``<home>`` is a civlake home a benchmark ran (``bench_pipeline.py --home``), ``<landing_truth>``
the truth folder the generator wrote beside its landing. Prints how many planted findings
were found, what is missing or unexpected (the same comparison as
tests/e2e/test_main_job.py, on cities too large for a test), the amounts at risk, and the
ledger per status with the deliveries whose rows do not add up (bronze = silver +
quarantined).
"""

from __future__ import annotations

import argparse
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd

sys.path.append(str(Path(__file__).resolve().parents[1]))  # tests.support
from tests.support.findings import finding_key


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("home", type=Path)
    ap.add_argument("truth", type=Path)
    args = ap.parse_args()
    truth = pd.read_parquet(args.truth / "findings.parquet")
    con = duckdb.connect(str(args.home / "warehouse.duckdb"), read_only=True)
    found = con.sql(
        "select rule_code, id_number, org_uscc, program_code, period_start, amount_at_risk "
        "from verify.findings"
    ).df()
    want = {finding_key(r) for r in truth.to_dict("records")}
    got = {finding_key(r) for r in found.to_dict("records")}
    print(f"planted {len(want):,}, found {len(got):,}, found of planted {len(want & got):,}, "
          f"missing {len(want - got)}, unexpected {len(got - want)}")  # fmt: skip
    for k in sorted(want - got, key=str)[:5]:
        print("missing", k)
    for k in sorted(got - want, key=str)[:5]:
        print("unexpected", k)

    def at_risk(keys: set) -> Decimal:
        return sum((k[4] for k in keys if k[4] is not None), Decimal(0))

    print(f"at risk found {at_risk(got)}, planted {at_risk(want)}")
    print("ledger: status, deliveries, rows declared, bronze, silver, quarantined, "
          "deliveries where bronze != silver + quarantined")  # fmt: skip
    for row in con.sql("""
        select status, count(*), sum(rows_declared), sum(rows_bronze), sum(rows_silver),
            sum(rows_quarantined),
            count(*) filter (where rows_bronze <> rows_silver + rows_quarantined)
        from staging.stg_ingest_audit group by 1 order by 1
    """).fetchall():
        print("  ", row)
    con.close()


if __name__ == "__main__":
    main()
