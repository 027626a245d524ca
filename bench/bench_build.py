"""Benchmark the dbt build (staging -> core -> marts, with every dbt test) at scale.

    .venv/bin/python bench/bench_build.py --persons 100000 --months 3
    .venv/bin/python bench/bench_build.py --lake data/lake     # an existing lake instead

Without --lake it synthesises a typed silver lake plus the dedupe gate's outputs
directly with Arrow (no ingest/clean/resolve, so only the build is timed): the whole
population in each monthly hukou snapshot, ~3% in assistance households, the 80+ in the
elderly register, ~6% disabled, payments, deaths, marriages, organisations, donations
and volunteer records. Then it times ``civlake.transform.run_dbt`` (one process, threads 1)
and, as the obvious alternative, a plain pandas script computing two of the marts
(low income, elderly coverage) from the same Delta tables. Prints seconds, silver
rows/s and peak RSS for each, and the ratio. Prints, never asserts.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).parent))
from _common import measure

DISTRICTS = ["440103", "440104", "440105", "440106", "440111", "440112", "440113",
             "440114", "440115", "440117", "440118"]  # fmt: skip
NOW = datetime(2026, 11, 1, tzinfo=UTC)


def _months(k: int) -> list[str]:
    return [f"2026-{m:02d}" for m in range(11 - k, 11)]


class Writer:
    def __init__(self, lake_root: Path) -> None:
        self.lake = lake_root
        self.rows = 0
        self.audit: list[dict] = []
        self.xref: list[pa.Table] = []

    def silver(self, feed: str, period: str, unit: str, cols: dict, *, mode: str = "full",
               roles: dict[str, np.ndarray] | None = None) -> None:  # fmt: skip
        from civlake import lake
        from civlake.contracts import get_contract
        from civlake.tables import silver_schema

        n = len(next(iter(cols.values())))
        if n == 0:
            return
        delivery = f"{period.replace('-', '')[:8].ljust(8, '1')}-{unit}-001"
        lineage = {
            "_delivery_id": [delivery] * n, "_source_file": [f"{feed}.csv"] * n,
            "_source_row": np.arange(1, n + 1), "_source_unit": [unit] * n,
            "_period": [period] * n, "_mode": [mode] * n,
            "_produced_at": [f"{period[:7]}-28T02:00:00+08:00"] * n,
            "_ingested_at": pa.array([NOW] * n, pa.timestamp("us", tz="UTC")),
        }  # fmt: skip
        schema = silver_schema(get_contract(feed))
        data = cols | lineage
        arrays = [
            pa.array(data[f.name], f.type) if f.name in data else pa.nulls(n, f.type)
            for f in schema
        ]
        lake.append(
            lake.table_path(self.lake, "silver", feed), pa.Table.from_arrays(arrays, schema=schema)
        )
        self.rows += n
        for role, keys in (roles or {}).items():
            self.xref.append(pa.table({
                "feed_id": [feed] * n, "_delivery_id": [delivery] * n,
                "_source_file": [f"{feed}.csv"] * n, "_source_row": np.arange(1, n + 1),
                "role": [role] * n, "person_key": keys, "match_method": ["id_exact"] * n,
                "match_probability": np.ones(n), "id_number": keys,
            }))  # fmt: skip
        self.audit.append({"feed_id": feed, "delivery_id": delivery, "source_unit": unit,
                           "period": period, "mode": mode, "status": "loaded",
                           "rows_declared": n, "rows_bronze": n, "rows_silver": n,
                           "rows_quarantined": 0, "ingested_at": NOW})  # fmt: skip


def synthesise(lake_root: Path, persons: int, months: int, seed: int) -> int:
    from civlake import lake, tables

    rng = np.random.default_rng(seed)
    w = Writer(lake_root)
    n = persons
    keys = np.char.add("pk", np.arange(n).astype(str))
    birth = np.datetime64("1920-01-01") + rng.integers(0, 104 * 365, n).astype("timedelta64[D]")
    district = rng.choice(DISTRICTS, n)
    division = np.char.add(district, "001000")
    sex = rng.choice(["1", "2"], n)
    age = (np.datetime64("2026-10-01") - birth).astype(int) // 365
    div_rows = [("440100000000", "广州市", "2", None)] + [
        (d + "000000", f"区{d}", "3", "440100000000") for d in DISTRICTS
    ] + [(d + "001000", f"街道{d}", "4", d + "000000") for d in DISTRICTS]  # fmt: skip
    w.silver("divisions", "2026", "440100", {
        "division_code": [r[0] for r in div_rows], "name": [r[1] for r in div_rows],
        "level": [r[2] for r in div_rows], "parent_code": [r[3] for r in div_rows]})  # fmt: skip
    assisted = np.flatnonzero(rng.random(n) < 0.03)
    family = assisted // 3
    elderly = np.flatnonzero((age >= 80) & (rng.random(n) < 0.9))
    disabled = np.flatnonzero(rng.random(n) < 0.06)
    for m in _months(months):
        w.silver("hukou_population", m, "440100", {
            "id_number": keys, "name": keys, "sex": sex, "birth_date": birth,
            "hukou_division_code": division, "person_status": ["正常"] * n,
        }, roles={"person": keys})  # fmt: skip
        for d in DISTRICTS:
            sel = assisted[district[assisted] == d]
            w.silver("assistance_recipients", m, d, {
                "family_no": np.char.add("F", family[district[assisted] == d].astype(str)),
                "division_code": division[sel], "member_name": keys[sel],
                "assistance_type": np.where(sel % 7 == 0, "特困", "低保"),
                "monthly_amount": pa.array([2200] * len(sel), pa.decimal128(18, 2)),
                "status": ["在保"] * len(sel),
            }, roles={"member": keys[sel], "head": keys[sel]})  # fmt: skip
        w.silver("elderly_allowance", m, "440100", {
            "id_number": keys[elderly], "name": keys[elderly], "birth_date": birth[elderly],
            "hukou_division_code": division[elderly], "tier": ["80-89岁"] * len(elderly),
            "monthly_standard": pa.array([100] * len(elderly), pa.decimal128(18, 2)),
            "status": ["正常"] * len(elderly)}, roles={"person": keys[elderly]})  # fmt: skip
        w.silver("disability_certs", m, "440100", {
            "cert_no": keys[disabled], "id_number": keys[disabled], "name": keys[disabled],
            "disability_category": ["肢体"] * len(disabled),
            "disability_grade": rng.choice(["一级", "二级", "三级", "四级"], len(disabled)),
            "cert_status": ["有效"] * len(disabled), "hukou_division_code": division[disabled],
        }, roles={"person": keys[disabled]})  # fmt: skip
        paid = np.concatenate([assisted, elderly, disabled])
        codes = ["DB"] * len(assisted) + ["GL"] * len(elderly) + ["CJHL"] * len(disabled)
        w.silver("benefit_payments", m, "440100", {
            "payment_id": np.char.add(f"{m}-", np.arange(len(paid)).astype(str)),
            "pay_month": [m] * len(paid), "program_code": codes,
            "amount": pa.array([300] * len(paid), pa.decimal128(18, 2)),
            "status": ["success"] * len(paid), "payer_division": division[paid],
            "id_number": keys[paid], "name": keys[paid]}, mode="incremental",
            roles={"payee": keys[paid]})  # fmt: skip
        k = max(1, n // 2000)
        dead = rng.choice(n, k, replace=False)
        day = np.datetime64(f"{m}-10")
        w.silver("death_certificates", f"{m}-10", "440100", {
            "cert_no": np.char.add(f"D{m}-", np.arange(k).astype(str)), "id_number": keys[dead],
            "name": keys[dead], "death_date": np.full(k, day)}, mode="incremental",
            roles={"deceased": keys[dead]})  # fmt: skip
        k = max(1, n // 1500)
        men, women = rng.choice(n, k), rng.choice(n, k)
        w.silver("marriage_registrations", f"{m}-14", "440106", {
            "cert_no": np.char.add(f"J{m}-", np.arange(k).astype(str)),
            "business_type": ["结婚登记"] * k, "registered_on": np.full(k, np.datetime64(f"{m}-14")),
            "registrar_code": rng.choice(DISTRICTS, k), "male_name": keys[men],
            "female_name": keys[women]}, mode="incremental",
            roles={"male": keys[men], "female": keys[women]})  # fmt: skip
        k = max(1, n // 100)
        orgs = np.char.add(
            "5144010000000000",
            (rng.integers(0, max(2, n // 1000), k) % 100).astype(str).astype("U2"),
        )
        w.silver("charity_donations", f"{m}-03", "440100", {
            "donation_no": np.char.add(f"DN{m}-", np.arange(k).astype(str)), "org_uscc": orgs,
            "org_uscc_status": ["valid"] * k, "donor_type": ["个人"] * k,
            "amount": pa.array([100] * k, pa.decimal128(18, 2)),
            "donated_at": pa.array([NOW] * k, pa.timestamp("us", tz="UTC"))}, mode="incremental")  # fmt: skip
        vol = rng.choice(n, k)
        w.silver("volunteer_service", f"{m}-05", "440100", {
            "record_no": np.char.add(f"V{m}-", np.arange(k).astype(str)),
            "volunteer_no": keys[vol], "service_date": np.full(k, np.datetime64(f"{m}-05")),
            "hours": pa.array([2] * k, pa.decimal128(18, 2)),
            "service_division_code": division[vol]}, mode="incremental",
            roles={"volunteer": keys[vol]})  # fmt: skip
    xref, schema = pa.concat_tables(w.xref), tables.schema(tables.PERSON_SOURCE_XREF)
    lake.append(tables.path(lake_root, tables.PERSON_SOURCE_XREF), pa.Table.from_arrays(
        [xref[f.name].cast(f.type) if f.name in xref.column_names else pa.nulls(len(xref), f.type)
         for f in schema], schema=schema))  # fmt: skip
    schema = tables.schema(tables.PERSONS)
    people = {"person_key": keys, "id_number": keys, "name": keys, "sex": sex,
              "birth_date": birth, "hukou_division_code": division,
              "is_alive": np.ones(n, bool), "in_hukou": np.ones(n, bool)}  # fmt: skip
    lake.append(tables.path(lake_root, tables.PERSONS), pa.Table.from_arrays(
        [pa.array(people[f.name], f.type) if f.name in people else pa.nulls(n, f.type)
         for f in schema], schema=schema))  # fmt: skip
    audit = tables.schema(tables.INGEST_AUDIT)
    lake.append(tables.path(lake_root, tables.INGEST_AUDIT), pa.Table.from_pylist(
        [{c: r.get(c) for c in audit.names} for r in w.audit], audit))  # fmt: skip
    return w.rows


def pandas_marts(lake_root: Path) -> int:
    """The obvious alternative: two marts in plain pandas from the same Delta tables."""
    from civlake import lake

    def read(feed):
        return lake.read_arrow(lake.table_path(lake_root, "silver", feed)).to_pandas()

    rosters = read("assistance_recipients")
    active = rosters[rosters["status"] == "在保"].copy()
    active["district"] = active["division_code"].str[:6] + "000000"
    households = active.groupby(["district", "_period", "assistance_type", "family_no"])[
        "monthly_amount"].max().reset_index()  # fmt: skip
    low_income = households.groupby(["district", "_period", "assistance_type"]).agg(
        households=("family_no", "nunique"), amount=("monthly_amount", "sum"))  # fmt: skip
    hukou = read("hukou_population")
    start = pd_month_start(hukou["_period"])
    age = (start - hukou["birth_date"].astype("datetime64[ns]")).dt.days // 365
    old = hukou[(age >= 80) & (hukou["person_status"] == "正常")]
    allowance = read("elderly_allowance")
    covered = old.merge(allowance[allowance["status"] == "正常"][["id_number", "_period"]],
                        on=["id_number", "_period"], how="left", indicator=True)  # fmt: skip
    covered["district"] = covered["hukou_division_code"].str[:6]
    elderly = covered.groupby(["district", "_period"]).agg(
        population=("id_number", "nunique"),
        covered=("_merge", lambda s: (s == "both").sum()))  # fmt: skip
    return len(low_income) + len(elderly)


def pd_month_start(periods):
    import pandas as pd

    return pd.to_datetime(periods + "-01")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=20000)
    parser.add_argument("--months", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--lake", type=Path, help="an existing lake (skips synthesis)")
    args = parser.parse_args()

    from civlake.settings import load_settings
    from civlake.transform import run_dbt

    home = Path(tempfile.mkdtemp(prefix="bench_build_"))
    lake_root = args.lake.resolve() if args.lake else home / "lake"
    settings = load_settings(lake=lake_root, warehouse=home / "warehouse.duckdb",
                             env={"CIVLAKE_HOME": str(home)})  # fmt: skip
    synth: dict = {}
    silver_rows = 0
    if not args.lake:
        with measure(synth):
            silver_rows = synthesise(lake_root, args.persons, args.months, args.seed)
        print(f"synthesised {silver_rows:,} silver rows in {synth['seconds']:.1f}s -> {lake_root}")
    dbt: dict = {}
    with measure(dbt):
        result = run_dbt(settings)
    counts: dict[str, int] = {}
    for r in result["results"]:
        counts[r["resource_type"]] = counts.get(r["resource_type"], 0) + 1
    slowest = sorted(result["results"], key=lambda r: -(r["execution_time"] or 0))[:5]
    pandas: dict = {}
    with measure(pandas):
        pandas_marts(lake_root)
    rate = f", {silver_rows / dbt['seconds']:,.0f} silver rows/s" if silver_rows else ""
    print(f"dbt build: {dbt['seconds']:.1f}s{rate}, peak RSS {dbt['peak_rss_mib']:.0f} MiB, "
          f"nodes {counts}")  # fmt: skip
    print("  slowest: " + ", ".join(f"{r['name']} {r['execution_time']:.1f}s" for r in slowest))
    print(f"pandas, 2 of the 9 marts, no tests: {pandas['seconds']:.1f}s, "
          f"peak RSS {pandas['peak_rss_mib']:.0f} MiB")  # fmt: skip
    print(
        f"ratio dbt(all models + tests) / pandas(2 marts): {dbt['seconds'] / pandas['seconds']:.1f}x"
    )


if __name__ == "__main__":
    main()
