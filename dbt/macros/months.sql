{#- Month helpers. Months are 'YYYY-MM' strings throughout the lake (CONVENTIONS.md). -#}

{#- Months since year 0: consecutive months differ by exactly 1 (gaps-and-islands). -#}
{% macro month_index(month_col) -%}
    (cast(substr({{ month_col }}, 1, 4) as integer) * 12 + cast(substr({{ month_col }}, 6, 2) as integer) - 1)
{%- endmacro %}

{#- First day of a 'YYYY-MM' month as a date. -#}
{% macro month_start(month_col) -%}
    cast({{ month_col }} || '-01' as date)
{%- endmacro %}

{#- 'YYYY-MM' of a date or timestamp. -#}
{% macro to_month(date_col) -%}
    {{ format_date('cast(' ~ date_col ~ ' as date)', '%Y-%m') }}
{%- endmacro %}

{#- Whole years of age on a given date. -#}
{% macro age_on(birth_col, on_date) -%}
    {{ years_between(birth_col, on_date) }}
{%- endmacro %}

{#- The county/district (level 3) code of a 12-digit statistical code: its first six
    digits. Only meaningful on a *current* code (follow successors first). -#}
{% macro district_of(code_col) -%}
    case when {{ code_col }} is not null and length({{ code_col }}) = 12
         then substr({{ code_col }}, 1, 6) || '000000' end
{%- endmacro %}

{#- Month a delivery period belongs to: YYYY-MM-DD and YYYY-MM by prefix, an ISO week
    by its Thursday (ISO 8601 assigns a week to the year/month holding its Thursday),
    a year by its January. -#}
{% macro period_month(period_col) -%}
    case
        when {{ regex_full_match(period_col, '\\d{4}-\\d{2}(-\\d{2})?') }} then substr({{ period_col }}, 1, 7)
        when {{ regex_full_match(period_col, '\\d{4}-W\\d{2}') }} then {{ iso_week_month(period_col) }}
        when {{ regex_full_match(period_col, '\\d{4}') }} then {{ period_col }} || '-01'
    end
{%- endmacro %}
