"""Exchange pull throughput, and what the per-page atomic commit costs.

    .venv/bin/python bench/bench_exchange.py --records 100000 --page-size 1000

Writes one ``benefit_payments`` snapshot of --records records, serves it with the simulator
(``civlake exchange-sim`` in its own process, as in production the platform is remote) and
measures, each into a fresh lake:

* ``http only``: paging through the snapshot, no lake writes (the floor);
* ``bulk commit``: same pages, same bronze rows, one Delta commit at the end (not resumable:
  a crash loses the whole pull);
* ``per-page commit``: ``pull_api_feeds`` as shipped, one commit per page with its cursor
  (resumable), plus reconciliation and the audit row.

Prints rows/s, commits, and the overhead per page of the atomic commit. Never asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.append(str(Path(__file__).resolve().parents[1]))  # tests.support
from _common import measure

TOKEN = "bench-token"
FEED = "benefit_payments"


def _start_simulator(landing: Path, faults: str | None) -> tuple[subprocess.Popen, str]:
    from civlake.osutil import free_port

    port = free_port()
    env = {**os.environ, "CIVLAKE_EXCHANGE_TOKEN": TOKEN, "CIVLAKE_EXCHANGE_FAULTS": faults or ""}
    cmd = [sys.executable, "-m", "civlake.cli", "exchange-sim", "--data", str(landing),
           "--port", str(port)]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env)
    url = f"http://127.0.0.1:{port}"
    import httpx

    for _ in range(600):
        try:
            httpx.get(f"{url}/v1/datasets/{FEED}/snapshots", timeout=1,
                      headers={"Authorization": f"Bearer {TOKEN}"})  # fmt: skip
            return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("simulator did not come up within 60 s")


def _pages(url: str, page_size: int):
    """(snapshot listing, iterator of (records, next_cursor)) through the retrying client."""
    from civlake.exchange.client import ExchangeClient

    client = ExchangeClient(url, TOKEN)
    snap = client.get_json(f"/v1/datasets/{FEED}/snapshots", {}, what=FEED)["snapshots"][0]

    def gen():
        cursor = None
        while True:
            body = client.get_json(
                f"/v1/datasets/{FEED}/records",
                {"snapshot_id": snap["snapshot_id"], "cursor": cursor, "limit": page_size},
                what=FEED,
            )
            yield body["records"], body["next_cursor"]
            if not (cursor := body["next_cursor"]):
                client.close()
                return

    return snap, gen()


def http_only(url: str, page_size: int) -> dict:
    out: dict = {"rows": 0, "pages": 0}
    with measure(out):
        _snap, pages = _pages(url, page_size)
        for records, _ in pages:
            out["rows"] += len(records)
            out["pages"] += 1
    return out


def bulk_commit(url: str, page_size: int, settings, now) -> dict:
    import pyarrow as pa

    from civlake.contracts import get_contract
    from civlake.exchange import pages as bronze_pages
    from civlake.lake import DELTA_RS

    contract = get_contract(FEED)
    out: dict = {"rows": 0, "pages": 0, "commits": 1}
    with measure(out):
        snap, pages = _pages(url, page_size)
        tables = []
        for records, nxt in pages:
            tables.append(bronze_pages.page_table(
                records, contract, first_position=out["rows"] + 1, next_cursor=nxt,
                snapshot=snap, ingested_at=now,
            ))  # fmt: skip
            out["rows"] += len(records)
            out["pages"] += 1
        bronze_pages.append_page(settings.lake, FEED, pa.concat_tables(tables), io=DELTA_RS)
    return out


def per_page(url: str, page_size: int, settings, now) -> dict:
    from civlake.exchange import pull_api_feeds

    out: dict = {}
    with measure(out):
        s = pull_api_feeds(settings, base_url=url, token=TOKEN, now=now, feeds=[FEED],
                           page_size=page_size)[FEED]  # fmt: skip
    out.update(rows=s.rows_bronze, pages=s.pages, commits=s.pages + 1)  # + the audit row
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--page-size", type=int, default=1000)
    ap.add_argument("--faults", help="fault JSON for the simulator, e.g. '{\"error_every\": 5}'")
    args = ap.parse_args()

    from civlake.settings import load_settings
    from tests.support.api_landing import write_api_landing

    work = Path(tempfile.mkdtemp(prefix="civlake-bench-exchange-"))
    landing = work / "landing"
    write_api_landing(landing, payments=[args.records], organisations=[])
    proc, url = _start_simulator(landing, args.faults)
    now = datetime.now(UTC)
    results = {}
    try:
        results["http only"] = http_only(url, args.page_size)
        s = load_settings(env={"CIVLAKE_HOME": str(work / "bulk")})
        results["bulk commit"] = bulk_commit(url, args.page_size, s, now)
        s = load_settings(env={"CIVLAKE_HOME": str(work / "paged")})
        results["per-page commit"] = per_page(url, args.page_size, s, now)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print(f"records={args.records} page_size={args.page_size} faults={args.faults or 'none'}")
    print(f"{'mode':<16} {'rows':>9} {'pages':>6} {'seconds':>8} {'rows/s':>9} {'peak MiB':>9}")
    for name, r in results.items():
        rate = r["rows"] / r["seconds"] if r["seconds"] else 0
        print(f"{name:<16} {r['rows']:>9} {r['pages']:>6} {r['seconds']:>8.2f} {rate:>9.0f} "
              f"{r['peak_rss_mib']:>9.0f}")  # fmt: skip
    bulk, paged = results["bulk commit"], results["per-page commit"]
    extra = paged["seconds"] - bulk["seconds"]
    print(f"per-page atomic commit: {paged['seconds'] / bulk['seconds']:.2f}x the bulk time, "
          f"{1000 * extra / max(paged['pages'], 1):.1f} ms per page")  # fmt: skip
    print(json.dumps({"records": args.records, "page_size": args.page_size, **{
        k: {kk: round(vv, 3) if isinstance(vv, float) else vv for kk, vv in v.items()}
        for k, v in results.items()}}, ensure_ascii=False))  # fmt: skip


if __name__ == "__main__":
    main()
