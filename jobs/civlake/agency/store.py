"""Agency register: names, grants, and each agency's keys (hashes only), in SQLite.

Why SQLite (``<home>/state/agencies.db``, WAL) and not a lock around the JSON file:

* every change is one transaction opened with ``BEGIN IMMEDIATE``, so two ``agency
  create`` (or a rotate racing a revoke) queue on SQLite's write lock (30 s busy
  timeout) instead of one overwriting the other; an fcntl lock on the JSON file would
  be advisory, POSIX-only, and still rewrite the whole register on every change;
* the agency name is a primary key, so "already exists" is decided inside that
  transaction, and a key's history (rotated, revoked) is rows, not a rewritten file;
* ``serve`` keeps one connection and asks ``PRAGMA data_version`` before each
  request: it changes only when another connection committed, costs a look at the WAL
  index in shared memory (no table read), and then the register is reloaded, so a
  revocation made while the server runs counts from the next request.

An ``agencies.json`` written before is imported on first open, in the transaction
that creates the tables, and renamed ``agencies.json.migrated``. Its keys without an
expiry get one 365 days after the migration: production keys expire, and nobody is
locked out by the upgrade.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from civlake.agency import grants as grant_syntax
from civlake.agency.keys import new_key
from civlake.settings import Settings

DEFAULT_VALIDITY = timedelta(days=365)
_AGENCY_NAME = re.compile(r"^[\w\u4e00-\u9fff·()（）\-]{2,64}$")
_SCHEMA = (
    "create table if not exists agencies (name text primary key, grants text not null,"
    " created_at text not null)",
    "create table if not exists keys (key_id text primary key,"
    " agency text not null references agencies (name), key_sha256 text not null unique,"
    " created_at text not null, expires text not null, revoked_at text)",
    "create table if not exists meta (k text primary key, v text not null)",
)
_SELECT = (
    "select a.name, k.key_id, k.key_sha256, a.grants, k.expires, k.created_at, k.revoked_at"
    " from keys k join agencies a on a.name = k.agency order by a.name, k.created_at"
)


class AgencyError(ValueError):
    """An agency cannot be created or changed as asked; the message says why."""


@dataclass(frozen=True)
class Agency:
    """One key of one agency (after a rotation an agency has several, one active)."""

    name: str
    key_id: str
    key_sha256: str
    grants: tuple[str, ...]
    expires: date
    created_at: str
    revoked_at: str | None = None

    def is_expired(self, today: date) -> bool:
        # A key is valid through its expiry date (inclusive), in UTC.
        return today > self.expires

    def status(self, today: date) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.is_expired(today) else "active"

    def has_grant(self, grant: str) -> bool:
        """``grant`` is a dataset name (held scoped or not), ``verify:<q>``,
        ``review:<district>`` or ``worklist:<district>`` (civlake.agency.grants)."""
        return grant_syntax.holds(self.grants, grant)

    def row_scopes(self, dataset: str) -> tuple[str, ...] | None:
        """Division prefixes of ``dataset`` this agency may see: None = all rows, ``()`` =
        none (no grant), else e.g. ``("440106",)``; filter with
        ``civlake.publish.scope.filter_rows``."""
        return grant_syntax.row_scopes(self.grants, dataset)

    def row_scope(self, dataset: str) -> str | None:
        """The one division prefix of ``dataset`` (None = all rows). An agency scoped to
        several divisions of one dataset raises ``AgencyError``: use ``row_scopes``."""
        scopes = self.row_scopes(dataset)
        if scopes is None:
            return None
        if len(scopes) != 1:
            raise AgencyError(
                f"{self.name} holds {dataset} for {len(scopes)} divisions "
                f"({', '.join(scopes) or 'none'}); use row_scopes()"
            )
        return scopes[0]


def register_path(settings: Settings) -> Path:
    return settings.state_dir / "agencies.db"


def create_agency(
    settings: Settings,
    name: str,
    grants: list[str] | tuple[str, ...],
    expires: str | date | None,
    *,
    now: datetime | None = None,
) -> str:
    """Register ``name`` with ``grants`` (civlake.agency.grants: ``<dataset>``,
    ``<dataset>@<division>``, ``verify:<question>``, ``review:`` / ``worklist:<district>``);
    return its key. Grants are stored in their canonical form.

    ``expires`` None means 365 days from today. The key is returned once and never
    stored; lose it and rotate.
    """
    if not _AGENCY_NAME.match(name or ""):
        raise AgencyError(f"agency name {name!r}: use 2-64 letters, digits, Chinese, - or _")
    now = (now or datetime.now(UTC)).astimezone(UTC)
    expiry = parse_expiry(expires, now.date())
    grants = _check_grants(grants)
    with _connection(settings) as con, _write(con):
        try:
            con.execute(
                "insert into agencies values (?, ?, ?)",
                (name, json.dumps(grants, ensure_ascii=False), _stamp(now)),
            )
        except sqlite3.IntegrityError:
            raise AgencyError(f"agency {name!r} already exists; choose another name") from None
        return _insert_key(con, name, expiry, now)


def rotate_key(
    settings: Settings,
    name: str,
    *,
    expires: str | date | None = None,
    grace_days: int = 0,
    now: datetime | None = None,
) -> str:
    """Issue ``name`` a new key and return it; its old keys stop working at once, or
    after ``grace_days`` more days (so a client can switch without an outage)."""
    if grace_days < 0:
        raise AgencyError("--grace-days must be 0 or more")
    now = (now or datetime.now(UTC)).astimezone(UTC)
    expiry = parse_expiry(expires, now.date())
    with _connection(settings) as con, _write(con):
        _require_agency(con, name)
        if grace_days:
            until = (now.date() + timedelta(days=grace_days)).isoformat()
            # ISO dates compare as strings; a key expiring sooner keeps its date.
            con.execute(
                "update keys set expires = min(expires, ?) where agency = ? and revoked_at is null",
                (until, name),
            )
        else:
            con.execute(
                "update keys set revoked_at = ? where agency = ? and revoked_at is null",
                (_stamp(now), name),
            )
        return _insert_key(con, name, expiry, now)


def revoke(settings: Settings, target: str, *, now: datetime | None = None) -> list[str]:
    """Revoke all keys of agency ``target``, or the one key whose id is ``target``.

    Returns the ids of the keys revoked now (empty when they already were).
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    with _connection(settings) as con, _write(con):
        by_id = con.execute("select 1 from keys where key_id = ?", (target,)).fetchone()
        by_name = con.execute("select 1 from agencies where name = ?", (target,)).fetchone()
        if by_id and by_name:
            raise AgencyError(f"{target!r} is both an agency and a key id; ask an administrator")
        if by_id:
            ids = con.execute(
                "select key_id from keys where key_id = ? and revoked_at is null", (target,)
            ).fetchall()
        elif by_name:
            ids = con.execute(
                "select key_id from keys where agency = ? and revoked_at is null", (target,)
            ).fetchall()
        else:
            raise AgencyError(f"no agency or key id {target!r}; see `civlake agency list`")
        con.executemany(
            "update keys set revoked_at = ? where key_id = ?",
            [(_stamp(now), row[0]) for row in ids],
        )
    return [row[0] for row in ids]


def load_agencies(settings: Settings) -> dict[str, Agency]:
    """Every key ever issued (revoked and expired ones too), by key id."""
    with _connection(settings) as con:
        return _read(con)


class Register:
    """The register as ``serve`` sees it: reloaded only after another process commits."""

    def __init__(self, settings: Settings) -> None:
        self._con = connect(settings)
        self._lock = threading.Lock()
        self._version: int | None = None
        self._agencies: dict[str, Agency] = {}

    def current(self) -> dict[str, Agency]:
        with self._lock:
            version = self._con.execute("pragma data_version").fetchone()[0]
            if version != self._version:
                self._agencies = _read(self._con)
                self._version = version
            return self._agencies


def connect(settings: Settings, *, now: datetime | None = None) -> sqlite3.Connection:
    """Open the register, creating it (and importing a legacy agencies.json) if needed."""
    path = register_path(settings)
    _create_private(path)
    con = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    _use_wal(con)
    legacy = path.with_name("agencies.json")
    with _write(con):
        for statement in _SCHEMA:
            con.execute(statement)
        migrated = con.execute("select 1 from meta where k = 'migrated_json'").fetchone()
        if not migrated and legacy.is_file():
            _import_json(con, legacy, (now or datetime.now(UTC)).astimezone(UTC))
            migrated = True
    if migrated and legacy.is_file():
        # Renamed, not deleted: an administrator may want to compare. Another process
        # may have renamed it first.
        with suppress(FileNotFoundError):
            legacy.replace(legacy.with_name("agencies.json.migrated"))
    return con


_CREATING = threading.Lock()


def _create_private(path: Path) -> None:
    """Create the register file 0600 before SQLite opens it (its -wal and -shm files
    inherit the mode), and never touch an existing one from outside SQLite.

    Closing any descriptor of a database file drops every POSIX lock this process holds
    on it, those of SQLite's own open connections too. A server's register connection
    then looks closed to other processes: the last of them to close checkpoints and
    deletes the WAL under it, and the server goes on reading a stale register (a revoked
    key keeps working) or a malformed one. So the file is only ever created here, under
    a lock that makes a thread of this process wait until the descriptor is closed.
    """
    with _CREATING:
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        with suppress(FileExistsError):
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))


def _use_wal(con: sqlite3.Connection, *, patience: float = 30.0) -> None:
    """Switch a register to WAL once; the mode is kept in the file.

    SQLite answers "database is locked" to the switch at once, without waiting the busy
    timeout, while another process holds the fresh file; so the switch is retried.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            if con.execute("pragma journal_mode").fetchone()[0] != "wal":
                con.execute("pragma journal_mode = wal")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def parse_expiry(expires: str | date | None, today: date) -> date:
    if expires is None or expires == "":
        return today + DEFAULT_VALIDITY
    if isinstance(expires, date):
        return expires
    if expires.strip().lower() in {"never", "none"}:
        raise AgencyError("--expires never is not allowed: keys expire (default 365 days)")
    try:
        return date.fromisoformat(expires)
    except ValueError as exc:
        raise AgencyError(f"--expires {expires!r} is not a date; use YYYY-MM-DD") from exc


@contextmanager
def _connection(settings: Settings) -> Iterator[sqlite3.Connection]:
    with closing(connect(settings)) as con:
        yield con


@contextmanager
def _write(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    # IMMEDIATE takes the write lock before reading, so a check ("exists?") and the
    # write it decides are never split by another writer.
    con.execute("begin immediate")
    try:
        yield con
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")


def _insert_key(con: sqlite3.Connection, name: str, expiry: date, now: datetime) -> str:
    key_id, key, digest = new_key()
    con.execute(
        "insert into keys values (?, ?, ?, ?, ?, null)",
        (key_id, name, digest, _stamp(now), expiry.isoformat()),
    )
    return key


def _require_agency(con: sqlite3.Connection, name: str) -> None:
    if not con.execute("select 1 from agencies where name = ?", (name,)).fetchone():
        raise AgencyError(f"no agency {name!r}; see `civlake agency list`")


def _read(con: sqlite3.Connection) -> dict[str, Agency]:
    return {
        key_id: Agency(
            name=name,
            key_id=key_id,
            key_sha256=digest,
            grants=tuple(json.loads(grants)),
            expires=date.fromisoformat(expires),
            created_at=created,
            revoked_at=revoked,
        )
        for name, key_id, digest, grants, expires, created, revoked in con.execute(_SELECT)
    }


def _import_json(con: sqlite3.Connection, legacy: Path, now: datetime) -> None:
    default_expiry = (now.date() + DEFAULT_VALIDITY).isoformat()
    for a in json.loads(legacy.read_text(encoding="utf-8")).get("agencies", []):
        con.execute(
            "insert or ignore into agencies values (?, ?, ?)",
            (a["name"], json.dumps(a["grants"], ensure_ascii=False), a["created_at"]),
        )
        con.execute(
            "insert or ignore into keys values (?, ?, ?, ?, ?, null)",
            (a["key_id"], a["name"], a["key_sha256"], a["created_at"],
             a.get("expires") or default_expiry),
        )  # fmt: skip
    con.execute("insert into meta values ('migrated_json', ?)", (_stamp(now),))


def _stamp(now: datetime) -> str:
    return now.isoformat(timespec="seconds")


def _check_grants(grants: list[str] | tuple[str, ...]) -> list[str]:
    """The grants in canonical form, each once; ``AgencyError`` for the first bad one."""
    # Imported here: the catalog pulls in the publishing stack, which `agency list`,
    # `revoke` and the server's key checks never need.
    from civlake.publish.catalog import VERIFY_QUESTIONS, load_catalog

    if not grants:
        raise AgencyError(
            "give at least one --grant DATASET, --grant DATASET@DISTRICT, "
            "--grant verify:<question> or --district DISTRICT"
        )
    catalog = load_catalog()
    try:
        canonical = [grant_syntax.validate_grant(g, catalog, VERIFY_QUESTIONS) for g in grants]
    except grant_syntax.GrantError as exc:
        raise AgencyError(str(exc)) from None
    return list(dict.fromkeys(canonical))
