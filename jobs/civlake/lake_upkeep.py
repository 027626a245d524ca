"""Keep the lake's ledger tables small enough to read: compact their files, checkpoint
their logs.

The ingest ledger, the expectation results and the quarantine take a small append or
update on nearly every task of every run (one Delta commit, one small Parquet file
each). Nothing merged them, so every read opened every file the table ever got: on a
copy of a 1,000,000-person city's ledger grown by 950 appends (about eight months of
daily runs), one read took 2.2 s instead of 0.11 s, and the ledger is read many
times per run (docs/benchmarks.md, session 34). A checkpoint alone did not help: the
cost is the files.

``keep_small`` compacts such a table once ``COMMITS_BETWEEN`` commits have piled up since
its last checkpoint, then checkpoints it, so the next trigger is as far away again. It
runs at the end of a run (the publish stage), when no task of the run writes the lake,
on the embedded engine (delta-rs). A run that wrote nothing adds no commit, so it never
triggers: a rerun with nothing new still changes nothing. The compaction commit changes
no data; ``stage_inputs`` reads a table's version as its last commit that did
(``stage_inputs.data_version``), so the next run's stages are not re-run because of it.

Files the compaction replaced stay on disk, unread (a reader follows the log), until a
vacuum removes them; none is run here.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from civlake import tables
from civlake.stage_inputs import COMMIT_FILE

log = logging.getLogger(__name__)

# Appended to a little on nearly every task: compacted when they pile up. (Silver, bronze
# and the xref are not: their files are staged by name, and a compaction would make the
# warehouse copy every row again.)
LEDGER_TABLES = (tables.INGEST_AUDIT, tables.EXPECTATION_RESULTS, tables.QUARANTINE)
COMMITS_BETWEEN = 32
_CHECKPOINT = re.compile(r"^(\d{20})\.checkpoint(\.\d+\.\d+)?\.parquet$")


def commits_since_checkpoint(path: Path) -> int:
    """Commits after the table's last checkpoint (all of them without one); 0 if no table.
    Read from the log folder's file names only."""
    log_dir = path / "_delta_log"
    if not log_dir.is_dir():
        return 0
    names = [f.name for f in log_dir.iterdir()]
    commits = [int(m.group(1)) for n in names if (m := COMMIT_FILE.match(n))]
    checkpoints = [int(m.group(1)) for n in names if (m := _CHECKPOINT.match(n))]
    last = max(checkpoints, default=-1)
    return sum(1 for c in commits if c > last)


def keep_small(path: Path, *, commits_between: int = COMMITS_BETWEEN) -> dict | None:
    """Compact and checkpoint the table at ``path`` when ``commits_between`` commits
    have piled up since its last checkpoint; what was done, or None."""
    from deltalake import DeltaTable

    from civlake.lake import retry

    pending = commits_since_checkpoint(path)
    if pending < commits_between:
        return None
    try:
        # Again after a conflict: an hourly ingest run may be appending to the ledger.
        metrics = retry(lambda: DeltaTable(str(path)).optimize.compact())
        table = DeltaTable(str(path))  # the compaction's version
        table.create_checkpoint()
    except Exception as exc:  # upkeep never fails the run that calls it
        log.warning(
            "lake upkeep: could not compact %s (%s: %s); the table reads as before, and "
            "the next run tries again", path, type(exc).__name__, exc,
        )  # fmt: skip
        return None
    done = {
        "commits": pending,
        "files_removed": metrics.get("numFilesRemoved", 0),
        "files_added": metrics.get("numFilesAdded", 0),
        "version": table.version(),
    }
    log.info("lake upkeep: %s compacted (%s)", path.name, done)
    return done


def keep_ledgers_small(lake_root: Path) -> dict[str, dict]:
    """``keep_small`` on each ledger table; the ones it compacted."""
    out = {}
    for name in LEDGER_TABLES:
        if done := keep_small(tables.path(lake_root, name)):
            out[name] = done
    return out
