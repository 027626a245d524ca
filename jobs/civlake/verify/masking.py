"""Masked citizen IDs for worklists: staff recognise a person by the first six digits
(registration area) and the last four, which is what 政务 lists customarily show."""

from __future__ import annotations


def mask_id(id_number: str | None) -> str:
    """``440106199001011234`` -> ``440106********1234``; short or blank values -> ``''``.

    Anything shorter than 11 characters is masked entirely: with fewer than one hidden
    digit in the middle the mask would reveal the number.
    """
    if not id_number:
        return ""
    value = id_number.strip()
    if len(value) < 11:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]
