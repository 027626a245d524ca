"""The open-data directory (数据开放目录): one ``catalog/<dataset>.yaml`` per dataset.

``load_catalog()`` is the only reader of those files. It refuses an entry that is
incomplete or contradicts itself (OUTPUTS.md section 5), naming the file and the
field, because a wrong entry here leaks data: an open dataset that declares a
person-level column, or a conditional dataset without a change key, must fail at
start-up, not after a file has been published.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml

from civlake.settings import CATALOG_DIR

# 无条件开放: anyone downloads it. 有条件开放: on application, through a grant (a person-level
# dataset shared 有条件共享 with named agencies). 不予开放: not released outside the bureau.
OPEN_TYPES = ("无条件开放", "有条件开放", "不予开放")
SHARE_TYPES = ("无条件共享", "有条件共享", "不予共享")
LEVELS = ("aggregate", "reference", "person")
# Where a dataset's rows come from: its dbt model in the warehouse (``model``), or the
# server's audit log (usage figures, publish/usage.py; no model).
ORIGINS = ("warehouse", "audit_log")
# Frictionless Table Schema field types that our publish writers can round-trip.
FIELD_TYPES = ("string", "integer", "number", "boolean", "date", "datetime", "year", "yearmonth")
FREQUENCIES = {
    # 更新频率 -> EU frequency authority IRI tail (a published, dereferenceable concept).
    "每日": "DAILY",
    "每周": "WEEKLY",
    "每月": "MONTHLY",
    "每季度": "QUARTERLY",
    "每年": "ANNUAL",
    "不定期": "IRREG",
}
VERIFY_QUESTIONS = ("is_dibao_or_tekun", "is_alive", "is_married")

_NAME = re.compile(r"^[a-z][a-z0-9_]{1,62}$")
_MODEL = re.compile(r"^publish\.[a-z][a-z0-9_]{1,62}$")
_IDENTIFIER = re.compile(r"^[0-9A-Z][0-9A-Z/\-]{5,40}$")
# Columns that identify a person. An open dataset must carry none of them, whatever the
# catalog entry claims: this list is checked against the entry *and* the real table.
_PERSON_COLUMN = re.compile(
    r"^(?:.*_)?(?:id_number|person_key|birth_date|birth_on|phone|bank_card_tail|cert_no)$"
    r"|^(?:name|(?:person|member|head|payee|deceased|male|female|child|guardian|volunteer"
    r"|donor|legal_rep)_name|household_id|volunteer_id|address)$"
)
# Every entry; ``model`` too for the datasets built in the warehouse (ORIGINS).
REQUIRED = (
    "name", "identifier", "title", "description", "publisher", "publisher_id", "theme",
    "keywords", "open_type", "share_type", "update_frequency", "temporal_coverage",
    "spatial_coverage", "license", "issued", "modified", "level", "fields",
)  # fmt: skip


class CatalogError(ValueError):
    """A catalog entry is missing a field or contradicts itself."""


@dataclass(frozen=True)
class Field:
    name: str
    title: str
    type: str
    description: str
    person_level: bool = False


@dataclass(frozen=True)
class Suppression:
    """Small-cell rule: counts 1-4 are hidden, and enough others that totals cannot undo it."""

    counts: tuple[str, ...]
    dimensions: tuple[str, ...]
    linked: dict[str, str] = field(default_factory=dict)  # value column -> its count column
    additive: tuple[tuple[str, ...], ...] = ()  # columns of one row that sum to each other


@dataclass(frozen=True)
class Dataset:
    name: str
    identifier: str
    title: str
    description: str
    publisher: str
    publisher_id: str
    theme: str
    keywords: tuple[str, ...]
    open_type: str
    share_type: str
    update_frequency: str
    temporal_coverage: dict[str, str]
    spatial_coverage: dict[str, str]
    license: dict[str, str]
    issued: date
    modified: date
    model: str
    level: str
    fields: tuple[Field, ...]
    suppression: Suppression | None = None
    key: tuple[str, ...] = ()
    audience: tuple[str, ...] = ()
    # The column holding a row's 12-digit division code: what a grant scoped to a
    # district (``<dataset>@440106``) filters on. Person-level datasets only.
    division_field: str | None = None
    origin: str = "warehouse"
    source: Path | None = None

    @property
    def is_open(self) -> bool:
        """Anyone may download it (无条件开放); everything else, 有条件开放 included, needs
        an agency grant."""
        return self.open_type == "无条件开放"

    @property
    def is_conditional(self) -> bool:
        """有条件开放: an agency applies for a grant (the dataset page says how)."""
        return self.open_type == "有条件开放"

    @property
    def is_person_level(self) -> bool:
        return self.level == "person"

    @property
    def table(self) -> str:
        """The model's table name inside schema ``publish`` ("" when it has no model)."""
        return self.model.split(".", 1)[1] if self.model else ""

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


def is_person_column(name: str) -> bool:
    return bool(_PERSON_COLUMN.match(name))


def load_catalog(catalog_dir: Path | None = None) -> dict[str, Dataset]:
    """Read and validate every ``<catalog_dir>/*.yaml``; return datasets by name, sorted."""
    root = catalog_dir or CATALOG_DIR
    files = sorted(p for p in root.glob("*.yaml") if not p.name.startswith("_"))
    if not files:
        raise CatalogError(f"no catalog entries in {root}: add catalog/<dataset>.yaml files")
    datasets: dict[str, Dataset] = {}
    identifiers: dict[str, str] = {}
    for path in files:
        ds = _parse(path)
        if ds.name in datasets:
            raise CatalogError(f"{path.name}: dataset name {ds.name!r} is used twice")
        if ds.identifier in identifiers:
            raise CatalogError(
                f"{path.name}: identifier {ds.identifier!r} is already used by "
                f"{identifiers[ds.identifier]!r}; 信息资源代码 must be unique"
            )
        identifiers[ds.identifier] = ds.name
        datasets[ds.name] = ds
    return dict(sorted(datasets.items()))


def _parse(path: Path) -> Dataset:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path.name}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise CatalogError(f"{path.name}: expected a mapping of metadata fields")

    def fail(msg: str) -> CatalogError:
        return CatalogError(f"catalog/{path.name}: {msg}")

    origin = raw.get("origin") or "warehouse"
    _one_of(fail, "origin", origin, ORIGINS)
    required = (*REQUIRED, "model") if origin == "warehouse" else REQUIRED
    missing = [k for k in required if raw.get(k) in (None, "", [], {})]
    if missing:
        raise fail(f"missing required metadata {', '.join(missing)} (OUTPUTS.md section 5)")
    name = str(raw["name"])
    if not _NAME.match(name) or path.stem != name:
        raise fail(f"name {name!r} must be snake_case and equal the file name")
    if not _IDENTIFIER.match(str(raw["identifier"])):
        raise fail(f"identifier {raw['identifier']!r} is not a 信息资源代码 (A-Z, 0-9, -, /)")
    _one_of(fail, "open_type", raw["open_type"], OPEN_TYPES)
    _one_of(fail, "share_type", raw["share_type"], SHARE_TYPES)
    _one_of(fail, "level", raw["level"], LEVELS)
    _one_of(fail, "update_frequency", raw["update_frequency"], tuple(FREQUENCIES))
    if origin == "warehouse" and not _MODEL.match(str(raw["model"])):
        raise fail(f"model {raw['model']!r} must be a table in schema publish (publish.<model>)")
    for key, need in (
        ("temporal_coverage", ("start",)),
        ("spatial_coverage", ("code", "name")),
        ("license", ("id", "title", "url")),
    ):
        if not isinstance(raw[key], dict) or any(not raw[key].get(n) for n in need):
            raise fail(f"{key} needs {', '.join(need)}")
    keywords = raw["keywords"]
    if not isinstance(keywords, list) or not all(isinstance(k, str) and k for k in keywords):
        raise fail("keywords must be a list of non-empty strings")
    issued, modified = _date(fail, raw, "issued"), _date(fail, raw, "modified")
    if modified < issued:
        raise fail(f"modified {modified} is before issued {issued}")
    fields = _fields(fail, raw["fields"])
    names = [f.name for f in fields]
    ds = Dataset(
        name=name,
        identifier=str(raw["identifier"]),
        title=str(raw["title"]),
        description=str(raw["description"]).strip(),
        publisher=str(raw["publisher"]),
        publisher_id=str(raw["publisher_id"]),
        theme=str(raw["theme"]),
        keywords=tuple(keywords),
        open_type=raw["open_type"],
        share_type=raw["share_type"],
        update_frequency=raw["update_frequency"],
        temporal_coverage={k: str(v) for k, v in raw["temporal_coverage"].items()},
        spatial_coverage={k: str(v) for k, v in raw["spatial_coverage"].items()},
        license={k: str(v) for k, v in raw["license"].items()},
        issued=issued,
        modified=modified,
        model=str(raw.get("model") or ""),
        level=raw["level"],
        fields=fields,
        suppression=_suppression(fail, raw.get("suppression"), names),
        key=tuple(raw.get("key") or ()),
        audience=tuple(raw.get("audience") or ()),
        division_field=raw.get("division_field") or None,
        origin=origin,
        source=path,
    )
    _check_consistency(fail, ds, raw)
    return ds


def _check_consistency(fail, ds: Dataset, raw: dict) -> None:
    person_cols = [f.name for f in ds.fields if f.person_level or is_person_column(f.name)]
    if ds.is_open:
        if ds.level == "person" or person_cols:
            raise fail(
                f"open dataset (无条件开放) has person-level data ({', '.join(person_cols) or 'level: person'}); "
                "publish an aggregate instead, or make it 有条件共享 with grants"
            )
        if ds.level == "aggregate" and ds.suppression is None and "suppression" not in raw:
            raise fail(
                "an open aggregate needs `suppression` (counts, dimensions) or `suppression: none`"
            )
    if ds.origin == "audit_log" and (ds.model or not ds.is_open or ds.level != "aggregate"):
        raise fail("origin: audit_log is for open aggregates (usage figures) and takes no model")
    if ds.is_conditional and ds.share_type != "有条件共享":
        raise fail("有条件开放 means on application through a grant: share_type must be 有条件共享")
    if ds.level == "person":
        if ds.share_type != "有条件共享" or ds.open_type == "无条件开放":
            raise fail("a person-level dataset must be 有条件共享 and not 无条件开放")
        if not ds.key or any(k not in ds.field_names for k in ds.key):
            raise fail(
                f"person-level dataset needs `key` (fields identifying a row), got {list(ds.key)}"
            )
        if ds.suppression is not None:
            raise fail("person-level datasets are not suppressed; remove `suppression`")
    elif ds.key and any(k not in ds.field_names for k in ds.key):
        raise fail(f"key {list(ds.key)} names unknown fields")
    if ds.division_field is not None:
        column = next((f for f in ds.fields if f.name == ds.division_field), None)
        if ds.level != "person":
            raise fail("division_field scopes person-level grants; remove it from this dataset")
        if column is None or column.type != "string":
            raise fail(
                f"division_field {ds.division_field!r} must name a string field (the 12-digit "
                "division code)"
            )


def _fields(fail, raw_fields) -> tuple[Field, ...]:
    if not isinstance(raw_fields, list) or not raw_fields:
        raise fail("fields must be a non-empty list")
    out: list[Field] = []
    for i, f in enumerate(raw_fields, start=1):
        if not isinstance(f, dict):
            raise fail(f"field #{i} must be a mapping with name, title, type, description")
        lacking = [k for k in ("name", "title", "type", "description") if not f.get(k)]
        if lacking:
            raise fail(f"field #{i} ({f.get('name', '?')}) lacks {', '.join(lacking)}")
        if f["type"] not in FIELD_TYPES:
            raise fail(
                f"field {f['name']}: type {f['type']!r} is not one of {', '.join(FIELD_TYPES)}"
            )
        if not _NAME.match(str(f["name"])):
            raise fail(f"field {f['name']!r} must be snake_case")
        out.append(
            Field(
                name=f["name"],
                title=str(f["title"]),
                type=f["type"],
                description=str(f["description"]).strip(),
                person_level=bool(f.get("person_level", False)),
            )
        )
    names = [f.name for f in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise fail(f"field names repeated: {', '.join(dupes)}")
    return tuple(out)


def _suppression(fail, raw, names: list[str]) -> Suppression | None:
    if raw in (None, "none") or (isinstance(raw, dict) and "none" in raw):
        return None
    if not isinstance(raw, dict) or not raw.get("counts") or not raw.get("dimensions"):
        raise fail("suppression needs counts and dimensions (or `suppression: none`)")
    sup = Suppression(
        counts=tuple(raw["counts"]),
        dimensions=tuple(raw["dimensions"]),
        linked=dict(raw.get("linked") or {}),
        additive=tuple(tuple(g) for g in raw.get("additive") or ()),
    )
    used = [*sup.counts, *sup.dimensions, *sup.linked, *sup.linked.values()]
    used += [c for g in sup.additive for c in g]
    unknown = sorted({c for c in used if c not in names})
    if unknown:
        raise fail(f"suppression names columns that are not fields: {', '.join(unknown)}")
    if any(v not in sup.counts for v in sup.linked.values()):
        raise fail("suppression.linked must map value columns to one of the count columns")
    return sup


def _one_of(fail, key: str, value, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise fail(f"{key} {value!r} must be one of {', '.join(allowed)}")


def _date(fail, raw: dict, key: str) -> date:
    value = raw[key]
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise fail(f"{key} {value!r} is not a date (YYYY-MM-DD)") from exc
