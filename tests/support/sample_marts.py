"""Synthetic ``mart.*`` tables for the dashboard's browser and JSON tests: 11 districts
by three months, counts from 0 to ~60 so that some cells fall under the small-cell
rule and most do not. The columns are the real marts' (tests/e2e/test_dashboard.py
compares them with a dbt-built warehouse); the values are random.
"""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa

from tests.support.sample_warehouse import DISTRICTS, write_table

RULES = {
    "DEATH_PAID": ("死亡后仍发放", "high"),
    "GL_UNCLAIMED": ("高龄津贴应享未享", "medium"),
    "CJHL_UNCLAIMED": ("重度残疾人护理补贴应享未享", "medium"),
    "CJSH_UNCLAIMED": ("困难残疾人生活补贴应享未享", "medium"),
    "DUP_ASSIST": ("重复享受救助", "high"),
}
FEEDS = {"assistance_recipients": ("社会救助对象名册", "monthly"),
         "death_certificates": ("医学死亡证明", "daily"),
         "benefit_payments": ("资金发放明细", "monthly")}  # fmt: skip


def money(n: float) -> Decimal:
    return Decimal(str(round(n, 2))).quantize(Decimal("0.01"))


def write_sample_marts(path: Path, *, months: tuple[str, ...], seed: int = 11) -> None:
    rng = random.Random(seed)
    tables = {name: [] for name in (
        "mart_low_income", "mart_elderly_children", "mart_disability_subsidies", "mart_deaths",
        "mart_verification", "mart_proactive_entitlement", "mart_payment_recovery",
        "mart_data_governance",
    )}  # fmt: skip
    n = rng.randint
    for month in months:
        for code, name in DISTRICTS.items():
            where = {"division_code": code, "division_name": name, "month": month}
            for kind in ("低保", "特困", "低保边缘"):
                h = n(0, 40)
                tables["mart_low_income"].append(where | {
                    "assistance_type": kind, "households": h, "persons": h + n(0, 20),
                    "amount": money(h * 1120.0), "persons_age_0_17": n(0, 5),
                    "persons_age_18_59": n(0, 9), "persons_age_60_79": n(0, 9),
                    "persons_age_80_plus": n(0, 4), "disabled_persons": n(0, 6),
                    "severely_disabled_persons": n(0, 3)})  # fmt: skip
            pop = n(20, 60)
            covered = n(0, pop)
            tables["mart_elderly_children"].append(where | {
                "population_80_plus": pop, "allowance_recipients": covered + n(0, 2),
                "allowance_amount": money(covered * 100.0), "population_80_plus_covered": covered,
                "allowance_coverage_rate": covered / pop, "population_children": n(30, 90),
                "children_orphans": n(0, 6), "children_de_facto_unattended": n(0, 4),
                "children_in_difficulty": n(0, 12), "children_left_behind": n(0, 8),
                "children_in_institutions": n(0, 3)})  # fmt: skip
            hl, sh = n(0, 30), n(0, 30)
            tables["mart_disability_subsidies"].append(where | {
                "certified_persons": hl + sh + n(0, 20), "grade_1_persons": n(0, 9),
                "grade_2_persons": n(0, 9), "grade_3_persons": n(0, 9), "grade_4_persons": n(0, 9),
                "cjhl_recipients": hl, "cjhl_amount": money(hl * 300.0),
                "cjsh_recipients": sh, "cjsh_amount": money(sh * 200.0)})  # fmt: skip
            deaths = n(0, 25)
            crem = n(0, deaths)
            tables["mart_deaths"].append(where | {
                "deaths": deaths, "deaths_with_certificate": n(0, deaths), "cremations": crem,
                "cremation_rate": crem / deaths if deaths else None,
                "deaths_in_hospital": n(0, deaths), "deaths_at_home": 0})  # fmt: skip
            for rule, (title, severity) in RULES.items():
                f = n(0, 15)
                tables["mart_verification"].append({
                    "rule_code": rule, "rule_title": title, "severity": severity,
                    "division_code": code, "division_name": name, "month": month,
                    "findings": f, "persons": f, "organizations": 0,
                    "amount_at_risk": money(f * 650.0)})  # fmt: skip
                if rule.endswith("_UNCLAIMED"):
                    c = n(0, 20)
                    paid = n(0, c)
                    days = [n(3, 40) for _ in range(paid)]
                    tables["mart_proactive_entitlement"].append(where | {
                        "rule_code": rule, "program_code": rule.split("_")[0],
                        "candidates": c, "confirmed": n(paid, c), "dismissed": n(0, 2),
                        "paid": paid, "unpaid": c - paid,
                        "amount_due": money(c * 150.0), "amount_due_unpaid": money((c - paid) * 150.0),
                        "first_paid_amount": money(paid * 150.0), "amount_paid": money(paid * 300.0),
                        "days_to_first_payment_sum": sum(days) if days else None,
                        "avg_days_to_first_payment": money(sum(days) / paid) if paid else None})  # fmt: skip
                if rule in ("DEATH_PAID", "PAY_NO_BASIS", "NOT_IN_HUKOU"):
                    running = n(0, f)
                    stopped = n(0, running)
                    tables["mart_payment_recovery"].append(where | {
                        "rule_code": rule, "findings": f, "confirmed": n(0, f),
                        "dismissed": n(0, 2), "running_at_detection": running,
                        "stopped": stopped, "still_paid": running - stopped,
                        "amount_at_risk": money(f * 650.0),
                        "amount_stopped_monthly": money(stopped * 900.0),
                        "amount_returned": money(n(0, stopped) * 900.0)})  # fmt: skip
            for feed, (title, cadence) in FEEDS.items():
                expected = 30 if cadence == "daily" else 1
                got = n(0, expected)
                declared = n(0, 900)
                quarantined = n(0, declared // 20)
                tables["mart_data_governance"].append(where | {
                    "feed_id": feed, "feed_title": title, "cadence": cadence,
                    "deliveries_expected": expected, "periods_received": got,
                    "completeness_rate": got / expected, "deliveries_received": got,
                    "deliveries_rejected": n(0, 1), "deliveries_duplicate": 0,
                    "rows_declared": declared, "rows_silver": declared - quarantined,
                    "rows_quarantined": quarantined,
                    "quarantine_rate": quarantined / declared if declared else None,
                    "last_ingested_at": None, "max_ingest_lag_hours": float(n(1, 30)),
                    "feed_last_ingested_at": None, "hours_behind_latest_ingest": float(n(0, 72)),
                    "expectation_pass_rate": 1.0})  # fmt: skip
    con = duckdb.connect(str(path))
    try:
        con.execute("create schema if not exists mart")
        for name, rows in tables.items():
            schema = pa.Table.from_pylist(rows).schema
            if "last_ingested_at" in schema.names:
                for col in ("last_ingested_at", "feed_last_ingested_at"):
                    i = schema.get_field_index(col)
                    schema = schema.set(i, pa.field(col, pa.timestamp("us", tz="UTC")))
            write_table(con, "mart", name, rows, schema)
    finally:
        con.close()
