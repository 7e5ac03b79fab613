"""Settings: embedded defaults, environment and maestro.toml, and errors that name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from maestro_core.config import load_settings
from maestro_core.errors import ConfigError


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
    ("MAESTRO_DUCKDB_MEMORY_LIMIT", "12 bananas", "MAESTRO_DUCKDB_MEMORY_LIMIT"),
    ("MAESTRO_DUCKDB_MEMORY_LIMIT", "10MB", "MAESTRO_DUCKDB_MEMORY_LIMIT"),  # under the 64 MiB floor
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


def test_a_mistyped_variable_is_warned_about_naming_the_closest_setting(tmp_path, monkeypatch, caplog):
    from maestro_core import config

    monkeypatch.setenv("MAESTRO_WAREHOSE_URL", "duckdb:///x.duckdb")
    monkeypatch.setattr(config, "_WARNED", set())
    with caplog.at_level("WARNING", logger="maestro_core.config"):
        load_settings(home=tmp_path)
    assert "MAESTRO_WAREHOSE_URL is not a Maestro setting" in caplog.text
    assert "did you mean MAESTRO_WAREHOUSE_URL?" in caplog.text
    assert config.unknown_variables({"MAESTRO_HOME": "x", "MAESTRO_CONFIG": "y", "MAESTRO_ZZZQQQ": "1"}) == {
        "MAESTRO_ZZZQQQ": None}


def test_a_relative_duckdb_path_is_resolved_under_maestro_home(tmp_path, monkeypatch):
    monkeypatch.chdir("/")
    s = load_settings(home=tmp_path / "h", warehouse_url="duckdb:///sub/w.duckdb")
    assert s.warehouse_url == f"duckdb:///{tmp_path / 'h' / 'sub' / 'w.duckdb'}"
    absolute = load_settings(home=tmp_path / "h", warehouse_url=f"duckdb:///{tmp_path / 'abs.duckdb'}")
    assert absolute.warehouse_url == f"duckdb:///{tmp_path / 'abs.duckdb'}"


def test_a_duckdb_path_in_a_missing_directory_outside_home_is_refused(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_settings(home=tmp_path / "h", warehouse_url="duckdb:////nonexistent/dir/w.duckdb")
    assert info.value.field == "MAESTRO_WAREHOUSE_URL" and "/nonexistent/dir" in str(info.value)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        load_settings(home=tmp_path / "h", warehouse_url=f"duckdb:///{tmp_path / 'afile' / 'w.duckdb'}")


def test_an_unknown_engine_lists_what_is_accepted_in_words(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_settings(home=tmp_path, engine="musicgen-xl")
    assert "typing" not in str(info.value) and "accepted: composer" in str(info.value)
    assert load_settings(home=tmp_path, engine="my_pkg.engines:MyEngine").engine == "my_pkg.engines:MyEngine"


def test_a_literal_setting_names_its_choices_not_its_type(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_settings(home=tmp_path, log_level="LOUD")
    assert "Literal" not in str(info.value) and "DEBUG" in str(info.value)


def test_maestro_config_that_is_a_directory_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("MAESTRO_CONFIG", str(tmp_path))
    with pytest.raises(ConfigError, match="is a directory, not a file"):
        load_settings(home=tmp_path)


def test_credentials_resolved_by_the_orchestrator_fill_the_connector_arguments() -> None:
    s = load_settings(warehouse_url="snowflake://acme/MAESTRO/CORE").model_copy(update={
        "snowflake_conn_id": "maestro_snowflake",
        "snowflake_connection": {"user": "svc", "password": "from-airflow", "warehouse": "GEN_WH", "role": None}})
    args = s.snowflake_connect_args()
    assert (args["user"], args["password"], args["warehouse"]) == ("svc", "from-airflow", "GEN_WH")
    assert args.get("role") is None  # an empty field of the connection leaves the setting (unset) as it was
    assert "from-airflow" not in repr(s) and "snowflake_connection" not in s.model_dump()


def test_an_airflow_connection_id_outside_airflow_is_named_not_looked_up() -> None:
    s = load_settings(warehouse_url="snowflake://svc@acme/MAESTRO/CORE", snowflake_conn_id="maestro_snowflake")
    with pytest.raises(ConfigError) as err:
        s.snowflake_connect_args()
    assert err.value.field == "MAESTRO_SNOWFLAKE_CONN_ID"


def test_task_settings_read_the_named_airflow_connection(airflow_env, monkeypatch: pytest.MonkeyPatch) -> None:
    from maestro_pipeline.tasks import task_settings

    conn = ('{"conn_type": "snowflake", "login": "svc", "password": "pw", "schema": "CORE",'
            ' "extra": {"account": "acme", "database": "MAESTRO", "warehouse": "WH"}}')
    monkeypatch.setenv("AIRFLOW_CONN_MAESTRO_SNOWFLAKE", conn)
    monkeypatch.setenv("MAESTRO_WAREHOUSE_URL", "snowflake://")
    args = task_settings().snowflake_connect_args()
    assert (args["account"], args["user"], args["password"], args["schema"]) == ("acme", "svc", "pw", "CORE")


def test_task_settings_refuse_a_named_connection_that_does_not_exist(airflow_env,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from maestro_pipeline.tasks import task_settings

    monkeypatch.setenv("MAESTRO_WAREHOUSE_URL", "snowflake://svc@acme/MAESTRO/CORE")
    monkeypatch.setenv("MAESTRO_SNOWFLAKE_CONN_ID", "no_such_connection")
    with pytest.raises(ConfigError) as err:
        task_settings()
    assert err.value.field == "MAESTRO_SNOWFLAKE_CONN_ID"
