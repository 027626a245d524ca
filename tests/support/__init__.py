"""Test support: hand-made deliveries, synthetic lakes and warehouses, reference oracles
and the engine-parity comparison. Used by tests/ and bench/, never by the product."""
