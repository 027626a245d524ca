"""Validate one pandas batch against specs with GX 1.x and turn results into Outcomes."""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from civlake.expectations.combine import MAX_EXAMPLES, Part
from civlake.expectations.outcome import Outcome
from civlake.expectations.specs import SEVERITIES, ExpectationSpec, suite_name
from civlake.expectations.suites import to_gx_suite


@dataclass(frozen=True)
class Checks:
    """One feed's specs of one batch kind (silver or audit), both severities, as one GX
    suite built once per gate run and validated against each chunk in one GX call."""

    suite: Any  # great_expectations.ExpectationSuite
    specs: dict[str, ExpectationSpec]  # by _key
    # Every column a spec names (GX needs no other); None if a spec names no column
    # (a table-level expectation could be about the other columns): the whole frame.
    columns: tuple[str, ...] | None
    # Columns only value-range checks (``expect_column_values_to_be_between``) read: GX
    # compares them in numpy when they hold numbers (``_numbers_for_gx``).
    ranged: tuple[str, ...] = ()


def _key(label: str, severity: str, description: str) -> str:
    return f"{label}|{severity}|{description}"


def _as_checks(feed_id: str, expectations: list, specs: list[ExpectationSpec]) -> Checks:
    """GX ``expectations`` (of no suite) as one suite, with the specs they came from."""
    import great_expectations as gx

    # The constructor keeps every expectation (no set-like merging across severities).
    suite = gx.ExpectationSuite(name=f"silver.{feed_id}", expectations=expectations)
    keys = {_key(e.meta["label"], e.meta["severity"], e.meta["description"]) for e in expectations}
    specs = [s for s in specs if _key(s.label, s.severity, s.description) in keys]
    by_key = {_key(s.label, s.severity, s.description): s for s in specs}
    named = [[s.column, *s.kwargs.get("column_list", ())] for s in specs]
    columns = None
    if all(any(n) for n in named):
        columns = tuple(dict.fromkeys(c for n in named for c in n if c))
    # Only a column no other kind of expectation reads: a type check on it would see
    # the numpy dtype instead of the values' own types.
    others = {
        c for s, n in zip(specs, named, strict=True)
        if s.type != _BETWEEN or not _exact_bounds(s) for c in n
    }  # fmt: skip
    ranged = tuple(
        dict.fromkeys(s.column for s in specs if s.type == _BETWEEN and s.column not in others)
    )
    return Checks(suite=suite, specs=by_key, columns=columns, ranged=ranged)


class GxSession:
    """One ephemeral GX context for a gate run (cheap: ~5 ms; the GX import is ~3 s).

    GX's cost is per call and per expectation, not per row: every validate call hashes
    the whole frame for the batch id and rebuilds the metric graph of every expectation.
    So the session registers one dataframe asset and batch definition (each chunk is a
    batch parameter), ``checks`` builds a feed's suites once per run, and ``validate``
    runs both severities of a chunk in one call (shared metrics) on the columns the
    specs name, without GX's frame fingerprint (``_configuration_once``).
    """

    def __init__(self) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.context = gx.get_context(mode="ephemeral")
        # tqdm bars would flood Airflow task logs with one line per metric batch.
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        source = self.context.data_sources.add_pandas("civlake_gate")
        self._batches = source.add_dataframe_asset("chunks").add_batch_definition_whole_dataframe(
            "all"
        )

    def checks(
        self,
        feed_id: str,
        specs: list[ExpectationSpec],
        *,
        resolve: dict[str, Any] | None = None,
    ) -> Checks | None:
        """``specs`` (one batch kind) as one suite: each severity's suite as before
        (``to_gx_suite``, which drops an expectation equal to one already in it), then
        both in one list. None when there is nothing to check."""
        shares = self.checks_in_shares(feed_id, specs, resolve=resolve, shares=1)
        return shares[0] if shares else None

    def checks_in_shares(
        self,
        feed_id: str,
        specs: list[ExpectationSpec],
        *,
        resolve: dict[str, Any] | None = None,
        shares: int,
    ) -> list[Checks]:
        """``checks``' suite dealt out in turn into ``shares`` suites (fewer if it has
        fewer expectations; none if it has none): validated side by side against the
        same chunk, they give the one suite's results."""
        expectations = []
        for severity in SEVERITIES:
            group = [s for s in specs if s.severity == severity]
            if group:
                expectations += to_gx_suite(
                    suite_name(feed_id, severity), group, resolve=resolve
                ).expectations
        if not expectations:
            return []
        for e in expectations:
            e.id = None  # the constructor takes only expectations of no suite
        n = max(1, min(shares, len(expectations)))
        return [_as_checks(feed_id, expectations[i::n], specs) for i in range(n)]

    def validate(self, df: pd.DataFrame, checks: Checks) -> Iterator[tuple[ExpectationSpec, Any]]:
        # Only the columns the specs name: every expectation in use is about its own
        # columns (none about the table's column set), and GX copies the whole frame for
        # each metric that drops nulls. Row labels stay; examples come from ``df``.
        # Strings GX makes (its regex check's astype(str)) stay on Arrow: RE2 over the
        # column instead of Python's re value by value (~1.5 s of a 1 M-person month).
        with _configuration_once(), pd.option_context("future.infer_string", True):
            gx_frame = df
            if checks.columns is not None:
                gx_frame = df[[c for c in checks.columns if c in df.columns]]
            gx_frame = _numbers_for_gx(gx_frame, checks.ranged)
            batch = self._batches.get_batch(batch_parameters={"dataframe": gx_frame})
            result = batch.validate(
                checks.suite,
                # No unexpected_index_column_names: GX then resolves every unexpected row's
                # columns one by one (~2.5 ms a row: 75 s for 30k rows). Plain index labels
                # are free; examples() looks the lineage up for the few rows it shows.
                result_format={
                    "result_format": "SUMMARY",
                    "partial_unexpected_count": MAX_EXAMPLES,
                },
            )
        # Match results to specs by meta (label, severity, description), not position.
        for r in result.results:
            meta = r.expectation_config.meta or {}
            yield checks.specs[_key(meta["label"], meta["severity"], meta["description"])], r


_patch_lock = threading.Lock()
_BETWEEN = "expect_column_values_to_be_between"
# Integers a float64 holds exactly: a range check on a column with nulls compares floats.
_EXACT = 2**53


def _numbers_for_gx(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """``frame`` with each of ``columns`` that holds Python ints (and None), none beyond
    2**53 in size, as a numpy column: int64 without nulls, else float64 with NaN.

    The gate's frames hold integers as Python objects (``batches._to_pandas``: examples
    and messages show them as delivered), and GX checks a range on an object column one
    value at a time in Python (~1 s of a 1 M-person month's ages). On a numpy column it
    compares the whole array; the verdicts are the same, since a NaN is a missing value
    to GX as a None is, and the examples are still read from the gate's own frame. Other
    columns (Decimal amounts, text, mixed) are handed over as they are."""
    numbers = {}
    for name in columns:
        if name not in frame.columns or frame[name].dtype != object:
            continue
        values = frame[name].to_numpy()
        known = pd.notna(values)
        present = values[known]
        if not all(type(v) is int for v in present):
            continue
        if present.size and max(abs(present.max()), abs(present.min())) > _EXACT:
            continue  # GX compares numpy integers through floats too
        if known.all():
            numbers[name] = values.astype(np.int64)
        else:
            out = np.full(len(values), np.nan)
            out[known] = present.astype(np.float64)
            numbers[name] = out
    return frame.assign(**numbers) if numbers else frame


def _exact_bounds(spec: ExpectationSpec) -> bool:
    """A range check whose bounds are numbers a float64 holds exactly (or absent)."""
    bounds = [spec.kwargs.get(k) for k in ("min_value", "max_value")]
    return all(
        b is None or (isinstance(b, int | float) and not isinstance(b, bool) and abs(b) <= _EXACT)
        for b in bounds
    )


@contextlib.contextmanager
def _configuration_once() -> Iterator[None]:
    """Within one GX validate call, build each expectation's ``configuration`` once.

    GX 1.x's ``Expectation.configuration`` is a property that serialises the whole
    expectation (pydantic ``dict()``, value sets included) on every read, and one
    validation reads it ~75 times per expectation: about half of the gate's time. Nothing
    in GX writes through it and an expectation is not changed while it is validated, so
    the first value is the value of every later read. The cache holds the expectation
    itself (its id cannot be reused meanwhile) and is dropped when the call returns.
    Likewise ``registry.get_metric_kwargs``, asked ~7 times per expectation, builds a new
    expectation from the configuration each time only to read its runtime kwargs (and
    with it a new ``configuration``): here one expectation per configuration serves them
    all (``_SameExpectation``).

    Also: no ``pandas_data_fingerprint`` batch marker (an md5 of the whole frame, hashed
    twice per call: for the batch and again by ``validate``), as GX does for frames over
    ``HASH_THRESHOLD``; nothing reads it. And pandas copy-on-write: every column map
    metric drops the column's nulls with ``frame[~isnull]``, which for a column without
    nulls is ``frame.copy()``, a deep copy of every column (~10 % of the gate); with
    copy-on-write that copy shares the arrays until something writes to them, and GX
    writes to none (tests/integration/test_expectations_gate.py compares the results
    with plain GX calls: test_one_gx_call_per_chunk_equals_a_call_per_severity).
    """
    from great_expectations.execution_engine import pandas_execution_engine as engine
    from great_expectations.expectations import expectation as expectation_module
    from great_expectations.expectations import registry
    from great_expectations.expectations.core import (
        expect_column_values_to_be_in_type_list,
        expect_column_values_to_be_of_type,
    )
    from great_expectations.expectations.expectation import Expectation

    # The modules that call get_metric_kwargs by a name of their own.
    callers = [
        expectation_module,
        expect_column_values_to_be_in_type_list,
        expect_column_values_to_be_of_type,
    ]
    with _patch_lock:  # one patch at a time in this process (threads would interleave)
        original = Expectation.__dict__["configuration"]
        cache: dict[int, tuple[Any, Any]] = {}

        def configuration(self: Any) -> Any:
            hit = cache.get(id(self))
            if hit is None or hit[0] is not self:
                hit = cache[id(self)] = (self, original.fget(self))
            return hit[1]

        metric_kwargs = registry.get_metric_kwargs
        built: dict[int, tuple[Any, _SameExpectation]] = {}

        def get_metric_kwargs(metric_name, configuration=None, runtime_configuration=None):
            if configuration is not None:
                hit = built.get(id(configuration))
                if hit is None or hit[0] is not configuration:
                    hit = built[id(configuration)] = (
                        configuration,
                        _SameExpectation(configuration),
                    )
                configuration = hit[1]
            return metric_kwargs(
                metric_name,
                configuration=configuration,
                runtime_configuration=runtime_configuration,
            )

        threshold = engine.HASH_THRESHOLD
        Expectation.configuration = property(configuration, doc=original.__doc__)
        engine.HASH_THRESHOLD = 0
        for module in callers:
            module.get_metric_kwargs = get_metric_kwargs
        try:
            with pd.option_context("mode.copy_on_write", True):
                yield
        finally:
            Expectation.configuration = original
            engine.HASH_THRESHOLD = threshold
            for module in callers:
                module.get_metric_kwargs = metric_kwargs


class _SameExpectation:
    """An ExpectationConfiguration as ``registry.get_metric_kwargs`` reads it (its
    ``kwargs``, and ``to_domain_obj`` only to read the runtime kwargs), giving one
    expectation built once instead of a new one per call."""

    def __init__(self, configuration: Any) -> None:
        self.kwargs = configuration.kwargs
        self._expectation = configuration.to_domain_obj()

    def to_domain_obj(self) -> Any:
        return self._expectation


def _plain(value: Any) -> Any:
    """JSON-friendly scalars (numpy ints, Decimals, dates) for details and messages."""
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        with contextlib.suppress(ValueError, AttributeError):
            value = value.item()  # numpy scalar -> Python scalar
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (int, float, bool, str)):
        return value
    return str(value)


def _examples(
    spec: ExpectationSpec, labels: list[Any], frame: pd.DataFrame, index_columns: list[str]
) -> list[dict[str, Any]]:
    """The failing rows' own values plus their lineage (delivery, file, row)."""
    columns = [spec.column] if spec.column else list(spec.kwargs.get("column_list", []))
    columns += [c for c in index_columns if c not in columns]
    columns = [c for c in columns if c in frame.columns]
    out = []
    for label in labels[:MAX_EXAMPLES]:
        if label in frame.index:
            out.append({c: _plain(frame.at[label, c]) for c in columns})
    return out


def part_of(
    spec: ExpectationSpec, r: Any, *, frame: pd.DataFrame, index_columns: list[str]
) -> Part:
    """What GX said about ``spec`` on one chunk (``frame``), examples with their lineage."""
    res = dict(r.result or {})
    err = None
    if r.exception_info and r.exception_info.get("raised_exception"):
        err = str(r.exception_info.get("exception_message") or "exception in GX")
    examples = _examples(spec, res.get("partial_unexpected_index_list") or [], frame, index_columns)
    if not examples and res.get("partial_unexpected_list"):
        examples = [{"value": _plain(v)} for v in res["partial_unexpected_list"]]
    unexpected, missing = res.get("unexpected_count"), res.get("missing_count")
    elements = _plain(res.get("element_count"))
    return Part(
        success=bool(r.success) and err is None,
        element_count=elements if isinstance(elements, int) else None,
        unexpected_count=None if unexpected is None else int(unexpected),
        missing_count=None if missing is None else int(missing),
        examples=examples[:MAX_EXAMPLES],
        observed=_plain(res.get("observed_value")),
        error=err,
    )


def to_outcome(
    spec: ExpectationSpec,
    part: Part,
    *,
    run_id: str,
    suite: str,
    feed_id: str,
    at: dt.datetime,
    deliveries: tuple[str, ...],
) -> Outcome:
    return Outcome(
        run_id=run_id,
        suite=suite,
        feed_id=feed_id,
        expectation=spec.label,
        expectation_type=spec.type,
        column=spec.column,
        severity=spec.severity,
        origin=spec.origin,
        description=spec.description,
        success=part.success,
        element_count=part.element_count,
        unexpected_count=part.unexpected_count,
        examples=part.examples,
        observed=part.observed,
        error=part.error,
        at=at,
        deliveries=deliveries,
    )
