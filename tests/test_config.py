"""Settings: embedded defaults, environment and maestro.toml, and errors that name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from maestro_ai.config import load_settings
from maestro_ai.errors import ConfigError


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("MAESTRO_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_embedded_defaults_live_under_maestro_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MAESTRO_HOME", str(tmp_path / "h"))
    s = load_settings()
    assert s.warehouse_url == f"duckdb:///{tmp_path / 'h' / 'warehouse.duckdb'}"
    assert s.storage_url == f"file://{tmp_path / 'h' / 'tracks'}"
    assert s.ray_address == "" and s.engine == "composer" and s.warehouse_backend == "duckdb"


def test_home_defaults_to_dot_maestro_in_the_working_directory(tmp_path: Path) -> None:
    assert load_settings().home == tmp_path / ".maestro"


def test_environment_overrides_toml_and_toml_overrides_defaults(monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    (tmp_path / "maestro.toml").write_text(
        'ray_address = "auto"\nstorage_url = "s3://bucket/tracks"\n[snowflake]\naccount = "acme-xy123"\n')
    monkeypatch.setenv("MAESTRO_RAY_ADDRESS", "ray://head:10001")
    s = load_settings()
    assert s.ray_address == "ray://head:10001"
    assert s.storage_url == "s3://bucket/tracks"
    assert s.snowflake_account == "acme-xy123"


@pytest.mark.parametrize(("env", "value", "named"), [
    ("MAESTRO_WAREHOUSE_URL", "postgres://db/x", "MAESTRO_WAREHOUSE_URL"),
    ("MAESTRO_STORAGE_URL", "ftp://host/x", "MAESTRO_STORAGE_URL"),
    ("MAESTRO_RAY_ADDRESS", "not an address", "MAESTRO_RAY_ADDRESS"),
    ("MAESTRO_ENGINE", "musicgen-huge", "MAESTRO_ENGINE"),
    ("MAESTRO_ISRC_COUNTRY", "usa", "MAESTRO_ISRC_COUNTRY"),
    ("MAESTRO_SNOWFLAKE_PORT", "eighty", "MAESTRO_SNOWFLAKE_PORT"),
])
def test_a_bad_setting_is_an_error_naming_it(monkeypatch: pytest.MonkeyPatch, env: str, value: str,
                                              named: str) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert err.value.field == named
    assert named in str(err.value) and "accepted" in str(err.value)


def test_unknown_key_in_toml_is_refused(tmp_path: Path) -> None:
    (tmp_path / "maestro.toml").write_text('warehouse_ulr = "duckdb:///x"\n')
    with pytest.raises(ConfigError, match="WAREHOUSE_ULR"):
        load_settings()


def test_missing_config_file_named_by_env_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MAESTRO_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match="MAESTRO_CONFIG"):
        load_settings()


def test_missing_snowflake_setting_is_named() -> None:
    s = load_settings(warehouse_url="snowflake://", snowflake_account="acme", snowflake_user="svc",
                      snowflake_database="MAESTRO", snowflake_password="pw")
    with pytest.raises(ConfigError) as err:
        s.snowflake_connect_args()
    assert err.value.field == "MAESTRO_SNOWFLAKE_SCHEMA"


def test_snowflake_without_credentials_is_refused() -> None:
    s = load_settings(warehouse_url="snowflake://svc@acme/MAESTRO/CORE")
    with pytest.raises(ConfigError, match="MAESTRO_SNOWFLAKE_PASSWORD"):
        s.snowflake_connect_args()


def test_snowflake_url_carries_the_non_secret_parts() -> None:
    s = load_settings(warehouse_url="snowflake://svc@acme-xy/MAESTRO/CORE?warehouse=GEN_WH&role=MAESTRO_RW",
                      snowflake_password="pw")
    args = s.snowflake_connect_args()
    assert (args["account"], args["user"], args["database"], args["schema"]) == ("acme-xy", "svc", "MAESTRO", "CORE")
    assert (args["warehouse"], args["role"], args["password"]) == ("GEN_WH", "MAESTRO_RW", "pw")


def test_key_pair_authentication_loads_the_private_key(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "rsa_key.p8"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.BestAvailableEncryption(b"s3cret")))
    s = load_settings(warehouse_url="snowflake://svc@acme/DB/SC", snowflake_private_key_path=pem,
                      snowflake_private_key_passphrase="s3cret")
    der = s.snowflake_connect_args()["private_key"]
    assert serialization.load_der_private_key(der, password=None).key_size == 2048
    wrong = load_settings(warehouse_url="snowflake://svc@acme/DB/SC", snowflake_private_key_path=pem,
                          snowflake_private_key_passphrase="nope")
    with pytest.raises(ConfigError, match="MAESTRO_SNOWFLAKE_PRIVATE_KEY_PATH"):
        wrong.snowflake_connect_args()


def test_secrets_never_show_in_repr_or_the_public_view() -> None:
    s = load_settings(snowflake_password="hunter2", snowflake_private_key_passphrase="p@ss")
    assert "hunter2" not in repr(s) and "p@ss" not in repr(s)
    view = s.public_view()
    assert view["snowflake_password"] == "***"
    assert "hunter2" not in str(view)
