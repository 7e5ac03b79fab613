"""One Ray for a whole DAG run: a setup task starts a local head, mapped tasks join it, a teardown stops it.

Under the real Airflow scheduler every task is its own process. Left alone, each mapped ``generate`` task would
start a Ray of its own (``ray.init()`` with no address): four at once on 2 cores time out during start-up. So when
``MAESTRO_RAY_ADDRESS`` is empty (embedded mode) the DAG's setup task runs :func:`start_head`, which starts one
``ray start --head`` sized to the machine and returns its address through XCom; every generate task joins that
head; the teardown task runs :func:`stop_head` even when the run failed. When ``MAESTRO_RAY_ADDRESS`` names a
cluster, nothing is started and every task joins that cluster.

The head is stopped by its process group (``ray start`` leaves its GCS, raylet and monitor in the group it was
started in), never with ``ray stop``, which would stop every Ray on the machine.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from maestro_core.config import Settings
from maestro_core.errors import MaestroError

log = logging.getLogger(__name__)

START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 20.0


class RayHeadError(MaestroError):
    """The local Ray head could not be started (a transient fault: the task's retries apply)."""


@dataclass(frozen=True)
class RayHead:
    """What a DAG run's tasks need to join (``address``) and its teardown needs to stop (``pgid``).

    ``pgid`` is 0 when nothing was started (a configured cluster, or a Ray already running in this process).
    """

    address: str
    pgid: int = 0
    log_path: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> RayHead:
        return cls(**(data or {"address": ""}))


def start_head(settings: Settings, run_id: str, num_cpus: int | None = None) -> RayHead:
    """The Ray every task of ``run_id`` joins: the configured cluster, or a local head started now.

    Args:
        settings: ``ray_address`` set means a cluster exists; nothing is started.
        run_id: names the head's log file (``$MAESTRO_HOME/logs/ray-head-<run_id>.log``).
        num_cpus: CPUs the head offers (default: all of this machine's).

    Raises:
        RayHeadError: the head did not answer within START_TIMEOUT_S seconds (its log is named).
    """
    if settings.ray_address:
        return RayHead(settings.ray_address)
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():  # dag.test() in a process that runs Ray already: share it
        return RayHead("")
    port = _free_port()
    logs = settings.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"ray-head-{run_id}.log"
    argv = [*_ray_command(), "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1",
            f"--num-cpus={num_cpus or os.cpu_count() or 1}", "--include-dashboard=false", "--disable-usage-stats",
            "--block"]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    with log_path.open("ab") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                   start_new_session=True)
    head = RayHead(f"127.0.0.1:{port}", process.pid, str(log_path))
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stop_head(head)
            raise RayHeadError(f"the local Ray head exited with status {process.returncode}; see {log_path}")
        if _answers(port) and "Ray runtime started" in log_path.read_text(errors="replace"):
            _record(settings, run_id, head)
            log.info("ray head started", extra={"address": head.address, "pgid": head.pgid, "run_id": run_id})
            return head
        time.sleep(0.5)
    stop_head(head)
    raise RayHeadError(f"the local Ray head did not start within {START_TIMEOUT_S:g} s; see {log_path}")


def stop_head(head: RayHead, timeout_s: float = STOP_TIMEOUT_S) -> bool:
    """Stops a head :func:`start_head` started (SIGTERM to its process group, SIGKILL after ``timeout_s``).

    Returns True when something was stopped; a head that was not started here (pgid 0) is left alone.
    """
    if not head.pgid:
        return False
    stop_process_group(head.pgid, timeout_s)
    log.info("ray head stopped", extra={"address": head.address, "pgid": head.pgid})
    return True


def stop_process_group(pgid: int, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM every process of group ``pgid``, SIGKILL what is left after ``timeout_s`` seconds, and reap the
    children among them. The whole group, even when its leader has exited (``ray start`` daemonises)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while _group_alive(pgid) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(-pgid, os.WNOHANG)
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def _record(settings: Settings, run_id: str, head: RayHead) -> None:
    """Writes the head's address and process group beside its log, for an operator (or a later sweep)."""
    path = settings.home / "logs" / f"ray-head-{run_id}.json"
    from maestro_core.atomic import write_bytes_atomic

    write_bytes_atomic(path, json.dumps(head.to_dict(), sort_keys=True).encode())


def _ray_command() -> list[str]:
    script = Path(sys.executable).with_name("ray")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "ray.scripts.scripts"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True
