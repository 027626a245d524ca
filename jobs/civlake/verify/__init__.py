"""Compare gate (比对核查): the rules live in dbt (dbt/models/verify); this package turns
their findings into work for district staff."""

from __future__ import annotations

from civlake.verify.evidence import describe_evidence
from civlake.verify.masking import mask_id
from civlake.verify.worklists import write_worklists

__all__ = ["describe_evidence", "mask_id", "write_worklists"]
