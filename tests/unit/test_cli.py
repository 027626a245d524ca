"""The command line turns a person's mistakes into one clear line and exit status 2."""

from __future__ import annotations

from civlake.cli import main


def test_generate_refuses_a_non_empty_folder_without_a_traceback(tmp_path, capsys):
    out = tmp_path / "landing"
    (out / "something").mkdir(parents=True)
    assert main(["generate", "--out", str(out), "--persons", "300"]) == 2
    printed = capsys.readouterr().out
    assert "not empty" in printed and "Traceback" not in printed


def test_generate_names_a_bad_option_value(tmp_path, capsys):
    assert main(["generate", "--out", str(tmp_path / "l"), "--persons", "100"]) == 2
    assert "persons must be at least 200" in capsys.readouterr().out


def test_run_without_a_landing_folder_says_what_to_do(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CIVLAKE_HOME", str(tmp_path / "data"))
    assert main(["run", "--landing", str(tmp_path / "missing")]) == 2
    printed = capsys.readouterr().out
    assert "does not exist" in printed and "civlake generate" in printed


def test_spark_engine_is_refused_clearly(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CIVLAKE_HOME", str(tmp_path / "data"))
    (tmp_path / "landing").mkdir()
    assert main(["run", "--landing", str(tmp_path / "landing"), "--engine", "spark"]) == 2
    assert "Spark engine is not available" in capsys.readouterr().out
