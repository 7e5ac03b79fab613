"""What every pipeline stage shares: the run's identity, a fail-fast warehouse opener, and stage timing."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from maestro_core.config import Settings
from maestro_core.errors import InputError, WarehouseError
from maestro_core.identity import logical_day
from maestro_core.limits import RUN_YEAR_RANGE

log = logging.getLogger(__name__)

CATALOG_DAG_ID = "maestro_catalog_generation"
PLAYLIST_DAG_ID = "maestro_playlist_fill"
PREFLIGHT_TIMEOUT_S = 5.0
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class RunContext:
    """The identity of one pipeline run: ``run_id`` is deterministic in (dag_id, logical date).

    Attributes:
        settings: Maestro settings (warehouse, storage, Ray, engine).
        dag_id: the Airflow DAG (or CLI command) the run belongs to.
        logical_date: the run date (UTC calendar day).
        engine_version: the engine version that keys the track ids.
        airflow: Airflow's dag_id/run_id/try_number when run as a task (for provenance); empty otherwise.
    """

    settings: Settings
    dag_id: str
    logical_date: dt.date
    engine_version: str
    airflow: dict[str, Any] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return f"{self.dag_id}__{self.logical_date.isoformat()}"

    @classmethod
    def create(cls, settings: Settings, dag_id: str, logical_date: dt.date | dt.datetime | str,
               airflow: dict[str, Any] | None = None) -> RunContext:
        return cls(settings, dag_id, logical_day(logical_date), engine_version(settings.engine), dict(airflow or {}))


def parse_run_date(text: str, field: str = "--date") -> dt.date:
    """``YYYY-MM-DD`` (exactly that form) -> date, in the years runs may have; InputError naming ``field`` else."""
    try:
        if not isinstance(text, str) or not _ISO_DATE.fullmatch(text):
            raise ValueError(text)
        day = dt.date.fromisoformat(text)
    except (TypeError, ValueError):
        raise InputError(field, f"{text!r} is not a date in the form YYYY-MM-DD") from None
    check_run_date(day, field)
    return day


def check_run_date(day: dt.date, field: str = "--date") -> None:
    """Raises InputError naming ``field`` when ``day`` falls outside the years a run may have (2000..2099)."""
    low, high = RUN_YEAR_RANGE
    if not low <= day.year <= high:
        raise InputError(field, f"{day.isoformat()} is outside the years {low}..{high} a run date may have "
                                "(ISRCs carry a two-digit year)")


def engine_version(engine: str) -> str:
    """The version string of ``engine`` (it keys track ids, so it must be stable).

    Read from the engine module's ``VERSION``/``ENGINE_VERSION`` constant when it has one (cheap: the driver and
    the DAG tasks need it without loading models); otherwise the engine is built once and asked.
    """
    import sys

    from inference.engine import engine_class, get_engine

    module = sys.modules[engine_class(engine).__module__]
    for name in ("ENGINE_VERSION", "VERSION", "__version__"):
        value = getattr(module, name, None)
        if isinstance(value, str) and value:
            return value
    return str(get_engine(engine).version)


def engine_options(settings: Settings, gpu_batch_size: int | None = None) -> dict[str, Any]:
    """Constructor options for the configured engine, from settings: those its ``__init__`` takes and that are set.

    A neural engine gets ``model_path`` (its checkpoint setting, ``config.MODEL_SETTINGS``), ``batch_size``
    (``gpu_batch_size`` when given, e.g. a DAG param, else MAESTRO_GPU_BATCH_SIZE), ``allow_cpu`` and
    ``melody_source``. Paths travel as text (workers may run on other machines).
    """
    import inspect

    from inference.engine import engine_class
    from maestro_core.config import MODEL_SETTINGS

    try:
        accepted = inspect.signature(engine_class(settings.engine)).parameters
    except (TypeError, ValueError):
        return {}
    model_setting = MODEL_SETTINGS.get(settings.engine)
    candidates: dict[str, Any] = {
        "soundfont_path": settings.soundfont_path,
        "model_path": getattr(settings, model_setting) if model_setting else None,
        "batch_size": gpu_batch_size or settings.gpu_batch_size, "allow_cpu": settings.allow_cpu_fallback,
        "melody_source": settings.melody_source}
    return {k: str(v) if isinstance(v, os.PathLike) else v for k, v in candidates.items()
            if v is not None and k in accepted}


def preflight_warehouse(settings: Settings, timeout_s: float = PREFLIGHT_TIMEOUT_S) -> None:
    """Fails fast, naming the warehouse, when it cannot be reached: a Snowflake endpoint that refuses TCP within
    ``timeout_s`` seconds, or a DuckDB file whose directory is missing.

    Raises:
        WarehouseError: with the URL (never credentials) and the cause.
    """
    url = urlparse(settings.warehouse_url)
    if url.scheme == "duckdb":
        path = url.path
        if path not in ("", "/", "/:memory:"):
            from pathlib import Path

            parent = Path(path).parent
            if not parent.is_dir():
                raise WarehouseError(f"warehouse unreachable: directory {parent} of {settings.warehouse_url} does not "
                                     "exist (run `maestro init` or set MAESTRO_WAREHOUSE_URL)")
        return
    if url.scheme == "snowflake":
        account = url.hostname or settings.snowflake_account or ""
        host = settings.snowflake_host or f"{account}.snowflakecomputing.com"
        port = settings.snowflake_port or (80 if settings.snowflake_protocol == "http" else 443)
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                pass
        except OSError as exc:
            raise WarehouseError(f"warehouse unreachable: cannot connect to Snowflake at {host}:{port} within "
                                 f"{timeout_s:g} s ({type(exc).__name__}: {exc}); check MAESTRO_WAREHOUSE_URL, "
                                 "MAESTRO_SNOWFLAKE_HOST and the network") from None


@contextlib.contextmanager
def warehouse(settings: Settings) -> Iterator[Any]:
    """Opens one warehouse connection for one unit of work (DuckDB allows one writer per file), failing fast."""
    from maestro_core.warehouse import connect

    preflight_warehouse(settings)
    try:
        wh = connect(settings)
    except WarehouseError:
        raise
    except Exception as exc:
        raise WarehouseError(f"warehouse unreachable ({settings.warehouse_backend}): {type(exc).__name__}: {exc}"
                             ) from None
    with wh:
        yield wh


class StageTimer:
    """Times stages and logs each as one structured record (``stage``, ``seconds``, ``rows``, ``run_id``)."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def stage(self, name: str, rows: int | None = None) -> Iterator[dict[str, Any]]:
        info: dict[str, Any] = {"rows": rows}
        start = time.perf_counter()
        try:
            yield info
        finally:
            elapsed = time.perf_counter() - start
            self.seconds[name] = self.seconds.get(name, 0.0) + elapsed
            log.info("stage %s done in %.3f s", name, elapsed,
                     extra={"stage": name, "seconds": round(elapsed, 4), "rows": info.get("rows"),
                            "run_id": self.run_id})

    def add(self, name: str, seconds: float) -> None:
        """Adds time measured elsewhere (e.g. summed per-request worker timings)."""
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds
