"""What an agency's share holds, and its tables' versions in time.

The share lists every catalogued dataset the agency holds a grant for (whole or
district-scoped) that has at least one published version. Open datasets (无条件开放)
are downloads for anyone and are not in shares. Versions are the published ones; a
version's time is its ``published_at``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from civlake.agency.store import Agency
from civlake.publish.catalog import Dataset
from civlake.publish.versions import list_versions, read_manifest
from civlake.serve.directory import Directory
from civlake.serve.sharing.errors import SharingError
from civlake.serve.sharing.files import SharedFiles
from civlake.serve.sharing.signing import load_sharing_secret
from civlake.settings import Settings

FETCHES_REMEMBERED = 10_000


@dataclass
class Sharing:
    settings: Settings
    directory: Directory
    files: SharedFiles = field(init=False)
    _secret: bytes | None = field(default=None, init=False, repr=False)
    _fetched: OrderedDict[str, None] = field(default_factory=OrderedDict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self.files = SharedFiles(self.settings.publish, self.settings.state_dir / "sharing")

    @property
    def secret(self) -> bytes:
        if self._secret is None:
            self._secret = load_sharing_secret(self.settings)
        return self._secret

    def first_fetch(self, token: str) -> bool:
        """True the first time this process sees a file URL fetched from its start.

        A reader fetches one file several times (size, footer, whole file; pyarrow over
        fsspec makes three to four requests a file): its rows count once in the audit,
        so per-dataset download figures are rows that left, not requests. Remembered for
        the last FETCHES_REMEMBERED URLs (ample for URLs living 15 minutes); with several
        server processes a URL may count once in each.
        """
        with self._lock:
            if token in self._fetched:
                return False
            self._fetched[token] = None
            if len(self._fetched) > FETCHES_REMEMBERED:
                self._fetched.popitem(last=False)
            return True

    def tables(self, agency: Agency) -> list[Dataset]:
        return [
            ds
            for name, ds in sorted(self.directory.catalog.items())
            if not ds.is_open and agency.has_grant(name) and self.versions(ds)
        ]

    def versions(self, ds: Dataset) -> list[int]:
        return list_versions(self.settings.publish, ds.name)

    def published_at(self, ds: Dataset, version: int) -> datetime:
        stamp = read_manifest(self.settings.publish, ds.name, version)["published_at"]
        return parse_timestamp(stamp, "published_at")

    def version_as_of(self, ds: Dataset, when: datetime) -> int:
        """The version current at ``when``: the last one published at or before it."""
        found = [v for v in self.versions(ds) if self.published_at(ds, v) <= when]
        if not found:
            first = self.published_at(ds, self.versions(ds)[0]).isoformat()
            raise SharingError(
                400, f"{ds.name} was first published at {first}, after {when.isoformat()}"
            )
        return found[-1]

    def version_since(self, ds: Dataset, when: datetime) -> int:
        """The first version published at or after ``when``."""
        found = [v for v in self.versions(ds) if self.published_at(ds, v) >= when]
        if not found:
            raise SharingError(
                400, f"{ds.name} has no version published at or after {when.isoformat()}"
            )
        return found[0]

    def timestamp_ms(self, ds: Dataset, version: int) -> int:
        return int(self.published_at(ds, version).timestamp() * 1000)


def parse_timestamp(text: str, name: str) -> datetime:
    """An ISO 8601 time (the protocol sends UTC, ``2026-11-01T00:00:00Z``); naive = UTC."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise SharingError(
            400, f"{name} {text[:40]!r} is not an ISO 8601 time such as 2026-11-01T00:00:00Z"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)
