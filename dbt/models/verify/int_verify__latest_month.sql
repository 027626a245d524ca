-- The latest complete month (SOURCE_FEEDS 5): the latest pay_month of benefit_payments;
-- before any payment has arrived, the latest register month stands in.
select
    coalesce(
        (select max(pay_month) from {{ ref('int_entitlement__payments') }}),
        (select max(month) from {{ ref('int_entitlement__register_months') }}),
        (select max(month) from {{ ref('int_entitlement__assistance_months') }})
    ) as latest_month
