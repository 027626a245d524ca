"""The dashboard's panels (一屏统揽): for each, the query over ``mart.*`` that fills it,
its person counts under the small-cell rule and the columns it charts.

A panel's query returns one row per (month, district[, category]) with division_code
and division_name; the counts, their linked values and the additive groups are the
suppression rule's (civlake.publish.suppress), as for an open dataset.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
    # The loop (issue 20 item 3), both sides by cell: 免申即享 candidates paid, and
    # improper payments (DEATH_PAID, PAY_NO_BASIS, NOT_IN_HUKOU) stopped or returned.
    "proactive": Panel(
        "免申即享与止付追回闭环",
        f"""with unclaimed as (
                select month, division_code, any_value(division_name) as division_name,
                    sum(candidates) as candidates, sum(confirmed) as confirmed,
                    sum(paid) as paid, sum(unpaid) as unpaid, sum(amount_paid) as amount_paid,
                    sum(amount_due_unpaid) as amount_due_unpaid,
                    sum(days_to_first_payment_sum) as days_to_first_payment_sum
                from mart.mart_proactive_entitlement where {DISTRICT}
                group by month, division_code
            ),
            improper as (
                select month, division_code, any_value(division_name) as division_name,
                    sum(findings) as payment_findings, sum(stopped) as stopped,
                    sum(still_paid) as still_paid,
                    sum(amount_stopped_monthly) as amount_stopped_monthly,
                    sum(amount_returned) as amount_returned
                from mart.mart_payment_recovery where {DISTRICT}
                group by month, division_code
            )
            select coalesce(u.month, i.month) as month,
                coalesce(u.division_code, i.division_code) as division_code,
                coalesce(u.division_name, i.division_name) as division_name,
                coalesce(u.candidates, 0) as candidates, coalesce(u.confirmed, 0) as confirmed,
                coalesce(u.paid, 0) as paid, coalesce(u.unpaid, 0) as unpaid,
                cast(coalesce(u.amount_paid, 0) as double) as amount_paid,
                cast(coalesce(u.amount_due_unpaid, 0) as double) as amount_due_unpaid,
                cast(u.days_to_first_payment_sum as double)
                    / nullif(u.paid, 0) as avg_days_to_first_payment,
                coalesce(i.payment_findings, 0) as payment_findings,
                coalesce(i.stopped, 0) as stopped, coalesce(i.still_paid, 0) as still_paid,
                cast(coalesce(i.amount_stopped_monthly, 0) as double) as amount_stopped_monthly,
                cast(coalesce(i.amount_returned, 0) as double) as amount_returned
            from unclaimed as u
            full outer join improper as i
                on i.month = u.month and i.division_code = u.division_code""",
        counts=(
            "candidates",
            "confirmed",
            "paid",
            "unpaid",
            "payment_findings",
            "stopped",
            "still_paid",
        ),
        linked={
            "amount_paid": "paid",
            "avg_days_to_first_payment": "paid",
            "amount_due_unpaid": "unpaid",
            "amount_stopped_monthly": "stopped",
            "amount_returned": "payment_findings",
        },
        additive=(("paid", "unpaid"),),
        show={
            "candidates": "名单人数",
            "confirmed": "审核确认",
            "paid": "已发放",
            "unpaid": "未发放",
            "stopped": "违规发放已停发",
            "still_paid": "违规发放仍在发",
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
