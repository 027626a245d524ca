"""Row-level dirt (SOURCE_FEEDS.md section 2): every variant a real upstream system sends
that the clean gate must repair without losing the row.

Only variants that normalise back to the canonical value are applied to real rows; ID
breaking (typo, impossible birth date, blank, Excel scientific notation) only to columns a
feed lists in `Table.id_break_ok`, i.e. where name + birth date (+ division) or a stable
key still identify the person. Quarantine-level defects live in `civlake.generate.noise`.
"""

from __future__ import annotations

import numpy as np

from civlake.generate.contracts_view import column_kinds, enum_synonyms
from civlake.generate.names import traditional
from civlake.generate.table import Table
from civlake.identifiers import USCC_ALPHABET

_FW = str.maketrans("0123456789", "０１２３４５６７８９")
_ID_SAFE = ["id_fullwidth", "id_spaces", "id_hyphens", "id_apostrophe"]
_DATE = ["date_compact", "date_slash", "date_dot", "date_chinese"]
_AMOUNT = [
    "amount_thousands",
    "amount_yuan",
    "amount_yen",
    "amount_one_decimal",
    "amount_fullwidth",
]
_EXCEL_EPOCH = np.datetime64("1899-12-30")
# Optional dates whose absence means nothing to any rule. 有效期至, 失效日期, 停保日期 and
# status dates are left alone: a blank there would change what the record says.
BLANKABLE_DATES = {
    "approved_on",
    "issued_on",
    "recognized_on",
    "founded_on",
    "cremated_on",
    "valid_from",
}


def excel_serial(iso: str) -> int:
    return int((np.datetime64(iso) - _EXCEL_EPOCH).astype(int))


def _id(value: str, kind: str, rng: np.random.Generator) -> str:
    if kind == "id_lowercase_x":
        return value[:-1] + "x"
    if kind == "id_fullwidth":
        return value.translate(_FW)
    if kind == "id_spaces":
        return f"{value[:6]} {value[6:14]} {value[14:]}"
    if kind == "id_hyphens":
        return f"{value[:6]}-{value[6:14]}-{value[14:]}"
    if kind == "id_apostrophe":
        return "'" + value
    if kind == "id_15digit":
        return value[:6] + value[8:17]
    if kind == "id_typo":
        pos = int(rng.integers(14, 17))  # sequence digits: the birth date stays readable
        digit = str((int(value[pos]) + int(rng.integers(1, 9))) % 10)
        return value[:pos] + digit + value[pos + 1 :]
    if kind == "id_bad_birthdate":
        return value[:10] + "13" + value[12:]  # month 13
    if kind in ("id_blank", "id_sci"):
        return "" if kind == "id_blank" else value
    raise ValueError(kind)


def _date(value: str, kind: str) -> str:
    y, m, d = value[:4], int(value[5:7]), int(value[8:10])
    return {
        "date_compact": value.replace("-", ""),
        "date_slash": f"{y}/{m}/{d}",
        "date_dot": f"{y}.{m}.{d}",
        "date_chinese": f"{y}年{m}月{d}日",
        "date_blank": "",
        "date_excel_serial": value,
    }[kind]


def _amount(value: str, kind: str) -> str:
    num = float(value)
    return {
        "amount_thousands": f"{num:,.2f}",
        "amount_yuan": f"{value}元",
        "amount_yen": f"￥{value}",
        "amount_one_decimal": f"{num:.1f}",
        "amount_fullwidth": value.translate(_FW),
    }[kind]


def _choices(table: Table, col: str, kind: str, value: str, fmt: str, required: bool) -> list[str]:
    """Dirt kinds that apply to this value (empty list: leave it alone)."""
    if not value:
        return []
    if kind == "citizen_id":
        out = list(_ID_SAFE)
        if fmt == "xlsx":
            out.remove("id_spaces")
        if value.endswith("X"):
            out.append("id_lowercase_x")
        if value[6:8] == "19":
            out.append("id_15digit")
        if col in table.id_break_ok:
            # only an all-digit ID can be a numeric Excel cell (not one ending in X)
            out += ["id_typo", "id_bad_birthdate", "id_blank"] + (
                ["id_sci"] if fmt == "xlsx" and value.isdigit() else []
            )
        return out
    if kind == "disability_cert_no":
        return ["cert_lowercase_x"] if value[17] == "X" else ["cert_spaces"]
    if kind == "name":
        out = ["name_spaces", "name_remark"]
        if "·" in value:
            out.append("name_dot_variant")
        if traditional(value):
            out.append("name_traditional")
        return out
    if kind == "date":
        out = list(_DATE) + (["date_blank"] if col in BLANKABLE_DATES else [])
        return out + (["date_excel_serial"] if fmt == "xlsx" else [])
    if kind == "month":
        return ["month_compact", "month_chinese"]
    if kind == "amount":
        return list(_AMOUNT)
    if kind == "division":
        return ["division_6", "division_9", "division_obsolete"]
    if kind == "sex":
        return ["sex_word", "sex_letter", "sex_unknown"]
    if kind == "phone":
        if value.startswith("020-"):
            return ["phone_landline_compact", "phone_landline_paren"]
        return ["phone_plus86", "phone_spaces", "phone_dashes"] if len(value) == 11 else []
    if kind == "uscc":
        return ["uscc_lower", "uscc_spaces"] + (
            ["uscc_badcheck"] if table.feed != "social_organizations" else []
        )
    if kind == "enum":
        out = ["enum_synonym", "enum_space", "enum_fullwidth_space"]
        return out + (["enum_qualifier"] if col == "assistance_type" else [])
    return []


def apply(table: Table, kind: str, col: str, i: int, rng: np.random.Generator, obsolete: dict[str, str],
          enum_name: str | None = None) -> bool:  # fmt: skip
    value = str(table.cols[col][i])
    new: str | None = None
    if kind.startswith("id_"):
        new = _id(value, kind, rng)
        if kind == "id_sci":
            table.cell[(i, col)] = "sci"
    elif kind == "cert_lowercase_x":
        new = value[:17] + "x" + value[18:]
    elif kind == "cert_spaces":
        new = f"{value[:6]} {value[6:18]} {value[18:]}"
    elif kind == "name_spaces":
        new = " ".join(value) if "·" not in value else value.replace("·", " · ")
    elif kind == "name_remark":
        new = value + rng.choice(["（户主）", "(代领)", "（本人）"])
    elif kind == "name_dot_variant":
        new = value.replace("·", str(rng.choice(["•", ".", "．"])))
    elif kind == "name_traditional":
        new = traditional(value)
    elif kind.startswith("date_"):
        new = _date(value, kind)
        if kind == "date_excel_serial":
            table.cell[(i, col)] = "serial"
    elif kind == "month_compact":
        new = value.replace("-", "")
    elif kind == "month_chinese":
        new = f"{value[:4]}年{int(value[5:7])}月"
    elif kind.startswith("amount_"):
        new = _amount(value, kind)
    elif kind == "division_6":
        new = value[:6]
    elif kind == "division_9":
        new = value[:9]
    elif kind == "division_obsolete":
        new = obsolete.get(value) or obsolete.get(value[:6] + "000000", "")
        if not new:
            return False
        if not obsolete.get(value):
            new = new[:6]  # an abolished county code, delivered as its 6 digits
    elif kind == "sex_word":
        new = {"1": "男", "2": "女"}.get(value, value)
    elif kind == "sex_letter":
        new = {"1": "M", "2": "F"}.get(value, value)
    elif kind == "sex_unknown":
        new = str(rng.choice(["0", "9"]))  # unknown / unspecified: never a contradiction
    elif kind == "phone_plus86":
        new = "+86" + value
    elif kind == "phone_spaces":
        new = f"{value[:3]} {value[3:7]} {value[7:]}"
    elif kind == "phone_dashes":
        new = f"{value[:3]}-{value[3:7]}-{value[7:]}"
    elif kind == "phone_landline_compact":
        new = value.replace("-", "")
    elif kind == "phone_landline_paren":
        new = "(020)" + value[4:]
    elif kind == "uscc_lower":
        new = value.lower()
    elif kind == "uscc_spaces":
        new = f"{value[:6]} {value[6:12]} {value[12:]}"
    elif kind == "uscc_badcheck":
        new = value[:17] + USCC_ALPHABET[(USCC_ALPHABET.index(value[17]) + 1) % 31]
    elif kind == "enum_synonym":
        syn = enum_synonyms(enum_name).get(value, []) if enum_name else []
        if not syn:
            return False
        new = str(syn[int(rng.integers(0, len(syn)))])
    elif kind == "enum_space":
        new = f" {value} "
    elif kind == "enum_fullwidth_space":
        new = f"{value}\u3000"
    elif kind == "enum_qualifier":
        new = value + str(rng.choice(["（城市）", "(农村)"]))
    if new is None:
        return False
    table.cols[col][i] = new
    table.add_dirt(i, kind)
    table.touched.add((i, col))
    return True


def serial_dates(table: Table) -> None:
    """Districts whose system exports dates as Excel serial numbers: every date cell."""
    kinds = column_kinds(table.feed)
    for col in table.columns:
        if kinds[col][0] != "date":
            continue
        for i in range(table.n):
            if table.cols[col][i] and i not in table.protect:
                table.cell[(i, col)] = "serial"
                table.add_dirt(i, "date_excel_serial")


def dirty(
    table: Table, rate: float, rng: np.random.Generator, fmt: str, obsolete: dict[str, str]
) -> None:
    """Dirty about `rate` of the rows, one value each (a few rows get two)."""
    if rate <= 0 or table.n == 0:
        return
    kinds = column_kinds(table.feed)
    cols = [
        c
        for c in table.columns
        if kinds[c][0] not in ("string", "integer", "bool", "timestamp", "code12", "division_self")
    ]
    picks = np.flatnonzero(rng.random(table.n) < rate)
    for i in picks:
        i = int(i)
        if i in table.protect or i in table.malformed:
            continue
        done: set[str] = set()
        for _ in range(1 + int(rng.random() < 0.2)):
            col = cols[int(rng.integers(0, len(cols)))]
            if col in done or (i, col) in table.cell or (i, col) in table.touched:
                continue  # one variant per value: a serial date cannot also be re-spelt
            done.add(col)
            kind, required, enum_name = kinds[col]
            options = _choices(table, col, kind, str(table.cols[col][i]), fmt, required)
            if options:
                choice = options[int(rng.integers(0, len(options)))]
                apply(table, choice, col, i, rng, obsolete, enum_name)
