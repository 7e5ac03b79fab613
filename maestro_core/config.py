"""Typed settings, read from ``MAESTRO_*`` environment variables and an optional ``maestro.toml``.

Precedence, highest first: keyword arguments, environment (``MAESTRO_*``), ``maestro.toml`` (the path in
``MAESTRO_CONFIG``, else ``./maestro.toml``), then the embedded defaults below. The TOML file may group the
Snowflake keys in a ``[snowflake]`` table; they map to the flat ``snowflake_*`` fields.

Embedded defaults live under ``MAESTRO_HOME`` (``./.maestro``):

* warehouse ``duckdb:///$MAESTRO_HOME/warehouse.duckdb``
* storage ``file://$MAESTRO_HOME/tracks``
* Ray: a local cluster (``MAESTRO_RAY_ADDRESS`` empty)
* engine: ``composer``

Secrets are ``SecretStr``: they never appear in ``repr``, logs or ``maestro config``.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal, get_args, get_origin
from urllib.parse import parse_qs, unquote, urlparse

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from maestro_core.errors import ConfigError

log = logging.getLogger(__name__)

WAREHOUSE_SCHEMES = ("duckdb", "snowflake")
STORAGE_SCHEMES = ("file", "s3", "memory")
ENGINES = ("composer", "musicgen", "stable-audio")
# Neural engine -> the setting naming its checkpoint directory (passed to the engine as ``model_path``).
MODEL_SETTINGS = {"musicgen": "musicgen_model", "stable-audio": "stable_audio_model"}
MELODY_SOURCES = ("none", "composer")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# DuckDB's memory-size spellings (1000^i and 1024^i units), and the least we let it run in.
MEMORY_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([KMGT])(i?)B\s*", re.IGNORECASE)
DUCKDB_MEMORY_FLOOR = 64 * 2**20
REVIEW_TOKEN_MIN_CHARS = 43  # len(secrets.token_urlsafe(32)): 32 random bytes
# An engine outside the registry, named by its import path (a plugin): ``package.module:EngineClass``.
ENGINE_IMPORT_PATH = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")
# MAESTRO_* variables that are read directly, not settings (so not warned about as unknown).
OTHER_VARIABLES = ("MAESTRO_CONFIG", "MAESTRO_TASK_RETRY_DELAY_S", "MAESTRO_TASK_RETRIES", "MAESTRO_CATALOG_SCHEDULE",
                   "MAESTRO_GIT_COMMIT", "MAESTRO_IMAGE", "MAESTRO_KEEP_FREED_MEMORY")


class _TomlSource(PydanticBaseSettingsSource):
    """Reads ``maestro.toml``; a ``[snowflake]`` table maps to ``snowflake_*`` keys."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        path = Path(os.environ.get("MAESTRO_CONFIG", "maestro.toml"))
        self._data: dict[str, Any] = {}
        if os.environ.get("MAESTRO_CONFIG") and not path.is_file():
            problem = "is a directory, not a file" if path.is_dir() else "does not exist"
            raise ConfigError("MAESTRO_CONFIG", f"{str(path)!r} {problem}", "a path to a TOML file")
        if path.is_file():
            try:
                raw = tomllib.loads(path.read_text())
            except tomllib.TOMLDecodeError as exc:
                raise ConfigError("MAESTRO_CONFIG", f"{path} is not valid TOML: {exc}", "a TOML file") from None
            for key, value in raw.items():
                if key == "snowflake" and isinstance(value, dict):
                    self._data.update({f"snowflake_{k}": v for k, v in value.items()})
                else:
                    self._data[key] = value

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self._data)


class Settings(BaseSettings):
    """All of Maestro's configuration. Field ``x`` is set by ``MAESTRO_X`` or ``x = ...`` in ``maestro.toml``."""

    model_config = SettingsConfigDict(env_prefix="MAESTRO_", extra="forbid", frozen=True, validate_default=True)

    home: Path = Field(default=Path(".maestro"), description="Root of the embedded defaults.")
    warehouse_url: str = Field(default="", description="duckdb:///PATH, duckdb:///:memory: or snowflake://")
    storage_url: str = Field(default="", description="file:///PATH, s3://bucket/prefix or memory://prefix")
    duckdb_memory_limit: str = Field(default="512MB", description="memory the embedded DuckDB warehouse holds "
                                     "before it spills to disk beside its file (e.g. 512MB, 2GiB; empty: DuckDB's "
                                     "own default, 80 % of RAM)")
    ray_address: str = Field(default="", description="empty: local Ray; 'auto', host:port or ray://host:10001")
    engine: str = Field(default="composer", description="a registered engine (composer, musicgen, stable-audio), "
                                                          "or an engine class by import path "
                                                          "package.module:EngineClass")
    soundfont_path: Path | None = Field(default=None, description="a General MIDI .sf2/.sf3 file for the composer "
                                                                  "engine (default: the engine's own)")
    # Neural engines (docs/engines.md): local checkpoint directories, read with local_files_only (no hub access).
    musicgen_model: Path | None = Field(default=None, description="a MusicGen checkpoint directory that "
                                        "from_pretrained reads (config, weights, processor files)")
    stable_audio_model: Path | None = Field(default=None, description="a Stable Audio Open checkpoint directory "
                                            "that diffusers' StableAudioPipeline.from_pretrained reads")
    gpu_batch_size: int = Field(default=8, ge=1, le=256, description="requests a GPU engine generates in one call "
                                "(halved and retried when the GPU runs out of memory)")
    allow_cpu_fallback: bool = Field(default=False, description="let a GPU engine run in fp32 on CPU when the "
                                     "cluster has no GPU (slow; tests and smoke runs)")
    melody_source: Literal["none", "composer"] = Field(default="none", description="none, or composer: the "
                                                       "composer writes the arrangement and a melody model follows it")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    spark_master: str = Field(default="local[2]", description="Spark master URL for the royalty job")

    # Snowflake: account, user, role, warehouse, database, schema; password or key pair, or an Airflow connection.
    snowflake_account: str | None = None
    snowflake_user: str | None = None
    snowflake_role: str | None = None
    snowflake_warehouse: str | None = None
    snowflake_database: str | None = None
    snowflake_schema: str | None = None
    snowflake_password: SecretStr | None = None
    snowflake_private_key_path: Path | None = None
    snowflake_private_key_passphrase: SecretStr | None = None
    snowflake_conn_id: str | None = Field(default=None, description="Airflow connection id holding credentials "
                                                                     "(read by Airflow tasks)")
    # The credentials of that connection, resolved by the orchestrator (maestro_pipeline.tasks.task_settings):
    # the core never imports Airflow. Not read from the environment, never printed.
    snowflake_connection: dict[str, Any] | None = Field(default=None, exclude=True, repr=False)
    # Endpoint overrides: only for Snowflake stand-ins such as fakesnow's server.
    snowflake_host: str | None = None
    snowflake_port: int | None = None
    snowflake_protocol: Literal["https", "http"] | None = None
    snowflake_login_timeout_s: int = Field(default=20, ge=1, le=600, description="seconds to wait for a login")
    snowflake_network_timeout_s: int = Field(default=120, ge=1, le=3600, description="seconds a query may retry")

    # Content Credentials (C2PA) signing; `maestro keys init` creates development keys under $MAESTRO_HOME/keys.
    signing_cert_path: Path | None = Field(default=None, description="PEM certificate chain (default home/keys)")
    signing_key_path: Path | None = Field(default=None, description="PEM private key (default home/keys)")
    trust_anchor_path: Path | None = Field(default=None, description="PEM CA certificate trusted by verify")
    platform_holder_id: str = Field(default="holder_maestro", description="holder that receives split remainders")

    # Failure budget: a run whose failures look systemic closes ``failed`` (exit 1) instead of reporting success.
    failure_budget_pct: int = Field(default=20, ge=0, le=100, description="the run fails when more than this "
                                    "percentage of its attempted requests failed (and at least first_n did)")
    failure_budget_first_n: int = Field(default=3, ge=1, le=10_000, description="the run also fails when its "
                                        "first N attempted requests all failed with the same error class")

    # ISRC minting (issue: rights and provenance): CC-XXX-YY-NNNNN.
    isrc_country: str = Field(default="ZZ", description="two letters, ISO 3166-1 alpha-2 (ZZ for test codes)")
    isrc_registrant: str = Field(default="MAE", description="three letters or digits")

    # Delivery in DDEX formats (ERN 4.3.2 releases, DSR usage reports). Delivery refuses to start without the
    # party ids and names (no invented defaults: a platform ingests what we send under these ids).
    ddex_sender_dpid: str | None = Field(default=None, description="our DDEX Party ID, e.g. PADPIDA2014120301H")
    ddex_sender_name: str | None = Field(default=None, description="our party name on DDEX messages (the label)")
    ddex_recipient_dpid: str | None = Field(default=None, description="the receiving platform's DDEX Party ID")
    ddex_recipient_name: str | None = Field(default=None, description="the receiving platform's party name")
    artist_name: str | None = Field(default=None, description="display artist of delivered releases")
    label_name: str | None = Field(default=None, description="label on delivered releases and the P-line")
    delivery_format: Literal["flac", "wav"] = Field(default="flac", description="audio format of delivered files")

    # Royalty policy (docs/royalties.md): how a pool is divided among the period's tracks.
    royalty_policy: Literal["pro_rata", "streaming_2024", "user_centric"] = Field(
        default="pro_rata", description="pro_rata, streaming_2024 or user_centric")
    functional_genres: list[str] = Field(default_factory=lambda: ["ambient-noise", "sleep"],
                                         description="genres streaming_2024 treats as functional (JSON list)")

    # Catalog review (maestro review serve): a human approves or holds each track before delivery.
    review_required: bool = Field(default=False, description="deliver only tracks approved in REVIEWS")
    review_token: SecretStr | None = Field(default=None, description="reviewer token, at least 43 characters: "
                                           "python -c 'import secrets; print(secrets.token_urlsafe(32))'")
    review_token_for_reads: bool = Field(default=False, description="the review pages need the token to read too")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _TomlSource(settings_cls)

    @field_validator("warehouse_url")
    @classmethod
    def _check_warehouse(cls, value: str) -> str:
        if value and urlparse(value).scheme not in WAREHOUSE_SCHEMES:
            raise ValueError(f"unknown scheme {urlparse(value).scheme!r}; accepted: duckdb:///PATH or snowflake://")
        return value

    @field_validator("storage_url")
    @classmethod
    def _check_storage(cls, value: str) -> str:
        if value and urlparse(value).scheme not in STORAGE_SCHEMES:
            raise ValueError(f"unknown scheme {urlparse(value).scheme!r}; accepted: file://, s3://, memory://")
        return value

    @field_validator("duckdb_memory_limit")
    @classmethod
    def _check_duckdb_memory(cls, value: str) -> str:
        if not value:
            return value
        size = MEMORY_SIZE.fullmatch(value)
        if not size:
            raise ValueError("accepted: a size such as 512MB or 2GiB (KB, MB, GB, TB, KiB, MiB, GiB, TiB), or empty")
        number, unit, binary = size.groups()
        if float(number) * (1024 if binary else 1000) ** ("KMGT".index(unit.upper()) + 1) < DUCKDB_MEMORY_FLOOR:
            raise ValueError("is under 64 MiB, too little for the warehouse's loads")
        return value.strip()

    @field_validator("ray_address")
    @classmethod
    def _check_ray(cls, value: str) -> str:
        if value and value != "auto" and not re.fullmatch(r"(ray://)?[\w.\-]+:\d+", value):
            raise ValueError("accepted: empty (local Ray), 'auto', 'host:port' or 'ray://host:10001'")
        return value

    @field_validator("engine")
    @classmethod
    def _check_engine(cls, value: str) -> str:
        if value not in ENGINES and not ENGINE_IMPORT_PATH.fullmatch(value):
            raise ValueError(f"unknown engine {value!r}; accepted: {', '.join(ENGINES)}, or an engine class by "
                             "import path package.module:EngineClass")
        return value

    @field_validator("isrc_country")
    @classmethod
    def _check_country(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z]{2}", value):
            raise ValueError("accepted: two upper-case letters, e.g. 'US' or 'ZZ'")
        return value

    @field_validator("isrc_registrant")
    @classmethod
    def _check_registrant(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z0-9]{3}", value):
            raise ValueError("accepted: three upper-case letters or digits, e.g. 'MAE'")
        return value

    @field_validator("review_token", mode="before")
    @classmethod
    def _check_review_token(cls, value: object) -> object:
        secret = "" if value is None else value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        if not secret:
            return None  # an empty variable means no token: the review app is read-only
        if len(secret) < REVIEW_TOKEN_MIN_CHARS:
            raise ValueError(f"is shorter than {REVIEW_TOKEN_MIN_CHARS} characters (32 random bytes)")
        return value

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        home = self.home.expanduser().absolute()
        if home.exists() and not home.is_dir():
            raise ConfigError("MAESTRO_HOME", f"{home} is a file, not a directory", "a directory (created if missing)")
        object.__setattr__(self, "home", home)
        if not self.warehouse_url:
            object.__setattr__(self, "warehouse_url", f"duckdb:///{home / 'warehouse.duckdb'}")
        elif self.warehouse_backend == "duckdb":
            object.__setattr__(self, "warehouse_url", _resolve_duckdb_url(self.warehouse_url, home))
        if not self.storage_url:
            object.__setattr__(self, "storage_url", f"file://{home / 'tracks'}")
        return self

    @property
    def warehouse_backend(self) -> str:
        return urlparse(self.warehouse_url).scheme

    def snowflake_connect_args(self) -> dict[str, Any]:
        """Connector keyword arguments for Snowflake, merged from the URL, settings and an Airflow connection.

        ``snowflake://USER@ACCOUNT/DATABASE/SCHEMA?warehouse=W&role=R`` may carry the non-secret parts.
        Raises ConfigError naming the first missing setting.
        """
        url = urlparse(self.warehouse_url)
        path = [unquote(p) for p in url.path.split("/") if p]
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        args: dict[str, Any] = {
            "account": url.hostname or self.snowflake_account,
            "user": unquote(url.username) if url.username else self.snowflake_user,
            "database": path[0] if path else self.snowflake_database,
            "schema": path[1] if len(path) > 1 else self.snowflake_schema,
            "warehouse": query.get("warehouse", self.snowflake_warehouse),
            "role": query.get("role", self.snowflake_role),
        }
        if self.snowflake_connection is not None:
            args.update({k: v for k, v in self.snowflake_connection.items() if v})
        elif self.snowflake_conn_id:
            raise ConfigError("MAESTRO_SNOWFLAKE_CONN_ID", "names an Airflow connection, which only Airflow tasks read",
                              "run inside Airflow, or set MAESTRO_SNOWFLAKE_PASSWORD or a private key instead")
        elif self.snowflake_password is not None:
            args["password"] = self.snowflake_password.get_secret_value()
        elif self.snowflake_private_key_path is not None:
            args["private_key"] = _load_private_key(self.snowflake_private_key_path,
                                                    self.snowflake_private_key_passphrase)
        args["login_timeout"] = self.snowflake_login_timeout_s
        args["network_timeout"] = self.snowflake_network_timeout_s
        for key in ("host", "port", "protocol"):
            value = getattr(self, f"snowflake_{key}")
            if value is not None:
                args[key] = value
        for key in ("account", "user", "database", "schema"):
            if not args.get(key):
                raise ConfigError(f"MAESTRO_SNOWFLAKE_{key.upper()}", "is required for a snowflake:// warehouse",
                                  "set it, or put it in the URL snowflake://USER@ACCOUNT/DATABASE/SCHEMA")
        if not any(args.get(k) for k in ("password", "private_key", "token")):
            raise ConfigError("MAESTRO_SNOWFLAKE_PASSWORD", "no credentials for the snowflake:// warehouse",
                              "MAESTRO_SNOWFLAKE_PASSWORD, MAESTRO_SNOWFLAKE_PRIVATE_KEY_PATH or "
                              "MAESTRO_SNOWFLAKE_CONN_ID")
        return {k: v for k, v in args.items() if v is not None}

    def public_view(self) -> dict[str, str]:
        """Every setting as text, secrets masked: safe to print or log."""
        out = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            out[name] = "***" if isinstance(value, SecretStr) else ("" if value is None else str(value))
        return out


def _resolve_duckdb_url(url: str, home: Path) -> str:
    """``duckdb:///PATH`` with PATH made absolute and its directory checked.

    As in SQLAlchemy's file URLs, ``duckdb:///warehouse.duckdb`` (three slashes) names a relative path and
    ``duckdb:////abs/warehouse.duckdb`` (four) an absolute one. A relative path is resolved against MAESTRO_HOME,
    not the working directory, so the CLI, Airflow tasks and Ray workers (each with its own working directory)
    open the same file. A missing directory is created only under MAESTRO_HOME; anywhere else it is a mistake.
    """
    parsed = urlparse(url)
    raw = unquote(parsed.path)
    if raw in ("/:memory:", ":memory:") or parsed.netloc == ":memory:":
        return url
    if parsed.netloc:
        raise ConfigError("MAESTRO_WAREHOUSE_URL", f"{url!r} has a host part {parsed.netloc!r}",
                          "duckdb:///RELATIVE/PATH.duckdb (under MAESTRO_HOME) or duckdb:////ABSOLUTE/PATH.duckdb")
    relative = raw.removeprefix("/")
    if not relative:
        raise ConfigError("MAESTRO_WAREHOUSE_URL", "duckdb URL has no path",
                          "duckdb:///RELATIVE/PATH.duckdb (under MAESTRO_HOME) or duckdb:////ABSOLUTE/PATH.duckdb")
    path = Path(relative) if relative.startswith("/") else home / relative
    path = Path(os.path.normpath(path))
    if path.is_dir():
        raise ConfigError("MAESTRO_WAREHOUSE_URL", f"{path} is a directory", "a path to a .duckdb file")
    parent = path.parent
    if not parent.is_dir() and not parent.is_relative_to(home):
        problem = "is a file" if parent.exists() else "does not exist"
        raise ConfigError("MAESTRO_WAREHOUSE_URL", f"the directory {parent} of {path} {problem}",
                          "a path in an existing directory, or under MAESTRO_HOME (created there)")
    return f"duckdb:///{path}"


def unknown_variables(environ: dict[str, str] | None = None) -> dict[str, str | None]:
    """``MAESTRO_*`` variables that name no setting: each with the closest setting's variable (or None).

    A typo (``MAESTRO_WAREHOSE_URL``) would otherwise be ignored silently and the default used instead.
    """
    environ = dict(os.environ if environ is None else environ)
    known = {f"MAESTRO_{name.upper()}" for name in Settings.model_fields}
    out: dict[str, str | None] = {}
    for name in sorted(environ):
        if name.startswith("MAESTRO_") and name not in known and name not in OTHER_VARIABLES:
            close = difflib.get_close_matches(name, sorted(known | set(OTHER_VARIABLES)), n=1, cutoff=0.75)
            out[name] = close[0] if close else None
    return out


_WARNED: set[str] = set()


def _warn_unknown_variables() -> None:
    for name, close in unknown_variables().items():
        if name in _WARNED:
            continue
        _WARNED.add(name)
        hint = f"; did you mean {close}?" if close else ""
        log.warning("%s is not a Maestro setting and is ignored%s", name, hint,
                    extra={"variable": name, "closest": close or ""})


def _load_private_key(path: Path, passphrase: SecretStr | None) -> bytes:
    """Reads a PEM private key and returns it as DER (PKCS#8), the form the Snowflake connector takes."""
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_private_key(
            path.read_bytes(), password=passphrase.get_secret_value().encode() if passphrase else None
        )
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError("MAESTRO_SNOWFLAKE_PRIVATE_KEY_PATH", f"cannot read the private key: {type(exc).__name__}",
                          "a readable PEM private key (with MAESTRO_SNOWFLAKE_PRIVATE_KEY_PASSPHRASE if encrypted)"
                          ) from None
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def load_settings(**overrides: Any) -> Settings:
    """Builds Settings, turning pydantic's errors into one ConfigError that names the setting."""
    _warn_unknown_variables()
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, ConfigError):  # a validator that already names its setting
            raise ConfigError(cause.field, str(cause).removeprefix(f"{cause.field}: ")) from None
        field = ".".join(str(p) for p in err["loc"]) or "settings"
        env_name = f"MAESTRO_{field.upper()}"
        problem = err["msg"].removeprefix("Value error, ")
        raise ConfigError(env_name, problem, "" if "accepted" in problem else _accepted(field)) from None


def _accepted(field: str) -> str:
    info = Settings.model_fields.get(field)
    if info is None:
        return "one of: " + ", ".join(sorted(f"MAESTRO_{n.upper()}" for n in Settings.model_fields))
    if info.description:
        return info.description
    choices = get_args(info.annotation)
    if get_origin(info.annotation) is Literal and choices:
        return ", ".join(map(str, choices))
    return getattr(info.annotation, "__name__", str(info.annotation))
