"""dbt's parsed project, shared by every home of this checkout.

dbt parses the whole project before any command (about 4-5 s for this one: 160 tests,
47 models, their macros) and keeps what it parsed in ``<target>/partial_parse.msgpack``.
The next command reuses it when nothing dbt checks has changed: the project's files (a
hash of each), the command-line vars, the profile's connection settings, the environment
variables the files read, and dbt's own version. A changed file is parsed again alone;
anything else changed means a full parse. Each home has its own target folder, so
without this every new home (each test's city, each acceptance run, a new deployment)
paid the full parse on its first command.

Here a home with no parsed project of its own starts from the last one any home of this
checkout saved (``Settings.dbt_parse_cache``, one file per dbt target). dbt itself
decides whether it still holds: the cache only saves the parse when every check passes,
and is overwritten by the next command's result either way. For the checks to pass
across homes the project reads nothing home-specific while parsing: the warehouse is
named relative to the folder dbt runs in (``runner._invoke``), and the lake's location
is read when a node runs, not when it is parsed (``dbt/macros/spark_engine.sql``).

Failures here never fail a command: an unreadable or unwritable cache is logged and dbt
parses as it would without it.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

log = logging.getLogger("civlake.transform")

PARSED = "partial_parse.msgpack"


def _cached(cache_dir: Path, target: str) -> Path:
    return cache_dir / f"{target}.msgpack"


def seed(target_path: Path, cache_dir: Path, target: str) -> bool:
    """Give ``target_path`` (a home's dbt target folder) the cached parse of ``target``
    when it has none of its own; True when one was copied."""
    own, cached = target_path / PARSED, _cached(cache_dir, target)
    if own.exists() or not cached.is_file():
        return False
    try:
        target_path.mkdir(parents=True, exist_ok=True)
        _copy(cached, own)
    except OSError as exc:
        log.info("dbt parse cache %s not used (%s): dbt parses the project", cached, exc)
        return False
    return True


def keep(target_path: Path, cache_dir: Path, target: str) -> None:
    """Save ``target_path``'s parse as the cached one of ``target`` (when it differs)."""
    own, cached = target_path / PARSED, _cached(cache_dir, target)
    try:
        if not own.is_file() or (cached.is_file() and _same(own, cached)):
            return
        cache_dir.mkdir(parents=True, exist_ok=True)
        _copy(own, cached)
    except OSError as exc:
        log.info("dbt parse cache %s not saved (%s)", cached, exc)


def _same(a: Path, b: Path) -> bool:
    sa, sb = a.stat(), b.stat()
    return sa.st_size == sb.st_size and a.read_bytes() == b.read_bytes()


def _copy(src: Path, dst: Path) -> None:
    """Copy through a temporary file and a rename: a reader (another home's command)
    sees the old file or the new one, never a part."""
    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.")
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.chmod(tmp, 0o644)  # as dbt writes it (mkstemp makes it the owner's only)
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
