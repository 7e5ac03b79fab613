"""Ray fan-out: a table of planned requests -> batches -> a pool of Ray generator actors -> results.

Shape::

    pool = [ray.remote(GeneratorActor).options(max_restarts=..., max_task_retries=..., **resources).remote(spec)
            for _ in range(pool_size)]
    # two batches queued per actor, longest first; the next batch goes to whichever actor finishes one

Plain actors, not Ray Data's ``map_batches``: on the development machine a Ray Data actor pool took 7.5 s to start
an actor that does nothing (its metadata tasks and its worker processes importing ``ray.data``) against 0.3 to
0.9 s for a plain actor, and a pool starts once per shard (``bench/pipeline.py``, docs/scale.md).

* Each actor builds its :class:`maestro_pipeline.worker.RequestWorker` (engine loaded once) in ``__init__``.
* Every request yields exactly one result row (``generated`` or ``failed`` with error class and message): a request
  that raises never fails the batch.
* Each actor has two batches queued (one running, the next waiting), so it never waits for the driver between
  batches.
* Batches fill the pool: unless a batch size is given, :func:`choose_batch_size` picks one from the number of
  requests and actors (several batches per actor, so no actor waits while another has a queue), the batches
  shrink to single requests at the end of the run (:func:`tail_batch_sizes`), and the requests go out longest
  first (:func:`longest_first`, by requested duration) so that the run does not end with
  one actor rendering a long track while the others sit idle. :class:`PoolStats` reports the idle share.
* A batched engine (one with ``generate_batch``: the GPU engines) gets each batch in one call, and its batches are
  grouped by duration and sized to its GPU batch (:mod:`maestro_pipeline.gpu`); a GPU engine on a cluster without
  GPUs fails before any actor starts unless CPU fallback is allowed, and GPU actors never outnumber the GPUs.
* Results come back sorted by REQUEST_ID, whatever order the actors finished in, so what is written downstream
  does not depend on scheduling.
* Resources: ``num_gpus=1`` per actor only when the cluster has GPUs; otherwise a fractional ``num_cpus``
  (default 0.5), so that a pool fits beside other Ray work on a small machine.
* A worker process that dies mid-batch is restarted (``max_restarts``) and its batch retried
  (``max_task_retries``). Side effects are idempotent: keys are deterministic, identical re-writes are no-ops, and
  a request whose audio and sidecar are already stored is resumed from storage, not regenerated.

``ray`` is imported inside functions only, so importing this module stays cheap.
"""

from __future__ import annotations

import logging
import os
import time
import typing
from collections.abc import Callable
from dataclasses import asdict, dataclass
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
        batch_size: requests per batch handed to an actor; None chooses it from the number of requests and actors
            (:func:`choose_batch_size`).
        cpus_per_actor: CPUs reserved per actor when the cluster has no GPU (fractional on purpose).
        gpus_per_actor: GPUs per actor when the cluster has GPUs.
        max_restarts: times a dead actor process is restarted.
        max_task_retries: times a batch is retried on a restarted actor.
    """

    pool_size: int = 2
    batch_size: int | None = None
    cpus_per_actor: float = 0.5
    gpus_per_actor: float = 1.0
    max_restarts: int = 3
    max_task_retries: int = 3

    def __post_init__(self) -> None:
        from maestro_core.errors import InputError

        if self.pool_size < 1:
            raise InputError("pool_size", f"must be >= 1, got {self.pool_size}")
        if self.batch_size is not None and self.batch_size < 1:
            raise InputError("batch_size", f"must be >= 1 (or None: chosen per run), got {self.batch_size}")
        if self.cpus_per_actor <= 0:
            raise InputError("cpus_per_actor", f"must be > 0, got {self.cpus_per_actor}")


class GeneratorActor:
    """The generator actor: one batch of requests per call; also usable without Ray on a plain batch dict.

    Args:
        spec: the worker's settings (storage URL, scratch dir, engine options).
    """

    def __init__(self, spec: WorkerSpec | dict[str, Any]) -> None:
        self.worker = RequestWorker(spec if isinstance(spec, WorkerSpec) else WorkerSpec(**spec))

    def __call__(self, batch: dict[str, np.ndarray] | pa.Table) -> pa.Table:
        """Processes every request of ``batch`` (a batched engine generates them in one call); returns one result
        row per request (RESULT_TABLE)."""
        rows = self.worker.process_batch(batch_rows(batch))
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


# Batches per actor that choose_batch_size aims for: enough that longest-first dispatch evens out the tail.
BATCHES_PER_ACTOR = 4
# The largest batch it chooses: Ray's per-batch cost (~10 ms) is already under 1 % of a 5 s track at this size,
# and a larger batch only makes a lost actor's retry longer.
MAX_AUTO_BATCH = 16


# Batches queued on each actor at once: one running, one waiting (a deeper queue only commits work to an actor
# earlier, which the tail's small batches then cannot even out).
IN_FLIGHT_PER_ACTOR = 2


def choose_batch_size(requests: int, actors: int, batches_per_actor: int = BATCHES_PER_ACTOR,
                      max_batch: int = MAX_AUTO_BATCH) -> int:
    """Requests per batch so that every actor gets work and the pool stays full to the end.

    Aims for ``batches_per_actor`` batches per actor, never more than ``max_batch`` requests in one: small runs get
    batches of one (each request on whichever actor is free), large runs batches of ``max_batch`` (Ray's per-batch
    cost amortised). Invariants: ``1 <= size <= max_batch``; the run has at least ``min(requests, actors *
    batches_per_actor)`` batches, so no actor is left without one; the size never shrinks as ``requests`` grows.

    Args:
        requests: requests to generate (>= 0).
        actors: generator actors in the pool (>= 1).
        batches_per_actor: batches each actor should get (>= 1).
        max_batch: the largest size chosen (>= 1).
    """
    slots = max(1, actors) * max(1, batches_per_actor)
    return max(1, min(max(1, max_batch), requests // slots))


def tail_batch_sizes(requests: int, actors: int, largest: int) -> list[int]:
    """Batch sizes for ``requests`` requests that end the run on small batches (guided self-scheduling).

    Each batch takes ``ceil(remaining / (2 * actors))`` requests, never more than ``largest`` nor fewer than one:
    the bulk of a large run goes in full batches (Ray's per-batch cost amortised), and the last ones shrink to a
    single request, so the actor that finishes last is at most about one request behind the others instead of
    up to a whole batch. A function of its arguments alone: the same requests give the same batches.

    Invariants: the sizes sum to ``requests``; each is in ``[1, largest]``; they never grow along the run.

    Args:
        requests: requests to cut into batches (>= 0).
        actors: actors in the pool (>= 1).
        largest: the size of a full batch (>= 1).
    """
    sizes: list[int] = []
    remaining = requests
    share = 2 * max(1, actors)
    while remaining > 0:
        size = max(1, min(max(1, largest), -(-remaining // share)))
        sizes.append(size)
        remaining -= size
    return sizes


def longest_first(requests: pa.Table) -> pa.Table:
    """``requests`` ordered longest requested DURATION_S first, ties by REQUEST_ID (longest processing time first).

    Batches go to the actors in this order, so the long tracks start early and the short ones fill the
    gaps at the end. The order is a function of the rows alone: the same requests give the same batches.
    """
    if requests.num_rows == 0 or "DURATION_S" not in requests.column_names:
        return requests
    return requests.sort_by([("DURATION_S", "descending"), ("REQUEST_ID", "ascending")])


@dataclass(frozen=True)
class PoolStats:
    """How busy the actor pool was during one fan-out.

    Attributes:
        actors: actors in the pool.
        batches: batches the requests were cut into.
        batch_size: requests per full batch (the last batches of a run with a chosen size are smaller).
        wall_s: seconds from dispatching the first batch to receiving the last result (actor start-up included).
        first_result_s: seconds until the first batch of results arrived (mostly actors loading their engines).
        busy_s: actor-seconds spent on requests (the workers' generate + QC + sign-and-store time, summed).
        idle_share: ``1 - busy_s / (actors * wall_s)``: the share of the pool's actor-seconds not spent on a
            request (start-up, Ray's hand-offs, and actors waiting at the tail), in [0, 1].
    """

    actors: int
    batches: int
    batch_size: int
    wall_s: float
    first_result_s: float
    busy_s: float
    idle_share: float

    def to_dict(self) -> dict[str, float]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


def pool_stats(results: pa.Table, actors: int, batches: int, batch_size: int, wall_s: float,
               first_result_s: float) -> PoolStats:
    """PoolStats of a fan-out from its result rows (their T_GENERATE_S, T_QC_S and T_SIGN_STORE_S) and its wall time."""
    busy = 0.0
    for column in ("T_GENERATE_S", "T_QC_S", "T_SIGN_STORE_S"):
        if column in results.column_names:
            busy += sum(v or 0.0 for v in results[column].to_pylist())
    capacity = max(1, actors) * wall_s
    idle = min(1.0, max(0.0, 1.0 - busy / capacity)) if capacity > 0 else 0.0
    return PoolStats(actors, batches, batch_size, wall_s, first_result_s, busy, idle)


@dataclass(frozen=True)
class FanoutRun:
    """What one fan-out returns: the result rows (RESULT_TABLE, sorted by REQUEST_ID) and how busy the pool was."""

    results: pa.Table
    stats: PoolStats


def run_generation(requests: pa.Table, spec: WorkerSpec, config: FanoutConfig | None = None,
                   ray_address: str = "", actor_cls: type[GeneratorActor] = GeneratorActor,
                   stop: Callable[[pa.Table], bool] | None = None) -> pa.Table:
    """Generates every request on a Ray actor pool and returns one result row per request (RESULT_TABLE).

    The same as :func:`fan_out` without the pool's statistics; see there for the arguments.

    Returns:
        Results, one per request done, sorted by REQUEST_ID (all requests unless ``stop`` cut the run short).
    """
    return fan_out(requests, spec, config, ray_address, actor_cls, stop).results


def fan_out(requests: pa.Table, spec: WorkerSpec, config: FanoutConfig | None = None,
            ray_address: str = "", actor_cls: type[GeneratorActor] = GeneratorActor,
            stop: Callable[[pa.Table], bool] | None = None) -> FanoutRun:
    """Generates every request on a Ray actor pool: the results, one row per request, and the pool's statistics.

    Requests go out longest first, in batches of ``config.batch_size`` (None: :func:`choose_batch_size`). Results
    stream back batch by batch as actors finish them; ``stop`` sees each batch of results as it arrives, and when
    it returns True the rest of the work is cancelled (a systemic fault need not fail every request).

    Args:
        requests: planned, rights-cleared requests (see ``maestro_pipeline.worker.REQUEST_FIELDS``).
        spec: what each worker needs (storage URL, scratch dir, engine options).
        config: pool and batch sizes, restarts.
        ray_address: '' (local Ray), 'auto', 'host:port' or 'ray://host:10001'.
        actor_cls: the callable class mapped over batches (a subclass can add instrumentation).
        stop: called with each arriving batch of results; True cancels the requests not yet done.

    Returns:
        Results sorted by REQUEST_ID (independent of which actor finished first), and PoolStats.
    """
    config = config or FanoutConfig()
    if requests.num_rows == 0:
        return FanoutRun(RESULT_TABLE.empty_table(), PoolStats(0, 0, 0, 0.0, 0.0, 0.0, 0.0))
    import ray

    cluster = connect_ray(ray_address)
    resources: dict[str, Any] = actor_resources(cluster, config)
    from maestro_pipeline.gpu import engine_batches, require_accelerator

    require_accelerator(cluster, spec.engine, spec.engine_options)  # a GPU engine, no GPU: fail before any actor
    dense = engine_batches(requests, spec.engine, spec.engine_options, config.batch_size)
    batch_size = config.batch_size or choose_batch_size(requests.num_rows, config.pool_size)
    ordered = longest_first(requests)
    # One block per batch, each one actor call: a chosen batch size shrinks towards the end of the run (the last
    # batches are single requests, so the pool's tail is short); a batch size that was asked for is kept.
    sizes = ([batch_size] * -(-ordered.num_rows // batch_size) if config.batch_size
             else tail_batch_sizes(ordered.num_rows, min(config.pool_size, ordered.num_rows), batch_size))
    offsets = np.cumsum([0, *sizes])
    blocks = [ordered.slice(int(start), size) for start, size in zip(offsets, sizes, strict=False)]
    if dense is not None:  # a batched engine: one model call per block, blocks never mixing durations
        blocks, batch_size = dense
    pool = min(config.pool_size, len(blocks))
    if "num_gpus" in resources:  # one GPU per actor: more actors than GPUs would wait for a GPU forever
        pool = min(pool, max(1, int(cluster.get("GPU", 0) // config.gpus_per_actor)))
    log.info("fan-out", extra={"requests": requests.num_rows, "pool_size": pool, "batch_size": batch_size,
                                "batches": len(blocks), "resources": resources})
    start = time.perf_counter()
    first_result_s = 0.0
    remote_cls: Any = ray.remote(actor_cls).options(max_restarts=config.max_restarts,
                                                    max_task_retries=config.max_task_retries, **resources)
    actors: list[Any] = [remote_cls.remote(spec) for _ in range(pool)]
    todo = list(reversed(blocks))  # popped from the end: longest first
    running: dict[Any, Any] = {}  # result ref -> the actor computing it
    tables: list[pa.Table] = []
    try:
        # IN_FLIGHT_PER_ACTOR batches queued on each actor, so it starts its next batch the moment one ends
        # instead of idling for the round trip through the driver; each new batch goes to whichever actor
        # finished one, so the queues stay even.
        for _ in range(IN_FLIGHT_PER_ACTOR):
            for actor in actors:
                if todo:
                    running[actor.__call__.remote(todo.pop())] = actor
        while running:
            (ref,), _ = ray.wait(list(running), num_returns=1)
            actor = running.pop(ref)
            table = typing.cast(pa.Table, ray.get(ref))
            if not tables:
                first_result_s = time.perf_counter() - start
            tables.append(table.cast(RESULT_TABLE))
            if stop is not None and stop(tables[-1]):
                log.warning("fan-out stopped early", extra={"done": sum(t.num_rows for t in tables),
                                                            "requests": requests.num_rows})
                break
            if todo:
                running[actor.__call__.remote(todo.pop())] = actor
    finally:
        for actor in actors:  # also ends a batch still running after a stop
            ray.kill(actor, no_restart=True)  # the pool lives for one fan-out: engines and GPUs are given back
    wall_s = time.perf_counter() - start
    results = _one_row_per_request(pa.concat_tables(tables) if tables else RESULT_TABLE.empty_table())
    stats = pool_stats(results, pool, len(blocks), batch_size, wall_s, first_result_s)
    log.info("fan-out done: pool idle %.1f %% of %d actors x %.1f s", 100 * stats.idle_share, pool, wall_s,
             extra={"pool": stats.to_dict()})
    return FanoutRun(results, stats)


def _one_row_per_request(results: pa.Table) -> pa.Table:
    """One row per REQUEST_ID, sorted by it (a retried batch can in principle report twice; the last report wins).

    Sorting makes the table a function of the requests, not of which actor finished first.
    """
    rows: dict[str, dict[str, Any]] = {}
    for row in results.to_pylist():
        rows[row["REQUEST_ID"]] = row
    return pa.Table.from_pylist([rows[k] for k in sorted(rows)], schema=RESULT_TABLE)


def run_locally(requests: pa.Table, spec: WorkerSpec) -> pa.Table:
    """The same work in this process, no Ray: the baseline of ``bench/pipeline.py`` and a fallback for tiny runs."""
    actor = GeneratorActor(spec)
    return actor(requests)
