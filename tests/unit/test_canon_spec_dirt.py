"""SOURCE_FEEDS.md section 2, dirt as an independent generator would make it, and combined.

Our generator (civlake.generate) makes each kind of dirt one way and rarely two on one
value; acceptance feeds are written by someone else from the spec. Each strategy here
starts from a canonical value, applies any subset of the dirt the spec lists for its
field kind (in any order, any width, any spacing), and asserts that the canonical value
and status the spec names come out. Where the spec is silent on a combination nothing
is asserted. The oracle is the spec: check characters from tests/fixtures/foreign/ids.py
(written from the standards), synonyms from the spec's table below, not schemas/.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from civlake.clean import canon
from tests.fixtures.foreign.ids import citizen_id, id_check, legacy_15, uscc

PRODUCED = date(2026, 11, 1)
PROPS = settings(max_examples=100, deadline=None)
ASCII_SP, FW_SP = " ", "\u3000"
spaces = st.text(alphabet=ASCII_SP + FW_SP, min_size=1, max_size=2)
maybe_spaces = st.text(alphabet=ASCII_SP + FW_SP, max_size=2)
# Spaces nobody sees: zero-width space, non-joiner, joiner, word joiner, BOM, soft hyphen.
# Not in the spec's list, but a value pasted from a web page or a word processor brings
# them, and a registry sends what its clerks pasted; they belong to no ID or name.
invisibles = st.text(alphabet="\u200b\u200c\u200d\u2060\ufeff\u00ad", min_size=1, max_size=2)


def fw(text: str) -> str:
    """Full width, as a Chinese IME in full-width mode types ASCII (U+FF01..U+FF5E)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def fw_some(draw: st.DrawFn, text: str) -> str:
    """Some characters full width (a clerk switching IME mode mid-value), maybe none."""
    mask = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(fw(c) if m else c for c, m in zip(text, mask, strict=True))


def insert(draw: st.DrawFn, text: str, pieces: st.SearchStrategy[str], most: int = 3) -> str:
    """``text`` with up to ``most`` pieces put between its characters."""
    cuts = draw(st.lists(st.integers(1, max(1, len(text) - 1)), max_size=most))
    out = text
    for cut in sorted(cuts, reverse=True):
        out = out[:cut] + draw(pieces) + out[cut:]
    return out


# --- 公民身份号码 ------------------------------------------------------------------------

areas = st.from_regex(r"[1-6][0-9]{5}", fullmatch=True)
seqs = st.from_regex(r"[0-9]{3}", fullmatch=True)
births = st.dates(min_value=date(1890, 1, 1), max_value=PRODUCED)
# "spaces or hyphens inside": ASCII and full-width ones, and the dashes an IME offers.
ID_SEPARATORS = st.sampled_from([" ", FW_SP, "  ", "-", "－", "‐", "–", "—"])


@st.composite
def dirty_id(draw: st.DrawFn, id_text: str) -> str:
    """Any combination of the citizen-ID dirt of section 2 (not 15-digit, not typos)."""
    text = id_text
    if draw(st.booleans()):
        text = text.lower()  # lower-case x (no-op unless the check char is X)
    if draw(st.booleans()):
        text = fw_some(draw, text)
    if draw(st.booleans()):
        text = insert(draw, text, ID_SEPARATORS)
    if draw(st.booleans()):
        text = insert(draw, text, invisibles, most=2)
    if draw(st.booleans()):
        text = "'" + text  # an XLSX text cell typed with the apostrophe marker
    if draw(st.booleans()):
        text = draw(maybe_spaces) + text + draw(maybe_spaces)
    return text


def run_ids(values: list[str | None], produced: date = PRODUCED) -> list[tuple[str | None, str]]:
    v, s = canon.citizen_id(values, produced_at=produced)
    return list(zip(v.to_pylist(), s.to_pylist(), strict=True))


@PROPS
@given(areas, births, seqs, st.data())
def test_an_id_with_any_combination_of_dirt_comes_out_whole(area, born, seq, data) -> None:
    good = citizen_id(area, born.strftime("%Y%m%d"), seq)
    dirty = data.draw(dirty_id(good))
    status = "valid" if dirty == good else "normalized"
    assert run_ids([dirty, good]) == [(good, status), (good, "valid")]


@PROPS
@given(areas, st.integers(0, 498), st.data())
def test_a_check_char_x_survives_every_dirt(area, n, data) -> None:
    # About one ID in eleven ends in X; make sure this one does.
    born = data.draw(births).strftime("%Y%m%d")
    for k in range(n, n + 500):
        good = citizen_id(area, born, f"{k % 1000:03d}")
        if good.endswith("X"):
            break
    else:
        return
    dirty = data.draw(dirty_id(good)).replace("X", "x")
    assert run_ids([dirty]) == [(good, "normalized")]


@PROPS
@given(areas, st.dates(min_value=date(1900, 1, 1), max_value=date(1999, 12, 31)), seqs, st.data())
def test_a_legacy_15_digit_id_with_dirt_is_upgraded(area, born, seq, data) -> None:
    good = citizen_id(area, born.strftime("%Y%m%d"), seq)
    legacy = legacy_15(good)
    dirty = data.draw(dirty_id(legacy))
    assert run_ids([dirty]) == [(good, "upgraded_15")]


@PROPS
@given(areas, births, seqs, st.integers(0, 9), st.data())
def test_a_wrong_check_char_is_invalid_and_kept_normalised(area, born, seq, wrong, data) -> None:
    good = citizen_id(area, born.strftime("%Y%m%d"), seq)
    bad = good[:17] + str(wrong)
    if bad == good:
        bad = good[:17] + "X"
    dirty = data.draw(dirty_id(bad))
    assert run_ids([dirty]) == [(bad, "invalid")]


@st.composite
def impossible_birth(draw: st.DrawFn) -> str:
    """YYYYMMDD that is no date, or a date before 1890, or after the delivery was made."""
    kind = draw(st.sampled_from(["month", "day", "feb", "early", "future"]))
    year = draw(st.integers(1900, 2025))
    if kind == "month":
        return f"{year}{draw(st.sampled_from([0, 13, 19, 99])):02d}01"
    if kind == "day":
        return f"{year}{draw(st.integers(1, 12)):02d}{draw(st.sampled_from([0, 32, 99])):02d}"
    if kind == "feb":
        return f"{year}02{draw(st.sampled_from([30, 31])):02d}"
    if kind == "early":
        day = draw(st.dates(min_value=date(1000, 1, 1), max_value=date(1889, 12, 31)))
        return day.strftime("%Y%m%d")
    day = draw(st.dates(min_value=PRODUCED + timedelta(days=1), max_value=date(2999, 12, 31)))
    return day.strftime("%Y%m%d")


@PROPS
@given(areas, impossible_birth(), seqs, st.data())
def test_an_impossible_birth_date_is_invalid_whatever_the_dirt(area, born, seq, data) -> None:
    bad = area + born + seq
    bad += id_check(bad)  # the check char is right: only the date is wrong
    dirty = data.draw(dirty_id(bad))
    assert run_ids([dirty]) == [(bad, "invalid")]


@PROPS
@given(areas, births, seqs, st.data())
def test_blank_and_scientific_notation_are_missing(area, born, seq, data) -> None:
    good = citizen_id(area, born.strftime("%Y%m%d"), seq)
    # What Excel shows for an 18-digit numeric cell: 15 significant digits at best.
    digits = data.draw(st.integers(1, 15))
    mantissa = f"{good[0]}.{good[1:digits]}" if digits > 1 else good[0]
    sci = mantissa + data.draw(st.sampled_from(["E+17", "e+17", "E17"]))
    if data.draw(st.booleans()):
        sci = fw_some(data.draw, sci)
    if data.draw(st.booleans()):
        sci = "'" + sci
    sci = data.draw(maybe_spaces) + sci + data.draw(maybe_spaces)
    blank = data.draw(st.sampled_from([None, "", "'"])) or data.draw(maybe_spaces)
    assert run_ids([sci, blank]) == [(None, "missing"), (None, "missing")]


# --- 统一社会信用代码 ---------------------------------------------------------------------

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
uscc_bodies = st.text(alphabet=USCC_ALPHABET, min_size=17, max_size=17)


@st.composite
def dirty_uscc(draw: st.DrawFn, code: str) -> str:
    text = code
    if draw(st.booleans()):
        mask = draw(st.lists(st.booleans(), min_size=18, max_size=18))
        text = "".join(c.lower() if m else c for c, m in zip(text, mask, strict=True))
    if draw(st.booleans()):
        text = insert(draw, text, spaces)
    if draw(st.booleans()):
        text = draw(maybe_spaces) + text + draw(maybe_spaces)
    return text


@PROPS
@given(uscc_bodies, st.data())
def test_a_uscc_in_lower_case_with_spaces_comes_out_whole(body, data) -> None:
    good = uscc(body)
    dirty = data.draw(dirty_uscc(good))
    v, s = canon.uscc([dirty])
    assert (v.to_pylist(), s.to_pylist()) == (
        [good],
        ["valid" if dirty == good else "normalized"],
    )


@PROPS
@given(uscc_bodies, st.sampled_from(USCC_ALPHABET), st.data())
def test_a_uscc_with_a_wrong_check_char_is_invalid(body, wrong, data) -> None:
    good = uscc(body)
    if wrong == good[17]:
        return
    bad = good[:17] + wrong
    v, s = canon.uscc([data.draw(dirty_uscc(bad))])
    assert (v.to_pylist(), s.to_pylist()) == ([bad], ["invalid"])


# --- 姓名 --------------------------------------------------------------------------------

# (simplified, traditional) pairs OpenCC's t2s maps one to one, and characters that are
# the same in both scripts.
TRAD = dict(zip("张伟刘国华陈东丽郑洁杨黄赵吴孙马叶苏欧阳买强军红兰凤龙涛辉静热", "張偉劉國華陳東麗鄭潔楊黃趙吳孫馬葉蘇歐陽買強軍紅蘭鳳龍濤輝靜熱", strict=True))  # fmt: skip
NAME_CHARS = "".join(TRAD) + "王李芳娜明阿依古提合曼敏文"
DOTS = ["·", "•", ".", "．"]  # the spec's middle-dot variants; canonical is the first
REMARKS = st.sampled_from(["已故", "重复", "曾用名王五", "死亡"])
# The spec's round brackets, and the square ones Chinese forms also use
BRACKETS = st.sampled_from(
    [("（", "）"), ("(", ")"), ("【", "】"), ("[", "]"), ("［", "］"), ("〔", "〕"), ("〖", "〗")]
)
name_parts = st.lists(st.text(alphabet=NAME_CHARS, min_size=1, max_size=4), min_size=1, max_size=3)


@st.composite
def dirty_name(draw: st.DrawFn, parts: list[str]) -> tuple[str, str | None]:
    """(delivered name, its remark) for the canonical name ``'·'.join(parts)``."""
    if draw(st.booleans()):
        parts = ["".join(TRAD.get(c, c) if draw(st.booleans()) else c for c in p) for p in parts]
    text = parts[0]
    for part in parts[1:]:
        text += draw(maybe_spaces) + draw(st.sampled_from(DOTS)) + draw(maybe_spaces) + part
    if draw(st.booleans()):
        text = insert(draw, text, spaces)  # 张 伟, 张　伟
    if draw(st.booleans()):
        text = insert(draw, text, invisibles, most=2)
    remark = draw(st.one_of(st.none(), REMARKS))
    if remark is not None:
        left, right = draw(BRACKETS)
        text += draw(maybe_spaces) + left + remark + right
    return draw(maybe_spaces) + text + draw(maybe_spaces), remark


@PROPS
@given(name_parts, st.data())
def test_a_name_with_any_combination_of_dirt_comes_out_simplified(parts, data) -> None:
    delivered, remark = data.draw(dirty_name(parts))
    value, note = canon.name([delivered])
    assert value.to_pylist() == ["·".join(parts)]
    assert note.to_pylist() == [remark]


# --- dates and months --------------------------------------------------------------------

# Excel serial numbers are 5 digits from 1927-05-18 (10000) on.
dates = st.dates(min_value=date(1927, 5, 18), max_value=date(2099, 12, 31))


def _md(draw: st.DrawFn, n: int) -> str:
    return f"{n:02d}" if draw(st.booleans()) else str(n)


@st.composite
def dirty_date(draw: st.DrawFn, d: date) -> str:
    kind = draw(st.sampled_from(["iso", "compact", "slash", "dot", "cn", "serial"]))
    if kind == "serial":
        text = str((d - date(1899, 12, 30)).days)
        if draw(st.booleans()):  # a date-time cell: the time as a fraction of the day
            text += "." + str(draw(st.integers(0, 99999)))
    elif kind == "iso":
        text = d.isoformat()
    elif kind == "compact":
        text = d.strftime("%Y%m%d")
    else:
        m, dd = _md(draw, d.month), _md(draw, d.day)
        text = {"slash": f"{d.year}/{m}/{dd}", "dot": f"{d.year}.{m}.{dd}",
                "cn": f"{d.year}年{m}月{dd}日"}[kind]  # fmt: skip
    if draw(st.booleans()):
        text = fw_some(draw, text)
    return draw(maybe_spaces) + text + draw(maybe_spaces)


@PROPS
@given(st.lists(dates, min_size=1, max_size=8), st.data())
def test_a_date_in_any_spec_format_reads_as_that_date(days, data) -> None:
    delivered = [data.draw(dirty_date(d)) for d in days]
    assert canon.date_(delivered).to_pylist() == days


@PROPS
@given(st.integers(1900, 2099), st.sampled_from([(2, 30), (2, 31), (4, 31), (13, 1), (0, 5)]))
def test_an_impossible_date_is_unreadable_but_present(year, md) -> None:
    m, d = md
    delivered = [f"{year}-{m:02d}-{d:02d}", f"{year}年{m}月{d}日", f"{year}/{m}/{d}", f"{year}{m:02d}{d:02d}"]  # fmt: skip
    assert canon.date_(delivered).to_pylist() == [None] * 4
    assert canon.is_present(delivered).to_pylist() == [True] * 4


@PROPS
@given(st.integers(1900, 2099), st.integers(1, 12), st.data())
def test_a_month_in_any_spec_format(year, month, data) -> None:
    m = _md(data.draw, month)
    text = data.draw(
        st.sampled_from([f"{year}-{month:02d}", f"{year}{month:02d}", f"{year}年{m}月"])
    )
    if data.draw(st.booleans()):
        text = fw_some(data.draw, text)
    text = data.draw(maybe_spaces) + text + data.draw(maybe_spaces)
    assert canon.month([text]).to_pylist() == [f"{year}-{month:02d}"]


# --- amounts -----------------------------------------------------------------------------

cents = st.integers(0, 10**9)


@st.composite
def dirty_amount(draw: st.DrawFn, value: int) -> str:
    """``value`` fen written as an upstream clerk might: 1,120.00 / 1120元 / ￥1120 / 1120.0."""
    yuan, fen = divmod(value, 100)
    whole = f"{yuan:,}" if draw(st.booleans()) else str(yuan)
    if fen == 0:
        frac = draw(st.sampled_from(["", ".0", ".00"]))
    elif fen % 10 == 0:
        frac = draw(st.sampled_from([f".{fen // 10}", f".{fen:02d}"]))
    else:
        frac = f".{fen:02d}"
    text = whole + frac
    if draw(st.booleans()):
        text = fw_some(draw, text)  # full-width digits, comma and decimal point
    prefix = draw(st.sampled_from(["", "￥", "¥"]))
    suffix = draw(st.sampled_from(["", "元", " 元", "　元"]))
    return draw(maybe_spaces) + prefix + text + suffix + draw(maybe_spaces)


@PROPS
@given(st.lists(cents, min_size=1, max_size=8), st.data())
def test_an_amount_in_any_spec_spelling(values, data) -> None:
    delivered = [data.draw(dirty_amount(v)) for v in values]
    expected = [Decimal(v).scaleb(-2).quantize(Decimal("0.01")) for v in values]
    assert canon.amount(delivered).to_pylist() == expected


# --- 区划代码, 性别 ---------------------------------------------------------------------


@st.composite
def division(draw: st.DrawFn) -> tuple[str, str]:
    """(12-digit code, as delivered: 6 digits for a county, 9 for a township, or 12)."""
    county = draw(st.from_regex(r"[1-6][0-9][0-9]{2}[0-9]{2}", fullmatch=True))
    level = draw(st.sampled_from(["county", "township", "village"]))
    town = "000" if level == "county" else draw(st.from_regex(r"[0-9]{2}[1-9]", fullmatch=True))
    village = "000" if level != "village" else draw(st.from_regex(r"[0-9]{2}[1-9]", fullmatch=True))  # fmt: skip
    code = county + town + village
    short = {"county": code[:6], "township": code[:9], "village": code}[level]
    delivered = draw(st.sampled_from([short, code]))
    return code, draw(maybe_spaces) + delivered + draw(maybe_spaces)


@PROPS
@given(st.lists(division(), min_size=1, max_size=10))
def test_division_codes_of_6_9_or_12_digits_pad_to_12(pairs) -> None:
    assert canon.division_code([d for _, d in pairs]).to_pylist() == [c for c, _ in pairs]


SEX = {"1": "1", "男": "1", "M": "1", "2": "2", "女": "2", "F": "2", "0": "0", "9": "9"}


@PROPS
@given(st.lists(st.tuples(st.sampled_from(sorted(SEX)), maybe_spaces, maybe_spaces), max_size=10))
def test_sex_variants_with_stray_spaces(items) -> None:
    delivered = [a + v + b for v, a, b in items]
    assert canon.sex(delivered).to_pylist() == [SEX[v] for v, _, _ in items]


# --- enumerations: the spec's synonym table, transcribed ---------------------------------

SPEC_ENUMS: dict[str, dict[str, list[str]]] = {
    "assistance_type": {"低保": ["最低生活保障", "城乡低保"], "特困": ["特困供养", "特困人员", "五保"],
                        "低保边缘": ["低边", "低保边缘家庭"]},
    "assistance_status": {"在保": ["保障中"], "停保": ["已停保"]},
    "hukou_person_status": {"死亡": ["已死亡"], "迁出": ["已迁出"], "注销": ["已注销"], "正常": []},
    "disability_grade": {
        f"{cn}级": [f"{n}级", str(n), f"{roman}级", f"{formal}级"]
        for n, cn, roman, formal in zip(range(1, 5), "一二三四", "ⅠⅡⅢⅣ", "壹贰叁肆", strict=True)
    },
    "cert_status": {"有效": ["正常"], "注销": ["已注销", "作废"]},
    "marriage_business_type": {"结婚登记": ["结婚"], "离婚登记": ["离婚"], "补领结婚证": ["补发结婚证"],
                               "补领离婚证": ["补发离婚证"]},
    "donor_type": {"个人": ["自然人"], "企业": ["法人", "公司"], "匿名": ["不具名"]},
    "elderly_tier": {"80-89岁": ["80～89岁", "80至89岁"], "90-99岁": ["90～99岁", "90至99岁"],
                     "100岁以上": ["百岁以上", "100岁及以上"]},
    "elderly_status": {"正常": ["发放中"], "暂停": ["停发"], "终止": ["已终止"]},
    "child_status": {"在册": ["正常"], "退出": ["已退出"]},
}  # fmt: skip
SPELLINGS = [
    (enum, canonical, raw)
    for enum, table in SPEC_ENUMS.items()
    for canonical, synonyms in table.items()
    for raw in [canonical, *synonyms]
]
QUALIFIERS = st.sampled_from(["城市", "农村", "城镇", "含", " 城市 "])


@st.composite
def dirty_enum(draw: st.DrawFn, raw: str) -> str:
    text = raw
    if draw(st.booleans()):
        text = insert(draw, text, spaces, most=2)
    if draw(st.booleans()):
        left, right = draw(BRACKETS)
        text += draw(maybe_spaces) + left + draw(QUALIFIERS) + right
    return draw(maybe_spaces) + text + draw(maybe_spaces)


@PROPS
@given(st.lists(st.sampled_from(SPELLINGS), min_size=1, max_size=10), st.data())
def test_every_synonym_with_spaces_and_a_qualifier_is_its_canonical(picks, data) -> None:
    for enum in {e for e, _, _ in picks}:
        mine = [(c, raw) for e, c, raw in picks if e == enum]
        delivered = [data.draw(dirty_enum(raw)) for _, raw in mine]
        assert canon.enum(delivered, enum).to_pylist() == [c for c, _ in mine], delivered


@PROPS
@given(st.sampled_from(sorted(SPEC_ENUMS)), st.sampled_from(SPELLINGS), st.data())
def test_a_spelling_of_another_enum_is_no_value(enum, pick, data) -> None:
    _, _, raw = pick
    mine = {r for c, syn in SPEC_ENUMS[enum].items() for r in [c, *syn]}
    if raw in mine:
        return
    assert canon.enum([data.draw(dirty_enum(raw))], enum).to_pylist() == [None]


# --- the same dirt through the clean gate (distinct values, then back to rows) -------------


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(areas, births, seqs, name_parts), min_size=1, max_size=12), st.data())
def test_the_gate_cleans_combined_dirt_as_the_canonicalisers_do(people, data) -> None:
    from datetime import UTC, datetime

    import pyarrow as pa

    from civlake.clean.frame import clean_delivery
    from civlake.contracts import get_contract
    from tests.support.bronze import bronze_rows

    # GIVEN a hukou month whose rows repeat people with different dirt (the gate
    # canonicalises each distinct delivered value once and takes it back to the rows)
    rows, want = [], []
    for area, born, seq, parts in people + people:
        good = citizen_id(area, born.strftime("%Y%m%d"), seq)
        name, _ = data.draw(dirty_name(parts))
        sex = data.draw(st.sampled_from(sorted(SEX)))
        rows.append({"id_number": data.draw(dirty_id(good)), "name": name, "sex": sex,
                     "birth_date": data.draw(dirty_date(born)) if born.year > 1927 else str(born),
                     "person_status": data.draw(dirty_enum(data.draw(st.sampled_from(["正常", "已死亡"]))))})  # fmt: skip
        want.append((good, "·".join(parts), SEX[sex], born))
    bronze = bronze_rows("hukou_population", rows, delivery_id="d1")
    # WHEN the gate cleans it
    out = clean_delivery(
        get_contract("hukou_population"),
        bronze,
        divmap=pa.table({"code": pa.array([], pa.string()), "current": pa.array([], pa.string())}),
        now=datetime(2026, 11, 2, tzinfo=UTC),
    )
    # THEN every row is in silver with the values the spec names
    assert len(out.quarantine) == 0, out.quarantine.to_pylist()[:1]
    got = sorted(out.silver.to_pylist(), key=lambda r: r["_source_row"])
    assert [(r["id_number"], r["name"], r["sex"], r["birth_date"]) for r in got] == want
    assert {r["id_number_status"] for r in got} <= {"valid", "normalized"}
