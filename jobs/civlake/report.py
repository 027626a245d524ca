"""What a run prints at the end: per-feed accounting, then what was built and where."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from civlake import lake, tables
from civlake.ingest.landing import discover
from civlake.settings import Settings


def delivery_table(settings: Settings) -> Table:
    audit = lake.read_arrow(tables.path(settings.lake, tables.INGEST_AUDIT))
    rows = [] if audit is None else audit.to_pylist()
    feeds = sorted({r["feed_id"] for r in rows} | _landing_feeds(settings.landing))
    table = Table(title="Deliveries per feed (ingest_audit)")
    for col in ("feed", "loaded", "rejected", "duplicate", "superseded", "pending",
                "rows declared", "bronze", "silver", "quarantined"):  # fmt: skip
        table.add_column(col, justify="left" if col == "feed" else "right")
    totals = [0] * 9
    for feed in feeds:
        mine = [r for r in rows if r["feed_id"] == feed]
        count = {
            s: sum(r["status"] == s for r in mine)
            for s in ("loaded", "rejected", "duplicate", "superseded")
        }
        pending = len(discover(settings.landing, feed)[1]) if settings.landing.is_dir() else 0
        live = [r for r in mine if r["status"] == "loaded"]
        values = [
            count["loaded"], count["rejected"], count["duplicate"], count["superseded"], pending,
            sum(r["rows_declared"] or 0 for r in live), sum(r["rows_bronze"] or 0 for r in live),
            sum(r["rows_silver"] or 0 for r in live), sum(r["rows_quarantined"] or 0 for r in live),
        ]  # fmt: skip
        totals = [a + b for a, b in zip(totals, values, strict=True)]
        table.add_row(feed, *(f"{v:,}" for v in values))
    table.add_row("[bold]total", *(f"[bold]{v:,}" for v in totals))
    return table


def _landing_feeds(landing: Path) -> set[str]:
    if not landing.is_dir():
        return set()
    return {p.name for p in landing.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))}


def rejected_lines(settings: Settings) -> list[str]:
    audit = lake.read_arrow(tables.path(settings.lake, tables.INGEST_AUDIT))
    if audit is None:
        return []
    return [
        f"{r['feed_id']}/{r['delivery_id']}: {r['reject_reason']} — {r['reject_detail']}"
        for r in audit.to_pylist()
        if r["status"] == "rejected"
    ]


def print_summary(settings: Settings, console: Console, *, through: str) -> None:
    console.print(delivery_table(settings))
    for line in rejected_lines(settings):
        console.print(f"[yellow]rejected[/] {line}")
    console.print(f"\nLake (Delta tables):  {settings.lake}")
    console.print("  bronze/<feed>  silver/<feed>  quarantine  ingest_audit")
    if settings.warehouse.exists() and through not in ("ingest", "clean", "resolve"):
        _print_warehouse(settings, console)
    if (settings.publish).is_dir() and through == "publish":
        console.print(f"Published datasets:   {settings.publish}")
        console.print(
            "  serve them:  .venv/bin/civlake serve   (catalog page at http://127.0.0.1:8000/)"
        )


def _print_warehouse(settings: Settings, console: Console) -> None:
    import duckdb

    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        tables = con.sql(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('core', 'verify', 'mart', 'publish') order by 1, 2"
        ).fetchall()

        def scalar(sql: str):
            try:
                return con.sql(sql).fetchone()[0]
            except duckdb.Error:
                return None

        persons = scalar("select count(*) from core.dim_person")
        households = scalar("select count(distinct family_no) from core.fct_assistance_membership")
        console.print(f"\nWarehouse (DuckDB):   {settings.warehouse}")
        if persons is not None:
            console.print(f"  persons (core.dim_person): {persons:,}")
        if households is not None:
            console.print(f"  assistance households: {households:,}")
        try:
            findings = con.sql(
                "select rule_code, count(*) n, coalesce(sum(amount_at_risk), 0) amt "
                "from verify.findings group by 1 order by 1"
            ).fetchall()
            ft = Table(title="verify.findings by rule")
            ft.add_column("rule_code")
            ft.add_column("findings", justify="right")
            ft.add_column("amount at risk (元)", justify="right")
            for code, n, amt in findings:
                ft.add_row(code, f"{n:,}", f"{amt:,.2f}")
            console.print(ft)
        except duckdb.Error:
            pass
        marts = [f"{s}.{t}" for s, t in tables if s == "mart"]
        console.print(f"  marts built: {len(marts)}: {', '.join(marts)}")
        console.print("\nQuery the marts:")
        console.print(
            f'  .venv/bin/duckdb -readonly {settings.warehouse} -c "select * from mart.mart_low_income limit 10"'
        )
        console.print(
            f"  .venv/bin/python -c \"import duckdb; print(duckdb.connect('{settings.warehouse}', read_only=True)"
            ".sql('select * from mart.mart_verification'))\""
        )
        from civlake.transform import dbt_work_dir

        docs = dbt_work_dir(settings) / "target" / "index.html"
        if docs.exists():
            console.print(f"  lineage docs (dbt):      {docs}")
        for label, path in (
            ("district worklists:     ", settings.worklists_dir),
            ("silver quality report:  ", settings.home / "data_docs" / "index.html"),
        ):
            if path.exists():
                console.print(f"  {label}{path}")
    finally:
        con.close()
