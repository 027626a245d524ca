"""``civlake agency list | revoke | rotate`` (``create`` is in civlake.cli).

``list`` shows what a reviewer needs to decide on renewals and revocations (who, which
key id, which grants, since and until when, status) and never a key or its hash: the
output ends up in tickets and terminals' scrollback. A grant scoped to a division shows
as written (``deaths_registry@440106``); ``--json`` adds ``scopes``: per dataset, the
division prefixes whose rows the agency sees, or ``"all"``. ``rotate`` prints the new key
once, alone on its own line, as ``create`` does, so scripts can take the last line.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from civlake.agency.grants import dataset_names
from civlake.agency.store import Agency, load_agencies, revoke, rotate_key
from civlake.settings import Settings, load_settings


def run(args, console: Console) -> int:
    """Dispatch ``args.agency_command``; errors are ``AgencyError`` (a ValueError)."""
    settings = load_settings()
    now = datetime.now(UTC)
    commands = {"list": _list, "revoke": _revoke, "rotate": _rotate}
    return commands[args.agency_command](args, console, settings, now)


def list_rows(settings: Settings, today: date) -> list[dict]:
    """One row per key ever issued, oldest first within an agency."""
    return [
        {
            "name": a.name,
            "key_id": a.key_id,
            "grants": list(a.grants),
            "scopes": _scopes(a),
            "created": a.created_at,
            "expires": a.expires.isoformat(),
            "status": a.status(today),
            "revoked": a.revoked_at,
        }
        for a in load_agencies(settings).values()
    ]


def _scopes(agency: Agency) -> dict[str, str | list[str]]:
    scopes = {name: agency.row_scopes(name) for name in dataset_names(agency.grants)}
    return {name: "all" if s is None else list(s) for name, s in scopes.items()}


def _list(args, console: Console, settings: Settings, now: datetime) -> int:
    rows = list_rows(settings, now.date())
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        console.print("No agencies yet: civlake agency create NAME --grant DATASET")
        return 0
    table = Table("name", "key id", "grants", "created", "expires", "status")
    colour = {"active": "green", "expired": "yellow", "revoked": "red"}
    for r in rows:
        status = r["status"] + (f" {r['revoked'][:10]}" if r["revoked"] else "")
        table.add_row(
            r["name"], r["key_id"], ", ".join(r["grants"]), r["created"][:10], r["expires"],
            f"[{colour[r['status']]}]{status}[/]",
        )  # fmt: skip
    console.print(table)
    return 0


def _revoke(args, console: Console, settings: Settings, now: datetime) -> int:
    revoked = revoke(settings, args.target, now=now)
    if not revoked:
        console.print(f"Nothing to revoke: the keys of {args.target!r} were already revoked.")
    else:
        console.print(
            f"Revoked {', '.join(revoked)} ({args.target}): refused from the next request on."
        )
    return 0


def _rotate(args, console: Console, settings: Settings, now: datetime) -> int:
    key = rotate_key(settings, args.name, expires=args.expires, grace_days=args.grace_days, now=now)
    if args.grace_days:
        until = now.date() + timedelta(days=args.grace_days)
        old = f"its old key keeps working at most through {until.isoformat()} (UTC)"
    else:
        old = "its old key is refused from the next request on"
    if args.profile:
        save_profile(args, settings, key, console)
    console.print(f"New key for {args.name!r} ({old}); shown once, only a hash is stored:")
    print(key)
    return 0


def save_profile(args, settings: Settings, key: str, console: Console) -> None:
    """``--profile FILE``: the Delta Sharing profile for ``key`` (``agency.profile``)."""
    from civlake.agency.profile import profile, write_profile

    write_profile(Path(args.profile), profile(settings, key, server=args.endpoint))
    console.print(
        f"Delta Sharing profile written to {args.profile} (mode 0600): it holds the key, "
        "hand it over as you would the key."
    )
