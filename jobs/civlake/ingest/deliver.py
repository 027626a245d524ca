"""Write a delivery into the landing folder the way SOURCE_FEEDS.md section 1 asks: the
data files in ``<landing>/<feed>/<delivery_id>/``, then ``manifest.json`` last (a folder
without one is still being written and is not ingested).

For deliveries the platform itself takes in: a district's filled worklist returned as a
delivery of ``finding_reviews`` (``civlake.verify`` writes the worklist; the caseworker
fills it; this writes the manifest around it), and the review API's JSONL rows. The rows
declared are counted with the ingest reader, so the manifest says what ingest will find.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

from civlake.contracts import get_contract
from civlake.ingest.manifest import python_codec
from civlake.ingest.readers import read_file
from civlake.osutil import sha256_file


def _new_folder(root: Path, day: str, unit: str) -> Path:
    """The next free ``<YYYYMMDD>-<unit>-<seq>`` folder, created atomically (mkdir)."""
    root.mkdir(parents=True, exist_ok=True)
    seq = 1
    while True:
        folder = root / f"{day}-{unit}-{seq:03d}"
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            seq += 1


def deliver(
    landing: Path, feed_id: str, files: list[Path], *, source_unit: str, period: str,
    produced_at: datetime, mode: str = "incremental", source_unit_name: str | None = None,
    schemas_dir: Path | None = None,
) -> Path:  # fmt: skip
    """Copy ``files`` into a new delivery folder of ``feed_id`` and write its manifest;
    returns the folder. ``produced_at`` must carry a time zone."""
    if produced_at.tzinfo is None:
        raise ValueError("produced_at needs a time zone (the manifest is ISO 8601 with offset)")
    contract = get_contract(feed_id, schemas_dir)
    folder = _new_folder(landing / feed_id, produced_at.strftime("%Y%m%d"), source_unit)
    entries = []
    for src in files:
        dest = folder / src.name
        shutil.copyfile(src, dest)
        fmt = dest.suffix.lower().lstrip(".")
        codec = python_codec(contract.encodings[0], fmt)
        rows = sum(b.num_rows for b in read_file(dest, contract, codec, str(dest)))
        entries.append(
            {"name": dest.name, "sha256": sha256_file(dest), "rows": rows, "encoding": "UTF-8"}
        )
    manifest = {
        "feed": feed_id, "delivery_id": folder.name, "source_unit": source_unit,
        "source_unit_name": source_unit_name, "period": period, "mode": mode,
        "produced_at": produced_at.isoformat(), "files": entries,
    }  # fmt: skip
    tmp = folder / ".manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    tmp.replace(folder / "manifest.json")
    return folder


def main(argv: list[str] | None = None) -> int:
    """``python -m civlake.ingest.deliver FEED FILE... --unit 440103 [--period YYYY-MM]``:
    a returned worklist (or any delivery) into the landing folder of the settings."""
    import argparse
    from datetime import UTC

    from civlake.settings import load_settings

    parser = argparse.ArgumentParser(prog="python -m civlake.ingest.deliver")
    parser.add_argument("feed")
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--unit", required=True, help="6-digit code of the delivering unit")
    parser.add_argument("--unit-name", default=None)
    parser.add_argument("--period", default=None, help="YYYY-MM (default: this month)")
    parser.add_argument("--landing", type=Path, default=None)
    args = parser.parse_args(argv)
    settings = load_settings()
    now = datetime.now(UTC)
    folder = deliver(
        args.landing or settings.landing, args.feed, args.files, source_unit=args.unit,
        period=args.period or now.strftime("%Y-%m"), produced_at=now,
        source_unit_name=args.unit_name, schemas_dir=settings.schemas_dir,
    )  # fmt: skip
    print(folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
