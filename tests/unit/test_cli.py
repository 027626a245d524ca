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


def test_engine_and_master_reach_the_settings_of_a_run(tmp_path, monkeypatch):
    seen = {}

    def fake_run_pipeline(settings, **kwargs):
        seen["settings"] = settings

    monkeypatch.setenv("CIVLAKE_HOME", str(tmp_path / "data"))
    monkeypatch.setattr("civlake.orchestrate.run_pipeline", fake_run_pipeline)
    monkeypatch.setattr("civlake.report.print_summary", lambda *a, **k: None)
    (tmp_path / "landing").mkdir()
    argv = ["run", "--landing", str(tmp_path / "landing"), "--engine", "spark"]
    assert main([*argv, "--master", "spark://head:7077", "--through", "clean"]) == 0
    assert seen["settings"].engine == "spark"
    assert seen["settings"].spark_master == "spark://head:7077"


def test_spark_master_defaults_to_local_from_the_environment(monkeypatch):
    from civlake.settings import load_settings

    assert load_settings(env={}).spark_master == "local[*]"
    assert load_settings(env={"CIVLAKE_SPARK_MASTER": "yarn"}).spark_master == "yarn"
    assert load_settings(env={}, engine="spark").engine == "spark"
