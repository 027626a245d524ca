"""Delivery manifests (SOURCE_FEEDS.md section 1): parse and validate, never trust."""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from civlake.contracts import FeedContract

DELIVERY_ID = re.compile(r"^(\d{8})-(\d{6})-(\d{1,6})$")
PERIOD_PATTERNS = {
    "yearly": re.compile(r"^\d{4}$"),
    "monthly": re.compile(r"^\d{4}-(0[1-9]|1[0-2])$"),
    "weekly": re.compile(r"^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$"),
    "daily": re.compile(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"),
}
SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


class DeliveryRejected(Exception):
    """A whole delivery is refused; ``reason`` is an ingest_audit reject code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ManifestFile:
    name: str
    sha256: str
    rows: int
    encoding: str | None


@dataclass(frozen=True)
class Manifest:
    feed: str
    delivery_id: str
    source_unit: str
    source_unit_name: str | None
    period: str
    mode: str
    produced_at: str
    produced_at_ts: datetime
    files: tuple[ManifestFile, ...]

    @property
    def rows_declared(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def fingerprint(self) -> str:
        """Identity of the delivered data: same file names and hashes = same delivery."""
        return ";".join(sorted(f"{f.name}:{f.sha256.lower()}" for f in self.files))


def valid_period(period: str) -> bool:
    from datetime import date

    if not any(p.match(period) for p in PERIOD_PATTERNS.values()):
        return False
    if PERIOD_PATTERNS["daily"].match(period):
        try:
            date.fromisoformat(period)
        except ValueError:
            return False
    return True


def python_codec(encoding: str | None, file_format: str) -> str:
    """Map a manifest encoding to a strict Python codec name."""
    if file_format == "xlsx":
        return "binary"
    if encoding is None or str(encoding).strip() == "":
        return "utf-8"
    name = str(encoding).strip().lower().replace("_", "-")
    aliases = {"utf8": "utf-8", "utf-8-bom": "utf-8-sig", "utf8-sig": "utf-8-sig"}
    # Senders label GB18030 files GBK or GB2312 (Windows' name for CP936); GB18030 is a
    # superset of both and the feed's declared encoding, so decode those labels with it,
    # as the WHATWG Encoding Standard does (a GBK-labelled name with 䶮 or 𠮷 is valid).
    aliases |= dict.fromkeys(
        ["gbk", "gb2312", "gb-2312", "gb-2312-80", "cp936", "ms936", "windows-936", "x-gbk",
         "euc-cn", "csgb2312"], "gb18030"
    )  # fmt: skip
    name = aliases.get(name, name)
    try:
        codecs.lookup(name)
    except LookupError as exc:
        raise DeliveryRejected("MANIFEST_INVALID", f"unknown encoding {encoding!r}") from exc
    return name


def read_manifest(folder: Path, contract: FeedContract) -> Manifest:
    """Parse ``manifest.json`` of a delivery folder; raise DeliveryRejected(MANIFEST_INVALID)."""
    path = folder / "manifest.json"

    def bad(msg: str) -> DeliveryRejected:
        return DeliveryRejected("MANIFEST_INVALID", f"{path}: {msg}")

    try:
        raw = json.loads(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad(f"not valid UTF-8 JSON ({exc})") from exc
    if not isinstance(raw, dict):
        raise bad("must be a JSON object")
    for key in ("feed", "delivery_id", "source_unit", "period", "mode", "produced_at", "files"):
        if raw.get(key) in (None, ""):
            raise bad(f"field {key!r} is missing or blank")
    if raw["feed"] != contract.feed_id:
        raise bad(f"feed {raw['feed']!r} does not match its folder {contract.feed_id!r}")
    delivery_id = str(raw["delivery_id"])
    if delivery_id != folder.name:
        raise bad(f"delivery_id {delivery_id!r} does not match its folder {folder.name!r}")
    m = DELIVERY_ID.match(delivery_id)
    if not m:
        raise bad(f"delivery_id {delivery_id!r} is not <YYYYMMDD>-<source_unit>-<seq>")
    source_unit = str(raw["source_unit"])
    if not re.fullmatch(r"\d{6}", source_unit) or source_unit != m.group(2):
        raise bad(f"source_unit {source_unit!r} must be 6 digits and match the delivery_id")
    period = str(raw["period"])
    # A feed may deliver in more than one cadence (hukou: monthly full + daily changes),
    # so any well-formed period is accepted; an impossible one (2026-13, 2026-02-30) is not.
    if not valid_period(period):
        raise bad(
            f"period {period!r} is not YYYY, YYYY-MM, YYYY-Www or YYYY-MM-DD "
            f"(this feed is delivered {contract.cadence})"
        )
    if raw["mode"] not in contract.modes:
        raise bad(f"mode {raw['mode']!r} not allowed for this feed (allowed: {contract.modes})")
    try:
        produced = datetime.fromisoformat(str(raw["produced_at"]))
    except ValueError as exc:
        raise bad(f"produced_at {raw['produced_at']!r} is not ISO 8601") from exc
    if produced.tzinfo is None:
        raise bad(f"produced_at {raw['produced_at']!r} has no time zone offset")
    files = raw["files"]
    if not isinstance(files, list) or not files:
        raise bad("files must be a non-empty list")
    parsed: list[ManifestFile] = []
    for i, f in enumerate(files, start=1):
        if not isinstance(f, dict):
            raise bad(f"files[{i}] must be an object")
        name = f.get("name")
        if not isinstance(name, str) or not name or Path(name).name != name or name.startswith("."):
            raise bad(f"files[{i}].name {name!r} must be a plain file name")
        if not isinstance(f.get("sha256"), str) or not SHA256.match(f["sha256"]):
            raise bad(f"files[{i}] ({name}): sha256 must be 64 hex characters")
        rows = f.get("rows")
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
            raise bad(f"files[{i}] ({name}): rows must be a non-negative integer")
        if Path(name).suffix.lower().lstrip(".") not in contract.formats:
            raise bad(f"files[{i}] ({name}): format not allowed for this feed {contract.formats}")
        if not (folder / name).is_file():
            raise bad(f"files[{i}] ({name}): file is listed but not in the folder")
        parsed.append(ManifestFile(name, f["sha256"].lower(), rows, f.get("encoding")))
    if len({f.name for f in parsed}) != len(parsed):
        raise bad("the same file is listed twice")
    return Manifest(
        feed=contract.feed_id,
        delivery_id=delivery_id,
        source_unit=source_unit,
        source_unit_name=raw.get("source_unit_name"),
        period=period,
        mode=raw["mode"],
        produced_at=str(raw["produced_at"]),
        produced_at_ts=produced,
        files=tuple(parsed),
    )
