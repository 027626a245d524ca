"""dbt-duckdb source plugin: the built-in ``delta`` plugin, tolerant of absent tables.

Configured in ``dbt/profiles.yml`` under the alias ``delta``, so sources keep the
standard ``config: {plugin: delta}`` + ``meta: {delta_table_path: ...}`` form. The one
addition: when the Delta table does not exist (a partial run, a city without that feed,
a gate not yet run) the source is an empty table with the schema the lake would have
(``meta.lake_table`` names it, see ``civlake.tables``), and a warning names the table.
Every model still builds, and the marts of the missing feed are empty rather than the
whole build failing on one absent feed. ``civlake.transform.run_dbt`` reports the absent
tables in its result so the operator sees them.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow as pa
from dbt.adapters.duckdb.plugins.delta import Plugin as DeltaPlugin

from civlake import tables

log = logging.getLogger("civlake.transform")


class Plugin(DeltaPlugin):
    def load(self, source_config):
        path = Path(source_config["delta_table_path"])
        if (path / "_delta_log").is_dir():
            return super().load(source_config)
        table = source_config.get("lake_table")
        if not table:
            raise RuntimeError(
                f"Delta table {path} for source {source_config.name}.{source_config.identifier} "
                "does not exist and the source has no meta.lake_table to build an empty one: "
                "run the stage that writes it, or add lake_table to its source entry."
            )
        log.warning("lake table %s is absent (%s): building from an empty table", table, path)
        return pa.Table.from_batches([], schema=tables.schema(table))
