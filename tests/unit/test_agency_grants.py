"""Grant syntax (civlake.agency.grants), the rows a grant covers, and the one row filter
(civlake.publish.scope) on real catalog entries."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as pads
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from civlake.agency import Agency
from civlake.agency.grants import (
    GrantError,
    district_code,
    district_grants,
    division_prefix,
    holds,
    parse_grant,
    row_scopes,
    validate_grant,
)
from civlake.publish.catalog import CATALOG_DIR, VERIFY_QUESTIONS, CatalogError, load_catalog
from civlake.publish.scope import (
    filter_batches,
    filter_rows,
    scope_expression,
    scope_label,
)

CATALOG = load_catalog()
RECIPIENTS = CATALOG["assistance_recipients_current"]

district = st.builds(lambda a, b: a + b, st.sampled_from(["4401", "4403", "1101"]),
                     st.integers(1, 99).map(lambda n: f"{n:02d}"))  # fmt: skip
street = st.builds(lambda d, s: d + f"{s:03d}", district, st.integers(1, 999))


def _agency(*grants: str) -> Agency:
    return Agency("某区民政局", "0123456789ab", "0" * 64, grants, date(2030, 1, 1), "2026-11-01")


def test_canonical_forms() -> None:
    check = lambda g: validate_grant(g, CATALOG, VERIFY_QUESTIONS)  # noqa: E731
    assert check("assistance_recipients_current") == "assistance_recipients_current"
    assert (
        check("assistance_recipients_current@440106000000")
        == "assistance_recipients_current@440106"
    )
    assert check("deaths_registry@440106001000") == "deaths_registry@440106001"
    assert check("deaths_registry@440106001") == "deaths_registry@440106001"
    assert check("verify:is_alive") == "verify:is_alive"
    assert check("review:440106000000") == "review:440106"
    assert check("worklist:440106") == "worklist:440106"


@pytest.mark.parametrize(
    ("grant", "says"),
    [("assistance_recipients_current@4401", "not a division code"),
     ("assistance_recipients_current@44010x", "not a division code"),
     ("assistance_recipients_current@440100", "city or province"),
     ("assistance_recipients_current@440106001002", "village"),
     ("assistance_recipients_current@110105", "outside"),
     ("assistance_statistics@440106", "无条件开放"),
     ("assistance_statistics", "无条件开放"),
     ("no_such_dataset@440106", "no such dataset"),
     ("verify:is_rich", "unknown question"),
     ("review:440106001", "not a district code"),
     ("worklist:440106001000", "not a district code"),
     ("worklist:440100", "city or province"),
     ("download:440106", "unknown kind"),
     ("Deaths registry", "not a dataset name")],
)  # fmt: skip
def test_refusals_say_what_is_wrong(grant: str, says: str) -> None:
    with pytest.raises(GrantError, match=says):
        validate_grant(grant, CATALOG, VERIFY_QUESTIONS)


def test_a_dataset_without_division_column_cannot_be_granted_scoped(tmp_path: Path) -> None:
    raw = yaml.safe_load((CATALOG_DIR / "deaths_registry.yaml").read_text("utf-8"))
    raw.pop("division_field")
    (tmp_path / "deaths_registry.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True))
    catalog = load_catalog(tmp_path)
    assert validate_grant("deaths_registry", catalog, ()) == "deaths_registry"
    with pytest.raises(GrantError, match="no division_field"):
        validate_grant("deaths_registry@440106", catalog, ())
    assert district_grants("440106", catalog) == ["review:440106", "worklist:440106"]


def test_catalog_refuses_a_division_field_that_is_no_string_field(tmp_path: Path) -> None:
    raw = yaml.safe_load((CATALOG_DIR / "deaths_registry.yaml").read_text("utf-8"))
    (tmp_path / "deaths_registry.yaml").write_text(
        yaml.safe_dump(raw | {"division_field": "death_date"}, allow_unicode=True)
    )
    with pytest.raises(CatalogError, match="division_field 'death_date'"):
        load_catalog(tmp_path)


def test_district_office_gets_every_person_dataset_scoped() -> None:
    person = sorted(ds.name for ds in CATALOG.values() if ds.is_person_level)
    assert person and all(CATALOG[n].division_field for n in person)
    assert district_grants("440106000000", CATALOG) == [
        *(f"{n}@440106" for n in person),
        "review:440106",
        "worklist:440106",
    ]
    with pytest.raises(GrantError, match="--district"):
        district_grants("440106001", CATALOG)


@given(district, st.sampled_from(["", "000000"]))
def test_a_district_in_either_form_is_its_six_digits(code: str, tail: str) -> None:
    assert division_prefix(code + tail) == code
    assert district_code(code + tail) == code
    assert parse_grant(f"review:{code}{tail}") == parse_grant(f"review:{code}")


@given(street, st.sampled_from(["", "000"]))
def test_a_street_in_either_form_is_its_nine_digits(code: str, tail: str) -> None:
    assert division_prefix(code + tail) == code
    with pytest.raises(GrantError):
        district_code(code + tail)


@given(st.text(max_size=14))
def test_the_parser_never_crashes_and_accepts_only_digits(code: str) -> None:
    try:
        prefix = division_prefix(code)
    except GrantError:
        return
    assert prefix.isascii() and prefix.isdigit() and len(prefix) in (6, 9)
    assert code.strip().startswith(prefix)


def test_holding_and_scopes() -> None:
    a = _agency("deaths_registry@440106", "deaths_registry@440106001", "review:440106",
                "verify:is_alive", "assistance_recipients_current")  # fmt: skip
    assert a.has_grant("deaths_registry") and a.has_grant("assistance_recipients_current")
    assert a.has_grant("review:440106000000") and not a.has_grant("review:440104")
    assert not a.has_grant("worklist:440106") and not a.has_grant("verify:is_married")
    # a street inside a granted district adds nothing; an unscoped grant covers all rows
    assert a.row_scopes("deaths_registry") == ("440106",) and a.row_scope("deaths_registry")
    assert a.row_scopes("assistance_recipients_current") is None
    assert a.row_scope("assistance_recipients_current") is None
    # no grant covers no row (an empty tuple, never None)
    assert _agency("verify:is_alive").row_scopes("deaths_registry") == ()
    both = _agency("deaths_registry@440106", "deaths_registry@440104", "deaths_registry")
    assert both.row_scopes("deaths_registry") is None
    two = _agency("deaths_registry@440106", "deaths_registry@440104")
    assert two.row_scopes("deaths_registry") == ("440104", "440106")
    with pytest.raises(ValueError, match="row_scopes"):
        two.row_scope("deaths_registry")
    # an unparseable stored grant grants nothing rather than failing the agency
    assert not holds(["deaths registry"], "deaths_registry")
    assert row_scopes(["deaths registry", "deaths_registry@440104"], "deaths_registry") == (
        "440104",
    )


division_codes = st.one_of(
    st.none(),
    st.builds(lambda d, s: d + s, st.sampled_from(["440106", "440104", "440116", "440610"]),
              st.sampled_from(["000000", "001000", "002003"])),
)  # fmt: skip
prefixes = st.lists(st.sampled_from(["440106", "440104", "440106001", "4406"]), max_size=3)


@given(st.lists(division_codes, max_size=40), prefixes)
def test_filter_keeps_exactly_the_rows_under_a_prefix(codes, scopes) -> None:
    table = pa.table({"id_number": [f"p{i}" for i in range(len(codes))],
                      "division_code": pa.array(codes, pa.string())})  # fmt: skip
    kept = filter_rows(table, RECIPIENTS, tuple(scopes))
    expected = [f"p{i}" for i, c in enumerate(codes) if c and any(c.startswith(p) for p in scopes)]
    assert kept["id_number"].to_pylist() == expected
    streamed = filter_batches(table.to_batches(max_chunksize=7), RECIPIENTS, tuple(scopes))
    assert [r["id_number"] for b in streamed for r in b.to_pylist()] == expected
    assert filter_rows(table, RECIPIENTS, None) is table
    expression = scope_expression(RECIPIENTS, tuple(scopes))
    assert pads.dataset(table).to_table(filter=expression)["id_number"].to_pylist() == expected


def test_scope_labels_for_the_audit_line() -> None:
    assert scope_label(None) == "all"
    assert scope_label(("440104", "440106")) == "440104,440106"
    assert scope_label("440106") == "440106"
    assert scope_label(()) == "none"
