"""``civlake audit verify | checkpoint | show``: the request audit log for auditors.

Deployment. The server's account holds the audit secret, so whoever takes it over
could rebuild the chain or cut its tail; checkpoints are what it cannot rewrite. Run
``civlake audit checkpoint`` every few minutes (cron, or an Airflow task) under another
account that can read the log and the secret (``CIVLAKE_AUDIT_SECRET`` in its
environment) and is the only one able to write ``CIVLAKE_AUDIT_CHECKPOINTS`` (default
``<home>/audit-checkpoints/checkpoints.jsonl``), or keep that file on a filesystem with
the append-only attribute (``chattr +a``; then not even its owner can rewrite it). Each
checkpoint first verifies the log, then appends ``{at, log, lines, seq, mac, size}``;
``verify`` checks every checkpoint of the log, so lines cut or rebuilt before the
latest checkpoint are found. The window is the checkpoint interval.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from civlake.serve.audit import (
    escape_unsafe,
    load_audit_secret,
    log_lines,
    log_path,
    parse_line,
)
from civlake.serve.audit_verify import Verdict, verify
from civlake.settings import Settings, load_settings

SHOWN = ("seq", "at", "status", "agency", "method", "path", "dataset", "scope", "question", "rows",
         "purpose", "reason")  # fmt: skip


def register(sub) -> None:
    """Add ``audit`` and its commands to the ``civlake`` parser."""
    a = sub.add_parser("audit", help="verify, checkpoint and read the request audit log")
    asub = a.add_subparsers(dest="audit_command", required=True)
    v = asub.add_parser("verify", help="check the keyed chain and the checkpoints")
    v.set_defaults(func=_cmd_verify)
    c = asub.add_parser("checkpoint", help="verify, then record the head (run as another account)")
    c.set_defaults(func=_cmd_checkpoint)
    s = asub.add_parser("show", help="print audit lines for reviewers")
    s.add_argument("--agency", help="agency name")
    s.add_argument("--since", help="YYYY-MM-DD or ISO time (inclusive)")
    s.add_argument("--until", help="YYYY-MM-DD (inclusive) or ISO time (exclusive)")
    s.add_argument("--status", help="HTTP status (403), or allowed / refused")
    s.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    s.set_defaults(func=_cmd_show)


def read_checkpoints(path: Path, log: Path) -> list[dict]:
    """Checkpoints of ``log`` (a checkpoint file may serve several logs)."""
    if not path.is_file():
        return []
    wanted, found = str(log.resolve()), []
    for n, raw, _ in log_lines(path):
        try:
            cp = parse_line(raw)
        except ValueError as exc:
            raise ValueError(f"{path} line {n} is not a checkpoint: {exc}") from exc
        if type(cp.get("seq")) is not int or not isinstance(cp.get("mac"), str):
            raise ValueError(f"{path} line {n} is not a checkpoint: no seq and mac")
        if cp.get("log") == wanted:
            found.append(cp)
    return found


def verify_log(settings: Settings) -> tuple[Path, Verdict]:
    log = log_path(settings)
    checkpoints = read_checkpoints(settings.audit_checkpoints, log)
    if not log.exists() and not checkpoints:
        return log, Verdict()  # nothing audited yet, and nothing says there was
    secret = load_audit_secret(settings, create=False)
    return log, verify(log, secret, checkpoints=checkpoints)


def checkpoint(settings: Settings, *, now: datetime) -> tuple[Verdict, dict | None]:
    """Verify, then append the head to the checkpoint file; no checkpoint of a bad log."""
    log, verdict = verify_log(settings)
    if not verdict.ok or verdict.seq == 0:  # a bad log is not blessed; an empty one has no head
        return verdict, None
    entry = {"at": now.isoformat(), "log": str(log.resolve()), "lines": verdict.lines,
             "seq": verdict.seq, "mac": verdict.mac, "size": verdict.size}  # fmt: skip
    target = settings.audit_checkpoints
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, json.dumps(entry, sort_keys=True).encode() + b"\n")
    finally:
        os.close(fd)
    return verdict, entry


def _cmd_verify(args) -> int:
    log, verdict = verify_log(load_settings())
    print(verdict.summary(log))
    return 0 if verdict.ok else 1


def _cmd_checkpoint(args) -> int:
    settings = load_settings()
    verdict, entry = checkpoint(settings, now=datetime.now(UTC))
    if entry is None:
        print(f"no checkpoint taken: {verdict.summary(log_path(settings))}")
        return 0 if verdict.ok else 1
    print(
        f"checkpoint at seq {entry['seq']} ({entry['lines']} lines) -> {settings.audit_checkpoints}"
    )
    return 0


def _cmd_show(args) -> int:
    since = _bound(args.since, end=False) if args.since else None
    until = _bound(args.until, end=True) if args.until else None
    records = _select(log_path(load_settings()), args.agency, since, until, args.status)
    if args.json:
        for record in records:
            print(escape_unsafe(json.dumps(record, ensure_ascii=False, sort_keys=True)))
        return 0
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(*SHOWN)
    for record in records:
        # Text, not markup, and escaped: a purpose cannot restyle or move the reviewer's screen.
        table.add_row(*(Text(_cell(record.get(k))) for k in SHOWN))
    Console(width=None if sys.stdout.isatty() else 240).print(table)
    return 0


def _select(log: Path, agency, since, until, status) -> Iterator[dict]:
    for n, raw, _ in log_lines(log):
        try:
            record = parse_line(raw)
        except ValueError:
            print(f"line {n}: not an audit record (see civlake audit verify)", file=sys.stderr)
            continue
        if agency is not None and record.get("agency") != agency:
            continue
        if status is not None and status not in (str(record.get("status")), record.get("outcome")):
            continue
        if since is not None or until is not None:
            at = _when(record.get("at"))
            if at is None or (since and at < since) or (until and at >= until):
                continue
        yield record


def _bound(text: str, *, end: bool) -> datetime:
    try:
        if len(text) == 10:
            day = date.fromisoformat(text) + timedelta(days=1 if end else 0)
            return datetime.combine(day, time(), tzinfo=UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD) or an ISO time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _when(value) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _cell(value) -> str:
    if value is None:
        return ""
    return escape_unsafe(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
