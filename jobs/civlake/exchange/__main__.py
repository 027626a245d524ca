"""``python -m civlake.exchange --base-url URL``: pull the API feeds once, printing progress.

Settings come from the environment (CIVLAKE_HOME, CIVLAKE_LAKE, ...), the token from
CIVLAKE_EXCHANGE_TOKEN or the Airflow connection ``civlake_exchange``: never from argv.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from civlake.exchange import ExchangeError, pull_api_feeds, resolve_token
from civlake.settings import load_settings


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m civlake.exchange", description=__doc__)
    p.add_argument("--base-url", help="default: CIVLAKE_EXCHANGE_URL")
    p.add_argument("--feed", action="append", dest="feeds", help="API feed (repeatable)")
    p.add_argument("--page-size", type=int, default=1000)
    args = p.parse_args(argv)
    settings = load_settings()
    base_url = args.base_url or settings.exchange_url
    if not base_url:
        p.error("no exchange URL: pass --base-url or set CIVLAKE_EXCHANGE_URL")
    try:
        result = pull_api_feeds(
            settings,
            base_url=base_url,
            token=resolve_token(settings),
            now=datetime.now(UTC),
            feeds=args.feeds,
            page_size=args.page_size,
            progress=lambda msg: print(msg, flush=True),
        )
    except ExchangeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for feed_id, s in result.items():
        print(f"{feed_id}: {s.loaded} loaded, {s.rejected} rejected, {s.skipped} already "
              f"loaded, {s.pages} pages, {s.rows_bronze} rows", flush=True)  # fmt: skip
        for problem in s.problems:
            print(f"  problem: {problem}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
