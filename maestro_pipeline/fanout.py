"""Ray fan-out: a table of planned requests -> Ray Data ``map_batches`` over a pool of generator actors -> results.

Shape (after Ray Data's batch-inference pattern)::

    ray.data.from_arrow(blocks)
       .map_batches(GeneratorActor, fn_constructor_kwargs={"spec": spec},
                    compute=ActorPoolStrategy(size=pool_size), batch_size=batch_size, **resources)

* Each actor builds its :class:`maestro_pipeline.worker.RequestWorker` (engine loaded once) in ``__init__``.
* Every request yields exactly one result row (``generated`` or ``failed`` with error class and message): a request
  that raises never fails the batch.
* Resources: ``num_gpus=1`` per actor only when the cluster has GPUs; otherwise a fractional ``num_cpus``
  (default 0.5) so a pool on 2 cores never starves Ray Data's own read tasks (a known deadlock, see NOTES.md).
* A worker process that dies mid-batch is restarted (``max_restarts``) and its batch retried
  (``max_task_retries``). Side effects are idempotent: keys are deterministic, identical re-writes are no-ops, and
  a request whose audio and sidecar are already stored is resumed from storage, not regenerated.

``ray`` is imported inside functions only, so importing this module stays cheap.
"""

from __future__ import annotations

import logging
import os
import typing
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from maestro_pipeline.tables import RESULT_TABLE
from maestro_pipeline.worker import RequestWorker, WorkerSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FanoutConfig:
    """How generation fans out.

    Attributes:
        pool_size: number of generator actors (one engine each).
        batch_size: requests per batch handed to an actor (smaller spreads work more evenly).
        cpus_per_actor: CPUs reserved per actor when the cluster has no GPU (fractional on purpose).
        gpus_per_actor: GPUs per actor when the cluster has GPUs.
        max_restarts: times a dead actor process is restarted.
        max_task_retries: times a batch is retried on a restarted actor.
    """

    pool_size: int = 2
    batch_size: int = 1
    cpus_per_actor: float = 0.5
    gpus_per_actor: float = 1.0
    max_restarts: int = 3
    max_task_retries: int = 3

    def __post_init__(self) -> None:
        from maestro_core.errors import InputError

        if self.pool_size < 1:
            raise InputError("pool_size", f"must be >= 1, got {self.pool_size}")
        if self.batch_size < 1:
            raise InputError("batch_size", f"must be >= 1, got {self.batch_size}")
        if self.cpus_per_actor <= 0:
            raise InputError("cpus_per_actor", f"must be > 0, got {self.cpus_per_actor}")


class GeneratorActor:
    """The callable class Ray Data maps over batches; also usable without Ray on a plain batch dict.

    Args:
        spec: the worker's settings (storage URL, scratch dir, engine options).
    """

    def __init__(self, spec: WorkerSpec | dict[str, Any]) -> None:
        self.worker = RequestWorker(spec if isinstance(spec, WorkerSpec) else WorkerSpec(**spec))

    def __call__(self, batch: dict[str, np.ndarray] | pa.Table) -> pa.Table:
        """Processes every request of ``batch``; returns one result row per request (RESULT_TABLE)."""
        rows = [self.worker.process(request) for request in batch_rows(batch)]
        return pa.Table.from_pylist(rows, schema=RESULT_TABLE)

    def pid(self) -> int:
        """The process id of this actor (tests kill it to prove restarts write nothing twice)."""
        return os.getpid()


def batch_rows(batch: dict[str, np.ndarray] | pa.Table) -> list[dict[str, Any]]:
    """A Ray batch (numpy dict or Arrow table) as a list of plain Python dicts."""
    if isinstance(batch, pa.Table):
        return batch.to_pylist()
    columns = {name: [_plain(v) for v in values] for name, values in batch.items()}
    count = len(next(iter(columns.values()), []))
    return [{name: values[i] for name, values in columns.items()} for i in range(count)]


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


RAY_ADDRESS_FORMS = "empty (a local Ray in this process), 'auto', 'host:port' (the head's GCS port) or " \
                    "'ray://host:10001' (Ray Client)"


def connect_ray(address: str = "") -> dict[str, float]:
    """Joins the Ray cluster named by ``MAESTRO_RAY_ADDRESS``: empty starts a local one in this process; 'auto',
    ``host:port`` or ``ray://host:port`` joins an existing cluster. Returns the cluster's total resources.

    Ray 2.59+ clusters started with ``ray start`` use token authentication once a token exists. Joining one by
    ``host:port`` then needs ``RAY_AUTH_MODE=token`` in this process: when a token is at hand (``RAY_AUTH_TOKEN``,
    ``RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token``) and ``RAY_AUTH_MODE`` is unset, it is set here, so an address
    that works for ``ray status`` works for Maestro too. Set ``RAY_AUTH_MODE=disabled`` to join a cluster without
    authentication.

    Raises:
        ServiceUnreachable: naming MAESTRO_RAY_ADDRESS, when nothing answers at the address (a retry may help).
        ConfigError: naming MAESTRO_RAY_ADDRESS, when the cluster answers but refuses to be joined (a token), with
            Ray's own error and the accepted forms.
    """
    import ray

    from maestro_core.errors import ConfigError

    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
        explicit = bool(address) and address != "auto"
        token_mode = False
        if explicit:
            require_reachable(address)
            token_mode = enable_token_auth()
        try:
            ray.init(address=address or "local", **kwargs)  # "local": never join a stray cluster on this machine
        except (ConnectionError, RuntimeError, ValueError) as exc:
            hint = ""
            if explicit and not token_mode and os.environ.get("RAY_AUTH_MODE", "") != "disabled":
                hint = ("; if the cluster uses token authentication (the default since Ray 2.59), give its token in "
                        "RAY_AUTH_TOKEN or ~/.ray/auth_token")
            elif explicit:
                hint = "; the cluster refused this token, or needs none (then set RAY_AUTH_MODE=disabled)"
            raise ConfigError("MAESTRO_RAY_ADDRESS", f"cannot join the Ray cluster at {address!r}: "
                              f"{type(exc).__name__}: {exc}{hint}", RAY_ADDRESS_FORMS) from None
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    return dict(ray.cluster_resources())


def enable_token_auth() -> bool:
    """Turns token mode on when ``RAY_AUTH_MODE`` is unset and a token is available; returns whether it is on.

    Ray caches its configuration when it is imported, so the switch goes through Ray's own helper, which sets the
    variable and refreshes that cache (pinned Ray 2.60); setting the variable alone only works before import.
    """
    mode = os.environ.get("RAY_AUTH_MODE", "")
    if mode:
        return mode.lower() == "token"
    token_file = os.environ.get("RAY_AUTH_TOKEN_PATH") or os.path.expanduser("~/.ray/auth_token")
    if not (os.environ.get("RAY_AUTH_TOKEN") or os.path.isfile(token_file)):
        return False
    try:
        from ray._private.authentication.authentication_token_setup import (
            maybe_enable_token_auth_if_token_available,
        )
    except ImportError:  # a Ray without token authentication: nothing to switch on
        os.environ["RAY_AUTH_MODE"] = "token"
        return True
    return bool(maybe_enable_token_auth_if_token_available(warn_if_disabled=False))


def require_reachable(address: str, timeout_s: float = 3.0) -> None:
    """Raises ServiceUnreachable naming MAESTRO_RAY_ADDRESS when nothing answers at ``address`` (``host:port`` or
    ``ray://host:port``): a socket must open within ``timeout_s`` seconds."""
    import socket

    from maestro_core.errors import ServiceUnreachable

    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            return
    except (OSError, ValueError) as exc:
        raise ServiceUnreachable("MAESTRO_RAY_ADDRESS", f"cannot reach the Ray cluster at {address!r}: nothing "
                                 f"answers at {host}:{port} ({type(exc).__name__}: {exc})") from None


def actor_resources(cluster: dict[str, float], config: FanoutConfig) -> dict[str, float]:
    """Per-actor resources: GPUs only when the cluster has them (a GPU ask on a CPU cluster hangs ~10 min)."""
    if cluster.get("GPU", 0) >= config.gpus_per_actor:
        return {"num_gpus": config.gpus_per_actor}
    return {"num_cpus": config.cpus_per_actor}


def run_generation(requests: pa.Table, spec: WorkerSpec, config: FanoutConfig | None = None,
                   ray_address: str = "", actor_cls: type[GeneratorActor] = GeneratorActor,
                   stop: Callable[[pa.Table], bool] | None = None) -> pa.Table:
    """Generates every request on a Ray actor pool and returns one result row per request (RESULT_TABLE).

    Results stream back batch by batch as actors finish them; ``stop`` sees each batch of results as it arrives,
    and when it returns True the rest of the work is cancelled (a systemic fault need not fail every request).

    Args:
        requests: planned, rights-cleared requests (see ``maestro_pipeline.worker.REQUEST_FIELDS``).
        spec: what each worker needs (storage URL, scratch dir, engine options).
        config: pool and batch sizes, restarts.
        ray_address: '' (local Ray), 'auto', 'host:port' or 'ray://host:10001'.
        actor_cls: the callable class mapped over batches (a subclass can add instrumentation).
        stop: called with each arriving batch of results; True cancels the requests not yet done.

    Returns:
        Results, one per request done, in the order they arrived (all requests unless ``stop`` cut the run short).
    """
    config = config or FanoutConfig()
    if requests.num_rows == 0:
        return RESULT_TABLE.empty_table()
    import ray.data

    cluster = connect_ray(ray_address)
    resources: dict[str, Any] = actor_resources(cluster, config)
    # One block per batch: Ray Data hands whole blocks to actors, so a single block would serialise the pool.
    blocks = [requests.slice(i, config.batch_size) for i in range(0, requests.num_rows, config.batch_size)]
    pool = min(config.pool_size, len(blocks))
    log.info("fan-out", extra={"requests": requests.num_rows, "pool_size": pool, "batch_size": config.batch_size,
                                "resources": resources})
    with warnings.catch_warnings():
        # Bounded restarts have no named parameter yet; ray_remote_args is the documented way (deprecated in 2.60).
        warnings.simplefilter("ignore", DeprecationWarning)
        ds = ray.data.from_arrow(blocks).map_batches(
            actor_cls,
            fn_constructor_kwargs={"spec": spec},
            compute=ray.data.ActorPoolStrategy(size=pool),
            batch_size=config.batch_size,
            batch_format="pyarrow",
            max_restarts=config.max_restarts,
            max_task_retries=config.max_task_retries,
            **resources,
        )
    tables: list[pa.Table] = []
    batches = iter(ds.iter_batches(batch_size=None, batch_format="pyarrow", prefetch_batches=0))
    try:
        for table in batches:
            tables.append(typing.cast(pa.Table, table).cast(RESULT_TABLE))
            if stop is not None and stop(tables[-1]):
                log.warning("fan-out stopped early", extra={"done": sum(t.num_rows for t in tables),
                                                            "requests": requests.num_rows})
                break
    finally:
        close = getattr(batches, "close", None)
        if callable(close):
            close()  # shuts the streaming executor down, and with it the actor pool
    results = pa.concat_tables(tables) if tables else RESULT_TABLE.empty_table()
    return _one_row_per_request(results)


def _one_row_per_request(results: pa.Table) -> pa.Table:
    """Keeps one row per REQUEST_ID (a retried batch can in principle report twice; the last report wins)."""
    rows: dict[str, dict[str, Any]] = {}
    for row in results.to_pylist():
        rows[row["REQUEST_ID"]] = row
    return pa.Table.from_pylist(list(rows.values()), schema=RESULT_TABLE)


def run_locally(requests: pa.Table, spec: WorkerSpec) -> pa.Table:
    """The same work in this process, no Ray: the baseline of ``bench/pipeline.py`` and a fallback for tiny runs."""
    actor = GeneratorActor(spec)
    return actor(requests)
