"""Per-district worklists (核查工作清单) of open findings, as XLSX for district staff.

One workbook per district: a 汇总 sheet (count and amount per rule) and one sheet per
rule with Chinese headers, the evidence spelled out, and IDs masked
(440106********1234): staff need to recognise the person, not to copy the number.
Findings without a district go to a workbook for the city office (``未定区县``).

A finding is listed while it is detected and its status (verify.finding_status) is open,
confirmed or reopened: a dismissed one leaves the lists until its facts change, a resolved
one leaves them. Each row shows its history (历史) and has the columns the caseworker
fills (核查结论 from a list, 处理说明, 核查人, 核查日期): the filled workbook goes back
into the landing folder as a delivery of the feed finding_reviews (civlake.verify.returns),
read by its 核查编号 (the finding_id) and 区县代码 columns.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

from civlake import forks
from civlake.settings import Settings
from civlake.verify.evidence import describe_evidence
from civlake.verify.masking import mask_id

PROGRAMS = {
    "DB": "低保金", "TK": "特困供养金", "DBBY": "低保边缘补助", "GL": "高龄津贴",
    "CJSH": "困难残疾人生活补贴", "CJHL": "重度残疾人护理补贴", "GE": "孤儿基本生活费",
    "SW": "事实无人抚养儿童基本生活费",
}  # fmt: skip
ATTRIBUTES = {"name": "姓名", "sex": "性别", "birth_date": "出生日期"}
COLUMNS = [
    ("序号", 6), ("核查编号", 34), ("姓名/组织", 14), ("身份证号/信用代码", 22), ("项目", 16),
    ("不一致数据集/属性", 22), ("起始月份", 10), ("截止月份", 10), ("涉及金额(元)", 14),
    ("建议处理", 26), ("首次发现时间", 20), ("证据说明", 90), ("历史", 36),
    ("核查结论", 12), ("处理说明", 30), ("核查人", 10), ("核查日期", 12), ("区县代码", 14),
]  # fmt: skip
# The caseworker's columns (schemas/finding_reviews.yaml reads them back by header).
DECISIONS = ["属实", "不属实", "已整改", "无法核实"]
DECISION_COL = [c for c, _ in COLUMNS].index("核查结论")
DATE_COL = [c for c, _ in COLUMNS].index("核查日期")
MONEY_COL = [c for c, _ in COLUMNS].index("涉及金额(元)")
LISTED = ("open", "confirmed", "reopened")  # finding_status values a worklist shows
# How a status spell reads in 历史: by a review, the decision; by the data, what happened.
_BY_REVIEW = {"confirmed": "属实", "dismissed": "不属实", "resolved": "已整改", "open": "无法核实"}
_BY_DATA = {"open": "发现", "resolved": "数据显示已纠正", "reopened": "重新出现"}
UNKNOWN_DISTRICT = "000000000000"

_QUERY = """
select f.*, p.name as person_name, s.status as lifecycle
from verify.findings as f
inner join verify.finding_status as s on s.finding_id = f.finding_id and s.is_current
left join staging.stg_persons as p on p.person_key = f.person_key
where s.status in ('open', 'confirmed', 'reopened')
order by f.district_code, f.rule_code, f.period_start, f.finding_id
"""
_HISTORY = """
select finding_id, status, changed_by, reviewer, reviewed_on, valid_from
from verify.finding_status
order by finding_id, valid_from
"""


class WorklistError(RuntimeError):
    """The warehouse has no findings table to make worklists from."""


def _read(settings: Settings) -> tuple[list[dict[str, Any]], dict[str, str]]:
    import duckdb

    if not settings.warehouse.exists():
        raise WorklistError(
            f"warehouse {settings.warehouse} does not exist: run `civlake run --through build` "
            "first, then write the worklists"
        )
    # Not read_only: dbt may still hold this file open in the same process (the in-process
    # Airflow run), and DuckDB refuses a second connection with a different configuration.
    con = duckdb.connect(str(settings.warehouse))
    try:
        try:
            cur = con.execute(_QUERY)
        except duckdb.CatalogException as exc:
            raise WorklistError(
                f"verify.findings is missing in {settings.warehouse} ({exc}); build the "
                "verify models (`civlake run --through verify`) before writing worklists"
            ) from exc
        cols = [d[0] for d in cur.description]
        rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
        history: dict[str, list[str]] = defaultdict(list)
        for fid, status, by, reviewer, reviewed_on, since in con.execute(_HISTORY).fetchall():
            history[fid].append(_spell(status, by, reviewer, reviewed_on, since))
        for f in rows:
            f["history"] = "；".join(history.get(f["finding_id"], []))
        try:
            names = dict(con.execute(
                "select division_code, any_value(name) from staging.stg_divisions group by 1"
            ).fetchall())  # fmt: skip
        except duckdb.Error:
            names = {}  # divisions not loaded: file names carry the code only
    finally:
        con.close()
    return rows, names


def _spell(status: str, by: str, reviewer: str | None, reviewed_on, since) -> str:
    """``2026-10 不属实（张三）`` for a review, ``2026-11 重新出现`` for the data."""
    when = reviewed_on or since
    month = when.strftime("%Y-%m") if when else ""
    if by == "review":
        who = f"（{reviewer}）" if reviewer else ""
        return f"{month} {_BY_REVIEW.get(status, status)}{who}"
    return f"{month} {_BY_DATA.get(status, status)}"


def _cells(i: int, f: dict[str, Any]) -> list[Any]:
    who = f.get("person_name") or f.get("org_uscc") or ""
    ident = mask_id(f.get("id_number")) if f.get("person_key") else (f.get("org_uscc") or "")
    feed_attr = ""
    if f.get("feed_id"):
        feed_attr = f"{f['feed_id']} / {ATTRIBUTES.get(f.get('attribute'), f.get('attribute'))}"
    amount = f.get("amount_at_risk")
    detected = f.get("first_detected_at")
    return [
        i, f["finding_id"], who, ident, PROGRAMS.get(f.get("program_code"), f.get("program_code") or ""),
        feed_attr, f.get("period_start") or "", f.get("period_end") or "",
        float(amount) if amount is not None else None, f.get("recommended_action") or "",
        detected.strftime("%Y-%m-%d %H:%M") if detected else "", describe_evidence(f.get("evidence")),
        f.get("history") or "", None, None, None, None, f.get("district_code") or UNKNOWN_DISTRICT,
    ]  # fmt: skip


def _sheet_name(title: str, used: set[str]) -> str:
    name = re.sub(r"[\[\]:*?/\\]", "", title)[:28] or "核查"
    base, n = name, 2
    while name in used:
        name, n = f"{base}{n}", n + 1
    used.add(name)
    return name


def _validate(sheet, rows: int) -> None:
    """核查结论 from the list only, 核查日期 a date: Excel refuses anything else as typed."""
    sheet.data_validation(1, DECISION_COL, rows, DECISION_COL, {
        "validate": "list", "source": DECISIONS, "input_title": "核查结论",
        "input_message": "属实 / 不属实 / 已整改 / 无法核实", "error_title": "核查结论",
        "error_message": "请从列表中选择：属实、不属实、已整改或无法核实",
    })  # fmt: skip
    sheet.data_validation(1, DATE_COL, rows, DATE_COL, {
        "validate": "date", "criteria": "between", "minimum": date(2000, 1, 1),
        "maximum": date(2099, 12, 31), "error_message": "请填写日期，例如 2026-11-05",
    })  # fmt: skip


def _write_book(path: Path, district: str, by_rule: dict[str, list[dict[str, Any]]]) -> None:
    import xlsxwriter

    # Every value is written as what it is: a delivered name or remark that starts with
    # "=" or looks like a link stays text (xlsxwriter would make it a live formula or a
    # hyperlink in the caseworker's Excel).
    book = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False,
                                           "strings_to_urls": False,
                                           "strings_to_numbers": False})  # fmt: skip
    head = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True})
    wrap = book.add_format({"text_wrap": True, "valign": "top"})
    money = book.add_format({"num_format": "#,##0.00", "valign": "top"})
    day = book.add_format({"num_format": "yyyy-mm-dd", "valign": "top"})
    summary = book.add_worksheet("汇总")
    summary.write_row(
        0, 0, ["区县", "核查规则", "规则说明", "严重程度", "条数", "涉及金额(元)"], head
    )
    used = {"汇总"}
    for r, (rule, findings) in enumerate(sorted(by_rule.items()), start=1):
        first = findings[0]
        amounts = [
            float(f["amount_at_risk"]) for f in findings if f.get("amount_at_risk") is not None
        ]
        summary.write_row(
            r, 0, [district, rule, first.get("rule_title"), first.get("severity"), len(findings)]
        )
        summary.write(r, 5, sum(amounts) if amounts else None, money)
        sheet = book.add_worksheet(_sheet_name(first.get("rule_title") or rule, used))
        sheet.write_row(0, 0, [c for c, _ in COLUMNS], head)
        for col, (_, width) in enumerate(COLUMNS):
            fmt = {MONEY_COL: money, DATE_COL: day}.get(col, wrap)
            sheet.set_column(col, col, width, fmt)
        for i, f in enumerate(findings, start=1):
            sheet.write_row(i, 0, _cells(i, f))
        _validate(sheet, len(findings))
        sheet.freeze_panes(1, 0)
        sheet.autofilter(0, 0, len(findings), len(COLUMNS) - 1)
    summary.set_column(0, 2, 24)
    book.close()


def write_worklists(settings: Settings, out_dir: Path, *, workers: int | None = None) -> list[Path]:
    """Write one XLSX per district with that district's open findings; returns the paths.
    ``workers``: processes writing books side by side (None: one per core, at most 4).

    Rewrites the district files on every call (the findings table is the state), so a
    rerun on an unchanged warehouse produces the same lists.
    """
    rows, names = _read(settings)
    out_dir.mkdir(parents=True, exist_ok=True)
    by_district: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for f in rows:
        by_district[f.get("district_code") or UNKNOWN_DISTRICT][f["rule_code"]].append(f)
    books = []
    for code, by_rule in sorted(by_district.items()):
        label = names.get(code) or ("未定区县" if code == UNKNOWN_DISTRICT else code)
        books.append((out_dir / f"{code[:6]}_{label}_比对核查工作清单.xlsx", label, by_rule))

    def write(i: int) -> Path:
        _write_book(*books[i])
        return books[i][0]

    # xlsxwriter is Python: the districts' books are written side by side, one per core
    # (the forks inherit the findings: only a book's number goes, its path comes back).
    workers = workers or forks.default_workers()
    return list(forks.map_in_forks(write, range(len(books)), workers))
