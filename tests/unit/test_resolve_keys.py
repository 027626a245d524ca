from __future__ import annotations

import stat

import pytest

from civlake.resolve.keys import SECRET_ENV, SecretError, load_secret, person_key
from civlake.settings import load_settings


def _settings(home, **env: str):
    return load_settings(env={"CIVLAKE_HOME": str(home), **env})


def test_secret_generated_once_with_owner_only_permissions(tmp_path):
    settings = _settings(tmp_path)
    first = load_secret(settings)
    path = tmp_path / ".secrets" / "person_key.secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_secret(settings) == first  # reused, not regenerated
    assert len(first) >= 32


def test_environment_secret_wins_and_writes_nothing(tmp_path):
    secret = load_secret(_settings(tmp_path, **{SECRET_ENV: "city-secret"}))
    assert secret == b"city-secret"
    assert not (tmp_path / ".secrets").exists()


def test_empty_secret_file_is_an_error_that_says_what_to_do(tmp_path):
    (tmp_path / ".secrets").mkdir()
    (tmp_path / ".secrets" / "person_key.secret").write_text("\n")
    with pytest.raises(SecretError, match=r"delete it|restore it"):
        load_secret(_settings(tmp_path))


def test_person_key_is_keyed_stable_and_hides_the_id():
    id_number = "440106199001011234"
    key = person_key(b"a", id_number)
    assert key == person_key(b"a", id_number)
    assert key != person_key(b"b", id_number)
    assert len(key) == 32 and id_number not in key
