{#- Fails on every combination of the given columns that occurs more than once
    (dbt_utils.unique_combination_of_columns without the package: no hub access here). -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n_rows
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
