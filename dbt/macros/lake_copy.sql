{#- Staging copies each lake table (a view over delta_scan, delta_source.py) into the
    warehouse. On DuckDB that copy runs on one thread: a parallel CTAS that
    keeps insertion order writes an Arrow scan as many partial row groups, and the next
    checkpoint rewrites them all (at 1,000,000 persons, 18 s of CPU in three checkpoints
    on fct_payment and the entitlement models' commits, for 3.4 M staged rows; on one
    thread the rows land in full row groups and the checkpoint costs nothing; the copy
    itself takes the same CPU). One thread also keeps the rows in the lake's order, as
    before. Spark: nothing to do. -#}
{% macro lake_copy_begin() -%}{{ return(adapter.dispatch('lake_copy_begin', 'civlake')()) }}{%- endmacro %}
{% macro default__lake_copy_begin() -%}set threads = 1{%- endmacro %}
{% macro spark__lake_copy_begin() -%}{%- endmacro %}

{% macro lake_copy_end() -%}{{ return(adapter.dispatch('lake_copy_end', 'civlake')()) }}{%- endmacro %}
{% macro default__lake_copy_end() -%}reset threads{%- endmacro %}
{% macro spark__lake_copy_end() -%}{%- endmacro %}
