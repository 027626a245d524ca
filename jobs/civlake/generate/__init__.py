"""`civlake generate`: a synthetic Guangzhou civil-affairs city delivered as landing folders,
with its exact ground truth.

    generate(out, persons=2000, months=3, seed=42, dirt_rate=0.03, faults=True) -> summary

writes `out/<feed_id>/<delivery_id>/` for all 13 feeds (data files, then `manifest.json`)
and `<out>_truth/` (Parquet). Output is byte-identical for the same arguments: "now" is
fixed (latest complete month 2026-10), workbooks carry a fixed timestamp, nothing iterates
an unordered set.

How it works: `build` makes the canonical world (population, registers, payments, events)
and plants the cases; `oracle` applies OUTPUTS.md section 3 to that world (the findings);
`render_*` turn the world into deliveries, `dirt` and `noise` spoil rows the way upstream
systems do, `faults` adds the delivery-level accidents, `writers` puts files on disk and
`truth` records what every row is.

Truth files (`<out>_truth/`):
* `deliveries`: feed_id, delivery_id, source_unit, period, mode, produced_at,
  expected_status (loaded|rejected|duplicate|superseded|pending), expected_reason,
  rows_declared (null when the manifest is unreadable or absent).
* `records`: one row per data row and person role of every `loaded` delivery (duplicates,
  superseded, rejected and pending deliveries never reach silver): feed_id, delivery_id,
  source_file, source_row (1-based data row), role, person_uid (null: no person),
  expected (silver|quarantine), reasons, dirt.
* `persons`: person_uid, id_number (canonical), name, sex, birth_date,
  hukou_division_code, in_hukou, hukou_status (at the latest month), death_date,
  death_date_source, is_noise (carrier of quarantine-only rows).
* `findings`: rule_code, id_number / org_uscc, program_code, feed_id, attribute,
  period_start, period_end, amount_at_risk (decimal(18,2) or null), note,
  registration_no (MARRIED_TWICE). Periods are null for ID_MISMATCH; NOT_IN_HUKOU spans
  the months the person was a recipient (amount: every paid payment to them);
  latest-month rules carry that month as both. Post-death payments are DEATH_PAID only.
* `near_misses` and `planted`: rule_code, id_number / org_uscc, note.
* `namesakes`: person_uid, namesake_uid: two persons with the same name, birth date and
  ID area whose valid IDs differ in one sequence digit (and the check character).

Dirt kinds in `records.dirt` that leave an ID `invalid` (the row still names its person):
dirt.py's `id_typo`, `id_bad_birthdate` and corrupt.py's `KINDS`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from functools import partial
from itertools import cycle
from pathlib import Path

import numpy as np

from civlake.generate import faults, truth
from civlake.generate.build import build_world
from civlake.generate.corrupt import corrupt
from civlake.generate.delivery import FileSpec
from civlake.generate.dirt import dirty
from civlake.generate.noise import (
    ERROR_CELL_FEEDS,
    add_error_row,
    add_noise,
    add_noise_rows,
    noise_targets,
)
from civlake.generate.oracle import compute_findings
from civlake.generate.render import render_all
from civlake.generate.table import Table
from civlake.generate.writers import CsvStream, write_delivery, write_manifest

__all__ = ["generate"]

# Corrupted (invalid) IDs on a quarter of the dirt rate per corruptible ID column: 0.75%
# at the default 3% (hand-keyed IDs), against ~0.1% for dirt.py's two fixed typos.
ID_CORRUPT_SHARE = 0.25
# Share of loaded XLSX deliveries of ERROR_CELL_FEEDS with one `#DIV/0!`-style amount cell.
ERROR_CELL_SHARE = 0.3


def generate(
    out: Path,
    *,
    persons: int = 2000,
    months: int = 3,
    seed: int = 42,
    dirt_rate: float = 0.03,
    faults: bool = True,
    progress: Callable[[str, int], None] | None = None,
) -> dict:
    """Generate a city into landing root `out` and its truth into `<out>_truth/`."""
    say = progress or (lambda _stage, _n: None)
    if persons < 200:
        raise ValueError(f"persons must be at least 200 to hold every planted case, got {persons}")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        # Files of an earlier, larger city would linger beside the new one and be ingested.
        raise FileExistsError(f"landing folder {out} is not empty: remove it or pass another --out")
    truth_dir = Path(str(out) + "_truth")
    out.mkdir(parents=True, exist_ok=True)
    truth_dir.mkdir(parents=True, exist_ok=True)
    world = build_world(persons, months, seed, progress)
    findings = compute_findings(world)
    deliveries = render_all(world)
    if faults:
        _with_faults(world, deliveries)
    _number(deliveries)
    targets = noise_targets(deliveries)
    obsolete = world.tree.obsolete_for
    people = cycle(world.noise)
    counter = 0
    records = truth.RecordSink(truth_dir / "records.parquet")
    rows_written = 0
    for k, d in enumerate(deliveries):
        rng = np.random.default_rng([seed, 7919, k])
        # Corrupted IDs and error cells draw from their own stream: the row dirt above
        # stays what it was before they existed.
        rng_id = np.random.default_rng([seed, 7927, k])
        rate = dirt_rate if d.expected in ("loaded", "superseded") else 0.0
        if d.chunks is not None:
            # Defect rows go at the end of the last chunk: add_noise_rows(table, start).
            noise = (
                partial(add_noise_rows, world, d.feed, fmt="csv", people=people)
                if id(d) in targets
                else None
            )
            counter, n = _write_chunked(
                out, d, rng, rate, obsolete, noise, records, world.pop.uid, counter
            )
            rows_written += n
        else:
            if d.copy_of is None:
                for spec in d.files:
                    corrupt(spec.table, rate * ID_CORRUPT_SHARE, rng_id, spec.fmt)
                    dirty(spec.table, rate, rng, spec.fmt, obsolete)
                if id(d) in targets and world.noise:
                    counter = add_noise(world, d, people, counter)
                if _gets_error_cell(world, d, rng_id):
                    counter = add_error_row(
                        world, d.feed, d.files[0].table, people, counter, rng_id
                    )
            write_delivery(out, d)
            rows_written += sum(f.table.n for f in d.files)
            if d.expected == "loaded":
                for spec in d.files:
                    records.add(truth.file_records(d, spec.name, spec.table, world.pop.uid))
        nxt = deliveries[k + 1].feed if k + 1 < len(deliveries) else None
        if nxt != d.feed:
            say(f"deliver {d.feed}", rows_written)
    records.close()
    _write_truth(world, deliveries, findings, truth_dir)
    say("truth", len(findings))
    status = Counter(d.expected for d in deliveries)
    return {
        "persons": persons, "months": list(world.tl.months), "seed": seed, "landing": str(out),
        "truth": str(truth_dir), "deliveries": len(deliveries), "deliveries_by_status": dict(sorted(status.items())),
        "rows": rows_written, "records": records.rows,
        "findings": dict(sorted(Counter(f["rule_code"] for f in findings).items())),
        "near_misses": len(world.near_misses),
    }  # fmt: skip


def _write_chunked(
    out: Path, d, rng, rate: float, obsolete, noise, records, uids, counter: int
) -> tuple[int, int]:
    """Write a chunked delivery (the monthly hukou file): dirty, write and record each chunk,
    append the noise rows to the last one, then the manifest. Returns (counter, rows)."""
    name, encoding = d.chunk_file
    folder = out / d.feed / d.delivery_id
    folder.mkdir(parents=True, exist_ok=True)
    stream = CsvStream(folder / name, d.feed, encoding)
    offset = 0
    chunks = d.chunks()
    table = next(chunks)
    while table is not None:
        following = next(chunks, None)
        dirty(table, rate, rng, "csv", obsolete)
        if following is None and noise is not None:
            counter = noise(table, start=counter)
        stream.write(table)
        if d.expected == "loaded":
            records.add(truth.file_records(d, name, table, uids, offset))
        offset += table.n
        table = following
    entry = {"name": name, "sha256": stream.close(), "rows": offset, "encoding": encoding}
    write_manifest(out, d, [entry])
    d.files = [
        FileSpec(name, "csv", encoding, Table("hukou_population", [], {"n": np.zeros(offset)}))
    ]
    return counter, offset


def _gets_error_cell(world, d, rng: np.random.Generator) -> bool:
    """A loaded XLSX delivery of an ERROR_CELL_FEEDS feed, drawn at ERROR_CELL_SHARE."""
    if d.feed not in ERROR_CELL_FEEDS or d.expected != "loaded" or not world.noise:
        return False
    return bool(d.files and d.files[0].fmt == "xlsx" and rng.random() < ERROR_CELL_SHARE)


def _number(deliveries: list) -> None:
    """`seq` numbers a unit's deliveries of a feed on one day (a monthly full and a daily
    change file produced the same morning are 001 and 002)."""
    seen: Counter = Counter()
    for d in deliveries:
        key = (d.feed, d.unit, d.produced_on)
        seen[key] += 1
        d.seq = seen[key]


def _with_faults(world, deliveries: list) -> None:
    faults.resubmission(world, deliveries)
    dup = faults.duplicate(deliveries)
    if dup is not None:
        deliveries.append(dup)
    deliveries += faults.rejects(world)


def _write_truth(world, deliveries, findings, truth_dir: Path) -> None:
    truth.write_table(truth.delivery_rows(deliveries), truth_dir / "deliveries.parquet")
    truth.write_table(truth.persons_table(world), truth_dir / "persons.parquet")
    truth.write_table(truth.findings_table(findings), truth_dir / "findings.parquet")
    truth.write_table(
        truth.cases_table(world, world.near_misses), truth_dir / "near_misses.parquet"
    )
    truth.write_table(truth.cases_table(world, world.planted), truth_dir / "planted.parquet")
    truth.write_table(truth.namesakes_table(world), truth_dir / "namesakes.parquet")
