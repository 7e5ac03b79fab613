"""The library side of the Airflow tasks: turn a task's context and params into a RunContext and options.

DAG files stay thin: each task body is one call into this module or :mod:`~maestro_pipeline.catalog` /
:mod:`~maestro_pipeline.playlist`. The context is the plain mapping Airflow hands a task; Airflow itself is
imported only where a task must speak to it (a connection's credentials, a failure that must not be retried).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from maestro_core.config import Settings, load_settings
from maestro_core.errors import ConfigError
from maestro_pipeline.catalog import PipelineOptions
from maestro_pipeline.context import RunContext

log = logging.getLogger(__name__)

# Airflow connection holding Snowflake credentials; used when it exists (MAESTRO_SNOWFLAKE_CONN_ID overrides).
SNOWFLAKE_CONN_ID = "maestro_snowflake"


def run_context(context: Mapping[str, Any], dag_id: str, ray: Mapping[str, Any] | None = None) -> RunContext:
    """The RunContext of the task's DAG run: the logical date is the run date (its UTC day).

    ``ray`` is the setup task's :class:`~maestro_pipeline.ray_head.RayHead` (as XCom hands it on): when it
    names an address, the task joins that Ray instead of ``MAESTRO_RAY_ADDRESS``.
    """
    logical = context.get("logical_date") or getattr(context.get("dag_run"), "run_after", None)
    if logical is None:
        logical = dt.datetime.now(dt.UTC)
    ti = context.get("ti")
    airflow = {"dag_id": dag_id, "run_id": context.get("run_id") or getattr(ti, "run_id", None),
               "try_number": getattr(ti, "try_number", None)}
    settings = task_settings()
    if ray and ray.get("address"):
        settings = settings.model_copy(update={"ray_address": str(ray["address"])})
    return RunContext.create(settings, dag_id, logical, airflow)


def start_ray(context: Mapping[str, Any], dag_id: str) -> dict[str, Any]:
    """The setup task: the Ray this DAG run's tasks join (a local head started for the run in embedded mode)."""
    from maestro_pipeline.ray_head import start_head

    ctx = run_context(context, dag_id)
    return start_head(ctx.settings, ctx.run_id).to_dict()


def stop_ray(head: Mapping[str, Any] | None) -> bool:
    """The teardown task: stops the head the setup task started (runs even when the DAG run failed)."""
    import sys

    from maestro_pipeline.ray_head import RayHead, stop_head

    ray_head = RayHead.from_dict(dict(head or {}))
    ray = sys.modules.get("ray")
    if ray_head.pgid and ray is not None and ray.is_initialized():
        ray.shutdown()  # dag.test() runs every task in one process: leave no connection to the stopped head
    return stop_head(ray_head)


def task_settings() -> Settings:
    """Maestro settings inside a task; Snowflake credentials come from the Airflow connection when one exists.

    The connection is ``MAESTRO_SNOWFLAKE_CONN_ID`` when set (it must exist), else ``maestro_snowflake`` when
    that exists. Airflow is read here, in orchestration, so that the core never imports it.
    """
    settings = load_settings()
    if settings.warehouse_backend != "snowflake":
        return settings
    conn_id = settings.snowflake_conn_id or SNOWFLAKE_CONN_ID
    connection = airflow_connection(conn_id, required=bool(settings.snowflake_conn_id))
    if connection is None:
        return settings
    return settings.model_copy(update={"snowflake_conn_id": conn_id, "snowflake_connection": connection})


def mapped_results(values: Sequence[Any] | None) -> list[Any]:
    """The outputs of a mapped task, read by index up to its length.

    Airflow hands a downstream task a lazy sequence; iterating it asks for one item past the end, which the task
    SDK logs as an error ("XCom not found"). Indexing up to ``len`` reads exactly the items there are.
    """
    if values is None:
        return []
    return [values[i] for i in range(len(values))]


def options(params: Mapping[str, Any] | None) -> PipelineOptions:
    """PipelineOptions from DAG params (``duration_s``, ``shard_size``, ``pool_size``, ``batch_size``, ``sign``,
    ``gpu_batch_size``, ``failure_budget_pct``, ``failure_budget_first_n``; a budget param left out comes from
    settings)."""
    from maestro_core.failure_budget import FailureBudget

    params = dict(params or {})
    known: dict[str, Any] = {k: params[k] for k in ("duration_s", "shard_size", "pool_size", "batch_size", "sign",
                                                    "gpu_batch_size") if params.get(k) is not None}
    pct, first_n = params.get("failure_budget_pct"), params.get("failure_budget_first_n")
    if pct is not None or first_n is not None:
        settings = load_settings()
        known["budget"] = FailureBudget(settings.failure_budget_pct if pct is None else pct,
                                        settings.failure_budget_first_n if first_n is None else first_n)
    return PipelineOptions(**known)


@contextlib.contextmanager
def failing_fast() -> Iterator[None]:
    """Inside a task body: bad input or configuration fails the task at once instead of being retried.

    Retrying cannot fix a missing key or a malformed prompt; it only delays the red task by the retry delays.
    Transient errors (warehouse, storage, Ray) and a failed failure budget keep their retries. Airflow is imported
    only when such an error occurs, so this module stays importable without it.
    """
    from maestro_core.errors import ConfigError, InputError
    from maestro_pipeline.preflight import PreflightFailed

    try:
        yield
    except (ConfigError, InputError, PreflightFailed) as exc:
        if isinstance(exc, PreflightFailed) and exc.retryable:
            raise
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(str(exc)) from exc


def airflow_connection(conn_id: str, required: bool) -> dict[str, Any] | None:
    """Snowflake connector arguments from the Airflow connection ``conn_id``; None when it is absent and optional.

    Raises:
        ConfigError: naming ``MAESTRO_SNOWFLAKE_CONN_ID`` when a ``required`` connection does not exist.
    """
    try:
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(conn_id)
    except Exception as exc:  # no such connection, or not running inside Airflow
        if not required:
            return None
        raise ConfigError("MAESTRO_SNOWFLAKE_CONN_ID", f"Airflow connection {conn_id!r} not found "
                          f"({type(exc).__name__})", "an existing Airflow connection id") from None
    extra = conn.extra_dejson or {}
    return {
        "user": conn.login,
        "password": conn.password,
        "account": extra.get("account"),
        "warehouse": extra.get("warehouse"),
        "role": extra.get("role"),
        "database": extra.get("database"),
        "schema": conn.schema or extra.get("schema"),
    }
