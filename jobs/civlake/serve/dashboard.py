"""The bureau dashboard's numbers (一屏统揽): one panel per theme, read from the marts.

Each panel is one query over ``mart.*`` at the grain (month, district[, category]),
with the open datasets' small-cell rule applied to the whole city grid before a
district is picked (OUTPUTS.md section 5: counts 1-4 hidden, complements so that
no margin gives one back, amounts and rates hidden with their count). The page is
public because it shows only these suppressed aggregates: no person key, ID or name
is selected by any panel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from civlake.publish.catalog import Suppression
from civlake.serve.errors import ApiError


@dataclass(frozen=True)
class Panel:
    title: str
    sql: str  # columns: month, division_code, division_name, then dims and measures
    counts: tuple[str, ...] = ()  # person counts under the small-cell rule
    dims: tuple[str, ...] = ("month", "division_code")
    linked: dict[str, str] = field(default_factory=dict)  # value column -> its count
    additive: tuple[tuple[str, ...], ...] = ()
    show: dict[str, str] = field(default_factory=dict)  # charted column -> Chinese label


# District rows only: the city's own code (440100000000) carries city-level deliveries
# in the governance mart and is not a district to drill into.
DISTRICT = "division_code like '4401%' and division_code <> '440100000000'"

PANELS: dict[str, Panel] = {
    "low_income": Panel(
        "低保、特困对象",
        f"""select month, division_code, any_value(division_name) as division_name,
                assistance_type, sum(households) as households, sum(persons) as persons,
                cast(sum(amount) as double) as amount
            from mart.mart_low_income
            where assistance_type in ('低保', '特困') and {DISTRICT}
            group by month, division_code, assistance_type""",
        counts=("households", "persons"),
        dims=("month", "division_code", "assistance_type"),
        linked={"amount": "households"},
        show={"households": "户数", "persons": "人数"},
    ),
    "elderly_allowance": Panel(
        "80 周岁以上高龄津贴覆盖",
        f"""select month, division_code, division_name, population_80_plus,
                population_80_plus_covered, allowance_recipients,
                cast(allowance_coverage_rate as double) as allowance_coverage_rate
            from mart.mart_elderly_children where {DISTRICT}""",
        counts=("population_80_plus", "population_80_plus_covered", "allowance_recipients"),
        linked={"allowance_coverage_rate": "population_80_plus_covered"},
        show={
            "population_80_plus": "80 岁以上户籍人口",
            "population_80_plus_covered": "已享受高龄津贴",
        },
    ),
    "disability": Panel(
        "残疾人两项补贴",
        f"""select month, division_code, division_name, certified_persons,
                cjhl_recipients, cast(cjhl_amount as double) as cjhl_amount,
                cjsh_recipients, cast(cjsh_amount as double) as cjsh_amount
            from mart.mart_disability_subsidies where {DISTRICT}""",
        counts=("certified_persons", "cjhl_recipients", "cjsh_recipients"),
        linked={"cjhl_amount": "cjhl_recipients", "cjsh_amount": "cjsh_recipients"},
        show={"cjhl_recipients": "护理补贴人数", "cjsh_recipients": "生活补贴人数"},
    ),
    "elderly_children": Panel(
        "一老一小",
        f"""select month, division_code, division_name, population_80_plus,
                population_children, children_in_difficulty, children_orphans,
                children_left_behind
            from mart.mart_elderly_children where {DISTRICT}""",
        counts=(
            "population_80_plus",
            "population_children",
            "children_in_difficulty",
            "children_orphans",
            "children_left_behind",
        ),
        show={
            "population_80_plus": "80 岁以上老人",
            "population_children": "未成年人",
            "children_in_difficulty": "困境儿童",
        },
    ),
    "deaths": Panel(
        "死亡与死亡后仍发放",
        f"""with deaths as (
                select month, division_code, division_name, deaths, cremations
                from mart.mart_deaths where {DISTRICT}
            ),
            paid as (
                select month, division_code, any_value(division_name) as division_name,
                    sum(persons) as paid_after_death_persons,
                    cast(sum(amount_at_risk) as double) as paid_after_death_amount
                from mart.mart_verification
                where rule_code = 'DEATH_PAID' and {DISTRICT}
                group by month, division_code
            )
            select coalesce(deaths.month, paid.month) as month,
                coalesce(deaths.division_code, paid.division_code) as division_code,
                coalesce(deaths.division_name, paid.division_name) as division_name,
                coalesce(deaths.deaths, 0) as deaths,
                coalesce(deaths.cremations, 0) as cremations,
                coalesce(paid.paid_after_death_persons, 0) as paid_after_death_persons,
                coalesce(paid.paid_after_death_amount, 0) as paid_after_death_amount
            from deaths full outer join paid
                on paid.month = deaths.month and paid.division_code = deaths.division_code""",
        counts=("deaths", "cremations", "paid_after_death_persons"),
        linked={"paid_after_death_amount": "paid_after_death_persons"},
        show={"deaths": "死亡人数", "paid_after_death_persons": "死亡后仍发放人数"},
    ),
    "findings": Panel(
        "比对核查发现与风险金额",
        f"""select month, division_code, any_value(division_name) as division_name,
                sum(persons) as persons, sum(findings) as findings,
                cast(sum(amount_at_risk) as double) as amount_at_risk
            from mart.mart_verification where {DISTRICT}
            group by month, division_code""",
        counts=("persons", "findings"),
        linked={"amount_at_risk": "findings"},
        show={"findings": "发现数", "amount_at_risk": "风险金额（元）"},
    ),
    "proactive": Panel(
        "免申即享闭环",
        f"""select month, division_code, any_value(division_name) as division_name,
                sum(candidates) as candidates, sum(confirmed) as confirmed,
                sum(paid) as paid, sum(unpaid) as unpaid,
                cast(sum(amount_paid) as double) as amount_paid,
                cast(sum(amount_due_unpaid) as double) as amount_due_unpaid,
                cast(sum(days_to_first_payment_sum) as double)
                    / nullif(sum(paid), 0) as avg_days_to_first_payment
            from mart.mart_proactive_entitlement where {DISTRICT}
            group by month, division_code""",
        counts=("candidates", "confirmed", "paid", "unpaid"),
        linked={
            "amount_paid": "paid",
            "avg_days_to_first_payment": "paid",
            "amount_due_unpaid": "unpaid",
        },
        additive=(("paid", "unpaid"),),
        show={
            "candidates": "名单人数",
            "confirmed": "审核确认",
            "paid": "已发放",
            "unpaid": "未发放",
        },
    ),
    # Deliveries and rows, not persons: no small-cell rule.
    "governance": Panel(
        "数据治理：归集率、隔离率、时效",
        """select month, division_code, any_value(division_name) as division_name, feed_id,
                any_value(feed_title) as feed_title,
                sum(periods_received) as periods_received,
                sum(deliveries_expected) as deliveries_expected,
                cast(sum(periods_received) as double)
                    / nullif(sum(deliveries_expected), 0) as completeness_rate,
                sum(rows_declared) as rows_declared, sum(rows_quarantined) as rows_quarantined,
                cast(sum(rows_quarantined) as double)
                    / nullif(sum(rows_declared), 0) as quarantine_rate,
                cast(min(hours_behind_latest_ingest) as double) as hours_behind_latest_ingest
            from mart.mart_data_governance
            group by month, division_code, feed_id""",
        dims=("month", "division_code", "feed_id"),
        show={
            "completeness_rate": "归集率",
            "quarantine_rate": "隔离率",
            "hours_behind_latest_ingest": "距最新入库（小时）",
        },
    ),
}


def districts(warehouse: Path) -> list[dict]:
    """The districts to drill into: those any panel's mart reports."""
    sql = f"""select division_code, any_value(division_name) as division_name
        from (select division_code, division_name from mart.mart_low_income
              union all select division_code, division_name from mart.mart_elderly_children)
        where {DISTRICT} group by division_code order by division_code"""
    try:
        columns, rows = _query(warehouse, sql)
    except MartMissing:
        return []
    return [dict(zip(columns, r, strict=True)) for r in rows]


def panel(warehouse: Path, name: str, *, district: str | None = None) -> dict:
    """One panel's rows (city grid, or one district's), suppressed, ready for JSON."""
    spec = PANELS.get(name)
    if spec is None:
        raise ApiError(404, "Not Found Error", f"no dashboard panel {name!r}; see /dashboard")
    try:
        columns, rows = _query(warehouse, spec.sql)
    except MartMissing as missing:  # a new deployment before its first run: say so
        return {"panel": name, "title": spec.title, "district": district,
                "dims": list(spec.dims), "show": spec.show, "columns": [], "rows": [],
                "missing": str(missing)}  # fmt: skip
    # Sorted before suppression: which cell a complement hides breaks ties by row order,
    # and the same warehouse must always show the same cells.
    dims = [columns.index(d) for d in spec.dims]
    rows.sort(key=lambda r: tuple(str(r[i]) for i in dims))
    records = suppressed(columns, rows, spec)
    if district is not None:
        records = [r for r in records if r["division_code"] == district]
    return {
        "panel": name,
        "title": spec.title,
        "district": district,
        "dims": list(spec.dims),
        "show": spec.show,
        "columns": columns,
        "rows": [[r[c] for c in columns] for r in records],
    }


def suppressed(columns: list[str], rows: list[tuple], spec: Panel) -> list[dict]:
    """The rows as dicts with the small-cell rule applied over the whole grid."""
    if not spec.counts or not rows:
        return [dict(zip(columns, r, strict=True)) for r in rows]
    import pandas as pd  # only here: the other routes do not pay for it

    from civlake.publish.suppress import suppress

    frame = pd.DataFrame.from_records(rows, columns=columns)
    rule = Suppression(
        counts=spec.counts, dimensions=spec.dims, linked=spec.linked, additive=spec.additive
    )
    out, _ = suppress(frame, rule)
    out = out.astype(object).where(out.notna(), None)
    return [
        {c: (int(v) if c in spec.counts and v is not None else v) for c, v in rec.items()}
        for rec in out.to_dict(orient="records")
    ]


class MartMissing(LookupError):
    """The warehouse or a mart a panel reads is not built yet."""


def _query(warehouse: Path, sql: str) -> tuple[list[str], list[tuple]]:
    if not warehouse.is_file():
        raise MartMissing("the warehouse is not built yet: run civlake run")
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.IOException:
        raise ApiError(
            503, "Service Unavailable", "the warehouse is being rebuilt; retry in a minute"
        ) from None
    try:
        cur = con.execute(sql)
        return [d[0] for d in cur.description], cur.fetchall()
    except duckdb.CatalogException as err:
        first_line = str(err).splitlines()[0]
        raise MartMissing(f"a mart is not built yet ({first_line}): run civlake run") from None
    finally:
        con.close()
