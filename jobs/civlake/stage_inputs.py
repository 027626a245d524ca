"""Skip a stage whose inputs have not changed since it last completed.

Ingest and the clean gate only ever take pending deliveries, and publishing writes a
version only when content changes; the stages between them (the expectations gate,
resolution, the dbt builds, the worklists) read whole tables and rewrote their outputs on
every run, so a run with nothing new added Delta versions, expectation results and a new
warehouse file (issue 17: "a run with nothing new writes nothing").

A stage's *inputs* are the versions of the lake tables it reads (the last commit number
in each ``_delta_log`` that changed data, a compaction being none: cheap, and the same for
tables written by delta-rs or Spark),
plus whatever else decides its result (the dbt project's files, the person-key secret's
fingerprint, the linkage threshold). Its *outputs* are the versions or file stamps of what
it writes. After a stage completes, both are recorded in ``<state>/stage_inputs/<stage>.json``;
the next run skips the stage when the inputs are the same and the outputs are still what
the stage left (so a deleted or hand-edited output is rebuilt). A failed stage records
nothing, so it runs again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable
from pathlib import Path

from civlake.settings import Settings

log = logging.getLogger(__name__)
COMMIT_FILE = re.compile(r"^(\d{20})\.json$")  # a Delta commit in _delta_log


def table_version(path: Path) -> int | None:
    """Last commit number of a Delta table that changed its data (None: no table): a
    compaction of its files (civlake.lake_upkeep) is not a new input."""
    log_dir = path / "_delta_log"
    if not log_dir.is_dir():
        return None
    numbers = [int(m.group(1)) for f in log_dir.iterdir() if (m := COMMIT_FILE.match(f.name))]
    return data_version(log_dir, max(numbers)) if numbers else None


def data_version(log_dir: Path, version: int) -> int:
    """The last commit up to ``version`` that changed the table's data: a compaction
    (commitInfo operation OPTIMIZE, every action dataChange false) is skipped."""
    while version > 0:
        commit = log_dir / f"{version:020d}.json"
        try:
            lines = commit.read_text(encoding="utf-8").splitlines()
        except OSError:
            return version
        actions = [json.loads(line) for line in lines if line.strip()]
        info = next((a["commitInfo"] for a in actions if "commitInfo" in a), {})
        changes = [a[k] for a in actions for k in ("add", "remove") if k in a]
        if info.get("operation") != "OPTIMIZE" or any(c.get("dataChange") for c in changes):
            return version
        version -= 1
    return version


def lake_tables(lake: Path) -> list[Path]:
    """Every Delta table under the lake (``<layer>/<name>`` or a top-level table)."""
    if not lake.is_dir():
        return []
    return sorted(p.parent for p in lake.glob("**/_delta_log") if p.is_dir())


def versions(lake: Path, tables: Iterable[Path] | None = None) -> dict[str, int | None]:
    paths = lake_tables(lake) if tables is None else list(tables)
    return {str(p.relative_to(lake)): table_version(p) for p in paths}


def rows_hash(path: Path, column: str, value: str) -> str | None:
    """Content hash of a (small) Delta table's rows where ``column`` equals ``value``,
    read with delta-rs whatever the engine (both write the same tables)."""
    import pyarrow.compute as pc

    from civlake import lake

    table = lake.open_table(path)
    if table is None:
        return None
    rows = lake.arrow_table(table)
    rows = rows.filter(pc.equal(rows[column], value))
    lines = sorted(json.dumps(r, sort_keys=True, default=str) for r in rows.to_pylist())
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def file_stamp(path: Path) -> str | None:
    """Size and modification time of a file or of every file below a folder."""
    if path.is_file():
        st = path.stat()
        return f"{st.st_size}:{st.st_mtime_ns}"
    if path.is_dir():
        digest = hashlib.sha256()
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            st = f.stat()
            digest.update(f"{f.relative_to(path)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
        return digest.hexdigest()
    return None


def tree_hash(root: Path, patterns: Iterable[str]) -> str:
    """Content hash of the files under ``root`` matching ``patterns`` (e.g. dbt's SQL)."""
    digest = hashlib.sha256()
    for pattern in patterns:
        for f in sorted(root.glob(pattern)):
            if f.is_file():
                digest.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes())
    return digest.hexdigest()


def _record_path(settings: Settings, stage: str) -> Path:
    return settings.state_dir / "stage_inputs" / f"{stage}.json"


def unchanged(settings: Settings, stage: str, inputs: dict, outputs: dict) -> bool:
    """True when ``stage`` last completed on these inputs and left these outputs."""
    path = _record_path(settings, stage)
    if not path.is_file():
        return False
    try:
        last = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    same = last.get("inputs") == _plain(inputs) and last.get("outputs") == _plain(outputs)
    if same:
        log.info("%s: inputs unchanged since its last run; skipped", stage)
    return same


def record(settings: Settings, stage: str, inputs: dict, outputs: dict) -> None:
    path = _record_path(settings, stage)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    body = {"inputs": _plain(inputs), "outputs": _plain(outputs)}
    tmp.write_text(json.dumps(body, ensure_ascii=False, sort_keys=True, indent=1), "utf-8")
    tmp.replace(path)


def _plain(value: dict) -> dict:
    """JSON round trip, so a recorded and a fresh fingerprint compare alike."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))
