"""Delta Sharing profile files: what an agency's stock client needs to reach its share.

``civlake agency create|rotate --profile FILE`` writes one next to printing the key: the
endpoint (``<server>/delta-sharing``), the new key as bearer token and the key's expiry.
The file holds a live key, so it is written 0600 (through a private temporary file and a
rename: never world-readable, not even for a moment) and handed over like the key.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from civlake.agency.store import AgencyError, load_agencies
from civlake.settings import Settings

SHARING_PATH = "/delta-sharing"
# Where `civlake serve` listens unless told otherwise (its --host/--port defaults).
DEFAULT_SERVER = "http://127.0.0.1:8000"


def sharing_endpoint(settings: Settings, server: str | None = None) -> str:
    """The profile's endpoint: ``--endpoint``, else CIVLAKE_PUBLIC_URL, else the default
    address of ``civlake serve``; a URL that already ends in /delta-sharing is kept."""
    base = (server or settings.public_url or DEFAULT_SERVER).strip().rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise AgencyError(f"--endpoint {base!r}: give the server's URL, e.g. https://data.example")
    return base if base.endswith(SHARING_PATH) else base + SHARING_PATH


def profile(settings: Settings, key: str, *, server: str | None = None) -> dict:
    """The profile for ``key`` (as ``create_agency``/``rotate_key`` returned it)."""
    key_id = key.split("_")[1]
    agency = load_agencies(settings)[key_id]
    # A key is valid through its expiry date (UTC, inclusive): it ends at the next midnight.
    ends = datetime.combine(agency.expires + timedelta(days=1), time(), tzinfo=UTC)
    return {
        "shareCredentialsVersion": 1,
        "endpoint": sharing_endpoint(settings, server),
        "bearerToken": key,
        "expirationTime": ends.isoformat().replace("+00:00", "Z"),
    }


def write_profile(path: Path, content: dict) -> None:
    path = path.expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(content, fh, indent=2)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
