"""Row-at-a-time reference canonicalisers in plain Python.

Not used by the gate. They are the "obvious alternative" the benchmark measures the
vectorised macros against (a pandas ``.apply`` over rows), and a second, independent
reading of SOURCE_FEEDS.md section 2 that tests compare the macros with.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from civlake.clean.sql_macros import INVISIBLE, SPREADSHEET_ERRORS
from civlake.hanzi import simplified
from civlake.identifiers import id_check_char, upgrade_15, uscc_check_char

# Full-width forms to ASCII, the ideographic space to a space, invisible format
# characters (zero-width space, BOM, soft hyphen...) dropped
_FW = str.maketrans(
    {chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)} | {"\u3000": " "}
    | dict.fromkeys(INVISIBLE)
)  # fmt: skip
_WS = re.compile(r"[\s\u00a0\u3000]+")
# A remark or qualifier in square, lenticular or tortoise-shell brackets as in round ones
_REMARK_BRACKETS = str.maketrans(dict.fromkeys("[【〔〖", "(") | dict.fromkeys("]】〕〗", ")"))
_RE2_WS = re.compile(r"[\t\n\f\r \u00a0\u3000]+")  # what the macros' \s matches (RE2)
# Spaces, hyphens and text markers (' ‘ ’ `) as cl_id_clean removes them
_ID_DIRT = re.compile(r"([\t\n\f\r \u00a0\u3000]|[-\u2010-\u2015\u2212'\u2018\u2019`])+")
_EXCEL_EPOCH = date(1899, 12, 30)


def blank(s: str | None) -> bool:
    return s is None or _WS.sub("", s.translate(_FW)) == ""


def spreadsheet_error(s: str | None) -> str | None:
    """The spreadsheet error value ``s`` holds (``#N/A``), else None."""
    if s is None:
        return None
    t = _RE2_WS.sub(" ", s.translate(_FW)).strip(" ").upper()
    return t if t in SPREADSHEET_ERRORS else None


def citizen_id(s: str | None, produced: date) -> tuple[str | None, str]:
    if blank(s) or spreadsheet_error(s):
        return None, "missing"
    c = re.sub(
        r"([\s\u00a0\u3000]|[-\u2010-\u2015\u2212'\u2018\u2019`])+", "", s.translate(_FW)
    ).upper()
    if re.fullmatch(r"[0-9]+(\.[0-9]+)?E\+?[0-9]+", c):  # Excel's lost number, even as '4.4E+17
        return None, "missing"
    upgraded = bool(re.fullmatch(r"[0-9]{15}", c))
    if upgraded:
        c = upgrade_15(c)
    if not c:
        return None, "missing"
    ok = bool(re.fullmatch(r"[0-9]{17}[0-9X]", c)) and c[17] == id_check_char(c[:17])
    if ok:
        try:
            ok = date(1890, 1, 1) <= datetime.strptime(c[6:14], "%Y%m%d").date() <= produced
        except ValueError:
            ok = False
    if not ok:
        return c, "invalid"
    return c, "upgraded_15" if upgraded else ("valid" if c == s else "normalized")


def disability_cert(s: str | None, produced: date) -> tuple[str | None, str | None, str]:
    """(cleaned 残疾人证号, the citizen ID it starts with, that ID's status)."""
    cert = None if spreadsheet_error(s) else _ID_DIRT.sub("", (s or "").translate(_FW)).upper()
    if not cert:
        return None, None, "missing"
    value, status = citizen_id(cert[:15] if len(cert) == 17 else cert[:18], produced)
    return cert, value, "normalized" if status == "valid" and cert != s else status


def text(s: str | None) -> str | None:
    """Free text: the ends trimmed; blank and spreadsheet error values are None."""
    if s is None or spreadsheet_error(s):
        return None
    return re.sub(r"\A[\t\n\f\r \u00a0\u3000]+|[\t\n\f\r \u00a0\u3000]+\Z", "", s) or None


def uscc(s: str | None) -> tuple[str | None, str]:
    c = re.sub(r"([\s\u00a0\u3000]|-)+", "", (s or "").translate(_FW)).upper()
    if not c:
        return None, "missing"
    ok = bool(re.fullmatch(r"[0-9A-HJ-NP-RTUW-Y]{18}", c)) and uscc_check_char(c[:17]) == c[17]
    return c, ("valid" if c == s else "normalized") if ok else "invalid"


def name(s: str | None) -> tuple[str | None, str | None]:
    if s is None or spreadsheet_error(s):
        return None, None
    t = s.translate(_FW).translate(_REMARK_BRACKETS)
    m = re.search(r"((\s*\([^()]*\))+)\s*$", t)
    note = None
    if m:
        note = "；".join(x.strip() for x in re.findall(r"\(([^()]*)\)", m.group(1))) or None
        t = t[: m.start()]
    t = re.sub(r"[.•・‧∙⋅·]+", "·", _WS.sub("", t))
    return (simplified(t) if t else None), note


def date_(s: str | None) -> date | None:
    if blank(s):
        return None
    n = _WS.sub("", s.translate(_FW))
    try:
        if re.fullmatch(r"[0-9]{5}(\.[0-9]+)?", n):  # a date-time serial: its day
            return _EXCEL_EPOCH + timedelta(days=int(float(n)))
        if re.fullmatch(r"[0-9]{8}", n):
            return datetime.strptime(n, "%Y%m%d").date()
        m = re.match(
            r"([0-9]{4})[-/.年]([0-9]{1,2})[-/.月]([0-9]{1,2})日?([T ][0-9:.]+)?$",
            s.translate(_FW).strip(),
        )
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None
    except ValueError:
        return None


def month(s: str | None) -> str | None:
    n = _WS.sub("", (s or "").translate(_FW))
    m = re.fullmatch(r"([0-9]{4})[-/.年]([0-9]{1,2})月?", n) or re.fullmatch(
        r"([0-9]{4})([0-9]{2})", n
    )
    return f"{m.group(1)}-{int(m.group(2)):02d}" if m and 1 <= int(m.group(2)) <= 12 else None


def amount(s: str | None) -> Decimal | None:
    n = re.sub(r"([\s\u00a0\u3000]|[,元¥\uffe5]|RMB|CNY)+", "", (s or "").translate(_FW))
    if not re.fullmatch(r"[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)", n):
        return None
    try:
        value = Decimal(n).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        return None
    # silver holds DECIMAL(18, 2): 16 integer digits at most (the macro's try_cast is NULL)
    return value if value < Decimal(10) ** 16 else None


def division_code(s: str | None) -> str | None:
    n = re.sub(r"\.0+$", "", _WS.sub("", (s or "").translate(_FW)))
    return n.ljust(12, "0") if re.fullmatch(r"[0-9]{6}|[0-9]{9}|[0-9]{12}", n) else None


_SEX = {"1": "1", "男": "1", "m": "1", "male": "1", "男性": "1", "2": "2", "女": "2", "f": "2",
        "female": "2", "女性": "2", "0": "0", "未知": "0", "9": "9", "未说明": "9"}  # fmt: skip


def sex(s: str | None) -> str | None:
    return _SEX.get(_WS.sub("", (s or "").translate(_FW)).lower())


def phone(s: str | None) -> str | None:
    if blank(s) or spreadsheet_error(s):
        return None
    t = re.sub(r"([\s\u00a0\u3000]|[-()\u2010-\u2015])+", "", s.translate(_FW))
    if re.fullmatch(r"(\+?86|0086)[1-9][0-9]{8,10}", t):
        rest = re.sub(r"^(\+?86|0086)", "", t)
        t = rest if re.fullmatch(r"1[0-9]{10}", rest) else "0" + rest
    if re.fullmatch(r"1[3-9][0-9]{9}", t):
        return t
    m = re.fullmatch(r"(010|02[0-9]|0[3-9][0-9]{2})([0-9]{7,8})", t)
    return f"{m.group(1)}-{m.group(2)}" if m else (t or None)


def enum_key(s: str | None) -> str | None:
    t = (s or "").translate(_FW).translate(_REMARK_BRACKETS)
    return re.sub(r"\([^()]*\)", "", _WS.sub("", t)) or None


def enum(s: str | None, mapping: dict[str, list[str]]) -> str | None:
    lookup = {
        enum_key(raw): canonical for canonical, syn in mapping.items() for raw in [canonical, *syn]
    }
    return lookup.get(enum_key(s))
