-- 质量校验结果 (expectation_results): written by the expectations gate when it runs; an
-- absent table reads as empty. delivery_id is null when a whole table was validated.
with source as (
    select * from {{ source('lake', 'expectation_results') }}
),

renamed as (
    select
        run_id,
        suite,
        feed_id,
        delivery_id,
        expectation,
        severity,
        cast(success as boolean) as is_success,
        {{ adapter.quote('at') }} as checked_at
    from source
)

select * from renamed
