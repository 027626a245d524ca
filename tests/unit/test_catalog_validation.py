"""The catalog loader accepts the real directory and refuses unsafe or incomplete entries."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from civlake.publish.catalog import CATALOG_DIR, REQUIRED, CatalogError, load_catalog


def test_real_catalog_is_complete() -> None:
    catalog = load_catalog()
    assert len(catalog) >= 12
    for ds in catalog.values():
        for key in REQUIRED:
            assert getattr(ds, key), f"{ds.name}: {key}"
        assert all(f.title and f.description and f.type for f in ds.fields)
    person = [ds for ds in catalog.values() if ds.is_person_level]
    assert {ds.name for ds in person} >= {"assistance_recipients_current", "deaths_registry"}
    assert all(not ds.is_open and ds.share_type == "有条件共享" for ds in person)
    # granted (有条件共享) person-level data is 有条件开放: on application, never public
    assert all(ds.open_type == "有条件开放" and ds.is_conditional for ds in person)
    assert all(ds.model for ds in catalog.values() if ds.origin == "warehouse")


def test_conditional_needs_grants_and_usage_figures_take_no_model(tmp_path: Path) -> None:
    _copy_with(tmp_path, "deaths_registry", share_type="无条件共享")
    with pytest.raises(CatalogError, match="有条件开放 means on application"):
        load_catalog(tmp_path)
    (tmp_path / "deaths_registry.yaml").unlink()
    _copy_with(tmp_path, "dataset_usage_statistics", model="publish.pub_usage")
    with pytest.raises(CatalogError, match="origin: audit_log"):
        load_catalog(tmp_path)
    _copy_with(tmp_path, "dataset_usage_statistics", origin=None)
    with pytest.raises(CatalogError, match="missing required metadata model"):
        load_catalog(tmp_path)


def _copy_with(tmp_path: Path, name: str, **changes) -> Path:
    shutil.copy(CATALOG_DIR / f"{name}.yaml", tmp_path / f"{name}.yaml")
    path = tmp_path / f"{name}.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    for key, value in changes.items():
        if value is None:
            raw.pop(key)
        else:
            raw[key] = value
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def test_open_dataset_with_person_column_is_refused(tmp_path: Path) -> None:
    raw = yaml.safe_load((CATALOG_DIR / "assistance_statistics.yaml").read_text("utf-8"))
    fields = [*raw["fields"], {"name": "id_number", "title": "身份证号", "type": "string",
                               "description": "x"}]  # fmt: skip
    _copy_with(tmp_path, "assistance_statistics", fields=fields)
    with pytest.raises(CatalogError, match=r"assistance_statistics.yaml.*person-level.*id_number"):
        load_catalog(tmp_path)


def test_field_flagged_person_level_in_open_dataset_is_refused(tmp_path: Path) -> None:
    raw = yaml.safe_load((CATALOG_DIR / "marriage_statistics.yaml").read_text("utf-8"))
    raw["fields"][2]["person_level"] = True
    _copy_with(tmp_path, "marriage_statistics", fields=raw["fields"])
    with pytest.raises(CatalogError, match="person-level"):
        load_catalog(tmp_path)


def test_missing_metadata_is_named(tmp_path: Path) -> None:
    _copy_with(tmp_path, "civil_divisions", license=None, update_frequency=None)
    with pytest.raises(CatalogError, match=r"missing required metadata update_frequency, license"):
        load_catalog(tmp_path)


def test_duplicate_identifier_is_refused(tmp_path: Path) -> None:
    ident = yaml.safe_load((CATALOG_DIR / "civil_divisions.yaml").read_text("utf-8"))["identifier"]
    shutil.copy(CATALOG_DIR / "civil_divisions.yaml", tmp_path)
    _copy_with(tmp_path, "marriage_statistics", identifier=ident)
    with pytest.raises(CatalogError, match=r"identifier .* already used"):
        load_catalog(tmp_path)


def test_person_level_needs_key_and_conditional_sharing(tmp_path: Path) -> None:
    _copy_with(tmp_path, "deaths_registry", key=None)
    with pytest.raises(CatalogError, match="needs `key`"):
        load_catalog(tmp_path)
    _copy_with(tmp_path, "deaths_registry", open_type="无条件开放")
    with pytest.raises(CatalogError, match="person-level"):
        load_catalog(tmp_path)


def test_suppression_must_name_real_fields(tmp_path: Path) -> None:
    _copy_with(
        tmp_path, "assistance_statistics",
        suppression={"counts": ["households", "nope"], "dimensions": ["month"]},
    )  # fmt: skip
    with pytest.raises(CatalogError, match="not fields: nope"):
        load_catalog(tmp_path)


def test_bad_enumerations_are_refused(tmp_path: Path) -> None:
    _copy_with(tmp_path, "civil_divisions", open_type="公开")
    with pytest.raises(CatalogError, match="open_type '公开' must be one of"):
        load_catalog(tmp_path)
