"""What a grant says, in one place: its syntax, its validation, and the rows it covers.

A grant is one string, stored as written here (canonical) in the register:

* ``<dataset>`` — every row of a shared (有条件共享) dataset;
* ``<dataset>@<division>`` — only the rows whose division column (the catalog entry's
  ``division_field``) starts with ``<division>``: a district (``440106``) or a street
  (``440106001``). The 12-digit form is accepted and shortened (``440106000000`` means
  the district 440106, ``440106001000`` the street 440106001). 数据属地回流: a district
  office gets its own residents back;
* ``verify:<question>`` — may ask that verification question;
* ``review:<district>`` — may record caseworker decisions on findings of that district;
* ``worklist:<district>`` — may download that district's worklists.

``review:`` and ``worklist:`` take a district only (6 digits, or 12 ending in six
zeros): worklists are filed per district.

Rows an agency sees of a dataset (``row_scopes``): all of them when it holds the
dataset unscoped (an unscoped grant wins over any scoped one: it already covers them);
otherwise the union of its scoped grants' divisions, with a street dropped when its
district is also granted. No grant at all covers no rows (an empty tuple, never None),
so a caller that forgot to check the grant first still leaks nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from civlake.publish.catalog import Dataset

VERIFY, REVIEW, WORKLIST = "verify", "review", "worklist"
DISTRICT_KINDS = (REVIEW, WORKLIST)
_DATASET = re.compile(r"^[a-z][a-z0-9_]{1,62}$")
_DIGITS = re.compile(r"^[0-9]+$")


class GrantError(ValueError):
    """A grant string that cannot be granted; the message says why and what to write."""


@dataclass(frozen=True)
class Grant:
    """One parsed grant. ``kind`` is ``dataset``, ``verify``, ``review`` or ``worklist``."""

    kind: str
    target: str  # dataset name, question, or district code
    division: str | None = None  # a dataset grant's row scope (6 or 9 digits), None = all

    def __str__(self) -> str:
        if self.kind == "dataset":
            return f"{self.target}@{self.division}" if self.division else self.target
        return f"{self.kind}:{self.target}"


def division_prefix(code: str, *, what: str = "division") -> str:
    """The code prefix a division code stands for: ``440106`` (district) or ``440106001``
    (street). Accepts 6, 9 or 12 digits; a 12-digit code loses its zero tail.

    Refused: anything but digits, a city or province (``440100``: grant the dataset
    unscoped instead), a village (12 digits not ending in ``000``), a street ``000``.
    """
    code = code.strip()
    if not _DIGITS.match(code) or len(code) not in (6, 9, 12):
        raise GrantError(
            f"{what} {code[:20]!r} is not a division code: use the 6-digit district code "
            "(440106), the 9-digit street code (440106001) or the 12-digit form (440106000000)"
        )
    full = code.ljust(12, "0")
    if full[4:6] == "00":
        raise GrantError(
            f"{what} {code} is a city or province, not a district: grant the dataset "
            "without @ for all its rows, or name a district (e.g. 440106)"
        )
    if full[9:] != "000":
        raise GrantError(
            f"{what} {code} is a village or community: scope a grant to a district "
            f"({full[:6]}) or a street ({full[:9]})"
        )
    return full[:6] if full[6:9] == "000" else full[:9]


def district_code(code: str, *, what: str = "district") -> str:
    """A district's 6 digits, from 6 digits or 12 ending in six zeros; else ``GrantError``."""
    code = code.strip()
    if len(code) == 12 and code.endswith("000000"):
        code = code[:6]
    if len(code) != 6 or not _DIGITS.match(code):
        raise GrantError(
            f"{what} {code[:20]!r} is not a district code: use 6 digits (440106) or the "
            "12-digit form ending in six zeros (440106000000)"
        )
    return division_prefix(code, what=what)


def parse_grant(text: str) -> Grant:
    """Parse the syntax of one grant (no catalog needed); ``GrantError`` if malformed."""
    text = (text or "").strip()
    kind, colon, rest = text.partition(":")
    if colon:
        if kind == VERIFY:
            if not _DATASET.match(rest):
                raise GrantError(f"grant {text!r}: verify:<question>, e.g. verify:is_alive")
            return Grant(VERIFY, rest)
        if kind in DISTRICT_KINDS:
            return Grant(kind, district_code(rest, what=f"grant {text!r}: district"))
        raise GrantError(
            f"grant {text!r}: unknown kind {kind!r}; use a dataset name, <dataset>@<division>, "
            "verify:<question>, review:<district> or worklist:<district>"
        )
    name, at, division = text.partition("@")
    if not _DATASET.match(name):
        raise GrantError(f"grant {text!r}: not a dataset name (snake_case, as in catalog/)")
    if at:
        return Grant("dataset", name, division_prefix(division, what=f"grant {text!r}: division"))
    return Grant("dataset", name)


def validate_grant(text: str, catalog: Mapping[str, Dataset], questions: Iterable[str]) -> str:
    """``text`` checked against the catalog and the verification questions; the canonical
    string to store. ``GrantError`` names what is wrong and what to write instead."""
    grant = parse_grant(text)
    if grant.kind == VERIFY:
        questions = tuple(questions)
        if grant.target not in questions:
            raise GrantError(
                f"grant {text!r}: unknown question; use one of "
                + ", ".join(f"verify:{q}" for q in questions)
            )
        return str(grant)
    if grant.kind != "dataset":
        return str(grant)
    ds = catalog.get(grant.target)
    if ds is None:
        raise GrantError(
            f"grant {text!r}: no such dataset in catalog/; known: {', '.join(catalog)}"
        )
    if ds.is_open:
        raise GrantError(f"grant {text!r}: {ds.name} is 无条件开放, anyone may download it")
    if grant.division is not None:
        if not ds.is_person_level or not ds.division_field:
            raise GrantError(
                f"grant {text!r}: {ds.name} has no division column to scope by "
                f"(catalog/{ds.name}.yaml names no division_field); grant it without @"
            )
        coverage = ds.spatial_coverage["code"].rstrip("0")
        if not grant.division.startswith(coverage):
            raise GrantError(
                f"grant {text!r}: {grant.division} lies outside {ds.name}'s coverage "
                f"{ds.spatial_coverage['name']} ({ds.spatial_coverage['code']})"
            )
    return str(grant)


def district_grants(district: str, catalog: Mapping[str, Dataset]) -> list[str]:
    """What ``agency create --district D`` grants a district office: every person-level
    dataset with a division column scoped to D, and D's reviews and worklists."""
    code = district_code(district, what="--district")
    scoped = [
        f"{ds.name}@{code}" for ds in catalog.values() if ds.is_person_level and ds.division_field
    ]
    return [*scoped, f"{REVIEW}:{code}", f"{WORKLIST}:{code}"]


def holds(grants: Iterable[str], wanted: str) -> bool:
    """Whether ``grants`` allow ``wanted``: a dataset name is held scoped or not; any other
    grant (``verify:q``, ``review:440106``) must be held as written (canonically)."""
    try:
        want = parse_grant(wanted)
    except GrantError:
        return False
    for grant in _parsed(grants):
        if want.kind == "dataset" and want.division is None:
            if grant.kind == "dataset" and grant.target == want.target:
                return True
        elif grant == want:
            return True
    return False


def dataset_names(grants: Iterable[str]) -> list[str]:
    """The datasets ``grants`` cover (scoped or not), each once, in grant order."""
    return list(dict.fromkeys(g.target for g in _parsed(grants) if g.kind == "dataset"))


def row_scopes(grants: Iterable[str], dataset: str) -> tuple[str, ...] | None:
    """Division prefixes of ``dataset`` that ``grants`` cover: None = all rows, ``()`` =
    none (no grant), else sorted prefixes without one inside another (module doc)."""
    prefixes: set[str] = set()
    for grant in _parsed(grants):
        if grant.kind == "dataset" and grant.target == dataset:
            if grant.division is None:
                return None
            prefixes.add(grant.division)
    return tuple(
        sorted(p for p in prefixes if not any(p != q and p.startswith(q) for q in prefixes))
    )


def _parsed(grants: Iterable[str]) -> Iterable[Grant]:
    for text in grants:
        try:
            yield parse_grant(text)
        except GrantError:
            # Written before this syntax (or by hand): it grants nothing rather than
            # failing every request of the agency.
            continue
