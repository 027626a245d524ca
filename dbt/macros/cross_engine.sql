{#- Where DuckDB and Spark SQL differ, the models call these dispatched macros so the
    same .sql builds on dbt-duckdb and dbt-spark (issue 10). Each default__ body is the
    DuckDB form the project was written in (its output is the reference); spark__ is the
    Spark SQL that gives the same values. dbt's own cross-database macros (dbt.hash,
    dbt.type_string, ...) are used directly in the models where they suffice. -#}

{#- Timestamp-with-zone type: DuckDB TIMESTAMPTZ; Spark's TIMESTAMP is already an
    instant shown in the session zone (UTC, civlake.engine.spark). -#}
{% macro type_tstz() -%}{{ return(adapter.dispatch('type_tstz', 'civlake')()) }}{%- endmacro %}
{% macro default__type_tstz() -%}timestamptz{%- endmacro %}
{% macro spark__type_tstz() -%}timestamp{%- endmacro %}

{#- An empty list of strings. -#}
{% macro empty_string_list() -%}{{ return(adapter.dispatch('empty_string_list', 'civlake')()) }}{%- endmacro %}
{% macro default__empty_string_list() -%}[]::varchar[]{%- endmacro %}
{% macro spark__empty_string_list() -%}cast(array() as array<string>){%- endmacro %}

{#- `* exclude (cols)` (DuckDB) is `* except (cols)` in Spark. -#}
{% macro star_exclude() -%}{{ return(adapter.dispatch('star_exclude', 'civlake')()) }}{%- endmacro %}
{% macro default__star_exclude() -%}exclude{%- endmacro %}
{% macro spark__star_exclude() -%}except{%- endmacro %}

{#- Lowercase hex SHA-256 of a string. -#}
{% macro sha256_hex(expr) -%}{{ return(adapter.dispatch('sha256_hex', 'civlake')(expr)) }}{%- endmacro %}
{% macro default__sha256_hex(expr) -%}sha256({{ expr }}){%- endmacro %}
{% macro spark__sha256_hex(expr) -%}sha2({{ expr }}, 256){%- endmacro %}

{#- Whole-string regex match. Spark string literals process backslash escapes, so the
    pattern's backslashes are doubled there. -#}
{% macro regex_full_match(expr, pattern) -%}{{ return(adapter.dispatch('regex_full_match', 'civlake')(expr, pattern)) }}{%- endmacro %}
{% macro default__regex_full_match(expr, pattern) -%}regexp_full_match({{ expr }}, '{{ pattern }}'){%- endmacro %}
{% macro spark__regex_full_match(expr, pattern) -%}
    ({{ expr }} rlike '^(?:{{ pattern | replace("\\", "\\\\") }})$')
{%- endmacro %}

{#- Text of a date/timestamp in a strftime format. Only the formats the models use are
    translated for Spark (an unknown one fails loudly at compile time). -#}
{% macro format_date(expr, fmt) -%}{{ return(adapter.dispatch('format_date', 'civlake')(expr, fmt)) }}{%- endmacro %}
{% macro default__format_date(expr, fmt) -%}strftime({{ expr }}, '{{ fmt }}'){%- endmacro %}
{% macro spark__format_date(expr, fmt) -%}
    {%- set java = {'%Y-%m': 'yyyy-MM', '%Y-%m-%d': 'yyyy-MM-dd', '%Y': 'yyyy'} -%}
    {%- if fmt == '%G-W%V' -%}
        {#- ISO week: Spark's datetime patterns have no week-based year; EXTRACT has. -#}
        concat(cast(extract(YEAROFWEEK from {{ expr }}) as string), '-W',
            lpad(cast(weekofyear({{ expr }}) as string), 2, '0'))
    {%- elif fmt in java -%}
        date_format({{ expr }}, '{{ java[fmt] }}')
    {%- else -%}
        {{ exceptions.raise_compiler_error("format_date: no Spark pattern for " ~ fmt) }}
    {%- endif -%}
{%- endmacro %}

{#- Text of a timestamp-with-zone as DuckDB casts it ('2026-09-01 08:00:00+00', fraction
    only when non-zero): evidence JSON must be byte-identical on both engines. -#}
{% macro tstz_text(expr) -%}{{ return(adapter.dispatch('tstz_text', 'civlake')(expr)) }}{%- endmacro %}
{% macro default__tstz_text(expr) -%}cast({{ expr }} as string){%- endmacro %}
{% macro spark__tstz_text(expr) -%}(cast({{ expr }} as string) || '+00'){%- endmacro %}

{#- Whole years from one date to another (an age). -#}
{% macro years_between(start_date, end_date) -%}{{ return(adapter.dispatch('years_between', 'civlake')(start_date, end_date)) }}{%- endmacro %}
{% macro default__years_between(start_date, end_date) -%}date_sub('year', {{ start_date }}, {{ end_date }}){%- endmacro %}
{% macro spark__years_between(start_date, end_date) -%}
    {#- months_between counts month-end to month-end as whole months, as DuckDB's
        date_sub does (born 29 Feb: a year older on 28 Feb of a common year). -#}
    cast(months_between({{ end_date }}, {{ start_date }}) / 12 as bigint)
{%- endmacro %}

{#- A struct from alternating names and SQL expressions: struct_of('a', 'x.a', 'b', ...).
    Field order is kept (it is the key order of the JSON evidence). -#}
{% macro struct_of() -%}{{ return(adapter.dispatch('struct_of', 'civlake')(varargs)) }}{%- endmacro %}
{% macro default__struct_of(pairs) -%}
    { {%- for i in range(0, pairs | length, 2) %}'{{ pairs[i] }}': {{ pairs[i + 1] }}{{ ', ' if not loop.last }}{% endfor -%} }
{%- endmacro %}
{% macro spark__struct_of(pairs) -%}
    named_struct({%- for i in range(0, pairs | length, 2) %}'{{ pairs[i] }}', {{ pairs[i + 1] }}{{ ', ' if not loop.last }}{% endfor -%})
{%- endmacro %}

{#- JSON text of a struct, nulls kept as null (Spark drops null fields by default). -#}
{% macro json_text(expr) -%}{{ return(adapter.dispatch('json_text', 'civlake')(expr)) }}{%- endmacro %}
{% macro default__json_text(expr) -%}to_json({{ expr }})::string{%- endmacro %}
{% macro spark__json_text(expr) -%}to_json({{ expr }}, map('ignoreNullFields', 'false')){%- endmacro %}

{#- A JSON path's text value. -#}
{% macro json_string(expr, path) -%}{{ return(adapter.dispatch('json_string', 'civlake')(expr, path)) }}{%- endmacro %}
{% macro default__json_string(expr, path) -%}json_extract_string({{ expr }}, '{{ path }}'){%- endmacro %}
{% macro spark__json_string(expr, path) -%}get_json_object({{ expr }}, '{{ path }}'){%- endmacro %}

{#- Ordered list aggregate: list(expr order by keys). Spark's collect_list has no order,
    so it collects (keys, value) structs, sorts them and keeps the values; the value
    itself is the last sort key, so ties sort the same way every run. Nulls are kept. -#}
{% macro ordered_list(expr, order_by) -%}{{ return(adapter.dispatch('ordered_list', 'civlake')(expr, order_by)) }}{%- endmacro %}
{% macro default__ordered_list(expr, order_by) -%}list({{ expr }} order by {{ order_by | join(', ') }}){%- endmacro %}
{% macro spark__ordered_list(expr, order_by) -%}
    transform(array_sort(collect_list(named_struct(
        {%- for key in order_by %}'k{{ loop.index }}', {{ key }}, {% endfor -%}
        'v', {{ expr }}))), e -> e.v)
{%- endmacro %}

{#- Distinct values as a sorted list. -#}
{% macro sorted_set(expr) -%}{{ return(adapter.dispatch('sorted_set', 'civlake')(expr)) }}{%- endmacro %}
{% macro default__sorted_set(expr) -%}list(distinct {{ expr }} order by {{ expr }}){%- endmacro %}
{% macro spark__sorted_set(expr) -%}array_sort(collect_set({{ expr }})){%- endmacro %}

{#- The first n elements of a list. -#}
{% macro list_head(expr, n) -%}{{ return(adapter.dispatch('list_head', 'civlake')(expr, n)) }}{%- endmacro %}
{% macro default__list_head(expr, n) -%}({{ expr }})[1:{{ n }}]{%- endmacro %}
{% macro spark__list_head(expr, n) -%}slice({{ expr }}, 1, {{ n }}){%- endmacro %}

{#- Seconds from one timestamp to a later one, as a double. -#}
{% macro seconds_between(earlier, later) -%}{{ return(adapter.dispatch('seconds_between', 'civlake')(earlier, later)) }}{%- endmacro %}
{% macro default__seconds_between(earlier, later) -%}epoch({{ later }} - {{ earlier }}){%- endmacro %}
{% macro spark__seconds_between(earlier, later) -%}
    (cast(unix_micros({{ later }}) - unix_micros({{ earlier }}) as double) / 1000000)
{%- endmacro %}

{#- A join producing one row per step of a date series: `from x {{ date_series(...) }}`;
    `col` names the generated value. -#}
{% macro date_series(start, stop, step, alias, col) -%}{{ return(adapter.dispatch('date_series', 'civlake')(start, stop, step, alias, col)) }}{%- endmacro %}
{% macro default__date_series(start, stop, step, alias, col) -%}
    cross join generate_series({{ start }}, {{ stop }}, interval {{ step }}) as {{ alias }}({{ col }})
{%- endmacro %}
{% macro spark__date_series(start, stop, step, alias, col) -%}
    lateral view explode(sequence({{ start }}, {{ stop }}, interval {{ step }})) {{ alias }} as {{ col }}
{%- endmacro %}

{#- How many Thursdays a month has (ISO weeks belong to the month of their Thursday). -#}
{% macro thursdays_in_month(month_start) -%}{{ return(adapter.dispatch('thursdays_in_month', 'civlake')(month_start)) }}{%- endmacro %}
{% macro default__thursdays_in_month(month_start) -%}
    (
        select count(*)
        from generate_series({{ month_start }}, last_day({{ month_start }}), interval 1 day) as d(day)
        where isodow(d.day) = 4
    )
{%- endmacro %}
{% macro spark__thursdays_in_month(month_start) -%}
    size(filter(sequence(cast({{ month_start }} as date), last_day({{ month_start }})),
        d -> dayofweek(d) = 5))
{%- endmacro %}

{#- Month ('YYYY-MM') of an ISO week 'YYYY-Www': the month holding its Thursday. -#}
{% macro iso_week_month(period_col) -%}{{ return(adapter.dispatch('iso_week_month', 'civlake')(period_col)) }}{%- endmacro %}
{% macro default__iso_week_month(period_col) -%}
    strftime(
        date_trunc('week', make_date(cast(substr({{ period_col }}, 1, 4) as integer), 1, 4))
        + to_days(7 * (cast(substr({{ period_col }}, 7, 2) as integer) - 1) + 3), '%Y-%m')
{%- endmacro %}
{% macro spark__iso_week_month(period_col) -%}
    date_format(date_add(
        cast(date_trunc('week', make_date(cast(substr({{ period_col }}, 1, 4) as int), 1, 4)) as date),
        7 * (cast(substr({{ period_col }}, 7, 2) as int) - 1) + 3), 'yyyy-MM')
{%- endmacro %}

{#- Integer division of two integers (DuckDB: //, Spark: div). -#}
{% macro int_div(a, b) -%}{{ return(adapter.dispatch('int_div', 'civlake')(a, b)) }}{%- endmacro %}
{% macro default__int_div(a, b) -%}(({{ a }}) // ({{ b }})){%- endmacro %}
{% macro spark__int_div(a, b) -%}(({{ a }}) div ({{ b }})){%- endmacro %}
