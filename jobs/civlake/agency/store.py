"""Agency register: names, grants, expiry and a hash of each API key.

The key is shown once, at creation, and only its sha256 is stored: keys are 256-bit
random tokens, so a fast hash is as safe as a slow one here (no dictionary to try),
and lookups stay cheap on every request. The key carries a short public id so the
server finds the row without comparing against every hash. The register is one JSON
file under ``<home>/state``, replaced atomically; ``serve`` rereads it when it changes,
so an agency created while the server runs works at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from civlake.publish.catalog import VERIFY_QUESTIONS, load_catalog
from civlake.settings import Settings

KEY_PREFIX = "clk"
_KEY = re.compile(r"^clk_([0-9a-f]{12})_([A-Za-z0-9_\-]{43})$")
_AGENCY_NAME = re.compile(r"^[\w\u4e00-\u9fff·()（）\-]{2,64}$")


class AgencyError(ValueError):
    """An agency cannot be created as asked; the message says why."""


@dataclass(frozen=True)
class Agency:
    name: str
    key_id: str
    key_sha256: str
    grants: tuple[str, ...]
    expires: date | None
    created_at: str

    def is_expired(self, today: date) -> bool:
        # A key is valid through its expiry date (inclusive), in UTC.
        return self.expires is not None and today > self.expires

    def has_grant(self, grant: str) -> bool:
        return grant in self.grants


def register_path(settings: Settings) -> Path:
    return settings.state_dir / "agencies.json"


def create_agency(
    settings: Settings,
    name: str,
    grants: list[str] | tuple[str, ...],
    expires: str | date | None,
    *,
    now: datetime | None = None,
) -> str:
    """Register ``name`` with ``grants`` (dataset names or ``verify:<question>``); return its key.

    The key is returned once and never stored; lose it and create a new agency.
    """
    if not _AGENCY_NAME.match(name or ""):
        raise AgencyError(f"agency name {name!r}: use 2-64 letters, digits, Chinese, - or _")
    expiry = _parse_expiry(expires)
    _check_grants(grants)
    agencies = load_agencies(settings)
    if any(a.name == name for a in agencies.values()):
        raise AgencyError(f"agency {name!r} already exists; choose another name")
    key_id = secrets.token_hex(6)
    key = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    created = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    agencies[key_id] = Agency(
        name=name,
        key_id=key_id,
        key_sha256=hashlib.sha256(key.encode()).hexdigest(),
        grants=tuple(dict.fromkeys(grants)),
        expires=expiry,
        created_at=created,
    )
    _save(settings, agencies)
    return key


def authenticate(agencies: dict[str, Agency], key: str) -> Agency | None:
    """The agency owning ``key``, or None; constant-time on the hash comparison."""
    m = _KEY.match(key or "")
    if not m:
        return None
    agency = agencies.get(m.group(1))
    digest = hashlib.sha256(key.encode()).hexdigest()
    if agency is None or not hmac.compare_digest(agency.key_sha256, digest):
        return None
    return agency


def load_agencies(settings: Settings) -> dict[str, Agency]:
    path = register_path(settings)
    if not path.is_file():
        return {}
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {
        a["key_id"]: Agency(
            name=a["name"],
            key_id=a["key_id"],
            key_sha256=a["key_sha256"],
            grants=tuple(a["grants"]),
            expires=date.fromisoformat(a["expires"]) if a.get("expires") else None,
            created_at=a["created_at"],
        )
        for a in raw.get("agencies", [])
    }


def _save(settings: Settings, agencies: dict[str, Agency]) -> None:
    path = register_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            "name": a.name,
            "key_id": a.key_id,
            "key_sha256": a.key_sha256,
            "grants": list(a.grants),
            "expires": a.expires.isoformat() if a.expires else None,
            "created_at": a.created_at,
        }
        for a in agencies.values()
    ]
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"agencies": rows}, ensure_ascii=False, indent=2), "utf-8")
    os.chmod(tmp, 0o600)  # hashes only, but no reason for other users to read grants
    tmp.replace(path)


def _parse_expiry(expires: str | date | None) -> date | None:
    if expires is None or expires == "":
        return None
    if isinstance(expires, date):
        return expires
    try:
        return date.fromisoformat(expires)
    except ValueError as exc:
        raise AgencyError(f"--expires {expires!r} is not a date; use YYYY-MM-DD") from exc


def _check_grants(grants) -> None:
    if not grants:
        raise AgencyError("give at least one --grant DATASET or --grant verify:<question>")
    catalog = load_catalog()
    for grant in grants:
        if grant.startswith("verify:"):
            if grant.removeprefix("verify:") not in VERIFY_QUESTIONS:
                raise AgencyError(
                    f"grant {grant!r}: unknown question; use one of "
                    + ", ".join(f"verify:{q}" for q in VERIFY_QUESTIONS)
                )
        elif grant not in catalog:
            raise AgencyError(
                f"grant {grant!r}: no such dataset in catalog/; known: {', '.join(catalog)}"
            )
        elif catalog[grant].is_open:
            raise AgencyError(f"grant {grant!r}: {grant} is 无条件开放, anyone may download it")
