"""The engine is one object built from validated settings, with one lake-I/O interface
that both engines implement in full (issue 17, item 5)."""

from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from civlake import lake
from civlake.engine import runtime
from civlake.engine.lake_io import LakeIO
from civlake.engine.spark_io import DeltaSpark
from civlake.settings import load_settings

IMPLEMENTATIONS = {"delta-rs": lake.DeltaRs, "delta-spark": DeltaSpark}


def _members() -> set[str]:
    methods = {n for n, v in vars(LakeIO).items() if callable(v) and not n.startswith("_")}
    return methods | set(LakeIO.__annotations__)


def _parameters(fn) -> list[tuple[str, object, object]]:
    """Name, kind and default of each parameter a caller passes (``self`` dropped)."""
    params = list(inspect.signature(fn).parameters.values())
    if params and params[0].name == "self":
        params = params[1:]
    return [(p.name, p.kind, p.default) for p in params]


def test_the_interface_names_what_the_jobs_call_on_both_engines():
    assert _members() >= {
        "name", "exists", "read_arrow", "append", "overwrite", "delete_where",
        "read_matching", "read_distinct", "count_by", "merge_delete", "merge_update", "retry",
    }  # fmt: skip
    # the streaming writers and batch scans are the embedded engine's alone
    assert not _members() & {"overwrite_stream", "overwrite_ordered", "scan_matching"}


@pytest.mark.parametrize("impl", IMPLEMENTATIONS.values(), ids=IMPLEMENTATIONS.keys())
def test_each_engine_provides_every_member_with_the_interface_signature(impl):
    for member in sorted(_members()):
        assert hasattr(impl, member), f"{impl.__name__} lacks {member}"
        if member in LakeIO.__annotations__:
            continue
        want, got = _parameters(getattr(LakeIO, member)), _parameters(getattr(impl, member))
        assert got == want, f"{impl.__name__}.{member}{got} is not LakeIO.{member}{want}"
    assert isinstance(lake.DELTA_RS, LakeIO) and isinstance(DeltaSpark(spark=None), LakeIO)
    assert {lake.DELTA_RS.name, DeltaSpark(spark=None).name} == set(IMPLEMENTATIONS)


def test_no_ambient_session_is_left_in_the_lake_module():
    for gone in ("use_spark", "active_spark", "_SPARK"):
        assert not hasattr(lake, gone), gone
    assert "ContextVar" not in Path(lake.__file__).read_text(encoding="utf-8")


def test_the_embedded_engine_is_built_from_settings_and_immutable(tmp_path):
    engine = runtime.build(load_settings(env={"CIVLAKE_HOME": str(tmp_path)}))
    assert (engine.name, engine.lake, engine.spark, engine.on_spark) == (
        "duckdb", lake.DELTA_RS, None, False
    )  # fmt: skip
    with pytest.raises(dataclasses.FrozenInstanceError):
        engine.spark = object()  # type: ignore[misc]


def test_a_spark_engine_on_a_session_does_its_lake_io_with_delta_spark():
    session = object()  # no JVM needed: building on a session only wraps it
    engine = runtime.on_session(session)
    assert (engine.name, engine.spark, engine.on_spark) == ("spark", session, True)
    assert isinstance(engine.lake, DeltaSpark) and engine.lake.spark is session


def test_an_unknown_engine_is_refused_from_the_flag_the_environment_and_by_hand(tmp_path):
    home = str(tmp_path)
    with pytest.raises(ValueError, match=r"unknown engine 'sparky'"):
        load_settings(engine="sparky", env={"CIVLAKE_HOME": home})  # what --engine passes on
    with pytest.raises(ValueError, match=r"unknown engine 'sparky'.*CIVLAKE_ENGINE"):
        load_settings(env={"CIVLAKE_HOME": home, "CIVLAKE_ENGINE": "sparky"})
    made_by_hand = dataclasses.replace(load_settings(env={"CIVLAKE_HOME": home}), engine="sparky")
    with pytest.raises(ValueError, match=r"unknown engine 'sparky'"):
        runtime.build(made_by_hand)


def test_the_command_line_refuses_an_unknown_engine_flag(tmp_path):
    civlake = str(Path(sys.executable).with_name("civlake"))
    jobs = Path(__file__).resolve().parents[2] / "jobs"  # this checkout's code
    env = {"CIVLAKE_HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(jobs)}
    done = subprocess.run([civlake, "run", "--engine", "sparky", "--through", "ingest"],
                          env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "invalid choice: 'sparky'" in done.stderr and "Traceback" not in done.stderr
