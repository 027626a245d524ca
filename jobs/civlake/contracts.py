"""Feed contracts: the one loader of ``schemas/*.yaml``.

A contract declares a feed's files, columns (Chinese header -> snake_case name, kind,
required), enumerations with synonyms, natural key and person roles. Everything
downstream (ingest, clean, expectations, DAGs) reads contracts through this module; a
broken contract fails at start-up with the file and the field named.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

from civlake.settings import REPO_ROOT

KINDS = {
    "string", "name", "citizen_id", "sex", "date", "timestamp", "month", "amount",
    "integer", "division", "division_self", "code12", "phone", "uscc", "enum", "bool",
    "disability_cert_no",
}  # fmt: skip
FORMATS = {"csv", "xlsx", "jsonl"}
# Which sheets of an XLSX are read: the first (registers), or every sheet whose header
# carries the feed's columns (a returned worklist: one sheet per rule, a 汇总 sheet).
XLSX_SHEETS = {"first", "all"}
MODES = {"full", "incremental"}
CADENCES = {"yearly": "YYYY", "monthly": "YYYY-MM", "weekly": "YYYY-Www", "daily": "YYYY-MM-DD"}
ROLES = {
    "person", "member", "head", "payee", "deceased", "male", "female", "volunteer",
    "child", "guardian",
}  # fmt: skip
_SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")


class ContractError(ValueError):
    """A contract file is missing a field or contradicts itself."""


@dataclass(frozen=True)
class Column:
    header: str
    name: str
    kind: str
    required: bool = False
    enum: str | None = None
    invalid: str | None = None  # uscc: "quarantine" (registry) or "keep"
    derives_id: str | None = None  # disability_cert_no -> citizen-ID column name


@dataclass(frozen=True)
class PersonRole:
    role: str
    id: str
    name: str
    birth_date: str | None = None
    sex: str | None = None
    stable_key: str | None = None
    subject: bool = True


@dataclass(frozen=True)
class FeedContract:
    feed_id: str
    title: str
    formats: tuple[str, ...]
    encodings: tuple[str | None, ...]
    cadence: str
    modes: tuple[str, ...]
    api: bool
    natural_key: tuple[str, ...]
    columns: tuple[Column, ...]
    persons: tuple[PersonRole, ...] = ()
    source_system: str = ""
    xlsx_sheets: str = "first"
    # Deliveries come when they come (returned worklists), not on a schedule: no
    # delivery is expected of a unit (归集率) and silver has no freshness check.
    on_demand: bool = False
    path: Path | None = field(default=None, compare=False)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def header_map(self) -> dict[str, str]:
        return {normalize_header(c.header): c.name for c in self.columns}

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.feed_id} has no column {name!r}")

    def of_kind(self, *kinds: str) -> list[Column]:
        return [c for c in self.columns if c.kind in kinds]

    @property
    def id_columns(self) -> list[str]:
        """Citizen-ID columns of silver (including the one derived from a cert number)."""
        out = [c.name for c in self.columns if c.kind == "citizen_id"]
        out += [c.derives_id for c in self.columns if c.derives_id]
        return out


_FULLWIDTH = str.maketrans("（）　", "() ")


def normalize_header(text: str) -> str:
    """Headers match after removing spaces and unifying full-width brackets."""
    return re.sub(r"\s+", "", str(text).translate(_FULLWIDTH)).lstrip("\ufeff")


def _fail(path: Path, msg: str) -> ContractError:
    return ContractError(f"contract {path.name}: {msg}")


def _as_tuple(value) -> tuple:
    return tuple(value) if isinstance(value, list) else (value,)


def _load_enums(schemas_dir: Path) -> dict[str, dict[str, list[str]]]:
    path = schemas_dir / "_enums.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    enums: dict[str, dict[str, list[str]]] = {}
    for name, values in raw.items():
        if not isinstance(values, dict) or not values:
            raise _fail(path, f"enum {name!r} must map canonical values to synonym lists")
        enums[name] = {str(k): [str(s) for s in (v or [])] for k, v in values.items()}
    return enums


def _parse(path: Path, raw: dict, enums: dict) -> FeedContract:
    for key in ("feed_id", "title", "format", "cadence", "modes", "columns", "natural_key"):
        if key not in raw:
            raise _fail(path, f"missing required field {key!r}")
    if raw["feed_id"] != path.stem:
        raise _fail(path, f"feed_id {raw['feed_id']!r} must equal the file name {path.stem!r}")
    formats = _as_tuple(raw["format"])
    if bad := set(formats) - FORMATS:
        raise _fail(path, f"unknown format(s) {sorted(bad)}; expected {sorted(FORMATS)}")
    if raw["cadence"] not in CADENCES:
        raise _fail(path, f"cadence {raw['cadence']!r} not in {sorted(CADENCES)}")
    modes = _as_tuple(raw["modes"])
    sheets = raw.get("xlsx_sheets", "first")
    if sheets not in XLSX_SHEETS:
        raise _fail(path, f"xlsx_sheets {sheets!r} not in {sorted(XLSX_SHEETS)}")
    if bad := set(modes) - MODES:
        raise _fail(path, f"unknown mode(s) {sorted(bad)}")
    columns = []
    for i, c in enumerate(raw["columns"], start=1):
        where = f"column #{i} ({c.get('header', '?')})"
        for key in ("header", "name", "kind"):
            if key not in c:
                raise _fail(path, f"{where}: missing {key!r}")
        if c["kind"] not in KINDS:
            raise _fail(
                path, f"{where}: unknown kind {c['kind']!r}; expected one of {sorted(KINDS)}"
            )
        if not _SNAKE.match(c["name"]):
            raise _fail(path, f"{where}: name {c['name']!r} is not snake_case")
        if c["kind"] == "enum" and c.get("enum") not in enums:
            raise _fail(path, f"{where}: enum {c.get('enum')!r} is not defined in _enums.yaml")
        columns.append(Column(**c))
    names = [c.name for c in columns]
    if len(set(names)) != len(names):
        raise _fail(path, "duplicate column names")
    headers = [normalize_header(c.header) for c in columns]
    if len(set(headers)) != len(headers):
        raise _fail(path, "duplicate column headers")
    known = set(names) | {c.derives_id for c in columns if c.derives_id}
    if bad := set(raw["natural_key"]) - known:
        raise _fail(path, f"natural_key names unknown column(s) {sorted(bad)}")
    persons = []
    for p in raw.get("persons") or []:
        if p.get("role") not in ROLES:
            raise _fail(path, f"person role {p.get('role')!r} not in {sorted(ROLES)}")
        role = PersonRole(**p)
        for attr in ("id", "name", "birth_date", "sex", "stable_key"):
            ref = getattr(role, attr)
            if ref is not None and ref not in known:
                raise _fail(path, f"role {role.role}: {attr} {ref!r} is not a column")
        persons.append(role)
    return FeedContract(
        feed_id=raw["feed_id"],
        title=raw["title"],
        formats=formats,
        encodings=_as_tuple(raw.get("encodings", [None])),
        cadence=raw["cadence"],
        modes=modes,
        api=bool(raw.get("api", False)),
        natural_key=tuple(raw["natural_key"]),
        columns=tuple(columns),
        persons=tuple(persons),
        source_system=raw.get("source_system", ""),
        xlsx_sheets=sheets,
        on_demand=bool(raw.get("on_demand", False)),
        path=path,
    )


@cache
def _load_all(schemas_dir: Path) -> tuple[dict[str, FeedContract], dict]:
    enums = _load_enums(schemas_dir)
    contracts = {}
    for path in sorted(schemas_dir.glob("*.yaml")):
        if path.name.startswith("_"):
            continue
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise _fail(path, f"not valid YAML: {exc}") from exc
        if not isinstance(raw, dict):
            raise _fail(path, "must be a mapping")
        contracts[path.stem] = _parse(path, raw, enums)
    if not contracts:
        raise ContractError(f"no contracts found in {schemas_dir}")
    return contracts, enums


def load_contracts(schemas_dir: Path | None = None) -> dict[str, FeedContract]:
    return _load_all(_resolved(schemas_dir or REPO_ROOT / "schemas"))[0]


def load_enums(schemas_dir: Path | None = None) -> dict[str, dict[str, list[str]]]:
    return _load_all(_resolved(schemas_dir or REPO_ROOT / "schemas"))[1]


def _resolved(schemas_dir: Path) -> Path:
    # Path.resolve() stats every component (~75 us), and contracts are looked up per row
    # in places (the worklists' evidence: 20,000 lookups at 1 M persons). A relative path
    # depends on the working directory, so only absolute ones are remembered.
    return _resolved_absolute(schemas_dir) if schemas_dir.is_absolute() else schemas_dir.resolve()


@cache
def _resolved_absolute(schemas_dir: Path) -> Path:
    return schemas_dir.resolve()


def get_contract(feed_id: str, schemas_dir: Path | None = None) -> FeedContract:
    contracts = load_contracts(schemas_dir)
    if feed_id not in contracts:
        raise ContractError(f"unknown feed {feed_id!r}; known feeds: {sorted(contracts)}")
    return contracts[feed_id]
