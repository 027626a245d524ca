"""civlake.stage_inputs: a stage is skipped only when its inputs and outputs are exactly
what it recorded the last time it completed."""

from __future__ import annotations

import pyarrow as pa
from deltalake import write_deltalake

from civlake import stage_inputs
from civlake.settings import load_settings


def _table(path, n: int) -> None:
    write_deltalake(str(path), pa.table({"x": list(range(n))}), mode="append")


def test_versions_follow_the_delta_log(tmp_path):
    lake = tmp_path / "lake"
    _table(lake / "silver" / "a", 1)
    _table(lake / "silver" / "a", 2)
    _table(lake / "core" / "b", 1)
    assert stage_inputs.versions(lake) == {"core/b": 0, "silver/a": 1}
    assert stage_inputs.table_version(lake / "silver" / "missing") is None


def test_skip_only_on_the_same_inputs_and_untouched_outputs(tmp_path):
    settings = load_settings(env={"CIVLAKE_HOME": str(tmp_path)})
    lake = settings.lake
    _table(lake / "silver" / "a", 1)
    out = lake / "core" / "b"
    _table(out, 1)

    def now() -> tuple[dict, dict]:
        return {"t": stage_inputs.versions(lake / "silver")}, {
            "t": stage_inputs.versions(out.parent)
        }

    inputs, outputs = now()
    assert not stage_inputs.unchanged(settings, "s", inputs, outputs)  # never ran
    stage_inputs.record(settings, "s", inputs, outputs)
    assert stage_inputs.unchanged(settings, "s", *now())
    _table(lake / "silver" / "a", 1)  # a new delivery: inputs moved on
    assert not stage_inputs.unchanged(settings, "s", *now())
    stage_inputs.record(settings, "s", *now())
    _table(out, 1)  # the output was written by someone else since
    assert not stage_inputs.unchanged(settings, "s", *now())


def test_rows_hash_sees_only_the_feeds_own_rows(tmp_path):
    path = tmp_path / "ingest_audit"
    write_deltalake(str(path), pa.table({"feed_id": ["a", "b"], "n": [1, 2]}))
    before = stage_inputs.rows_hash(path, "feed_id", "a")
    write_deltalake(str(path), pa.table({"feed_id": ["b"], "n": [3]}), mode="append")
    assert stage_inputs.rows_hash(path, "feed_id", "a") == before
    write_deltalake(str(path), pa.table({"feed_id": ["a"], "n": [4]}), mode="append")
    assert stage_inputs.rows_hash(path, "feed_id", "a") != before
