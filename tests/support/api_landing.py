"""Small synthetic API-feed deliveries (JSONL + manifest) for tests and benchmarks.

The city generator (``civlake.generate``) is the realistic source; this writes a landing
folder with an exact record count per snapshot, which the pull benchmark and the paging
tests need, in the same delivery protocol (SOURCE_FEEDS.md section 1).
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path


def _write(landing: Path, feed: str, delivery_id: str, meta: dict, records: list[dict]) -> Path:
    folder = landing / feed / delivery_id
    folder.mkdir(parents=True, exist_ok=False)
    name = f"{feed}_{delivery_id}.jsonl"
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
    (folder / name).write_bytes(data)
    manifest = {
        "feed": feed,
        "delivery_id": delivery_id,
        "source_unit": "440100",
        "source_unit_name": "广州市民政局",
        **meta,
        "files": [
            {
                "name": name,
                "sha256": hashlib.sha256(data).hexdigest(),
                "rows": len(records),
                "encoding": "UTF-8",
            }
        ],
    }
    # The manifest is written last, as the protocol requires.
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), "utf-8")
    return folder


def payment(rng: random.Random, i: int, month: str) -> dict:
    return {
        "payment_id": f"P{month.replace('-', '')}{i:07d}",
        "pay_month": month,
        "program_code": rng.choice(["DB", "TK", "GL", "CJHL"]),
        "id_number": f"4401061950{rng.randrange(10**8):08d}",
        "name": rng.choice(["张伟", "王芳", "李娜", "刘洋", "陈静"]),
        "amount": rng.choice(["100.00", 300, "1,120.00", "600"]),
        "bank_card_tail": f"{rng.randrange(10**4):04d}",
        "payer_division": "440106000000",
        "status": rng.choice(["success", "success", "success", "failed", "returned"]),
        "paid_at": f"{month}-15T10:00:00+08:00",
    }


def organisation(rng: random.Random, i: int) -> dict:
    return {
        "uscc": f"51440100MJ{i:07d}X",
        "name": f"广州市第{i}社会服务中心",
        "org_type": rng.choice(["社会团体", "民办非企业单位", "基金会"]),
        "registrar": "440100000000",
        "founded_on": "2015-06-01",
        "registered_capital": 30000,
        "status": "正常",
        "abnormal_list": False,
        "is_charity": rng.random() < 0.2,
    }


def write_api_landing(
    landing: Path, *, payments: list[int], organisations: list[int], seed: int = 7
) -> None:
    """Monthly incremental ``benefit_payments`` snapshots of the given sizes (2026-08 on) and
    weekly full ``social_organizations`` snapshots (2026-W40 on); the last full snapshot
    repeats the one before it as a resubmission with a later ``produced_at``."""
    rng = random.Random(seed)
    for k, n in enumerate(payments):
        month = f"2026-{8 + k:02d}"
        meta = {"period": month, "mode": "incremental",
                "produced_at": f"2026-{9 + k:02d}-01T02:00:00+08:00"}  # fmt: skip
        recs = [payment(rng, i, month) for i in range(n)]
        _write(landing, "benefit_payments", f"2026{9 + k:02d}01-440100-001", meta, recs)
    for k, n in enumerate(organisations):
        week = 40 + min(k, max(len(organisations) - 2, 0))
        meta = {"period": f"2026-W{week:02d}", "mode": "full",
                "produced_at": f"2026-10-{1 + k:02d}T03:00:00+08:00"}  # fmt: skip
        recs = [organisation(rng, i) for i in range(n)]
        _write(landing, "social_organizations", f"202610{1 + k:02d}-440100-001", meta, recs)
