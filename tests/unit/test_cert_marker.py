"""残疾人证号 = citizen ID + category digit + grade digit: the ID is cut out of the number
only after its dirt is gone (a leading text marker ' once took the ID's first digit)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from civlake.clean.frame import clean_delivery
from civlake.contracts import get_contract
from civlake.identifiers import id_check_char
from tests.support import scalar
from tests.support.bronze import bronze_rows

NOW = datetime(2026, 11, 2, tzinfo=UTC)
PRODUCED = date(2026, 11, 1)
DIVMAP = pa.table({"code": ["440106000000"], "current": ["440106000000"]})
MARKERS = ["'", "\u2019", "\u2018", "`"]
SPACES = [" ", "\u00a0", "\u3000"]
HYPHENS = ["-", "\u2010", "\u2014", "\uff0d"]


@st.composite
def citizen_ids(draw) -> str:
    area = draw(st.sampled_from(["440106", "440104", "440111", "110101", "310115"]))
    born = draw(st.dates(date(1900, 1, 1), PRODUCED - timedelta(days=1)))
    seq = draw(st.from_regex(r"[0-9]{3}", fullmatch=True))
    body = area + born.strftime("%Y%m%d") + seq
    return body + id_check_char(body)


@st.composite
def dirty(draw, clean: str) -> str:
    """``clean`` as a register might send it: a text marker in front, spaces and hyphens
    inside, some digits full-width, the check X in lower case."""
    out = []
    for ch in clean:
        if ch.isdigit() and draw(st.booleans()):
            ch = chr(ord(ch) + 0xFEE0)  # full-width digit
        elif ch == "X" and draw(st.booleans()):
            ch = "x"
        out.append(ch)
        if draw(st.integers(0, 5)) == 0:
            out.append(draw(st.sampled_from(SPACES + HYPHENS)))
    marker = draw(st.sampled_from(["", *MARKERS]))
    return marker + "".join(out) + draw(st.sampled_from(["", *SPACES]))


@st.composite
def certs(draw) -> tuple[str, str, str]:
    """(delivered cert number, its ID, the cert number clean)."""
    cid = draw(citizen_ids())
    clean = cid + str(draw(st.integers(1, 7))) + str(draw(st.integers(1, 4)))
    return draw(st.one_of(st.just(clean), dirty(clean))), cid, clean


def _clean(certs_delivered: list[str]) -> dict[int, dict]:
    rows = [
        {"cert_no": c, "name": "周杰", "disability_category": "肢体", "disability_grade": "二级",
         "cert_status": "有效"}
        for c in certs_delivered
    ]  # fmt: skip
    out = clean_delivery(
        get_contract("disability_certs"),
        bronze_rows("disability_certs", rows, delivery_id="d1"),
        divmap=DIVMAP,
        now=NOW,
    )
    assert len(out.quarantine) == 0, out.quarantine.to_pylist()
    return {r["_source_row"]: r for r in out.silver.to_pylist()}


@settings(max_examples=15, deadline=None)
@given(st.lists(certs(), min_size=1, max_size=30))
def test_the_id_is_cut_after_markers_spaces_hyphens_and_width_are_gone(cases) -> None:
    silver = _clean([delivered for delivered, _, _ in cases])
    for i, (delivered, cid, clean) in enumerate(cases, start=1):
        row = silver[i]
        assert (row["cert_no"], row["id_number"]) == (clean, cid), delivered
        assert row["id_number_status"] == ("valid" if delivered == clean else "normalized")
        # the scalar oracle reads it the same way
        assert scalar.disability_cert(delivered, PRODUCED) == (
            row["cert_no"], row["id_number"], row["id_number_status"],
        )  # fmt: skip


@settings(max_examples=10, deadline=None)
@given(st.lists(certs(), min_size=1, max_size=20))
def test_a_legacy_fifteen_digit_id_plus_two_digits_is_upgraded(cases) -> None:
    """15-digit form: drop the century and the check char; cert = those 15 + 2 digits."""
    legacy = []
    for _, cid, clean in cases:
        if cid[6:8] != "19":
            continue
        legacy.append((cid[:6] + cid[8:17] + clean[-2:], cid))
    if not legacy:
        return
    silver = _clean([cert for cert, _ in legacy])
    for i, (cert, cid) in enumerate(legacy, start=1):
        assert (silver[i]["cert_no"], silver[i]["id_number"]) == (cert, cid)
        assert silver[i]["id_number_status"] == "upgraded_15"
        assert scalar.disability_cert(cert, PRODUCED) == (cert, cid, "upgraded_15")


def test_known_answer_leading_apostrophe() -> None:
    cid = "44010619500101123" + id_check_char("44010619500101123")
    silver = _clean([f"'{cid}41", f"\u2019{cid[:6]} {cid[6:]}-41", f"`{cid}41\u3000"])
    assert [(r["id_number"], r["id_number_status"]) for r in silver.values()] == [
        (cid, "normalized")
    ] * 3
