"""Run the dbt project programmatically (dbt's ``dbtRunner``), from civlake settings.

dbt reads the lake and warehouse locations from ``CIVLAKE_LAKE`` and
``CIVLAKE_WAREHOUSE`` (profiles.yml, macros); they are set from the settings for the
duration of the call only, so a caller's environment is left as it was. dbt runs in the
warehouse's folder, the warehouse named by its file name: dbt's parsed project is then
the same for every home, and a new home starts from the one another home saved
(``parse_cache``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from civlake.settings import REPO_ROOT, Settings
from civlake.transform import parse_cache

DBT_DIR = REPO_ROOT / "dbt"


class DbtBuildError(RuntimeError):
    """dbt failed: the message names each failed model or test and dbt's reason."""


@contextmanager
def _env(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def absent_lake_tables(settings: Settings) -> list[str]:
    """Lake tables the dbt sources read that do not exist (built as empty)."""
    from civlake import lake, tables

    # Sources whose absence is tolerated (read as empty): every lake table but bronze.
    wanted = [t for t in tables.all_tables(settings.schemas_dir) if not t.startswith("bronze/")]
    return [t for t in wanted if not lake.exists(tables.path(settings.lake, t))]


def dbt_work_dir(settings: Settings) -> Path:
    """Where dbt's target/ (manifest, run results, docs) and logs/ go for these settings."""
    return settings.warehouse.parent / f"{settings.warehouse.stem}_dbt"


def _invoke(settings: Settings, args: list[str], absent: list[str] | None = None) -> Any:
    """One dbt command on the settings' engine (dbt-duckdb, or dbt-spark when
    ``settings.engine == "spark"``: see civlake.transform.spark_target)."""
    import json

    from dbt.cli.main import dbtRunner

    from civlake.transform.rules import dbt_vars as rule_dbt_vars

    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    # Artefacts and logs live beside the warehouse they describe, not in the shared
    # checkout: two builds (tests, two cities) must not overwrite each other's manifest.
    work = dbt_work_dir(settings)
    common = [
        "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR), "--quiet",
        "--target-path", str(work / "target"), "--log-path", str(work / "logs"),
    ]  # fmt: skip
    # The warehouse by its file name, dbt running in its folder: the path is one of the
    # connection settings dbt's parsed project is checked against (parse_cache).
    env = {"CIVLAKE_LAKE": str(settings.lake), "CIVLAKE_WAREHOUSE": settings.warehouse.name}
    env.update(_duckdb_limits(settings))
    # findings.sql unions the rule models the verify_rules seed names; dbt cannot read a
    # seed at compile time, so the list comes in as a var (civlake.transform.rules).
    dbt_vars: dict[str, Any] = rule_dbt_vars()
    absent = absent_lake_tables(settings) if absent is None else absent
    if settings.engine == "spark":
        from civlake.transform import spark_target

        spark_target.prepare(settings, absent)
        env["CIVLAKE_SPARK_WAREHOUSE"] = str(spark_target.spark_warehouse(settings))
        common += ["--target", "spark"]
        dbt_vars["absent_lake_tables"] = absent
    else:
        from civlake.transform import delta_source

        delta_source.prepare(settings, DBT_DIR / "models", absent)
    common += ["--vars", json.dumps(dbt_vars)]
    target = "spark" if settings.engine == "spark" else "default"
    parse_cache.seed(work / "target", settings.dbt_parse_cache, target)
    with _env(env), _cwd(settings.warehouse.parent):
        try:
            return dbtRunner().invoke([*args, *common])
        finally:
            _release_warehouse()
            parse_cache.keep(work / "target", settings.dbt_parse_cache, target)


@contextmanager
def _cwd(folder: Path) -> Iterator[None]:
    """Run in ``folder`` (dbt-duckdb opens the warehouse, and DuckDB its spill folder
    ``<warehouse>.tmp``, relative to it), then back."""
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def _duckdb_limits(settings: Settings) -> dict[str, str]:
    """The warehouse connection's memory limit (profiles.yml)."""
    from civlake.engine.duck import default_memory_limit

    return {"CIVLAKE_DBT_MEMORY_LIMIT": settings.memory_limit or default_memory_limit()}


def _release_warehouse() -> None:
    """Close dbt-duckdb's cached in-process connection to the warehouse file.

    dbt-duckdb keeps one DuckDB instance per process for reuse across invocations; while
    it is open, any other connection in this process (the publish stage, a test reading
    the marts read-only) is refused with "different configuration". Closing it costs a
    reconnect (milliseconds) on the next build.
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    env = DuckDBConnectionManager._ENV
    if env is not None:
        env.close()
    DuckDBConnectionManager.close_all_connections()


def _failures(result: Any) -> list[str]:
    out = []
    for r in getattr(result.result, "results", None) or []:
        status = str(getattr(r.status, "value", r.status))
        if status in ("error", "fail", "runtime error"):
            node = r.node
            kind = node.resource_type.value if hasattr(node, "resource_type") else "node"
            message = (r.message or "").strip().splitlines()
            out.append(f"{kind} {node.name}: {status}: {' '.join(message)[:500]}")
    return out


def read_model(settings: Settings, schema: str, name: str) -> Any:
    """A built model as an Arrow table, from the engine that built it (parity tests)."""
    if settings.engine == "spark":
        from civlake.transform.spark_target import read_spark_model

        return read_spark_model(settings, schema, name)
    import duckdb

    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        return con.execute(f'select * from "{schema}"."{name}"').to_arrow_table()
    finally:
        con.close()


def run_dbt(
    settings: Settings,
    *,
    select: str | None = None,
    exclude: str | None = None,
    full_refresh: bool = False,
    resource_types: tuple[str, ...] = (),
    write_manifest: bool = True,
    unit_tests: bool = True,
) -> dict[str, Any]:
    """``dbt build`` (models, tests, unit tests) of the project, optionally a selection.

    ``resource_types`` narrows the build (``("model", "seed")``: tables only, no tests);
    the engine parity test uses it because each data test is one more Spark job and the
    tests read tables the parity check already compares row for row.

    ``write_manifest=False`` when a later build of the run writes it (the compare gate:
    the build stage's): dbt writes ``manifest.json`` (2 MB) after parsing and again after
    building, 0.3 s each at any city size. ``run_results.json`` is written either way.

    ``unit_tests=False`` leaves out dbt's unit tests (the SQL of a model checked on fixed
    rows in the project): they say whether the code is right, not whether the city's
    data is, and fixed rows give the same answer on every run; the test suite runs them
    (tests/integration/test_dbt_build.py), as dbt's documentation advises: in
    development and CI, not in production runs. The pipeline's two builds ran 9 of them,
    ~2.3 s, several on the compare gate's longest path.

    Returns ``{"success", "absent_tables", "results": [{name, resource_type, status,
    execution_time, message}]}``; raises DbtBuildError naming every failed model or test.
    """
    args = ["build"]
    if select:
        # Cautious: a relationships test between a selected and an unselected model
        # (fct_payment -> dim_person when only dim_person is built) is skipped instead
        # of failing on a table this run never built.
        args += ["--select", select, "--indirect-selection", "cautious"]
    if exclude:
        args += ["--exclude", exclude]
    if full_refresh:
        args.append("--full-refresh")
    for kind in resource_types:
        args += ["--resource-type", kind]
    if not write_manifest:
        args.append("--no-write-json")  # both manifest.json and run_results.json
    if not unit_tests:
        args += ["--exclude-resource-type", "unit_test"]
    absent = absent_lake_tables(settings)
    result = _invoke(settings, args, absent)
    if not write_manifest and hasattr(result.result, "write"):
        # dbt's own writer, to where dbt writes it: the record of this build stays.
        result.result.write(str(dbt_work_dir(settings) / "target" / "run_results.json"))
    if result.exception is not None:
        raise DbtBuildError(
            f"dbt could not run ({type(result.exception).__name__}: {result.exception}); "
            f"project {DBT_DIR}, warehouse {settings.warehouse}, lake {settings.lake}"
        ) from result.exception
    failed = _failures(result)
    if failed or not result.success:
        log = dbt_work_dir(settings) / "logs" / "dbt.log"
        detail = "\n  ".join(failed) or f"no node failed; see {log}"
        raise DbtBuildError(
            f"dbt build failed on {len(failed)} node(s) (warehouse {settings.warehouse}):\n"
            f"  {detail}\nFix the model or the data it names, then rerun; "
            f"`dbt build --select <name>` in dbt/ reproduces one node."
        )
    results = [
        {
            "name": r.node.name,
            "resource_type": r.node.resource_type.value,
            "status": str(getattr(r.status, "value", r.status)),
            "execution_time": r.execution_time,
            "message": r.message,
        }
        for r in result.result.results
    ]
    out: dict[str, Any] = {"success": True, "absent_tables": absent, "results": results}
    if settings.engine == "spark":
        # Serving reads the DuckDB warehouse whichever engine built the models.
        from civlake.transform.spark_target import export_serving_copy

        out["serving_copy"] = export_serving_copy(settings)
    return out


def generate_docs(settings: Settings) -> Path:
    """``dbt docs generate``; returns the folder holding index.html and catalog.json.

    ``--no-compile``: the site shows each model's SQL as written, its columns, tests and
    lineage, and the catalog read from the built warehouse; compiling every node again
    only added the compiled SQL, and cost 17-22 s of the build stage at any city size
    (361 nodes rendered; 1.7 s without it, measured on a 2,000-person city). dbt-spark's
    catalog needs the compiled nodes (without them it fails reading a relation's schema),
    so on the Spark engine the nodes are compiled as before."""
    args = (
        ["docs", "generate"] if settings.engine == "spark" else ["docs", "generate", "--no-compile"]
    )
    result = _invoke(settings, args)
    if result.exception is not None or not result.success:
        raise DbtBuildError(
            f"dbt docs generate failed ({result.exception}); build the project first "
            f"with run_dbt (the catalog reads the built warehouse {settings.warehouse})"
        )
    return dbt_work_dir(settings) / "target"


def source_freshness(settings: Settings) -> dict[str, str]:
    """``dbt source freshness``: source name -> pass | warn | error | runtime error.

    Stale sources are an operator's signal, not a failed build, so nothing is raised
    for them; only a freshness run that could not execute raises.
    """
    import json

    result = _invoke(settings, ["source", "freshness"])
    if result.exception is not None:
        raise DbtBuildError(f"dbt source freshness could not run: {result.exception}")
    path = dbt_work_dir(settings) / "target" / "sources.json"
    report = json.loads(path.read_text(encoding="utf-8"))
    return {
        ".".join(r["unique_id"].split(".")[-2:]): r["status"] for r in report.get("results", [])
    }
