"""The bureau dashboard's numbers (一屏统揽): one panel per theme, read from the marts.

Each panel is one query over ``mart.*`` at the grain (month, district[, category]),
with the open datasets' small-cell rule applied to the whole city grid before a
district is picked (OUTPUTS.md section 5: counts 1-4 hidden, complements so that
no margin gives one back, amounts and rates hidden with their count). The page is
public because it shows only these suppressed aggregates: no person key, ID or name
is selected by any panel.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from civlake.publish.catalog import Suppression
from civlake.serve.dashboard_panels import DISTRICT, PANELS, Panel
from civlake.serve.errors import ApiError


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
