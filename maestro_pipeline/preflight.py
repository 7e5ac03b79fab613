"""Preflight: everything a run needs, checked in seconds before it opens a run row, writes a request or starts Ray.

A run that would fail on its first request (no signing keys, an unwritable store, a missing SoundFont, a
warehouse never initialised) fails here instead, with one line per problem naming the setting or argument and
its fix, and leaves the warehouse and the store exactly as they were. The CLI, the DAGs' first task and the
benches call :func:`preflight`; it is also the function to call from a deployment's own health check.

Checks, each timed:

* ``arguments``: the run's options and date;
* ``warehouse``: reachable, migrated, and seeded with the platform rights holder that takes split remainders;
* ``store``: a probe object is written, read back and deleted;
* ``signing_keys``: the certificate chain and private key load and belong together (when signing);
* ``engine``: the engine imports and its assets (SoundFont, text model, checkpoint directory) are readable, without
  loading them;
* ``accelerator``: a GPU engine has a GPU (or ``MAESTRO_ALLOW_CPU_FALLBACK``) on a local Ray;
* ``ray``: a configured cluster answers on its address.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

from maestro_core.config import Settings
from maestro_core.errors import ConfigError, InputError, MaestroError

log = logging.getLogger(__name__)

PROBE_PREFIX = "maestro-preflight-"


class PreflightFailed(MaestroError):
    """One or more preflight checks failed; ``problems`` holds each (one line apiece, naming its setting).

    ``retryable`` tells configuration (fix it; retrying cannot help) from a service that did not answer (an
    unreachable warehouse or store: a retry may succeed).
    """

    def __init__(self, problems: list[MaestroError]) -> None:
        self.problems = problems
        self.field = getattr(problems[0], "field", "preflight")
        super().__init__("\n".join(str(p) for p in problems))

    @property
    def retryable(self) -> bool:
        return any(not isinstance(p, ConfigError | InputError) for p in self.problems)


@dataclass(frozen=True)
class PreflightReport:
    """Seconds each check took (all passed)."""

    seconds: dict[str, float]


def preflight(settings: Settings, *, sign: bool = True, arguments: Callable[[], Any] | None = None
              ) -> PreflightReport:
    """Runs every check and raises once, listing every problem found.

    Args:
        settings: the run's settings.
        sign: the run signs its tracks, so the signing keys must load.
        arguments: validates the run's own arguments (raises InputError naming the argument).

    Raises:
        PreflightFailed: naming each setting or argument at fault.
    """
    problems: list[MaestroError] = []
    seconds: dict[str, float] = {}

    def run(name: str, check: Callable[[], Any]) -> None:
        start = time.perf_counter()
        try:
            check()
        except MaestroError as exc:
            problems.extend(exc.problems if isinstance(exc, PreflightFailed) else [exc])
        seconds[name] = round(time.perf_counter() - start, 4)

    if arguments is not None:
        run("arguments", arguments)
    run("warehouse", lambda: check_warehouse(settings))
    run("store", lambda: check_store(settings.storage_url))
    if sign:
        run("signing_keys", lambda: check_signing_keys(settings))
    run("engine", lambda: check_engine(settings))
    run("accelerator", lambda: check_accelerator(settings))
    run("ray", lambda: check_ray(settings))
    log.info("preflight", extra={"ok": not problems, "problems": len(problems), **seconds})
    if problems:
        raise PreflightFailed(problems)
    return PreflightReport(seconds)


def check_warehouse(settings: Settings) -> None:
    """The warehouse answers (within ``context.PREFLIGHT_TIMEOUT_S``), has every migration applied and a platform
    rights holder. Reads only."""
    from maestro_pipeline.context import warehouse
    from maestro_pipeline.records import platform_holder_id

    url = urlparse(settings.warehouse_url)
    if url.scheme == "duckdb":
        from pathlib import Path

        path = Path(unquote(url.path))
        if str(path) not in ("/:memory:", ":memory:") and not path.is_file():
            raise ConfigError("MAESTRO_WAREHOUSE_URL", f"no warehouse at {path}",
                              "run `maestro init` (then `maestro seed` for the sample catalog)")
    with warehouse(settings) as wh:  # the opener checks the endpoint answers first
        pending = wh.pending_migrations()
        if pending:
            raise ConfigError("MAESTRO_WAREHOUSE_URL", f"the warehouse is not migrated ({', '.join(pending)} "
                              "pending)", "run `maestro init`")
        platform_holder_id(wh)


def check_store(storage_url: str) -> None:
    """Writes, reads back and deletes a probe object, so a run never finds out on its first track."""
    from maestro_core.storage import TrackStore

    store = TrackStore(storage_url)
    key = f"{PROBE_PREFIX}{uuid.uuid4().hex}.probe"
    data = b"maestro preflight probe\n"
    try:
        store.put_bytes(key, data)
        if store.read_bytes(key) != data:
            raise OSError("the probe object read back different bytes")
        store.delete(key)
    except Exception as exc:  # s3fs, fsspec and the OS raise many types; every one means "not writable"
        cause = str(exc).removeprefix(f"{store.uri(key)}: ")
        raise ConfigError("MAESTRO_STORAGE_URL", f"{storage_url} is not writable: {cause}",
                          "a store this process can write to (file://DIR, s3://bucket/prefix, memory://)") from None


def check_signing_keys(settings: Settings) -> None:
    """The signing certificate chain and private key load and match (``maestro init`` creates development ones)."""
    from maestro_core.signing_keys import KeyConfig

    KeyConfig.from_settings(settings).read_signing_material()


def check_ray(settings: Settings) -> None:
    """A configured Ray cluster (``host:port`` or ``ray://``) answers on its port; an empty address or 'auto'
    (a Ray started here, or found on this node) has nothing to check before it is joined."""
    if not settings.ray_address or settings.ray_address == "auto":
        return
    from maestro_pipeline.fanout import require_reachable

    require_reachable(settings.ray_address)


def check_engine(settings: Settings) -> None:
    """The configured engine imports and reports no missing asset; problems name their MAESTRO_* setting."""
    from inference.engine import engine_problems
    from maestro_pipeline.context import engine_options

    problems: list[MaestroError] = []
    for exc in engine_problems(settings.engine, **engine_options(settings)):
        setting = f"MAESTRO_{exc.field.upper()}" if exc.field.upper() in _SETTING_FIELDS else exc.field
        problems.append(ConfigError(setting, str(exc).removeprefix(f"{exc.field}: ")) if setting != exc.field
                        else exc)
    if problems:
        raise PreflightFailed(problems)


def check_accelerator(settings: Settings) -> None:
    """A GPU engine finds a GPU, or CPU fallback is allowed.

    Checked here for a local Ray (``MAESTRO_RAY_ADDRESS`` empty: the cluster is this machine, as it is for the
    DAGs' own head); a cluster named by address is checked when the generate stage joins it, before any actor
    starts (``maestro_pipeline.gpu.require_accelerator``).

    Raises:
        ConfigError: naming MAESTRO_ALLOW_CPU_FALLBACK.
    """
    if settings.ray_address or settings.allow_cpu_fallback:
        return
    from maestro_pipeline.gpu import accelerator_problem, local_gpu_count, requires_gpu

    try:
        if not requires_gpu(settings.engine):
            return
    except ConfigError:
        return  # an engine that does not import: check_engine names it
    problem = accelerator_problem(settings.engine, local_gpu_count(), allow_cpu=False)
    if problem is not None:
        raise problem


_SETTING_FIELDS = {name.upper() for name in Settings.model_fields}
