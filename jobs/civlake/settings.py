"""One settings factory, read lazily (never at import time).

Precedence: explicit argument (CLI option) > environment variable > default under
``CIVLAKE_HOME`` (default ``./data``), as OUTPUTS.md section 6 fixes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from civlake.engine import check_engine

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Rate limits of ``civlake serve``, each settable as ``CIVLAKE_RATE_<NAME>``
    (e.g. ``CIVLAKE_RATE_PUBLIC_BURST``): a load test raises them (bench/bench_serve.py)."""

    key_per_minute: int = 120
    key_burst: int = 30
    public_per_minute: int = 600
    public_burst: int = 120
    # Failed authentication per client address. An agency mistyping its key fails a
    # few times; 10 a minute stops key guessing and audit-log flooding (the refusals
    # past it are audited as one line per client per minute).
    auth_fail_per_minute: int = 10
    auth_fail_burst: int = 10
    # Memory bound of each limiter: clients remembered (least recently seen dropped
    # first) and forgotten after this many idle seconds.
    max_clients: int = 10_000
    idle_seconds: int = 600


def _limits(env: dict[str, str]) -> Limits:
    values = {}
    for name in Limits.__dataclass_fields__:
        raw = env.get(f"CIVLAKE_RATE_{name.upper()}")
        if raw:
            if not raw.isdigit() or int(raw) < 1:
                raise ValueError(f"CIVLAKE_RATE_{name.upper()} must be a positive integer")
            values[name] = int(raw)
    return Limits(**values)


@dataclass(frozen=True, kw_only=True)
class Settings:
    home: Path
    landing: Path
    lake: Path
    warehouse: Path
    publish: Path
    engine: str = "duckdb"
    spark_master: str = "local[*]"
    exchange_url: str | None = None
    # Where `civlake audit checkpoint` appends: meant to be writable by another account
    # than the server's (serve/audit_cli.py). Default <home>/audit-checkpoints/.
    audit_checkpoints: Path
    schemas_dir: Path = REPO_ROOT / "schemas"
    limits: Limits = Limits()

    @property
    def secrets_dir(self) -> Path:
        return self.home / ".secrets"

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def state_dir(self) -> Path:
        return self.home / "state"


def load_settings(
    *,
    landing: str | Path | None = None,
    lake: str | Path | None = None,
    warehouse: str | Path | None = None,
    publish: str | Path | None = None,
    engine: str | None = None,
    spark_master: str | None = None,
    env: dict[str, str] | None = None,
) -> Settings:
    env = dict(os.environ) if env is None else env
    home = Path(env.get("CIVLAKE_HOME", "data")).resolve()

    def pick(option: str | Path | None, var: str, default: Path) -> Path:
        value = option if option is not None else env.get(var)
        return Path(value).resolve() if value else default

    return Settings(
        home=home,
        landing=pick(landing, "CIVLAKE_LANDING", home / "landing"),
        lake=pick(lake, "CIVLAKE_LAKE", home / "lake"),
        warehouse=pick(warehouse, "CIVLAKE_WAREHOUSE", home / "warehouse.duckdb"),
        publish=pick(publish, "CIVLAKE_PUBLISH", home / "publish"),
        engine=check_engine(engine or env.get("CIVLAKE_ENGINE", "duckdb")),
        spark_master=spark_master or env.get("CIVLAKE_SPARK_MASTER", "local[*]"),
        exchange_url=env.get("CIVLAKE_EXCHANGE_URL") or None,
        limits=_limits(env),
        audit_checkpoints=pick(
            None, "CIVLAKE_AUDIT_CHECKPOINTS", home / "audit-checkpoints" / "checkpoints.jsonl"
        ),
    )
