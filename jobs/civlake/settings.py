"""One settings factory, read lazily (never at import time).

Every ``CIVLAKE_*`` variable is read here, by ``load_settings``, and nowhere else: the
code that needs one is given the ``Settings``. Each field names its variable
(``variable_names()`` lists them; ``.env.example`` documents each, a test checks both
ways). A bad value stops ``load_settings`` with the variable, the value and what is
allowed.

Precedence: explicit argument (CLI option) > environment variable > default under
``CIVLAKE_HOME`` (default ``./data``), as OUTPUTS.md section 6 fixes.

Secrets (person key, audit chain, exchange token) are carried as given; when unset,
``resolve.keys`` and ``serve.audit`` generate them into ``<home>/.secrets/`` on first
use. They are kept out of ``repr`` so a logged ``Settings`` never shows them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
# The open-data directory, one YAML per dataset (publish/catalog.py reads it).
CATALOG_DIR = REPO_ROOT / "catalog"
# 0.95: a wrong merge hides a person's payments under someone else (a finding lost),
# a missed merge only adds a duplicate person, which the findings still surface.
RESOLVE_THRESHOLD = 0.95
# Spark's setLogLevel accepts exactly these.
SPARK_LOG_LEVELS = ("ALL", "DEBUG", "ERROR", "FATAL", "INFO", "OFF", "TRACE", "WARN")
# Where Airflow keeps the exchange connection (its secrets backend's environment form):
# the token's fallback when CIVLAKE_EXCHANGE_TOKEN is unset (exchange/token.py).
EXCHANGE_CONNECTION_ENV = "AIRFLOW_CONN_CIVLAKE_EXCHANGE"


def _var(name: str) -> dict[str, str]:
    """Metadata of a settings field read from environment variable ``name``."""
    return {"env": name}


ENGINES = ("duckdb", "spark")


def check_engine(name: str) -> str:
    """The engine name, from ``--engine`` or ``CIVLAKE_ENGINE``; anything else is refused
    (an unknown name used to run silently on the embedded engine)."""
    if name not in ENGINES:
        raise ValueError(
            f"unknown engine {name!r} (--engine or CIVLAKE_ENGINE); choose one of "
            f"{', '.join(ENGINES)}"
        )
    return name


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

    @staticmethod
    def variable(name: str) -> str:
        return f"CIVLAKE_RATE_{name.upper()}"


@dataclass(frozen=True, kw_only=True)
class Settings:
    home: Path = field(metadata=_var("CIVLAKE_HOME"))
    landing: Path = field(metadata=_var("CIVLAKE_LANDING"))
    lake: Path = field(metadata=_var("CIVLAKE_LAKE"))
    warehouse: Path = field(metadata=_var("CIVLAKE_WAREHOUSE"))
    publish: Path = field(metadata=_var("CIVLAKE_PUBLISH"))
    engine: str = field(default="duckdb", metadata=_var("CIVLAKE_ENGINE"))
    spark_master: str = field(default="local[*]", metadata=_var("CIVLAKE_SPARK_MASTER"))
    # Delta's Spark jars, fetched with Maven on first use (engine/spark.py); shared by
    # every CIVLAKE_HOME of this checkout, so not under home.
    spark_jars: Path = field(
        default=REPO_ROOT / "data" / "spark-jars", metadata=_var("CIVLAKE_SPARK_JARS")
    )
    # dbt's parsed project (transform/parse_cache.py), shared by every CIVLAKE_HOME of
    # this checkout: a new home's first dbt command starts from it instead of parsing.
    dbt_parse_cache: Path = field(
        default=REPO_ROOT / "data" / "dbt-parse", metadata=_var("CIVLAKE_DBT_PARSE_CACHE")
    )
    spark_driver_memory: str = field(default="6g", metadata=_var("CIVLAKE_SPARK_DRIVER_MEMORY"))
    # Resolution collects whole tables to the driver (ADR 0004, measured limits): Spark's
    # 1 GiB default stopped a 3,000,000-person city's silver hukou (1.1 GiB of Arrow) in
    # the expectations gate, which since issue 17 collects no silver rows (chunks.py).
    spark_max_result_size: str = field(default="4g", metadata=_var("CIVLAKE_SPARK_MAX_RESULT_SIZE"))
    # None: twice the cores of this machine (engine/spark.py); set it on a cluster.
    spark_shuffle_partitions: int | None = field(
        default=None, metadata=_var("CIVLAKE_SPARK_SHUFFLE_PARTITIONS")
    )
    spark_log_level: str = field(default="ERROR", metadata=_var("CIVLAKE_SPARK_LOG_LEVEL"))
    # Executors on a cluster master (spark://, yarn, k8s://). None: Spark's defaults (1g;
    # all of a worker's cores; every free core of a standalone cluster). Each stage task is
    # its own Spark application, so an application must fit the free cluster; one that
    # gets no executor within the timeout stops with an error instead of waiting.
    spark_executor_memory: str | None = field(
        default=None, metadata=_var("CIVLAKE_SPARK_EXECUTOR_MEMORY")
    )
    spark_executor_cores: int | None = field(
        default=None, metadata=_var("CIVLAKE_SPARK_EXECUTOR_CORES")
    )
    spark_cores_max: int | None = field(default=None, metadata=_var("CIVLAKE_SPARK_CORES_MAX"))
    spark_executor_timeout: int = field(
        default=300, metadata=_var("CIVLAKE_SPARK_EXECUTOR_TIMEOUT")
    )
    # DuckDB's memory limit for the embedded engine's streaming stages (e.g. "4GB");
    # beyond it they spill to <home>/state/duckdb_tmp. None: duck.default_memory_limit().
    memory_limit: str | None = field(default=None, metadata=_var("CIVLAKE_MEMORY_LIMIT"))
    # Rows the expectations gate hands GX at once (one pandas frame): its memory is set by
    # this, not by the city. 250,000 rows of silver hukou are ~0.5 GiB of pandas objects.
    expectations_batch_rows: int = field(
        default=250_000, metadata=_var("CIVLAKE_EXPECTATIONS_BATCH_ROWS")
    )
    # Processes validating a feed's chunks side by side (civlake.forks), each
    # holding one chunk (fewer chunks than workers: a share of the suite each).
    # None: one per core, at most 4.
    expectations_workers: int | None = field(
        default=None, metadata=_var("CIVLAKE_EXPECTATIONS_WORKERS")
    )
    resolve_threshold: float = field(
        default=RESOLVE_THRESHOLD, metadata=_var("CIVLAKE_RESOLVE_THRESHOLD")
    )
    person_key_secret: str | None = field(
        default=None, repr=False, metadata=_var("CIVLAKE_PERSON_KEY_SECRET")
    )
    audit_secret: str | None = field(
        default=None, repr=False, metadata=_var("CIVLAKE_AUDIT_SECRET")
    )
    # Signs the short-lived file URLs of the Delta Sharing server (serve/sharing/signing.py);
    # generated into .secrets/sharing.secret when unset. Losing it only voids URLs in flight.
    sharing_secret: str | None = field(
        default=None, repr=False, metadata=_var("CIVLAKE_SHARING_SECRET")
    )
    # How agencies reach `civlake serve` (behind a proxy: its https URL); the Delta Sharing
    # profiles and signed file URLs are built on it. None: the address a request came to.
    public_url: str | None = field(default=None, metadata=_var("CIVLAKE_PUBLIC_URL"))
    # Where `civlake audit checkpoint` appends: meant to be writable by another account
    # than the server's (serve/audit_cli.py). Default <home>/audit-checkpoints/.
    audit_checkpoints: Path = field(metadata=_var("CIVLAKE_AUDIT_CHECKPOINTS"))
    exchange_url: str | None = field(default=None, metadata=_var("CIVLAKE_EXCHANGE_URL"))
    exchange_token: str | None = field(
        default=None, repr=False, metadata=_var("CIVLAKE_EXCHANGE_TOKEN")
    )
    exchange_connection: str | None = field(
        default=None, repr=False, metadata=_var(EXCHANGE_CONNECTION_ENV)
    )
    # The simulator's fault injection (exchange/faults.py parses it when it starts).
    exchange_faults: str | None = field(default=None, metadata=_var("CIVLAKE_EXCHANGE_FAULTS"))
    limits: Limits = field(default_factory=Limits)
    schemas_dir: Path = REPO_ROOT / "schemas"
    catalog_dir: Path = CATALOG_DIR

    @property
    def secrets_dir(self) -> Path:
        return self.home / ".secrets"

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def state_dir(self) -> Path:
        return self.home / "state"

    @property
    def audit_log(self) -> Path:
        """The server's audit log (serve/audit.py); the publish job counts usage from it."""
        return self.state_dir / "audit.jsonl"

    @property
    def worklists_dir(self) -> Path:
        return self.home / "worklists"


def variable_names() -> Iterator[str]:
    """Every environment variable ``load_settings`` reads, in field order."""
    for f in fields(Settings):
        if "env" in f.metadata:
            yield f.metadata["env"]
    for f in fields(Limits):
        yield Limits.variable(f.name)


class _Reader:
    """Values from ``env``, each checked; a bad one names variable, value and what is
    allowed."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def raw(self, name: str) -> str | None:
        value = self.env.get(name)
        return value if value and value.strip() else None

    def check(self, name: str, ok: Callable[[str], Any], allowed: str, default: Any = None) -> Any:
        raw = self.raw(name)
        if raw is None:
            return default
        try:
            return ok(raw.strip())
        except ValueError:
            raise ValueError(f"{name}={raw!r} is not allowed: {allowed}") from None


def _matching(pattern: str) -> Callable[[str], str]:
    def ok(value: str) -> str:
        if not re.fullmatch(pattern, value, flags=re.IGNORECASE):
            raise ValueError(value)
        return value

    return ok


def _warehouse(path: Path) -> Path:
    """The warehouse file, refused when dbt-duckdb could not name it: the adapter uses
    the file name's stem as the database name in the SQL it writes, unquoted, so
    ``city-a.duckdb`` or ``1m.duckdb`` would fail on every model."""
    import duckdb

    reserved = {
        k for (k,) in duckdb.sql(
            "select keyword_name from duckdb_keywords() where keyword_category = 'reserved'"
        ).fetchall()
    }  # fmt: skip
    if not re.fullmatch(r"[^\W\d]\w*", path.stem) or path.stem.lower() in reserved:
        fixed = re.sub(r"\W", "_", path.stem)
        if not re.match(r"[^\W\d]", fixed) or fixed.lower() in reserved:
            fixed = f"w_{fixed}"
        raise ValueError(
            f"warehouse {path}: its name before the extension must be letters, digits and "
            "underscores, not starting with a digit nor an SQL keyword (dbt-duckdb writes "
            f"it into SQL as the database name); rename it, e.g. {path.with_stem(fixed).name}"
        )
    return path


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise ValueError(value)
    return int(value)


def _threshold(value: str) -> float:
    threshold = float(value)
    if not 0.5 <= threshold < 1.0:
        raise ValueError(value)
    return threshold


def _log_level(value: str) -> str:
    if value.upper() not in SPARK_LOG_LEVELS:
        raise ValueError(value)
    return value.upper()


def _secret(value: str | None) -> str | None:
    return value.strip() if value else None


_MEMORY = r"\d+[kmgt]?b?"  # a JVM size: 512m, 6g, 4096
_DUCKDB_MEMORY = r"\d+(\.\d+)?\s*(b|[kmgt]i?b)"  # a DuckDB size: 4GB, 512MiB
_SPARK_MASTER = r"local(\[(\*|\d+)(,\d+)?\])?|local-cluster\[.+\]|yarn|[a-z0-9+]+://\S+"
_SPARK_MASTER_HELP = (
    "local, local[N], local[*], yarn, local-cluster[...] or a URL such as "
    "spark://host:7077 or k8s://https://host:443"
)
_URL = r"https?://\S+"
_THRESHOLD_HELP = (
    f"a probability in [0.5, 1): set it to e.g. {RESOLVE_THRESHOLD} (higher links fewer "
    "invalid-ID records, lower risks wrong merges)"
)


def _limits(read: _Reader) -> Limits:
    values = {}
    for f in fields(Limits):
        value = read.check(Limits.variable(f.name), _positive, "a positive integer")
        if value is not None:
            values[f.name] = value
    return Limits(**values)


def load_settings(
    *,
    home: str | Path | None = None,
    landing: str | Path | None = None,
    lake: str | Path | None = None,
    warehouse: str | Path | None = None,
    publish: str | Path | None = None,
    engine: str | None = None,
    spark_master: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """The settings from the options given, else ``env`` (default: this process's
    environment), else the defaults."""
    read = _Reader(dict(os.environ) if env is None else env)
    root = Path(home if home is not None else read.raw("CIVLAKE_HOME") or "data").resolve()

    def pick(option: str | Path | None, var: str, default: Path) -> Path:
        value = option if option is not None else read.raw(var)
        return Path(value).resolve() if value else default

    default = {f.name: f.default for f in fields(Settings)}
    memory = _matching(_MEMORY)
    return Settings(
        home=root,
        landing=pick(landing, "CIVLAKE_LANDING", root / "landing"),
        lake=pick(lake, "CIVLAKE_LAKE", root / "lake"),
        warehouse=_warehouse(pick(warehouse, "CIVLAKE_WAREHOUSE", root / "warehouse.duckdb")),
        publish=pick(publish, "CIVLAKE_PUBLISH", root / "publish"),
        engine=check_engine(engine or read.env.get("CIVLAKE_ENGINE") or default["engine"]),
        spark_master=spark_master
        or read.check(
            "CIVLAKE_SPARK_MASTER",
            _matching(_SPARK_MASTER),
            _SPARK_MASTER_HELP,
            default["spark_master"],
        ),
        spark_jars=pick(None, "CIVLAKE_SPARK_JARS", default["spark_jars"].resolve()),
        dbt_parse_cache=pick(None, "CIVLAKE_DBT_PARSE_CACHE", default["dbt_parse_cache"].resolve()),
        spark_driver_memory=read.check(
            "CIVLAKE_SPARK_DRIVER_MEMORY",
            memory,
            "a JVM memory size such as 6g",
            default["spark_driver_memory"],
        ),
        spark_max_result_size=read.check(
            "CIVLAKE_SPARK_MAX_RESULT_SIZE",
            memory,
            "a JVM memory size such as 4g",
            default["spark_max_result_size"],
        ),
        spark_shuffle_partitions=read.check(
            "CIVLAKE_SPARK_SHUFFLE_PARTITIONS", _positive, "a positive integer"
        ),
        spark_log_level=read.check(
            "CIVLAKE_SPARK_LOG_LEVEL",
            _log_level,
            f"one of {', '.join(SPARK_LOG_LEVELS)}",
            default["spark_log_level"],
        ),
        spark_executor_memory=read.check(
            "CIVLAKE_SPARK_EXECUTOR_MEMORY", memory, "a JVM memory size such as 2g"
        ),
        spark_executor_cores=read.check(
            "CIVLAKE_SPARK_EXECUTOR_CORES", _positive, "a positive integer"
        ),
        spark_cores_max=read.check("CIVLAKE_SPARK_CORES_MAX", _positive, "a positive integer"),
        spark_executor_timeout=read.check(
            "CIVLAKE_SPARK_EXECUTOR_TIMEOUT",
            _positive,
            "a positive number of seconds",
            default["spark_executor_timeout"],
        ),
        memory_limit=read.check(
            "CIVLAKE_MEMORY_LIMIT", _matching(_DUCKDB_MEMORY), "a DuckDB size such as 4GB"
        ),
        expectations_batch_rows=read.check(
            "CIVLAKE_EXPECTATIONS_BATCH_ROWS",
            _positive,
            "a positive number of rows such as 250000",
            default["expectations_batch_rows"],
        ),
        expectations_workers=read.check(
            "CIVLAKE_EXPECTATIONS_WORKERS", _positive, "a positive number of processes such as 2"
        ),
        resolve_threshold=read.check(
            "CIVLAKE_RESOLVE_THRESHOLD", _threshold, _THRESHOLD_HELP, RESOLVE_THRESHOLD
        ),
        person_key_secret=_secret(read.raw("CIVLAKE_PERSON_KEY_SECRET")),
        audit_secret=_secret(read.raw("CIVLAKE_AUDIT_SECRET")),
        sharing_secret=_secret(read.raw("CIVLAKE_SHARING_SECRET")),
        public_url=read.check("CIVLAKE_PUBLIC_URL", _matching(_URL), "an http:// or https:// URL"),
        audit_checkpoints=pick(
            None, "CIVLAKE_AUDIT_CHECKPOINTS", root / "audit-checkpoints" / "checkpoints.jsonl"
        ),
        exchange_url=read.check(
            "CIVLAKE_EXCHANGE_URL", _matching(_URL), "an http:// or https:// URL"
        ),
        exchange_token=_secret(read.raw("CIVLAKE_EXCHANGE_TOKEN")),
        exchange_connection=_secret(read.raw(EXCHANGE_CONNECTION_ENV)),
        exchange_faults=read.raw("CIVLAKE_EXCHANGE_FAULTS"),
        limits=_limits(read),
    )
