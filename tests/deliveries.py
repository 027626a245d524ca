"""Build delivery folders by hand for tests (the protocol of SOURCE_FEEDS.md section 1)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

from civlake.contracts import get_contract


def csv_bytes(header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode(encoding)


def write_delivery(
    landing: Path,
    feed: str,
    delivery_id: str,
    files: dict[str, bytes],
    *,
    rows: dict[str, int] | None = None,
    period: str = "2026-10",
    mode: str | None = None,
    produced_at: str = "2026-11-01T02:00:00+08:00",
    encoding: str | None = "UTF-8",
    sha_override: dict[str, str] | None = None,
    manifest: bool = True,
) -> Path:
    """Write data files, then the manifest last; ``rows`` defaults to counted CSV/JSONL rows."""
    contract = get_contract(feed)
    folder = landing / feed / delivery_id
    folder.mkdir(parents=True)
    entries = []
    for name, data in files.items():
        (folder / name).write_bytes(data)
        n = (rows or {}).get(name)
        if n is None:
            lines = [
                ln for ln in data.decode(encoding or "utf-8", "replace").splitlines() if ln.strip()
            ]
            n = len(lines) - (0 if name.endswith(".jsonl") else 1)
        sha = (sha_override or {}).get(name) or hashlib.sha256(data).hexdigest()
        entries.append({"name": name, "sha256": sha, "rows": n, "encoding": encoding})
    if manifest:
        unit = delivery_id.split("-")[1]
        (folder / "manifest.json").write_text(
            json.dumps(
                {
                    "feed": feed,
                    "delivery_id": delivery_id,
                    "source_unit": unit,
                    "source_unit_name": "测试单位",
                    "period": period,
                    "mode": mode or contract.modes[0],
                    "produced_at": produced_at,
                    "files": entries,
                },
                ensure_ascii=False,
            ),
            encoding="utf-8",
        )
    return folder


def headers(feed: str) -> list[str]:
    return [c.header for c in get_contract(feed).columns]
