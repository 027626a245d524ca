"""The silver suites: contract-generated plus hand-written specs, and GX objects from them.

``silver_specs(feed)`` is data (no GX import); ``to_gx_suite`` turns specs into a GX 1.x
``ExpectationSuite`` named ``silver.<feed>.<severity>``; ``export_suites`` writes those
suites as GX JSON under ``expectations/generated/`` for review and for tools.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from civlake.contracts import get_contract, load_contracts
from civlake.expectations.contract_suites import contract_specs
from civlake.expectations.extras import extra_specs
from civlake.expectations.specs import SEVERITIES, ExpectationSpec, suite_name
from civlake.settings import REPO_ROOT


def silver_specs(feed_id: str, *, schemas_dir: Path | None = None) -> list[ExpectationSpec]:
    contract = get_contract(feed_id, schemas_dir)
    return contract_specs(contract) + extra_specs(contract)


def to_gx_suite(
    name: str, specs: list[ExpectationSpec], *, resolve: dict[str, Any] | None = None
) -> Any:
    """GX ExpectationSuite for ``specs``; ``resolve`` fills value-set placeholders.

    Like GX's ``add_expectation``, an expectation equal to one already kept (type and
    fields but id, rendered content, notes and meta: ``_GX_IDENTITY_EXCLUDES``) is
    dropped. ``add_expectation`` compares each new expectation's pydantic ``dict()``,
    value sets included, with every one before it (1.4 s for the 14 feeds at each run at 1 M persons);
    here each expectation's ``dict()`` is taken once."""
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    kept, seen = [], []
    for spec in specs:
        kwargs = dict(spec.kwargs)
        vs = kwargs.get("value_set")
        if isinstance(vs, str):
            kwargs["value_set"] = sorted((resolve or {}).get(vs, []))
        config = ExpectationConfiguration(
            type=spec.type,
            kwargs=kwargs,
            meta={
                "label": spec.label,
                "severity": spec.severity,
                "origin": spec.origin,
                "batch": spec.batch,
                "description": spec.description,
            },
        )
        expectation = config.to_domain_obj()
        identity = (
            expectation.expectation_type,
            expectation.dict(exclude=_GX_IDENTITY_EXCLUDES),
        )
        if identity not in seen:
            seen.append(identity)
            kept.append(expectation)
    return gx.ExpectationSuite(name=name, expectations=kept)


# What GX's ExpectationSuite._expectations_are_equalish leaves out when it compares two
# expectations (test_suites_drop_the_expectations_gx_drops compares with add_expectation).
_GX_IDENTITY_EXCLUDES = {"id", "rendered_content", "notes", "meta"}


def export_suites(out_dir: Path | None = None) -> list[Path]:
    """Write every silver suite as GX 1.x JSON (placeholders left symbolic)."""
    out_dir = out_dir or REPO_ROOT / "expectations" / "generated"
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("silver.*.json"):  # a removed feed must not leave a suite
        stale.unlink()
    written = []
    for feed_id in sorted(load_contracts()):
        specs = silver_specs(feed_id)
        for severity in SEVERITIES:
            chosen = [s for s in specs if s.severity == severity]
            doc = {
                "name": suite_name(feed_id, severity),
                "expectations": [
                    {
                        "type": s.type,
                        "kwargs": s.kwargs,
                        "meta": {
                            "severity": s.severity,
                            "origin": s.origin,
                            "batch": s.batch,
                            "description": s.description,
                        },
                    }
                    for s in chosen
                ],
                "meta": {
                    "generated_by": "python -m civlake.expectations.export",
                    "placeholders": "value_set '$divisions.*' is filled from silver.divisions",
                },
            }
            path = out_dir / f"{suite_name(feed_id, severity)}.json"
            path.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", "utf-8")
            written.append(path)
    return written
