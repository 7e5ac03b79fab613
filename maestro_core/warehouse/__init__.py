"""The warehouse layer: one interface, two backends (DuckDB embedded, Snowflake in production).

    from maestro_core.warehouse import connect
    with connect(settings) as wh:
        wh.migrate()
        wh.upsert("TRACKS", rows)
        wh.query("SELECT * FROM TRACKS WHERE GENRE = :genre", {"genre": "jazz"})
"""

from __future__ import annotations

from urllib.parse import unquote, urlparse

from maestro_core.config import Settings, load_settings
from maestro_core.errors import ConfigError
from maestro_core.warehouse.base import UpsertResult, Warehouse, read_sql

__all__ = ["UpsertResult", "Warehouse", "connect", "read_sql"]


def connect(settings: Settings | None = None) -> Warehouse:
    """Opens the warehouse named by ``settings.warehouse_url`` (``duckdb:///PATH`` or ``snowflake://...``)."""
    settings = settings or load_settings()
    url = urlparse(settings.warehouse_url)
    if url.scheme == "duckdb":
        from maestro_core.warehouse.duckdb_backend import DuckDBWarehouse

        path = unquote(url.path) if url.path not in ("", "/") else ""
        if path in ("/:memory:", ":memory:") or url.netloc == ":memory:":
            path = ":memory:"
        if not path:
            raise ConfigError("MAESTRO_WAREHOUSE_URL", "duckdb URL has no path", "duckdb:///ABSOLUTE/PATH.duckdb")
        return DuckDBWarehouse(path, memory_limit=settings.duckdb_memory_limit)
    if url.scheme == "snowflake":
        from maestro_core.warehouse.snowflake_backend import SnowflakeWarehouse

        return SnowflakeWarehouse(settings.snowflake_connect_args())
    raise ConfigError("MAESTRO_WAREHOUSE_URL", f"unknown scheme {url.scheme!r}", "duckdb:///PATH or snowflake://")
