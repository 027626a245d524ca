"""Where the dbt stages' seconds go (issue 17, "hardware speed"), on a copy of a city.

    .venv/bin/python bench/bench_dbt.py --home /tmp/inc1m-f --work /tmp/dbt-bench

Copies the home's lake (and .secrets) to ``--work`` once, then runs what the pipeline's
``verify`` and ``build`` stages run, without their unchanged-inputs check: verify is
``run_dbt(select=COMPARE_GATE)`` plus the district worklists, build is
``run_dbt(exclude=COMPARE_GATE)`` plus ``dbt docs generate``. Each step prints its wall
and CPU seconds (this process and its threads: DuckDB's workers included), then dbt's
nodes by kind and the slowest nodes, and the rest of the wall time that is dbt's own
(start, parse, graph, source registration). ``--fingerprint FILE`` writes every built
table's row count and an order-independent hash of its rows, and a hash of each
worklist, so two versions of the project can be shown to build the same outputs.
Prints, never asserts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pipeline import dbt_nodes


class NodeCpu:
    """CPU seconds of each dbt node (this process, DuckDB's threads included), from dbt's
    NodeStart/NodeFinished events: with ``threads: 1`` one node runs at a time, so the
    process's CPU between them is the node's, whatever else loads the machine."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    def __call__(self, event) -> None:
        name = event.info.name
        if name not in ("NodeStart", "NodeFinished"):
            return
        node = event.data.node_info.unique_id
        if name == "NodeStart":
            self.started[node] = time.process_time()
        elif node in self.started:
            self.cpu[node] = time.process_time() - self.started.pop(node)

    def install(self) -> None:
        import dbt.cli.main

        plain = dbt.cli.main.dbtRunner.__init__
        me = self

        def with_callback(runner, manifest=None, callbacks=None):
            plain(runner, manifest=manifest, callbacks=[*(callbacks or []), me])

        dbt.cli.main.dbtRunner.__init__ = with_callback

    def report(self) -> str:
        kinds: dict[str, float] = {}
        for node, cpu in self.cpu.items():
            kinds[node.split(".")[0]] = kinds.get(node.split(".")[0], 0.0) + cpu
        top = sorted(self.cpu.items(), key=lambda kv: -kv[1])[:8]
        self.cpu.clear()
        return "; ".join(
            [f"{kind}s {sec:.1f} s CPU" for kind, sec in sorted(kinds.items())]
            + ["slowest " + ", ".join(f"{n.split('.')[-1]} {c:.1f}" for n, c in top)]
        )


class Calls:
    """Count, wall and CPU seconds of dbt-duckdb's source loading and cursor set-up (each
    new cursor SETs the profile's settings and re-registers every source read so far)."""

    def __init__(self) -> None:
        self.seen: dict[str, list[float]] = {}

    def wrap(self, owner, name: str, *, classmethod_: bool = False) -> None:
        plain = getattr(owner, name)
        seen = self.seen.setdefault(name, [0, 0.0, 0.0])

        def timed(*args, **kwargs):
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return plain(*args, **kwargs)
            finally:
                seen[0] += 1
                seen[1] += time.perf_counter() - wall
                seen[2] += time.process_time() - cpu

        setattr(owner, name, staticmethod(timed) if classmethod_ else timed)

    def install(self) -> None:
        from dbt.adapters.duckdb.environments import Environment
        from dbt.adapters.duckdb.environments.local import LocalEnvironment

        self.wrap(LocalEnvironment, "load_source")
        self.wrap(Environment, "initialize_cursor", classmethod_=True)

    def report(self) -> str:
        out = ", ".join(
            f"{name} {n}x {wall:.1f} s wall {cpu:.1f} s CPU"
            for name, (n, wall, cpu) in self.seen.items()
        )
        for seen in self.seen.values():
            seen[:] = [0, 0.0, 0.0]
        return out


def _copy_home(src: Path, work: Path) -> None:
    if (work / "lake").is_dir():
        return
    work.mkdir(parents=True, exist_ok=True)
    shutil.copytree(src / "lake", work / "lake")
    if (src / ".secrets").is_dir():
        shutil.copytree(src / ".secrets", work / ".secrets")


def _timed(label: str, fn, *args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args, **kwargs)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"  {label:<28}{wall:>8.1f} s wall{cpu:>8.1f} s CPU", flush=True)
    return out, wall


def fingerprint(settings, run: tuple[datetime, datetime]) -> dict[str, str]:
    """Every warehouse table: row count and the sum of its rows' hashes (order-free);
    each worklist: a hash of its cells. A timestamp inside ``run`` (the build's own time,
    dbt's run_started_at: findings' first_detected_at) is hashed as one placeholder, so
    two builds of the same lake compare equal."""
    import duckdb

    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        out = {}
        names = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' order by 1, 2"
        ).fetchall()
        for schema, name in names:
            cols = con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position",
                [schema, name],
            ).fetchall()
            exprs = [
                f'case when "{c}" between $1 and $2 then null else "{c}" end'
                if kind.startswith("TIMESTAMP")
                else f'"{c}"'
                for c, kind in cols
            ]
            n, h = con.execute(
                f"select count(*), coalesce(sum(hash({', '.join(exprs)})::hugeint), 0) "
                f'from "{schema}"."{name}"',
                list(run) if "$1" in " ".join(exprs) else [],
            ).fetchone()
            out[f"{schema}.{name}"] = f"{n} rows, hash {h}, columns " + ", ".join(
                f"{c} {kind}" for c, kind in cols
            )
    finally:
        con.close()
    for path in sorted(settings.worklists_dir.glob("*.xlsx")):
        out[f"worklist {path.name}"] = _worklist_digest(path, run)
    return out


def _worklist_digest(path: Path, run: tuple[datetime, datetime]) -> str:
    import re

    from openpyxl import load_workbook

    def minute(text: str) -> str:
        at = datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
        # written in UTC or in Beijing time (+8 h)
        near = any(
            run[0] - timedelta(minutes=1) <= at - timedelta(hours=h) <= run[1] for h in (0, 8)
        )
        return "<run>" if near else text

    book = load_workbook(path, read_only=True)
    digest = hashlib.sha256()
    for sheet in book.worksheets:
        digest.update(sheet.title.encode())
        for row in sheet.iter_rows(values_only=True):
            text = re.sub(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", lambda m: minute(m[0]), repr(row))
            digest.update(text.encode())
    return digest.hexdigest()[:16]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", type=Path, required=True, help="a city's CIVLAKE_HOME (read only)")
    ap.add_argument("--work", type=Path, required=True, help="where the copy is made and built")
    ap.add_argument("--fingerprint", type=Path, help="write the built tables' fingerprints here")
    ap.add_argument("--skip-docs", action="store_true", help="leave out dbt docs generate")
    args = ap.parse_args()

    from civlake.pipeline import COMPARE_GATE
    from civlake.settings import load_settings
    from civlake.transform import generate_docs, run_dbt
    from civlake.verify import write_worklists

    logging.disable(logging.WARNING)
    cpu = NodeCpu()
    cpu.install()
    calls = Calls()
    calls.install()
    _copy_home(args.home, args.work)
    settings = load_settings(env={"CIVLAKE_HOME": str(args.work)})
    for stale in (settings.warehouse, settings.warehouse.with_suffix(".duckdb.wal")):
        stale.unlink(missing_ok=True)
    shutil.rmtree(settings.worklists_dir, ignore_errors=True)
    load = os.getloadavg()
    print(f"home {args.home} (copy {args.work}); load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC")  # fmt: skip

    total = 0.0
    started = datetime.now(UTC)
    print("verify:")
    result, wall = _timed("dbt build (compare gate)", run_dbt, settings, select=COMPARE_GATE)
    _report(result["results"], wall, cpu, calls)
    total += wall
    _, wall = _timed("worklists", write_worklists, settings, settings.worklists_dir)
    total += wall
    print("build:")
    result, wall = _timed("dbt build (the rest)", run_dbt, settings, exclude=COMPARE_GATE)
    _report(result["results"], wall, cpu, calls)
    total += wall
    if not args.skip_docs:
        _, wall = _timed("dbt docs generate", generate_docs, settings)
        total += wall
    print(f"verify + build: {total:.1f} s wall")
    if args.fingerprint:
        prints = fingerprint(settings, (started, datetime.now(UTC)))
        args.fingerprint.write_text(json.dumps(prints, indent=1, ensure_ascii=False) + "\n")
        print(f"fingerprints of {len(prints)} tables and worklists: {args.fingerprint}")


def _report(results: list[dict], wall: float, cpu: NodeCpu, calls: Calls) -> None:
    nodes = sum(r["execution_time"] for r in results)
    print(f"    {dbt_nodes(results)}")
    print(f"    {cpu.report()}")
    print(f"    {calls.report()}")
    print(f"    nodes {nodes:.1f} s; dbt's own (start, parse, sources, graph) {wall - nodes:.1f} s")


if __name__ == "__main__":
    main()
