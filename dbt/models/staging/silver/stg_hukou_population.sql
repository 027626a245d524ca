-- 公安户籍人口 (hukou_population): silver rows as typed by the clean gate; rename/cast only.
-- Columns: the contract's silver columns in lake order (macro silver_columns), less the
-- ones no model reads. Every monthly full snapshot (~1 row per person) is copied here
-- once (macros/lake_staging.sql), and the copy costs by the column: at 1,000,000
-- persons x 2 months the 12 kept columns took 3.6 s of CPU against 11.1 s for all 26
-- (the row hash, address, phone and ID number are the widest; _lake_file, the 13th now,
-- is one short name per Parquet file). A model that needs another column adds it back
-- here; the silver table keeps them all.
with source as (
    select * from {{ source('silver', 'hukou_population') }}
    {{ silver_changes('hukou_population') }}
),

renamed as (
    select
        {{ silver_columns('hukou_population', except=[
            'id_number', 'id_number_status', 'name_note', 'former_name',
            'former_name_note', 'ethnicity', 'hukou_division_code_delivered', 'address',
            'household_no', 'relation_to_head', 'phone', '_source_unit', '_ingested_at',
            '_row_hash',
        ]) }},
        {{ staged_lake_file() }}
    from source
)

select * from renamed
