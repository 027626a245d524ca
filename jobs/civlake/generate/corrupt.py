"""Citizen IDs corrupted past repair (SOURCE_FEEDS.md section 2: "a typo that breaks the
check char; birth date part impossible"), the way clerks mistype them.

Each corruption is one edit away from the true ID (a substituted digit, a wrong check
character, two adjacent characters swapped; a 15-digit legacy number with a date digit
wrong is one edit away from the true number's 15-digit form) and stays `invalid` after
normalisation: a draw that happens to give a valid ID is drawn again. About a third also
carry a repairable variant on top (full-width digits, spaces, hyphens, apostrophe,
lower-case x), as a clerk's typo survives whatever the export does after.

Applied to the ID columns a feed lists in `Table.id_corrupt_ok` or `Table.id_break_ok`:
an `invalid` ID is kept in silver, so rows stay where they are and the truth still names
the person. `dirt.py` keeps its own two fixed typos; this module runs on its own random
stream so that dirt stays row-for-row what it was.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from civlake.generate.dirt import _id
from civlake.generate.table import Table
from civlake.identifiers import id_check_char, to_15, upgrade_15

KINDS = (
    "id_date_impossible",  # a birth-date digit: month 00/13+, day 00/32+, year 18xx or 2xxx
    "id_date_wrong",  # a birth-date digit giving another real date (the check char breaks)
    "id_digit_typo",  # a digit of the division prefix (1-6) or the sequence (15-17)
    "id_check_wrong",  # only the check character
    "id_transposed",  # two adjacent, different characters swapped
    "id_15_date",  # 15-digit legacy number with an impossible birth-date digit
)
_SAFE = ("id_fullwidth", "id_spaces", "id_hyphens", "id_apostrophe")
_COMBINED = 0.35  # share of corrupted IDs that also carry a repairable variant
_EARLIEST = date(1890, 1, 1)
# Every delivery is produced by the end of 2026; a later birth date is in the future for
# all of them, an earlier one in 2026-11/12 only for some, so neither class takes it.
_LATEST_PAST, _FUTURE = date(2026, 10, 31), date(2026, 12, 31)
_DIGITS = "0123456789"


def _birth(ymd: str) -> date | None:
    try:
        return date(int(ymd[:4]), int(ymd[4:6]), int(ymd[6:8]))
    except ValueError:
        return None


def _impossible(ymd: str) -> bool:
    born = _birth(ymd)
    return born is None or born < _EARLIEST or born > _FUTURE


def _possible(ymd: str) -> bool:
    born = _birth(ymd)
    return born is not None and _EARLIEST <= born <= _LATEST_PAST


def is_invalid(value: str) -> bool:
    """GB 11643 as SOURCE_FEEDS.md section 2 reads it, on a canonical (repaired) value:
    18 characters, right check character, a real birth date no later than any delivery."""
    if len(value) == 15 and value.isdigit():
        value = upgrade_15(value)
    if len(value) != 18 or not value[:17].isdigit() or value[17] not in "0123456789X":
        return True
    if id_check_char(value[:17]) != value[17]:
        return True
    born = _birth(value[6:14])
    return born is None or born < _EARLIEST or born > _FUTURE


def _substitute(value: str, positions, keep, rng: np.random.Generator) -> str | None:
    """One digit at one of `positions` replaced, among the results `keep` accepts."""
    options = [value[:p] + d + value[p + 1 :] for p in positions for d in _DIGITS if d != value[p]]
    options = [o for o in options if keep(o)]
    return options[int(rng.integers(0, len(options)))] if options else None


def corrupt_id(value: str, kind: str, rng: np.random.Generator) -> str | None:
    """The canonical 18-char `value` corrupted by `kind` (None: the kind does not apply,
    e.g. a 15-digit number for someone born after 1999)."""
    if kind == "id_date_impossible":
        return _substitute(value, range(6, 14), lambda o: _impossible(o[6:14]), rng)
    if kind == "id_date_wrong":
        return _substitute(value, range(6, 14), lambda o: _possible(o[6:14]), rng)
    if kind == "id_digit_typo":
        return _substitute(value, [*range(0, 6), *range(14, 17)], lambda _o: True, rng)
    if kind == "id_check_wrong":
        options = [c for c in "0123456789X" if c != value[17]]
        return value[:17] + options[int(rng.integers(0, len(options)))]
    if kind == "id_transposed":
        spots = [p for p in range(17) if value[p] != value[p + 1]]
        p = spots[int(rng.integers(0, len(spots)))]
        return value[:p] + value[p + 1] + value[p] + value[p + 2 :]
    if kind == "id_15_date":
        if value[6:8] != "19":
            return None
        # yymmdd is chars 7-12 of the 15-digit form; the year stays 19yy after the upgrade,
        # so only an impossible month or day makes it invalid.
        return _substitute(to_15(value), range(6, 12), lambda o: _impossible("19" + o[6:12]), rng)
    raise ValueError(kind)


def draw(value: str, rng: np.random.Generator, *, legacy: bool = True) -> tuple[str, str] | None:
    """(corrupted value, kind), really invalid; None when no kind applies."""
    kinds = KINDS if legacy else KINDS[:-1]
    for _ in range(8):
        kind = kinds[int(rng.integers(0, len(kinds)))]
        new = corrupt_id(value, kind, rng)
        if new is not None and is_invalid(new):
            return new, kind
    return None


def corrupt(table: Table, rate: float, rng: np.random.Generator, fmt: str) -> None:
    """Corrupt about `rate` of the values of each corruptible ID column (and, in
    `disability_certs`, deliver about `rate` of the certificate numbers with a leading
    apostrophe text marker). Runs before `dirt.dirty`, which then leaves those cells."""
    if rate <= 0 or table.n == 0:
        return
    for col in sorted(table.id_corrupt_ok | table.id_break_ok):
        cert = col == "cert_no"
        for i in np.flatnonzero(rng.random(table.n) < rate).tolist():
            value = str(table.cols[col][i])
            if i in table.protect or i in table.malformed or (i, col) in table.touched:
                continue
            head = value[:18]
            if len(head) != 18 or is_invalid(head):
                continue
            got = draw(head, rng, legacy=not cert)
            if got is None:
                continue
            new, kind = got
            kinds = [kind]
            if rng.random() < _COMBINED:
                new, extra = (_cert_safe if cert else _id_safe)(new, fmt, rng)
                kinds.append(extra)
            table.cols[col][i] = new + value[18:]
            for k in kinds:
                table.add_dirt(i, k)
            table.touched.add((i, col))
    if table.feed == "disability_certs":
        for i in np.flatnonzero(rng.random(table.n) < rate).tolist():
            if i in table.protect or (i, "cert_no") in table.touched:
                continue
            if table.cols["cert_no"][i]:
                table.cols["cert_no"][i] = "'" + str(table.cols["cert_no"][i])
                table.add_dirt(i, "cert_apostrophe")
                table.touched.add((i, "cert_no"))


def _id_safe(value: str, fmt: str, rng: np.random.Generator) -> tuple[str, str]:
    options = [k for k in _SAFE if not (k == "id_spaces" and fmt == "xlsx")]
    if value.endswith("X"):
        options.append("id_lowercase_x")
    kind = options[int(rng.integers(0, len(options)))]
    return _id(value, kind, rng), kind


def _cert_safe(value: str, _fmt: str, rng: np.random.Generator) -> tuple[str, str]:
    """A repairable variant of the 18-char ID part of a certificate number."""
    options = ["cert_spaces", "cert_apostrophe"]
    options += ["cert_lowercase_x"] if value.endswith("X") else []
    kind = options[int(rng.integers(0, len(options)))]
    if kind == "cert_spaces":
        return f"{value[:6]} {value[6:]} ", kind  # then the category and grade digits
    if kind == "cert_apostrophe":
        return "'" + value, kind
    return value[:17] + "x", kind
